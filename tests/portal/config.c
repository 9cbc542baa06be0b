/* SPDX-License-Identifier: MIT */
#include "tests/portal/config.h"

#include <sodium.h>
#include <string.h>

#include "tests/portal/credentials.h"

#define DEFAULT_TOKEN_LIFETIME_SECS        (7 * 24 * 3600)
#define DEFAULT_AUTHORIZATION_TIMEOUT_SECS 15

static gboolean fail(GError **error, const char *where, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean fail(GError **error, const char *where, const char *fmt, ...)
{
        va_list ap;
        g_autofree char *msg = NULL;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", where, msg);
        return FALSE;
}

/* Typed member access: absent optional members leave *out untouched; a wrong type is an error. */
static gboolean get_string(JsonObject *obj, const char *member, gboolean required, char **out,
                           const char *where, GError **error)
{
        JsonNode *node = json_object_get_member(obj, member);

        if (!node || JSON_NODE_HOLDS_NULL(node)) {
                if (required)
                        return fail(error, where, "\"%s\" is required", member);
                return TRUE;
        }
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return fail(error, where, "\"%s\" must be a string", member);
        if (required && json_node_get_string(node)[0] == '\0')
                return fail(error, where, "\"%s\" must not be empty", member);
        g_free(*out);
        *out = g_strdup(json_node_get_string(node));
        return TRUE;
}

static gboolean get_int(JsonObject *obj, const char *member, gint64 min, gint64 max, gint64 *out,
                        const char *where, GError **error)
{
        JsonNode *node = json_object_get_member(obj, member);

        if (!node)
                return TRUE;
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                return fail(error, where, "\"%s\" must be an integer", member);
        if (json_node_get_int(node) < min || json_node_get_int(node) > max)
                return fail(error, where, "\"%s\" must be in %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                            member, min, max);
        *out = json_node_get_int(node);
        return TRUE;
}

static JsonArray *get_array(JsonObject *obj, const char *member, const char *where, GError **error)
{
        JsonNode *node = json_object_get_member(obj, member);

        if (!node)
                return NULL;
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
                fail(error, where, "\"%s\" must be an array", member);
                return NULL;
        }
        return json_node_get_array(node);
}

/* Optional string arrays; returns FALSE on error, *out stays NULL when absent. */
static gboolean get_string_list(JsonObject *obj, const char *member, GPtrArray **out, const char *where,
                                GError **error)
{
        JsonArray *arr = get_array(obj, member, where, error);
        g_autoptr(GPtrArray) list = NULL;

        if (!arr)
                return error == NULL || *error == NULL;
        list = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < json_array_get_length(arr); i++) {
                JsonNode *n = json_array_get_element(arr, i);

                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                        return fail(error, where, "\"%s\" must hold strings", member);
                g_ptr_array_add(list, g_strdup(json_node_get_string(n)));
        }
        *out = g_steal_pointer(&list);
        return TRUE;
}

static JsonObject *element_object(JsonArray *arr, guint i, const char *where, GError **error)
{
        JsonNode *n = json_array_get_element(arr, i);

        if (!JSON_NODE_HOLDS_OBJECT(n)) {
                fail(error, where, "entry %u must be an object", i);
                return NULL;
        }
        return json_node_get_object(n);
}

static gboolean check_uuid(const char *id, const char *where, GError **error)
{
        static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

        if (strlen(id) != strlen(shape))
                return fail(error, where, "id \"%s\" is not a UUID", id);
        for (size_t i = 0; shape[i]; i++) {
                gboolean ok =
                    shape[i] == '-' ? id[i] == '-' : g_ascii_isxdigit(id[i]) && !g_ascii_isupper(id[i]);

                if (!ok)
                        return fail(error, where, "id \"%s\" is not a lowercase UUID", id);
        }
        return TRUE;
}

/* An explicit "id" or one derived from the name, so ids survive reloads and restarts. */
static gboolean get_id(JsonObject *obj, const char *kind, const char *name, char **out, const char *where,
                       GError **error)
{
        if (!get_string(obj, "id", FALSE, out, where, error))
                return FALSE;
        if (*out)
                return check_uuid(*out, where, error);
        *out = tp_uuid_from_name(kind, name);
        return TRUE;
}

static void site_free(TpSite *s)
{
        g_free(s->id);
        g_free(s->name);
        g_free(s);
}

static void gateway_free(TpGateway *g)
{
        g_free(g->id);
        g_free(g->name);
        if (g->token)
                sodium_memzero(g->token, strlen(g->token));
        g_free(g->token);
        g_free(g);
}

static void user_free(TpUser *u)
{
        g_free(u->email);
        if (u->password)
                sodium_memzero(u->password, strlen(u->password));
        g_free(u->password);
        g_free(u->name);
        g_free(u);
}

static void resource_free(TpResource *r)
{
        g_free(r->id);
        g_free(r->type);
        g_free(r->name);
        g_free(r->address);
        g_free(r->address_description);
        g_free(r->ip_stack);
        g_clear_pointer(&r->filters, json_node_unref);
        g_clear_pointer(&r->sites, g_ptr_array_unref);
        g_free(r);
}

static void policy_free(TpPolicy *p)
{
        g_clear_pointer(&p->users, g_ptr_array_unref);
        g_clear_pointer(&p->resources, g_ptr_array_unref);
        g_free(p);
}

static void account_free(TpAccount *a)
{
        g_free(a->id);
        g_free(a->slug);
        g_free(a->name);
        g_free(a->identity_provider_id);
        g_clear_pointer(&a->upstream_do53, g_ptr_array_unref);
        g_free(a->search_domain);
        g_clear_pointer(&a->policies, g_ptr_array_unref);
        g_clear_pointer(&a->resources, g_ptr_array_unref);
        g_clear_pointer(&a->gateways, g_ptr_array_unref);
        g_clear_pointer(&a->sites, g_ptr_array_unref);
        g_clear_pointer(&a->users, g_ptr_array_unref);
        g_free(a);
}

static void relay_free(TpRelay *r)
{
        g_free(r->id);
        g_clear_pointer(&r->addresses, g_ptr_array_unref);
        if (r->secret)
                sodium_memzero(r->secret, strlen(r->secret));
        g_free(r->secret);
        g_free(r->realm);
        g_free(r);
}

void tp_config_free(TpConfig *config)
{
        if (!config)
                return;
        g_free(config->listen_address);
        g_clear_pointer(&config->accounts, g_ptr_array_unref);
        g_clear_pointer(&config->relays, g_ptr_array_unref);
        sodium_memzero(config->secret, sizeof(config->secret));
        g_free(config);
}

static const TpSite *find_site(const TpAccount *a, const char *name)
{
        for (guint i = 0; i < a->sites->len; i++) {
                const TpSite *s = g_ptr_array_index(a->sites, i);

                if (g_str_equal(s->name, name) || g_str_equal(s->id, name))
                        return s;
        }
        return NULL;
}

static const TpResource *find_resource_by_name(const TpAccount *a, const char *name)
{
        for (guint i = 0; i < a->resources->len; i++) {
                const TpResource *r = g_ptr_array_index(a->resources, i);

                if (g_str_equal(r->name, name) || g_str_equal(r->id, name))
                        return r;
        }
        return NULL;
}

static gboolean parse_filter(JsonNode *node, const char *where, GError **error)
{
        JsonObject *f;
        g_autofree char *protocol = NULL;
        gint64 start = 0, end = 65535;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return fail(error, where, "a filter must be an object");
        f = json_node_get_object(node);
        if (!get_string(f, "protocol", TRUE, &protocol, where, error))
                return FALSE;
        if (g_str_equal(protocol, "icmp"))
                return TRUE;
        if (!g_str_equal(protocol, "tcp") && !g_str_equal(protocol, "udp"))
                return fail(error, where, "filter protocol \"%s\" is not tcp, udp or icmp", protocol);
        if (!get_int(f, "port_range_start", 0, 65535, &start, where, error) ||
            !get_int(f, "port_range_end", 0, 65535, &end, where, error))
                return FALSE;
        if (start > end)
                return fail(error, where, "filter port_range_start > port_range_end");
        return TRUE;
}

static gboolean check_cidr(const char *address, const char *where, GError **error)
{
        g_autoptr(GError) local = NULL;
        g_autoptr(GInetAddressMask) mask = NULL;

        if (!strchr(address, '/'))
                return fail(error, where, "\"%s\" is not an address/prefix", address);
        /* GLib also refuses host bits beyond the prefix, which clients may reject (spec §9). */
        mask = g_inet_address_mask_new_from_string(address, &local);
        if (!mask)
                return fail(error, where, "\"%s\" is not a network address/prefix: %s", address,
                            local->message);
        return TRUE;
}

static TpResource *parse_resource(JsonObject *o, TpAccount *a, const char *where, GError **error)
{
        g_autoptr(GPtrArray) site_names = NULL;
        TpResource *r = g_new0(TpResource, 1);
        JsonArray *filters;

        r->sites = g_ptr_array_new();
        if (!get_string(o, "type", TRUE, &r->type, where, error) ||
            !get_string(o, "name", TRUE, &r->name, where, error))
                goto err;
        if (!get_id(o, "resource", r->name, &r->id, where, error))
                goto err;
        if (!g_str_equal(r->type, "dns") && !g_str_equal(r->type, "cidr") &&
            !g_str_equal(r->type, "internet")) {
                fail(error, where, "type \"%s\" is not dns, cidr or internet", r->type);
                goto err;
        }
        if (!g_str_equal(r->type, "internet")) {
                if (!get_string(o, "address", TRUE, &r->address, where, error) ||
                    !get_string(o, "address_description", FALSE, &r->address_description, where, error))
                        goto err;
                if (g_str_equal(r->type, "cidr") && !check_cidr(r->address, where, error))
                        goto err;
        }
        if (g_str_equal(r->type, "dns")) {
                if (!get_string(o, "ip_stack", FALSE, &r->ip_stack, where, error))
                        goto err;
                if (!r->ip_stack)
                        r->ip_stack = g_strdup("dual");
                if (!g_str_equal(r->ip_stack, "dual") && !g_str_equal(r->ip_stack, "ipv4_only") &&
                    !g_str_equal(r->ip_stack, "ipv6_only")) {
                        fail(error, where, "ip_stack \"%s\" is not dual, ipv4_only or ipv6_only",
                             r->ip_stack);
                        goto err;
                }
        }
        filters = get_array(o, "filters", where, error);
        if (error && *error)
                goto err;
        if (filters) {
                for (guint i = 0; i < json_array_get_length(filters); i++)
                        if (!parse_filter(json_array_get_element(filters, i), where, error))
                                goto err;
                r->filters = json_node_copy(json_object_get_member(o, "filters"));
        } else {
                r->filters = json_node_init_array(json_node_alloc(), json_array_new());
        }
        if (!get_string_list(o, "sites", &site_names, where, error))
                goto err;
        if (!site_names || site_names->len == 0) {
                fail(error, where, "\"sites\" must name at least one site");
                goto err;
        }
        for (guint i = 0; i < site_names->len; i++) {
                const TpSite *s = find_site(a, g_ptr_array_index(site_names, i));

                if (!s) {
                        fail(error, where, "unknown site \"%s\"", (char *)g_ptr_array_index(site_names, i));
                        goto err;
                }
                g_ptr_array_add(r->sites, (gpointer)s);
        }
        return r;
err:
        resource_free(r);
        return NULL;
}

static gboolean parse_policies(JsonObject *ao, TpAccount *a, const char *where, GError **error)
{
        JsonArray *arr = get_array(ao, "policies", where, error);

        if (error && *error)
                return FALSE;
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, where, error);
                g_autoptr(GPtrArray) users = NULL;
                g_autoptr(GPtrArray) resources = NULL;
                TpPolicy *p;

                if (!o || !get_string_list(o, "users", &users, where, error) ||
                    !get_string_list(o, "resources", &resources, where, error))
                        return FALSE;
                if (!users || !resources)
                        return fail(error, where, "policy %u needs \"users\" and \"resources\"", i);
                p = g_new0(TpPolicy, 1);
                p->resources = g_ptr_array_new();
                g_ptr_array_add(a->policies, p);
                for (guint j = 0; j < users->len; j++) {
                        const char *email = g_ptr_array_index(users, j);
                        const TpUser *u;

                        if (g_str_equal(email, "*")) {
                                g_clear_pointer(&p->users, g_ptr_array_unref);
                                break;
                        }
                        u = tp_account_find_user(a, email);
                        if (!u)
                                return fail(error, where, "policy %u: unknown user \"%s\"", i, email);
                        if (!p->users)
                                p->users = g_ptr_array_new();
                        g_ptr_array_add(p->users, (gpointer)u);
                }
                for (guint j = 0; j < resources->len; j++) {
                        const TpResource *r = find_resource_by_name(a, g_ptr_array_index(resources, j));

                        if (!r)
                                return fail(error, where, "policy %u: unknown resource \"%s\"", i,
                                            (char *)g_ptr_array_index(resources, j));
                        g_ptr_array_add(p->resources, (gpointer)r);
                }
        }
        return TRUE;
}

static TpAccount *parse_account(JsonObject *ao, GError **error)
{
        g_autoptr(GPtrArray) dns = NULL;
        TpAccount *a = g_new0(TpAccount, 1);
        g_autofree char *where = NULL;
        JsonArray *arr;

        a->users = g_ptr_array_new_with_free_func((GDestroyNotify)user_free);
        a->sites = g_ptr_array_new_with_free_func((GDestroyNotify)site_free);
        a->gateways = g_ptr_array_new_with_free_func((GDestroyNotify)gateway_free);
        a->resources = g_ptr_array_new_with_free_func((GDestroyNotify)resource_free);
        a->policies = g_ptr_array_new_with_free_func((GDestroyNotify)policy_free);
        if (!get_string(ao, "slug", TRUE, &a->slug, "account", error))
                goto err;
        where = g_strdup_printf("account \"%s\"", a->slug);
        for (const char *p = a->slug; *p; p++) {
                if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_') {
                        fail(error, where, "the slug may hold only letters, digits, '-' and '_'");
                        goto err;
                }
        }
        if (!get_string(ao, "name", TRUE, &a->name, where, error) ||
            !get_id(ao, "account", a->slug, &a->id, where, error) ||
            !get_string(ao, "search_domain", FALSE, &a->search_domain, where, error) ||
            !get_string_list(ao, "upstream_do53", &a->upstream_do53, where, error))
                goto err;
        a->identity_provider_id = tp_uuid_from_name("identity-provider", a->slug);
        if (!a->upstream_do53)
                a->upstream_do53 = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < a->upstream_do53->len; i++) {
                g_autoptr(GInetAddress) ip =
                    g_inet_address_new_from_string(g_ptr_array_index(a->upstream_do53, i));

                if (!ip) {
                        fail(error, where, "upstream_do53 entry \"%s\" is not an IP address",
                             (char *)g_ptr_array_index(a->upstream_do53, i));
                        goto err;
                }
        }

        arr = get_array(ao, "users", where, error);
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, where, error);
                TpUser *u;

                if (!o)
                        goto err;
                u = g_new0(TpUser, 1);
                g_ptr_array_add(a->users, u);
                if (!get_string(o, "email", TRUE, &u->email, where, error) ||
                    !get_string(o, "password", TRUE, &u->password, where, error) ||
                    !get_string(o, "name", TRUE, &u->name, where, error))
                        goto err;
                for (guint j = 0; j + 1 < a->users->len; j++) {
                        if (g_ascii_strcasecmp(((TpUser *)g_ptr_array_index(a->users, j))->email,
                                               u->email) == 0) {
                                fail(error, where, "user \"%s\" appears twice", u->email);
                                goto err;
                        }
                }
        }
        if (error && *error)
                goto err;

        arr = get_array(ao, "sites", where, error);
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, where, error);
                TpSite *s;

                if (!o)
                        goto err;
                s = g_new0(TpSite, 1);
                g_ptr_array_add(a->sites, s);
                if (!get_string(o, "name", TRUE, &s->name, where, error) ||
                    !get_id(o, "site", s->name, &s->id, where, error))
                        goto err;
                for (guint j = 0; j + 1 < a->sites->len; j++) {
                        if (g_str_equal(((TpSite *)g_ptr_array_index(a->sites, j))->name, s->name)) {
                                fail(error, where, "site \"%s\" appears twice", s->name);
                                goto err;
                        }
                }
        }
        if (error && *error)
                goto err;

        arr = get_array(ao, "gateways", where, error);
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, where, error);
                g_autofree char *site = NULL;
                TpGateway *g;

                if (!o)
                        goto err;
                g = g_new0(TpGateway, 1);
                g_ptr_array_add(a->gateways, g);
                if (!get_string(o, "name", TRUE, &g->name, where, error) ||
                    !get_id(o, "gateway", g->name, &g->id, where, error) ||
                    !get_string(o, "token", TRUE, &g->token, where, error) ||
                    !get_string(o, "site", TRUE, &site, where, error))
                        goto err;
                g->site = find_site(a, site);
                if (!g->site) {
                        fail(error, where, "gateway \"%s\": unknown site \"%s\"", g->name, site);
                        goto err;
                }
        }
        if (error && *error)
                goto err;

        arr = get_array(ao, "resources", where, error);
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, where, error);
                TpResource *r;

                if (!o || !(r = parse_resource(o, a, where, error)))
                        goto err;
                for (guint j = 0; j < a->resources->len; j++) {
                        const TpResource *other = g_ptr_array_index(a->resources, j);

                        if (g_str_equal(other->name, r->name) || g_str_equal(other->id, r->id)) {
                                fail(error, where, "resource \"%s\" appears twice", r->name);
                                resource_free(r);
                                goto err;
                        }
                }
                g_ptr_array_add(a->resources, r);
        }
        if (error && *error)
                goto err;
        if (!parse_policies(ao, a, where, error))
                goto err;
        return a;
err:
        account_free(a);
        return NULL;
}

static gboolean check_relay_address(const char *addr, const char *where, GError **error)
{
        g_autoptr(GSocketConnectable) c = g_network_address_parse(addr, 0, NULL);
        g_autoptr(GInetAddress) ip = NULL;

        if (!c || g_network_address_get_port(G_NETWORK_ADDRESS(c)) == 0)
                return fail(error, where, "\"%s\" is not ip:port", addr);
        ip = g_inet_address_new_from_string(g_network_address_get_hostname(G_NETWORK_ADDRESS(c)));
        if (!ip)
                return fail(error, where, "\"%s\" must be an IP literal with a port", addr);
        if (g_inet_address_get_family(ip) == G_SOCKET_FAMILY_IPV6 && addr[0] != '[')
                return fail(error, where, "\"%s\": IPv6 addresses are written [addr]:port", addr);
        return TRUE;
}

static TpRelay *parse_relay(JsonObject *o, GError **error)
{
        TpRelay *r = g_new0(TpRelay, 1);
        g_autofree char *key = NULL;

        if (!get_string_list(o, "addresses", &r->addresses, "relay", error) ||
            !get_string(o, "secret", TRUE, &r->secret, "relay", error) ||
            !get_string(o, "realm", FALSE, &r->realm, "relay", error) ||
            !get_string(o, "id", FALSE, &r->id, "relay", error))
                goto err;
        if (!r->addresses || r->addresses->len == 0) {
                fail(error, "relay", "\"addresses\" must list at least one ip:port");
                goto err;
        }
        for (guint i = 0; i < r->addresses->len; i++)
                if (!check_relay_address(g_ptr_array_index(r->addresses, i), "relay", error))
                        goto err;
        if (!r->realm)
                r->realm = g_strdup("firezone");
        if (r->id) {
                if (!check_uuid(r->id, "relay", error))
                        goto err;
        } else {
                /* A relay whose addresses or secret change gets a new id, so relays_presence can
                 * say "this one left, that one came" without ambiguity. */
                g_autoptr(GString) joined = g_string_new(NULL);

                for (guint i = 0; i < r->addresses->len; i++)
                        g_string_append_printf(joined, "%s,", (char *)g_ptr_array_index(r->addresses, i));
                key = g_strdup_printf("%s|%s", joined->str, r->secret);
                r->id = tp_uuid_from_name("relay", key);
                sodium_memzero(key, strlen(key));
        }
        return r;
err:
        relay_free(r);
        return NULL;
}

static gboolean parse_secret(JsonObject *root, TpConfig *c, GError **error)
{
        g_autofree char *hex = NULL;

        if (!get_string(root, "secret", FALSE, &hex, "config", error))
                return FALSE;
        if (!hex) {
                randombytes_buf(c->secret, sizeof(c->secret));
                return TRUE;
        }
        if (sodium_hex2bin(c->secret, sizeof(c->secret), hex, strlen(hex), NULL, NULL, NULL) != 0 ||
            strlen(hex) != 2 * TP_SECRET_LEN) {
                sodium_memzero(hex, strlen(hex));
                return fail(error, "config", "\"secret\" must be 64 hex characters");
        }
        sodium_memzero(hex, strlen(hex));
        c->has_secret = TRUE;
        return TRUE;
}

TpConfig *tp_config_load_data(const char *data, gssize len, GError **error)
{
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(TpConfig) c = g_new0(TpConfig, 1);
        JsonObject *root, *listen = NULL;
        JsonNode *listen_node;
        JsonArray *arr;
        gint64 port = 0;

        c->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)account_free);
        c->relays = g_ptr_array_new_with_free_func((GDestroyNotify)relay_free);
        c->token_lifetime_secs = DEFAULT_TOKEN_LIFETIME_SECS;
        c->authorization_timeout_secs = DEFAULT_AUTHORIZATION_TIMEOUT_SECS;
        if (!json_parser_load_from_data(parser, data, len, error))
                return NULL;
        if (!json_parser_get_root(parser) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                fail(error, "config", "the top level must be an object");
                return NULL;
        }
        root = json_node_get_object(json_parser_get_root(parser));
        listen_node = json_object_get_member(root, "listen");
        if (listen_node) {
                if (!JSON_NODE_HOLDS_OBJECT(listen_node)) {
                        fail(error, "config", "\"listen\" must be an object");
                        return NULL;
                }
                listen = json_node_get_object(listen_node);
                if (!get_string(listen, "address", FALSE, &c->listen_address, "listen", error) ||
                    !get_int(listen, "port", 0, 65535, &port, "listen", error))
                        return NULL;
        }
        if (!c->listen_address)
                c->listen_address = g_strdup("127.0.0.1");
        c->listen_port = (guint)port;
        if (!get_int(root, "token_lifetime_secs", 1, G_MAXINT32, &c->token_lifetime_secs, "config", error) ||
            !get_int(root, "authorization_timeout_secs", 1, 3600, &c->authorization_timeout_secs, "config",
                     error) ||
            !parse_secret(root, c, error))
                return NULL;

        arr = get_array(root, "accounts", "config", error);
        if (!arr) {
                if (!error || !*error)
                        fail(error, "config", "\"accounts\" is required");
                return NULL;
        }
        for (guint i = 0; i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, "accounts", error);
                TpAccount *a;

                if (!o || !(a = parse_account(o, error)))
                        return NULL;
                g_ptr_array_add(c->accounts, a);
                for (guint j = 0; j + 1 < c->accounts->len; j++) {
                        if (g_str_equal(((TpAccount *)g_ptr_array_index(c->accounts, j))->slug, a->slug)) {
                                fail(error, "config", "account \"%s\" appears twice", a->slug);
                                return NULL;
                        }
                }
        }
        /* Gateway tokens and ids identify a gateway across all accounts. */
        for (guint i = 0; i < c->accounts->len; i++) {
                const TpAccount *a = g_ptr_array_index(c->accounts, i);

                for (guint j = 0; j < a->gateways->len; j++) {
                        const TpGateway *g = g_ptr_array_index(a->gateways, j);
                        const TpAccount *other_account = NULL;
                        const TpGateway *other =
                            tp_config_find_gateway_by_token(c, g->token, &other_account);

                        if (other != g) {
                                fail(error, "config", "gateways \"%s\" and \"%s\" share a token",
                                     other->name, g->name);
                                return NULL;
                        }
                }
        }

        arr = get_array(root, "relays", "config", error);
        if (error && *error)
                return NULL;
        for (guint i = 0; arr && i < json_array_get_length(arr); i++) {
                JsonObject *o = element_object(arr, i, "relays", error);
                TpRelay *r;

                if (!o || !(r = parse_relay(o, error)))
                        return NULL;
                g_ptr_array_add(c->relays, r);
        }
        return g_steal_pointer(&c);
}

TpConfig *tp_config_load_file(const char *path, GError **error)
{
        g_autofree char *data = NULL;
        gsize len = 0;
        TpConfig *c;

        if (!g_file_get_contents(path, &data, &len, error))
                return NULL;
        c = tp_config_load_data(data, (gssize)len, error);
        sodium_memzero(data, len);
        if (!c)
                g_prefix_error(error, "%s: ", path);
        return c;
}

const TpAccount *tp_config_find_account(const TpConfig *config, const char *slug)
{
        for (guint i = 0; i < config->accounts->len; i++) {
                const TpAccount *a = g_ptr_array_index(config->accounts, i);

                if (g_str_equal(a->slug, slug))
                        return a;
        }
        return NULL;
}

const TpUser *tp_account_find_user(const TpAccount *account, const char *email)
{
        for (guint i = 0; i < account->users->len; i++) {
                const TpUser *u = g_ptr_array_index(account->users, i);

                if (g_ascii_strcasecmp(u->email, email) == 0)
                        return u;
        }
        return NULL;
}

const TpResource *tp_account_find_resource(const TpAccount *account, const char *id)
{
        for (guint i = 0; i < account->resources->len; i++) {
                const TpResource *r = g_ptr_array_index(account->resources, i);

                if (g_str_equal(r->id, id))
                        return r;
        }
        return NULL;
}

const TpGateway *tp_config_find_gateway_by_token(const TpConfig *config, const char *token,
                                                 const TpAccount **ret_account)
{
        size_t len = strlen(token);

        for (guint i = 0; i < config->accounts->len; i++) {
                const TpAccount *a = g_ptr_array_index(config->accounts, i);

                for (guint j = 0; j < a->gateways->len; j++) {
                        const TpGateway *g = g_ptr_array_index(a->gateways, j);

                        if (strlen(g->token) == len && sodium_memcmp(g->token, token, len) == 0) {
                                *ret_account = a;
                                return g;
                        }
                }
        }
        return NULL;
}

gboolean tp_account_user_may_access(const TpAccount *account, const TpUser *user, const TpResource *resource)
{
        for (guint i = 0; i < account->policies->len; i++) {
                const TpPolicy *p = g_ptr_array_index(account->policies, i);

                if (p->users && !g_ptr_array_find(p->users, user, NULL))
                        continue;
                if (g_ptr_array_find(p->resources, resource, NULL))
                        return TRUE;
        }
        return FALSE;
}
