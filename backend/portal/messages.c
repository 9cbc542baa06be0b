/* SPDX-License-Identifier: MIT */
#include "backend/portal/messages.h"

#include "backend/portal/json-fields.h"
#include "backend/portal/messages-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <sodium.h>

typedef struct {
        gatomicrefcount ref_count;
        KilnPortalMessage message;
} MessageBox;

/* ---- value types ---- */

static void site_free(KilnPortalSite *site)
{
        if (!site)
                return;
        g_free(site->id);
        g_free(site->name);
        g_free(site);
}

static void pool_device_free(KilnPortalPoolDevice *device)
{
        if (!device)
                return;
        g_free(device->client_id);
        g_free(device->ipv4);
        g_free(device->ipv6);
        g_free(device);
}

static void resource_free(KilnPortalResource *r)
{
        if (!r)
                return;
        g_free(r->id);
        g_free(r->name);
        g_free(r->address);
        g_free(r->address_description);
        g_clear_pointer(&r->sites, g_ptr_array_unref);
        g_clear_pointer(&r->filters, g_array_unref);
        g_clear_pointer(&r->devices, g_ptr_array_unref);
        g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalResource, resource_free)

void kiln_portal_interface_free(KilnPortalInterface *i)
{
        if (!i)
                return;
        g_free(i->ipv4);
        g_free(i->ipv6);
        g_clear_pointer(&i->upstream_do53, g_ptr_array_unref);
        g_clear_pointer(&i->upstream_doh, g_ptr_array_unref);
        g_clear_pointer(&i->upstream_dns, g_ptr_array_unref);
        g_free(i->search_domain);
        g_free(i);
}

void kiln_portal_relay_free(KilnPortalRelay *relay)
{
        if (!relay)
                return;
        g_free(relay->id);
        g_free(relay->addr);
        g_free(relay->username);
        if (relay->password)
                sodium_memzero(relay->password, strlen(relay->password));
        g_free(relay->password);
        g_free(relay);
}

void kiln_portal_authorization_free(KilnPortalAuthorization *a)
{
        if (!a)
                return;
        g_free(a->client_id);
        g_free(a->resource_id);
        g_free(a);
}

static gboolean parse_site(JsonNode *node, KilnPortalSite **ret, GError **error)
{
        JsonObject *o = NULL;
        KilnPortalSite site = { 0 };

        if (!kiln_json_as_object(node, "site", &o, error) || !kiln_json_get_uuid(o, "id", &site.id, error) ||
            !kiln_json_get_string(o, "name", &site.name, error)) {
                g_free(site.id);
                return FALSE;
        }
        *ret = g_memdup2(&site, sizeof(site));
        return TRUE;
}

/* Sites arrive as "gateway_groups" (old clients) or "sites"; serde rejects both at once. */
static gboolean parse_sites(JsonObject *o, GPtrArray **ret, GError **error)
{
        g_autoptr(GPtrArray) sites = g_ptr_array_new_with_free_func((GDestroyNotify)site_free);
        gboolean has_sites = json_object_has_member(o, "sites");
        gboolean has_groups = json_object_has_member(o, "gateway_groups");
        JsonArray *array = NULL;

        if (has_sites && has_groups)
                return kiln_json_fail(error, "both \"sites\" and \"gateway_groups\" are present");
        if (!has_sites && !has_groups)
                return kiln_json_fail(error, "\"sites\" is missing");
        if (!kiln_json_get_array(o, has_sites ? "sites" : "gateway_groups", TRUE, KILN_PORTAL_MAX_LIST,
                                 &array, error))
                return FALSE;
        for (guint i = 0; i < kiln_json_array_len(array); i++) {
                KilnPortalSite *site;

                if (!parse_site(json_array_get_element(array, i), &site, error)) {
                        kiln_json_prefix(error, "sites[%u]", i);
                        return FALSE;
                }
                g_ptr_array_add(sites, site);
        }
        *ret = g_steal_pointer(&sites);
        return TRUE;
}

static gboolean parse_filter(JsonNode *node, KilnPortalFilter *ret, GError **error)
{
        g_autofree char *protocol = NULL;
        KilnPortalFilter f = { .port_range_start = 0, .port_range_end = 65535 };
        JsonObject *o = NULL;
        guint64 port;

        if (!kiln_json_as_object(node, "filter", &o, error) ||
            !kiln_json_get_string(o, "protocol", &protocol, error))
                return FALSE;
        if (g_str_equal(protocol, "icmp")) {
                f.protocol = KILN_PORTAL_FILTER_ICMP;
                *ret = f;
                return TRUE;
        }
        if (g_str_equal(protocol, "tcp"))
                f.protocol = KILN_PORTAL_FILTER_TCP;
        else if (g_str_equal(protocol, "udp"))
                f.protocol = KILN_PORTAL_FILTER_UDP;
        else
                return kiln_json_fail(error, "filter protocol \"%s\" is unknown", protocol);
        if (json_object_has_member(o, "port_range_start")) {
                if (!kiln_json_node_u64(json_object_get_member(o, "port_range_start"), "port_range_start",
                                        65535, &port, error))
                        return FALSE;
                f.port_range_start = (guint16)port;
        }
        if (json_object_has_member(o, "port_range_end")) {
                if (!kiln_json_node_u64(json_object_get_member(o, "port_range_end"), "port_range_end", 65535,
                                        &port, error))
                        return FALSE;
                f.port_range_end = (guint16)port;
        }
        *ret = f;
        return TRUE;
}

/*
 * A bad filter rejects its resource: dropping it from a non-empty allow-list could leave an
 * empty list, which means "all traffic".
 */
gboolean kiln_portal_parse_filters(JsonObject *o, GArray **ret, GError **error)
{
        g_autoptr(GArray) filters = g_array_new(FALSE, FALSE, sizeof(KilnPortalFilter));
        JsonArray *array = NULL;

        if (!kiln_json_get_array(o, "filters", FALSE, KILN_PORTAL_MAX_LIST, &array, error))
                return FALSE;
        for (guint i = 0; i < kiln_json_array_len(array); i++) {
                KilnPortalFilter f;

                if (!parse_filter(json_array_get_element(array, i), &f, error)) {
                        kiln_json_prefix(error, "filters[%u]", i);
                        return FALSE;
                }
                g_array_append_val(filters, f);
        }
        *ret = g_steal_pointer(&filters);
        return TRUE;
}

static gboolean parse_pool_device(JsonNode *node, KilnPortalPoolDevice **ret, GError **error)
{
        g_autofree char *v4 = NULL, *v6 = NULL;
        KilnPortalPoolDevice d = { 0 };
        JsonObject *o = NULL;
        const char *id_key;

        if (!kiln_json_as_object(node, "device", &o, error))
                return FALSE;
        id_key = json_object_has_member(o, "client_id") ? "client_id" : "id";
        if (!kiln_json_get_uuid(o, id_key, &d.client_id, error) ||
            !kiln_json_get_string(o, "ipv4", &v4, error) || !kiln_json_get_string(o, "ipv6", &v6, error))
                goto kiln_json_fail;
        if (!kiln_json_parse_cidr(v4, G_SOCKET_FAMILY_IPV4, &d.ipv4)) {
                kiln_json_fail(error, "\"ipv4\" is not an IPv4 network");
                goto kiln_json_fail;
        }
        if (!kiln_json_parse_cidr(v6, G_SOCKET_FAMILY_IPV6, &d.ipv6)) {
                kiln_json_fail(error, "\"ipv6\" is not an IPv6 network");
                goto kiln_json_fail;
        }
        *ret = g_memdup2(&d, sizeof(d));
        return TRUE;
kiln_json_fail:
        g_free(d.client_id);
        g_free(d.ipv4);
        return FALSE;
}

static gboolean parse_resource_type(const char *type, KilnPortalResourceType *ret)
{
        static const struct {
                const char *name;
                KilnPortalResourceType type;
        } types[] = {
                { "dns", KILN_PORTAL_RESOURCE_DNS },
                { "cidr", KILN_PORTAL_RESOURCE_CIDR },
                { "internet", KILN_PORTAL_RESOURCE_INTERNET },
                { "static_device_pool", KILN_PORTAL_RESOURCE_STATIC_DEVICE_POOL },
                { "dynamic_device_pool", KILN_PORTAL_RESOURCE_DYNAMIC_DEVICE_POOL },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(types); i++)
                if (g_str_equal(type, types[i].name)) {
                        *ret = types[i].type;
                        return TRUE;
                }
        return FALSE;
}

const char *kiln_portal_resource_type_to_string(KilnPortalResourceType type)
{
        switch (type) {
        case KILN_PORTAL_RESOURCE_DNS:
                return "dns";
        case KILN_PORTAL_RESOURCE_CIDR:
                return "cidr";
        case KILN_PORTAL_RESOURCE_INTERNET:
                return "internet";
        case KILN_PORTAL_RESOURCE_STATIC_DEVICE_POOL:
                return "static_device_pool";
        case KILN_PORTAL_RESOURCE_DYNAMIC_DEVICE_POOL:
                return "dynamic_device_pool";
        }
        return "unknown";
}

/*
 * Returns FALSE with KILN_PORTAL_ERROR_UNKNOWN_EVENT for an unknown (or missing) type, which
 * callers ignore, and KILN_PORTAL_ERROR_INVALID when a known type's fields do not parse.
 */
static gboolean parse_resource(JsonNode *node, KilnPortalResource **ret, GError **error)
{
        g_autoptr(KilnPortalResource) r = g_new0(KilnPortalResource, 1);
        g_autofree char *type = NULL, *ip_stack = NULL;
        JsonObject *o = NULL;

        if (!kiln_json_as_object(node, "resource", &o, error))
                return FALSE;
        if (!kiln_json_is_string(json_object_get_member(o, "type"))) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                                    "resource has no \"type\"");
                return FALSE;
        }
        if (!kiln_json_get_string(o, "type", &type, error))
                return FALSE;
        if (!parse_resource_type(type, &r->type)) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                            "resource type \"%s\" is unknown", type);
                return FALSE;
        }
        if (!kiln_json_get_uuid(o, "id", &r->id, error))
                return FALSE;

        switch (r->type) {
        case KILN_PORTAL_RESOURCE_DNS:
                if (!kiln_json_get_string(o, "address", &r->address, error) ||
                    !kiln_json_get_string(o, "name", &r->name, error) ||
                    !kiln_json_get_opt_string(o, "address_description", &r->address_description, error) ||
                    !parse_sites(o, &r->sites, error) ||
                    !kiln_json_get_opt_string(o, "ip_stack", &ip_stack, error) ||
                    !kiln_portal_parse_filters(o, &r->filters, error))
                        return FALSE;
                if (!ip_stack || g_str_equal(ip_stack, "dual"))
                        r->ip_stack = KILN_PORTAL_IP_STACK_DUAL;
                else if (g_str_equal(ip_stack, "ipv4_only"))
                        r->ip_stack = KILN_PORTAL_IP_STACK_IPV4_ONLY;
                else if (g_str_equal(ip_stack, "ipv6_only"))
                        r->ip_stack = KILN_PORTAL_IP_STACK_IPV6_ONLY;
                else
                        return kiln_json_fail(error, "\"ip_stack\" \"%s\" is unknown", ip_stack);
                if (r->address[0] == '\0')
                        return kiln_json_fail(error, "\"address\" is empty");
                break;
        case KILN_PORTAL_RESOURCE_CIDR: {
                g_autofree char *cidr = NULL;

                if (!kiln_json_get_string(o, "address", &cidr, error))
                        return FALSE;
                if (!kiln_json_parse_cidr(cidr, G_SOCKET_FAMILY_INVALID, &r->address))
                        return kiln_json_fail(error, "\"address\" is not a CIDR network without host bits");
                if (!kiln_json_get_string(o, "name", &r->name, error) ||
                    !kiln_json_get_opt_string(o, "address_description", &r->address_description, error) ||
                    !parse_sites(o, &r->sites, error) || !kiln_portal_parse_filters(o, &r->filters, error))
                        return FALSE;
                break;
        }
        case KILN_PORTAL_RESOURCE_INTERNET:
                if (!parse_sites(o, &r->sites, error))
                        return FALSE;
                if (kiln_json_is_null_or_absent(json_object_get_member(o, "name")))
                        r->name = g_strdup("Internet Resource");
                else if (!kiln_json_get_string(o, "name", &r->name, error))
                        return FALSE;
                r->filters = g_array_new(FALSE, FALSE, sizeof(KilnPortalFilter));
                break;
        case KILN_PORTAL_RESOURCE_STATIC_DEVICE_POOL: {
                JsonArray *devices = NULL;

                if (!kiln_json_get_string(o, "name", &r->name, error) ||
                    !kiln_json_get_array(o, "devices", FALSE, KILN_PORTAL_MAX_LIST, &devices, error) ||
                    !kiln_portal_parse_filters(o, &r->filters, error))
                        return FALSE;
                r->devices = g_ptr_array_new_with_free_func((GDestroyNotify)pool_device_free);
                for (guint i = 0; i < kiln_json_array_len(devices); i++) {
                        KilnPortalPoolDevice *device;

                        if (!parse_pool_device(json_array_get_element(devices, i), &device, error)) {
                                kiln_json_prefix(error, "devices[%u]", i);
                                return FALSE;
                        }
                        g_ptr_array_add(r->devices, device);
                }
                break;
        }
        case KILN_PORTAL_RESOURCE_DYNAMIC_DEVICE_POOL:
                /* The portal sends filters for these too; Firezone ignores them. */
                if (!kiln_json_get_string(o, "name", &r->name, error) ||
                    !kiln_json_get_string(o, "address", &r->address, error))
                        return FALSE;
                r->filters = g_array_new(FALSE, FALSE, sizeof(KilnPortalFilter));
                break;
        }
        if (!r->sites)
                r->sites = g_ptr_array_new_with_free_func((GDestroyNotify)site_free);
        *ret = g_steal_pointer(&r);
        return TRUE;
}

gboolean kiln_portal_is_domain_name(const char *name)
{
        gsize len = strlen(name), label = 0;

        if (len == 0 || len > 253)
                return FALSE;
        for (const char *p = name; *p; p++) {
                if (*p == '.') {
                        if (label == 0)
                                return FALSE;
                        label = 0;
                } else if (g_ascii_isalnum(*p) || *p == '-' || *p == '_') {
                        if (++label > 63)
                                return FALSE;
                } else {
                        return FALSE;
                }
        }
        return TRUE;
}

gboolean kiln_portal_parse_interface(JsonNode *node, KilnPortalInterface **ret, GError **error)
{
        g_autoptr(KilnPortalInterface) i = g_new0(KilnPortalInterface, 1);
        JsonArray *do53 = NULL, *doh = NULL, *dns = NULL;
        JsonObject *o = NULL;

        if (!kiln_json_as_object(node, "\"interface\"", &o, error) ||
            !kiln_json_get_ip(o, "ipv4", G_SOCKET_FAMILY_IPV4, &i->ipv4, error) ||
            !kiln_json_get_ip(o, "ipv6", G_SOCKET_FAMILY_IPV6, &i->ipv6, error) ||
            !kiln_json_get_array(o, "upstream_do53", FALSE, KILN_PORTAL_MAX_LIST, &do53, error) ||
            !kiln_json_get_array(o, "upstream_doh", FALSE, KILN_PORTAL_MAX_LIST, &doh, error) ||
            !kiln_json_get_array(o, "upstream_dns", FALSE, KILN_PORTAL_MAX_LIST, &dns, error) ||
            !kiln_json_get_opt_string(o, "search_domain", &i->search_domain, error))
                return FALSE;
        if (i->search_domain && !kiln_portal_is_domain_name(i->search_domain))
                return kiln_json_fail(error, "\"search_domain\" is not a domain name");

        i->upstream_do53 = g_ptr_array_new_with_free_func(g_free);
        for (guint n = 0; n < kiln_json_array_len(do53); n++) {
                JsonObject *server = NULL;
                char *ip;

                if (!kiln_json_as_object(json_array_get_element(do53, n), "server", &server, error) ||
                    !kiln_json_get_ip(server, "ip", G_SOCKET_FAMILY_INVALID, &ip, error)) {
                        kiln_json_prefix(error, "upstream_do53[%u]", n);
                        return FALSE;
                }
                g_ptr_array_add(i->upstream_do53, ip);
        }
        i->upstream_doh = g_ptr_array_new_with_free_func(g_free);
        for (guint n = 0; n < kiln_json_array_len(doh); n++) {
                g_autoptr(GUri) uri = NULL;
                JsonObject *server = NULL;
                char *url = NULL;

                if (!kiln_json_as_object(json_array_get_element(doh, n), "server", &server, error) ||
                    !kiln_json_get_string(server, "url", &url, error)) {
                        kiln_json_prefix(error, "upstream_doh[%u]", n);
                        return FALSE;
                }
                g_ptr_array_add(i->upstream_doh, url);
                uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
                if (!uri || g_strcmp0(g_uri_get_scheme(uri), "https") != 0 || !g_uri_get_host(uri) ||
                    !*g_uri_get_host(uri))
                        return kiln_json_fail(error, "upstream_doh[%u]: \"url\" is not an https URL", n);
        }
        i->upstream_dns = g_ptr_array_new_with_free_func(g_free);
        for (guint n = 0; n < kiln_json_array_len(dns); n++) {
                g_autofree char *protocol = NULL;
                JsonObject *server = NULL;
                char *addr;

                if (!kiln_json_as_object(json_array_get_element(dns, n), "server", &server, error) ||
                    !kiln_json_get_string(server, "protocol", &protocol, error)) {
                        kiln_json_prefix(error, "upstream_dns[%u]", n);
                        return FALSE;
                }
                if (!g_str_equal(protocol, "ip_port"))
                        return kiln_json_fail(error, "upstream_dns[%u]: protocol \"%s\" is unknown", n,
                                              protocol);
                if (!kiln_json_get_socket_addr(server, "address", &addr, error)) {
                        kiln_json_prefix(error, "upstream_dns[%u]", n);
                        return FALSE;
                }
                g_ptr_array_add(i->upstream_dns, addr);
        }
        *ret = g_steal_pointer(&i);
        return TRUE;
}

/* Returns TRUE with *ret = NULL for a STUN relay: parsed, then ignored like Firezone does. */
static gboolean parse_relay(JsonNode *node, KilnPortalRelay **ret, GError **error)
{
        g_autoptr(KilnPortalRelay) relay = g_new0(KilnPortalRelay, 1);
        g_autofree char *type = NULL;
        JsonObject *o = NULL;
        JsonNode *expires;

        if (!kiln_json_as_object(node, "relay", &o, error) ||
            !kiln_json_get_string(o, "type", &type, error) ||
            !kiln_json_get_uuid(o, "id", &relay->id, error) ||
            !kiln_json_get_socket_addr(o, "addr", &relay->addr, error))
                return FALSE;
        if (g_str_equal(type, "stun")) {
                *ret = NULL;
                return TRUE;
        }
        if (!g_str_equal(type, "turn"))
                return kiln_json_fail(error, "relay type \"%s\" is unknown", type);
        relay->type = KILN_PORTAL_RELAY_TURN;
        if (!kiln_json_get_string(o, "username", &relay->username, error) ||
            !kiln_json_get_string(o, "password", &relay->password, error))
                return FALSE;
        expires = json_object_get_member(o, "expires_at");
        if (!expires || !JSON_NODE_HOLDS_VALUE(expires) || json_node_get_value_type(expires) != G_TYPE_INT64)
                return kiln_json_fail(error, "\"expires_at\" is not an integer");
        relay->expires_at = json_node_get_int(expires);
        *ret = g_steal_pointer(&relay);
        return TRUE;
}

gboolean kiln_portal_parse_relays(JsonArray *array, GPtrArray **ret, GError **error)
{
        g_autoptr(GPtrArray) relays = g_ptr_array_new_with_free_func((GDestroyNotify)kiln_portal_relay_free);

        for (guint i = 0; i < kiln_json_array_len(array); i++) {
                KilnPortalRelay *relay;

                if (!parse_relay(json_array_get_element(array, i), &relay, error)) {
                        kiln_json_prefix(error, "relays[%u]", i);
                        return FALSE;
                }
                if (relay)
                        g_ptr_array_add(relays, relay);
        }
        *ret = g_steal_pointer(&relays);
        return TRUE;
}

gboolean kiln_portal_parse_flow_logs(JsonObject *o, KilnPortalFlowLogs *ret, GError **error)
{
        KilnPortalFlowLogs f = { 0 };
        JsonObject *flow_logs = NULL;

        if (!json_object_has_member(o, "flow_logs"))
                return kiln_json_fail(error, "\"flow_logs\" is missing (Firezone rejects the whole init)");
        if (!kiln_json_as_object(json_object_get_member(o, "flow_logs"), "\"flow_logs\"", &flow_logs,
                                 error) ||
            !kiln_json_get_string(flow_logs, "api_url", &f.api_url, error) ||
            !kiln_json_get_u64(flow_logs, "upload_interval_secs", &f.upload_interval_secs, error) ||
            !kiln_json_get_u64(flow_logs, "upload_batch_size", &f.upload_batch_size, error)) {
                g_free(f.api_url);
                kiln_json_prefix(error, "flow_logs");
                return FALSE;
        }
        *ret = f;
        return TRUE;
}

gboolean kiln_portal_parse_authorizations(JsonArray *authorizations, GPtrArray **ret, GError **error)
{
        g_autoptr(GPtrArray) list =
            g_ptr_array_new_with_free_func((GDestroyNotify)kiln_portal_authorization_free);

        for (guint i = 0; i < kiln_json_array_len(authorizations); i++) {
                KilnPortalAuthorization a = { 0 };
                JsonObject *ao = NULL;

                if (!kiln_json_as_object(json_array_get_element(authorizations, i), "authorization", &ao,
                                         error) ||
                    !kiln_json_get_uuid(ao, "client_id", &a.client_id, error) ||
                    !kiln_json_get_uuid(ao, "resource_id", &a.resource_id, error) ||
                    !kiln_json_get_u64(ao, "expires_at", &a.expires_at, error)) {
                        g_free(a.client_id);
                        g_free(a.resource_id);
                        kiln_json_prefix(error, "authorizations[%u]", i);
                        return FALSE;
                }
                g_ptr_array_add(list, g_memdup2(&a, sizeof(a)));
        }
        *ret = g_steal_pointer(&list);
        return TRUE;
}

static void init_free(KilnPortalInit *init)
{
        if (!init)
                return;
        kiln_portal_interface_free(init->interface);
        g_clear_pointer(&init->resources, g_ptr_array_unref);
        g_clear_pointer(&init->relays, g_ptr_array_unref);
        g_clear_pointer(&init->authorizations, g_ptr_array_unref);
        g_free(init->flow_logs.api_url);
        g_free(init);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalInit, init_free)

static gboolean parse_init(JsonObject *o, KilnPortalInit **ret, GError **error)
{
        g_autoptr(KilnPortalInit) init = g_new0(KilnPortalInit, 1);
        JsonArray *resources = NULL, *relays = NULL, *authorizations = NULL;

        if (!kiln_portal_parse_interface(json_object_get_member(o, "interface"), &init->interface, error)) {
                kiln_json_prefix(error, "interface");
                return FALSE;
        }
        if (!kiln_portal_parse_flow_logs(o, &init->flow_logs, error))
                return FALSE;
        if (!kiln_json_get_array(o, "resources", FALSE, KILN_PORTAL_MAX_RESOURCES, &resources, error) ||
            !kiln_json_get_array(o, "relays", FALSE, KILN_PORTAL_MAX_LIST, &relays, error) ||
            !kiln_json_get_array(o, "authorizations", FALSE, KILN_PORTAL_MAX_RESOURCES, &authorizations,
                                 error))
                return FALSE;

        init->resources = g_ptr_array_new_with_free_func((GDestroyNotify)resource_free);
        for (guint i = 0; i < kiln_json_array_len(resources); i++) {
                g_autoptr(GError) skipped = NULL;
                KilnPortalResource *r;

                if (parse_resource(json_array_get_element(resources, i), &r, &skipped))
                        g_ptr_array_add(init->resources, r);
                else
                        g_debug("init: resources[%u] skipped: %s", i, skipped->message);
        }
        if (!kiln_portal_parse_relays(relays, &init->relays, error))
                return FALSE;
        if (!kiln_portal_parse_authorizations(authorizations, &init->authorizations, error))
                return FALSE;
        *ret = g_steal_pointer(&init);
        return TRUE;
}

void kiln_portal_relays_presence_free(KilnPortalRelaysPresence *p)
{
        if (!p)
                return;
        g_ptr_array_unref(p->disconnected_ids);
        g_ptr_array_unref(p->connected);
        g_free(p);
}

gboolean kiln_portal_parse_relays_presence(JsonObject *o, KilnPortalRelaysPresence **ret, GError **error)
{
        g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) connected = NULL;
        JsonArray *disconnected = NULL, *relays = NULL;
        KilnPortalRelaysPresence *p;

        if (!kiln_json_get_array(o, "disconnected_ids", TRUE, KILN_PORTAL_MAX_LIST, &disconnected, error) ||
            !kiln_json_get_array(o, "connected", TRUE, KILN_PORTAL_MAX_LIST, &relays, error))
                return FALSE;
        for (guint i = 0; i < kiln_json_array_len(disconnected); i++) {
                char *id;

                if (!kiln_json_node_uuid(json_array_get_element(disconnected, i), "disconnected_ids", &id,
                                         error))
                        return FALSE;
                g_ptr_array_add(ids, id);
        }
        if (!kiln_portal_parse_relays(relays, &connected, error)) {
                kiln_json_prefix(error, "connected");
                return FALSE;
        }
        p = g_new0(KilnPortalRelaysPresence, 1);
        p->disconnected_ids = g_steal_pointer(&ids);
        p->connected = g_steal_pointer(&connected);
        *ret = p;
        return TRUE;
}

gboolean kiln_portal_parse_ice_credentials(JsonObject *o, const char *key, KilnPortalIceCredentials *ret,
                                           GError **error)
{
        KilnPortalIceCredentials c = { 0 };
        JsonObject *co = NULL;

        if (!kiln_json_as_object(json_object_get_member(o, key), key, &co, error) ||
            !kiln_json_get_string(co, "username", &c.username, error) ||
            !kiln_json_get_string(co, "password", &c.password, error)) {
                g_free(c.username);
                kiln_json_prefix(error, "%s", key);
                return FALSE;
        }
        *ret = c;
        return TRUE;
}

void kiln_portal_ice_credentials_clear(KilnPortalIceCredentials *c)
{
        g_clear_pointer(&c->username, g_free);
        if (c->password)
                sodium_memzero(c->password, strlen(c->password));
        g_clear_pointer(&c->password, g_free);
}

/* base64url without padding (RFC 4648 §5), as the JWT segments use. */
static GBytes *base64url_decode(const char *text, gsize len)
{
        g_autofree char *std = NULL;
        gsize out_len;
        guchar *out;

        if (len % 4 == 1)
                return NULL;
        std = g_malloc(len + 4);
        for (gsize i = 0; i < len; i++) {
                char c = text[i];

                if (c == '-')
                        c = '+';
                else if (c == '_')
                        c = '/';
                else if (!g_ascii_isalnum(c))
                        return NULL;
                std[i] = c;
        }
        memcpy(std + len, "==", (4 - len % 4) % 4);
        std[len + (4 - len % 4) % 4] = '\0';
        out = g_base64_decode(std, &out_len);
        return g_bytes_new_take(out, out_len);
}

static gboolean parse_json_object(GBytes *bytes, JsonParser **ret_parser, JsonObject **ret)
{
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        gsize len;
        const char *data = g_bytes_get_data(bytes, &len);
        JsonNode *root;

        if (!data || !g_utf8_validate_len(data, len, NULL) ||
            !json_parser_load_from_data(parser, data, (gssize)len, NULL))
                return FALSE;
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root) || !kiln_json_strings_are_utf8(root))
                return FALSE;
        *ret = json_node_get_object(root);
        *ret_parser = g_steal_pointer(&parser);
        return TRUE;
}

void kiln_portal_ingest_token_clear(KilnPortalIngestToken *t)
{
        if (t->raw)
                sodium_memzero(t->raw, strlen(t->raw));
        g_clear_pointer(&t->raw, g_free);
        g_clear_pointer(&t->role, g_free);
        g_clear_pointer(&t->resource_id, g_free);
}

/* Spec §3.1: the claims must parse; the signature is not verified (only the portal holds the key). */
gboolean kiln_portal_parse_ingest_token(JsonObject *o, KilnPortalIngestToken *ret, GError **error)
{
        static const char *const required_strings[] = {
                "account_id",
                "initiator_device_id",
                "responder_device_id",
                "policy_authorization_id",
                "policy_id",
                "resource_id",
                "resource_name",
                "initiator_actor_id",
                "initiator_actor_name",
        };
        /* The spec names these timestamps without pinning their JSON type: Firezone's fixtures
         * carry RFC 3339 strings, Kiln's test portal unix seconds.  Both are timestamps. */
        static const char *const required_times[] = {
                "authorized_at",
                "authorization_expires_at",
        };
        static const char *const nullable_strings[] = {
                "resource_address",
                "initiator_actor_email",
                "initiator_auth_provider_id",
                "initiator_client_version",
                "initiator_device_os_name",
                "initiator_device_os_version",
                "initiator_device_serial",
                "initiator_device_uuid",
                "initiator_device_identifier_for_vendor",
                "initiator_device_firebase_installation_id",
        };
        g_autoptr(JsonParser) header_parser = NULL, claims_parser = NULL;
        g_autoptr(GBytes) header = NULL, claims = NULL, signature = NULL;
        g_auto(GStrv) parts = NULL;
        g_auto(KilnPortalIngestToken) t = { 0 };
        JsonObject *header_obj = NULL, *claims_obj = NULL;
        JsonNode *alg, *uploads;
        guint64 iat;

        if (!json_object_has_member(o, "flow_logs_ingest_token"))
                return kiln_json_fail(error, "\"flow_logs_ingest_token\" is missing");
        if (!kiln_json_node_string(json_object_get_member(o, "flow_logs_ingest_token"),
                                   "flow_logs_ingest_token", KILN_PORTAL_MAX_TOKEN, &t.raw, error))
                return FALSE;
        parts = g_strsplit(t.raw, ".", 4);
        if (g_strv_length(parts) != 3)
                return kiln_json_fail(error, "ingest token is not made of three JWT segments");
        header = base64url_decode(parts[0], strlen(parts[0]));
        if (!header || !parse_json_object(header, &header_parser, &header_obj))
                return kiln_json_fail(error, "ingest token header is not base64url JSON");
        alg = json_object_get_member(header_obj, "alg");
        if (!kiln_json_is_string(alg) || !g_str_equal(json_node_get_string(alg), "HS256"))
                return kiln_json_fail(error, "ingest token alg is not HS256");
        claims = base64url_decode(parts[1], strlen(parts[1]));
        if (!claims || !parse_json_object(claims, &claims_parser, &claims_obj))
                return kiln_json_fail(error, "ingest token payload is not base64url JSON");
        signature = base64url_decode(parts[2], strlen(parts[2]));
        if (!signature)
                return kiln_json_fail(error, "ingest token signature is not base64url");
        if (g_bytes_get_size(signature) == 0)
                return kiln_json_fail(error, "ingest token signature is empty");

        for (gsize i = 0; i < G_N_ELEMENTS(required_strings); i++)
                if (!kiln_json_is_string(json_object_get_member(claims_obj, required_strings[i])))
                        return kiln_json_fail(error, "ingest token claim \"%s\" is missing or not a string",
                                              required_strings[i]);
        for (gsize i = 0; i < G_N_ELEMENTS(required_times); i++) {
                JsonNode *claim = json_object_get_member(claims_obj, required_times[i]);
                guint64 seconds;

                if (!kiln_json_is_string(claim) &&
                    !kiln_json_node_u64(claim, required_times[i], G_MAXINT64, &seconds, NULL))
                        return kiln_json_fail(error,
                                              "ingest token claim \"%s\" is missing or not a timestamp",
                                              required_times[i]);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(nullable_strings); i++) {
                JsonNode *claim = json_object_get_member(claims_obj, nullable_strings[i]);

                if (!kiln_json_is_null_or_absent(claim) && !kiln_json_is_string(claim))
                        return kiln_json_fail(error, "ingest token claim \"%s\" is not a string",
                                              nullable_strings[i]);
        }
        if (!kiln_json_get_u64(claims_obj, "iat", &iat, error) ||
            !kiln_json_get_u64(claims_obj, "exp", &t.exp, error)) {
                kiln_json_prefix(error, "ingest token");
                return FALSE;
        }
        uploads = json_object_get_member(claims_obj, "uploads_enabled");
        if (!uploads || !JSON_NODE_HOLDS_VALUE(uploads) ||
            json_node_get_value_type(uploads) != G_TYPE_BOOLEAN)
                return kiln_json_fail(error,
                                      "ingest token claim \"uploads_enabled\" is missing or not a boolean");
        t.uploads_enabled = json_node_get_boolean(uploads);
        if (!kiln_json_get_string(claims_obj, "role", &t.role, error)) {
                kiln_json_prefix(error, "ingest token");
                return FALSE;
        }
        if (!g_str_equal(t.role, "initiator") && !g_str_equal(t.role, "responder"))
                return kiln_json_fail(error, "ingest token role \"%s\" is neither initiator nor responder",
                                      t.role);
        if (!kiln_json_get_string(claims_obj, "resource_id", &t.resource_id, error))
                return FALSE;
        *ret = t;
        memset(&t, 0, sizeof(t));
        return TRUE;
}
static void authorization_created_free(KilnPortalAuthorizationCreated *a)
{
        if (!a)
                return;
        g_free(a->resource_id);
        g_free(a->gateway_id);
        g_free(a->gateway_ipv4);
        g_free(a->gateway_ipv6);
        g_free(a->site_id);
        kiln_portal_ice_credentials_clear(&a->client_ice_credentials);
        kiln_portal_ice_credentials_clear(&a->gateway_ice_credentials);
        kiln_portal_ingest_token_clear(&a->ingest_token);
        sodium_memzero(a, sizeof(*a));
        g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalAuthorizationCreated, authorization_created_free)

static gboolean parse_authorization_created(JsonObject *o, KilnPortalAuthorizationCreated **ret,
                                            GError **error)
{
        g_autoptr(KilnPortalAuthorizationCreated) a = g_new0(KilnPortalAuthorizationCreated, 1);
        gboolean has_site = json_object_has_member(o, "site_id");
        gboolean has_group = json_object_has_member(o, "gateway_group_id");

        if (has_site && has_group)
                return kiln_json_fail(error, "both \"site_id\" and \"gateway_group_id\" are present");
        if (!kiln_json_get_uuid(o, "resource_id", &a->resource_id, error) ||
            !kiln_json_get_uuid(o, "gateway_id", &a->gateway_id, error) ||
            !kiln_json_get_key(o, "gateway_public_key", a->gateway_public_key, error) ||
            !kiln_json_get_ip(o, "gateway_ipv4", G_SOCKET_FAMILY_IPV4, &a->gateway_ipv4, error) ||
            !kiln_json_get_ip(o, "gateway_ipv6", G_SOCKET_FAMILY_IPV6, &a->gateway_ipv6, error) ||
            !kiln_json_get_uuid(o, has_group ? "gateway_group_id" : "site_id", &a->site_id, error) ||
            !kiln_json_get_key(o, "preshared_key", a->preshared_key, error) ||
            !kiln_portal_parse_ice_credentials(o, "client_ice_credentials", &a->client_ice_credentials,
                                               error) ||
            !kiln_portal_parse_ice_credentials(o, "gateway_ice_credentials", &a->gateway_ice_credentials,
                                               error) ||
            !kiln_json_get_bool_default(o, "use_iceless", &a->use_iceless, error) ||
            !kiln_portal_parse_ingest_token(o, &a->ingest_token, error))
                return FALSE;
        *ret = g_steal_pointer(&a);
        return TRUE;
}

static KilnPortalFailReason parse_fail_reason(const char *text)
{
        static const char *const names[] = {
                [KILN_PORTAL_FAIL_NOT_FOUND] = "not_found",
                [KILN_PORTAL_FAIL_OFFLINE] = "offline",
                [KILN_PORTAL_FAIL_VERSION_MISMATCH] = "version_mismatch",
                [KILN_PORTAL_FAIL_FORBIDDEN] = "forbidden",
                [KILN_PORTAL_FAIL_DISABLED] = "disabled",
                [KILN_PORTAL_FAIL_AMBIGUOUS_ADDRESS] = "ambiguous_address",
                [KILN_PORTAL_FAIL_MISSING_ADDRESS] = "missing_address",
                [KILN_PORTAL_FAIL_INVALID_ADDRESS] = "invalid_address",
        };

        for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
                if (g_str_equal(text, names[i]))
                        return (KilnPortalFailReason)i;
        return KILN_PORTAL_FAIL_UNKNOWN;
}

const char *kiln_portal_fail_reason_to_string(KilnPortalFailReason reason)
{
        static const char *const names[] = {
                "not_found",         "offline",         "version_mismatch", "forbidden", "disabled",
                "ambiguous_address", "missing_address", "invalid_address",  "unknown",
        };

        return (gsize)reason < G_N_ELEMENTS(names) ? names[reason] : "unknown";
}

static const char *const violated_names[] = {
        "remote_ip_location_region", "remote_ip",       "provider_id",
        "current_utc_datetime",      "client_verified", "unknown",
};

static gboolean parse_authorization_failed(JsonObject *o, KilnPortalAuthorizationFailed **ret,
                                           GError **error)
{
        g_autofree char *resource_id = NULL, *reason = NULL;
        g_autoptr(GArray) violated = g_array_new(FALSE, FALSE, sizeof(KilnPortalViolatedProperty));
        KilnPortalAuthorizationFailed *f;
        JsonArray *array = NULL;

        if (!kiln_json_get_uuid(o, "resource_id", &resource_id, error) ||
            !kiln_json_get_string(o, "reason", &reason, error) ||
            !kiln_json_get_array(o, "violated_properties", FALSE, KILN_PORTAL_MAX_LIST, &array, error))
                return FALSE;
        for (guint i = 0; i < kiln_json_array_len(array); i++) {
                JsonNode *node = json_array_get_element(array, i);
                KilnPortalViolatedProperty p = KILN_PORTAL_VIOLATED_UNKNOWN;

                if (!kiln_json_is_string(node))
                        return kiln_json_fail(error, "violated_properties[%u] is not a string", i);
                for (gsize n = 0; n < KILN_PORTAL_VIOLATED_UNKNOWN; n++)
                        if (g_str_equal(json_node_get_string(node), violated_names[n]))
                                p = (KilnPortalViolatedProperty)n;
                g_array_append_val(violated, p);
        }
        f = g_new0(KilnPortalAuthorizationFailed, 1);
        f->resource_id = g_steal_pointer(&resource_id);
        f->reason = parse_fail_reason(reason);
        f->violated_properties = g_steal_pointer(&violated);
        *ret = f;
        return TRUE;
}

/* An SDP candidate attribute without "a=" (RFC 8839 §5.1), as str0m parses it. */
gboolean kiln_portal_is_ice_candidate(const char *text)
{
        g_auto(GStrv) f = NULL;
        g_autofree char *ip = NULL;
        guint64 value;
        guint n;

        if (!text || strlen(text) > 512 || !g_str_has_prefix(text, "candidate:"))
                return FALSE;
        f = g_strsplit(text + strlen("candidate:"), " ", 0);
        n = g_strv_length(f);
        if (n < 8 || f[0][0] == '\0' || strlen(f[0]) > 32)
                return FALSE;
        for (const char *p = f[0]; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/')
                        return FALSE;
        if (!g_ascii_string_to_unsigned(f[1], 10, 1, 256, &value, NULL))
                return FALSE;
        if (g_ascii_strcasecmp(f[2], "udp") != 0 && g_ascii_strcasecmp(f[2], "tcp") != 0)
                return FALSE;
        if (!g_ascii_string_to_unsigned(f[3], 10, 0, G_MAXUINT32, &value, NULL))
                return FALSE;
        if (!kiln_json_parse_ip(f[4], G_SOCKET_FAMILY_INVALID, &ip))
                return FALSE;
        if (!g_ascii_string_to_unsigned(f[5], 10, 0, 65535, &value, NULL))
                return FALSE;
        if (!g_str_equal(f[6], "typ"))
                return FALSE;
        return g_str_equal(f[7], "host") || g_str_equal(f[7], "srflx") || g_str_equal(f[7], "prflx") ||
               g_str_equal(f[7], "relay");
}

void kiln_portal_ice_candidates_free(KilnPortalIceCandidates *c)
{
        if (!c)
                return;
        g_free(c->peer_id);
        g_clear_pointer(&c->candidates, g_ptr_array_unref);
        g_free(c);
}

gboolean kiln_portal_parse_ice_candidates(JsonObject *o, const char *peer_key, KilnPortalIceCandidates **ret,
                                          GError **error)
{
        g_autofree char *peer_id = NULL;
        g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
        KilnPortalIceCandidates *c;
        JsonArray *array = NULL;

        if (!kiln_json_get_uuid(o, peer_key, &peer_id, error) ||
            !kiln_json_get_array(o, "candidates", TRUE, KILN_PORTAL_MAX_LIST, &array, error))
                return FALSE;
        /* serde_with::VecSkipError: each bad entry is dropped alone. */
        for (guint i = 0; i < kiln_json_array_len(array); i++) {
                JsonNode *node = json_array_get_element(array, i);

                if (kiln_json_is_string(node) && kiln_portal_is_ice_candidate(json_node_get_string(node)))
                        g_ptr_array_add(kept, g_strdup(json_node_get_string(node)));
                else
                        g_debug("ice candidate %u skipped: not an SDP candidate", i);
        }
        c = g_new0(KilnPortalIceCandidates, 1);
        c->peer_id = g_steal_pointer(&peer_id);
        c->candidates = g_steal_pointer(&kept);
        *ret = c;
        return TRUE;
}

/* ---- device pools (client-to-client) ---- */

static gboolean get_reason(JsonObject *o, KilnPortalPeerEvent *e, GError **error)
{
        g_autofree char *reason = NULL;

        if (!kiln_json_get_string(o, "reason", &reason, error))
                return FALSE;
        e->has_reason = TRUE;
        e->reason = parse_fail_reason(reason);
        return TRUE;
}

static void peer_event_free(KilnPortalPeerEvent *e)
{
        if (!e)
                return;
        g_free(e->client_id);
        g_free(e->resource_id);
        g_free(e->domain);
        g_free(e->ipv4);
        g_free(e->ipv6);
        g_clear_pointer(&e->filters, g_array_unref);
        g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalPeerEvent, peer_event_free)

static gboolean parse_peer_event(JsonObject *o, KilnPortalMessageKind kind, KilnPortalPeerEvent **ret,
                                 GError **error)
{
        g_autoptr(KilnPortalPeerEvent) e = g_new0(KilnPortalPeerEvent, 1);
        gboolean ok = FALSE;

        switch (kind) {
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR:
                ok = kiln_json_get_uuid(o, "client_id", &e->client_id, error) && get_reason(o, e, error);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED:
                ok = kiln_json_get_opt_uuid(o, "client_id", &e->client_id, error) &&
                     kiln_json_get_opt_ip(o, "ipv4", G_SOCKET_FAMILY_IPV4, &e->ipv4, error) &&
                     kiln_json_get_opt_ip(o, "ipv6", G_SOCKET_FAMILY_IPV6, &e->ipv6, error) &&
                     kiln_json_get_opt_uuid(o, "resource_id", &e->resource_id, error) &&
                     get_reason(o, e, error);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED:
                if (!json_object_has_member(o, "filters"))
                        return kiln_json_fail(error, "\"filters\" is missing");
                ok = kiln_json_get_uuid(o, "id", &e->resource_id, error) &&
                     kiln_portal_parse_filters(o, &e->filters, error);
                break;
        case KILN_PORTAL_MESSAGE_REJECT_ACCESS:
                ok = kiln_json_get_uuid(o, "client_id", &e->client_id, error) &&
                     kiln_json_get_uuid(o, "resource_id", &e->resource_id, error);
                break;
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED:
                ok = kiln_json_get_uuid(o, "resource_id", &e->resource_id, error) &&
                     kiln_json_get_string(o, "domain", &e->domain, error) &&
                     kiln_json_get_ip(o, "ipv4", G_SOCKET_FAMILY_IPV4, &e->ipv4, error) &&
                     kiln_json_get_ip(o, "ipv6", G_SOCKET_FAMILY_IPV6, &e->ipv6, error);
                break;
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED:
                ok = kiln_json_get_uuid(o, "resource_id", &e->resource_id, error) &&
                     kiln_json_get_string(o, "domain", &e->domain, error) && get_reason(o, e, error);
                break;
        default:
                g_assert_not_reached();
        }
        if (!ok)
                return FALSE;
        *ret = g_steal_pointer(&e);
        return TRUE;
}

static void device_access_authorized_free(KilnPortalDeviceAccessAuthorized *a)
{
        if (!a)
                return;
        g_free(a->client_id);
        g_free(a->client_name);
        g_free(a->client_ipv4);
        g_free(a->client_ipv6);
        g_free(a->resource_id);
        g_clear_pointer(&a->filters, g_array_unref);
        kiln_portal_ice_credentials_clear(&a->local_ice_credentials);
        kiln_portal_ice_credentials_clear(&a->remote_ice_credentials);
        kiln_portal_ingest_token_clear(&a->ingest_token);
        sodium_memzero(a, sizeof(*a));
        g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalDeviceAccessAuthorized, device_access_authorized_free)

static gboolean parse_device_access_authorized(JsonObject *o, KilnPortalDeviceAccessAuthorized **ret,
                                               GError **error)
{
        g_autoptr(KilnPortalDeviceAccessAuthorized) a = g_new0(KilnPortalDeviceAccessAuthorized, 1);
        g_autofree char *role = NULL;
        JsonNode *resource = json_object_get_member(o, "resource");

        if (!kiln_json_get_uuid(o, "client_id", &a->client_id, error) ||
            !kiln_json_get_string(o, "client_name", &a->client_name, error) ||
            !kiln_json_get_key(o, "client_public_key", a->client_public_key, error) ||
            !kiln_json_get_ip(o, "client_ipv4", G_SOCKET_FAMILY_IPV4, &a->client_ipv4, error) ||
            !kiln_json_get_ip(o, "client_ipv6", G_SOCKET_FAMILY_IPV6, &a->client_ipv6, error) ||
            !kiln_json_get_key(o, "preshared_key", a->preshared_key, error) ||
            !kiln_portal_parse_ice_credentials(o, "local_ice_credentials", &a->local_ice_credentials,
                                               error) ||
            !kiln_portal_parse_ice_credentials(o, "remote_ice_credentials", &a->remote_ice_credentials,
                                               error) ||
            !kiln_json_get_string(o, "ice_role", &role, error) ||
            !kiln_json_get_bool_default(o, "use_iceless", &a->use_iceless, error))
                return FALSE;
        if (g_str_equal(role, "controlling"))
                a->ice_role = KILN_PORTAL_ICE_ROLE_CONTROLLING;
        else if (g_str_equal(role, "controlled"))
                a->ice_role = KILN_PORTAL_ICE_ROLE_CONTROLLED;
        else
                return kiln_json_fail(error, "\"ice_role\" \"%s\" is neither controlling nor controlled",
                                      role);
        if (kiln_json_is_null_or_absent(resource)) {
                a->filters = g_array_new(FALSE, FALSE, sizeof(KilnPortalFilter));
        } else {
                JsonObject *ro = NULL;

                if (!kiln_json_as_object(resource, "\"resource\"", &ro, error) ||
                    !kiln_json_get_uuid(ro, "id", &a->resource_id, error) ||
                    !kiln_portal_parse_filters(ro, &a->filters, error)) {
                        kiln_json_prefix(error, "resource");
                        return FALSE;
                }
        }
        if (!kiln_json_get_opt_u64(o, "expires_at", &a->expires_at, error))
                return FALSE;
        if (!kiln_portal_parse_ingest_token(o, &a->ingest_token, error))
                return FALSE;
        *ret = g_steal_pointer(&a);
        return TRUE;
}

/* ---- the message ---- */

const char *kiln_portal_event_name(const KilnPortalEventName *table, gsize n, int kind)
{
        for (gsize i = 0; i < n; i++)
                if (table[i].kind == kind)
                        return table[i].event;
        g_assert_not_reached();
}

gboolean kiln_portal_event_kind(const KilnPortalEventName *table, gsize n, const char *event, int *ret)
{
        for (gsize i = 0; i < n; i++)
                if (g_str_equal(event, table[i].event)) {
                        *ret = table[i].kind;
                        return TRUE;
                }
        return FALSE;
}

gboolean kiln_portal_parse_disconnect(JsonObject *o, char **ret, GError **error)
{
        g_autofree char *reason = NULL;

        if (!kiln_json_get_string(o, "reason", &reason, error))
                return FALSE;
        /* Firezone's DisconnectReason knows only this one; others fail to parse. */
        if (!g_str_equal(reason, "token_expired"))
                return kiln_json_fail(error, "disconnect reason \"%s\" is unknown", reason);
        *ret = g_steal_pointer(&reason);
        return TRUE;
}

static const KilnPortalEventName events[] = {
        { "init", KILN_PORTAL_MESSAGE_INIT },
        { "config_changed", KILN_PORTAL_MESSAGE_CONFIG_CHANGED },
        { "resource_created_or_updated", KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED },
        { "resource_deleted", KILN_PORTAL_MESSAGE_RESOURCE_DELETED },
        { "relays_presence", KILN_PORTAL_MESSAGE_RELAYS_PRESENCE },
        { "authorization_created", KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED },
        { "authorization_creation_failed", KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED },
        { "ice_candidates", KILN_PORTAL_MESSAGE_ICE_CANDIDATES },
        { "invalidate_ice_candidates", KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES },
        { "client_ice_candidates", KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATES },
        { "invalidate_client_ice_candidates", KILN_PORTAL_MESSAGE_INVALIDATE_CLIENT_ICE_CANDIDATES },
        { "client_ice_candidate_error", KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR },
        { "client_device_access_authorized", KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED },
        { "client_device_access_denied", KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED },
        { "resource_filters_updated", KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED },
        { "reject_access", KILN_PORTAL_MESSAGE_REJECT_ACCESS },
        { "device_pool_domain_resolved", KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED },
        { "device_pool_domain_resolution_failed", KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED },
        { "disconnect", KILN_PORTAL_MESSAGE_DISCONNECT },
        /* Rust-only aliases; the portal sends the two names above. */
        { "gateway_ice_candidates", KILN_PORTAL_MESSAGE_ICE_CANDIDATES },
        { "invalidate_gateway_ice_candidates", KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES },
};

const char *kiln_portal_message_event_name(const KilnPortalMessage *message)
{
        return kiln_portal_event_name(events, G_N_ELEMENTS(events), (int)message->kind);
}

static void message_clear(KilnPortalMessage *m)
{
        switch (m->kind) {
        case KILN_PORTAL_MESSAGE_INIT:
                init_free(m->init);
                break;
        case KILN_PORTAL_MESSAGE_CONFIG_CHANGED:
                kiln_portal_interface_free(m->interface);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED:
                resource_free(m->resource);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_DELETED:
                g_free(m->resource_id);
                break;
        case KILN_PORTAL_MESSAGE_RELAYS_PRESENCE:
                kiln_portal_relays_presence_free(m->relays_presence);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED:
                authorization_created_free(m->authorization_created);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED:
                if (m->authorization_failed) {
                        g_free(m->authorization_failed->resource_id);
                        g_array_unref(m->authorization_failed->violated_properties);
                        g_free(m->authorization_failed);
                }
                break;
        case KILN_PORTAL_MESSAGE_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_CLIENT_ICE_CANDIDATES:
                kiln_portal_ice_candidates_free(m->ice_candidates);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED:
                device_access_authorized_free(m->device_access_authorized);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR:
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED:
        case KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED:
        case KILN_PORTAL_MESSAGE_REJECT_ACCESS:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED:
                peer_event_free(m->peer_event);
                break;
        case KILN_PORTAL_MESSAGE_DISCONNECT:
                g_free(m->disconnect_reason);
                break;
        }
}

static gboolean parse_payload(KilnPortalMessage *m, JsonNode *payload, GError **error)
{
        JsonObject *o = NULL;

        /* resource_deleted is the only event whose payload is not an object. */
        if (m->kind == KILN_PORTAL_MESSAGE_RESOURCE_DELETED)
                return kiln_json_node_uuid(payload, "payload", &m->resource_id, error);
        if (!kiln_json_as_object(payload, "payload", &o, error))
                return FALSE;

        switch (m->kind) {
        case KILN_PORTAL_MESSAGE_INIT:
                return parse_init(o, &m->init, error);
        case KILN_PORTAL_MESSAGE_CONFIG_CHANGED:
                if (!kiln_portal_parse_interface(json_object_get_member(o, "interface"), &m->interface,
                                                 error)) {
                        kiln_json_prefix(error, "interface");
                        return FALSE;
                }
                return TRUE;
        case KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED:
                return parse_resource(payload, &m->resource, error);
        case KILN_PORTAL_MESSAGE_RESOURCE_DELETED:
                break;
        case KILN_PORTAL_MESSAGE_RELAYS_PRESENCE:
                return kiln_portal_parse_relays_presence(o, &m->relays_presence, error);
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED:
                return parse_authorization_created(o, &m->authorization_created, error);
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED:
                return parse_authorization_failed(o, &m->authorization_failed, error);
        case KILN_PORTAL_MESSAGE_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES:
                return kiln_portal_parse_ice_candidates(o, "gateway_id", &m->ice_candidates, error);
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_CLIENT_ICE_CANDIDATES:
                return kiln_portal_parse_ice_candidates(o, "client_id", &m->ice_candidates, error);
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED:
                return parse_device_access_authorized(o, &m->device_access_authorized, error);
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR:
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED:
        case KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED:
        case KILN_PORTAL_MESSAGE_REJECT_ACCESS:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED:
                return parse_peer_event(o, m->kind, &m->peer_event, error);
        case KILN_PORTAL_MESSAGE_DISCONNECT:
                return kiln_portal_parse_disconnect(o, &m->disconnect_reason, error);
        }
        return TRUE;
}

gboolean kiln_portal_message_parse(const char *event, JsonNode *payload, KilnPortalMessage **ret_message,
                                   GError **error)
{
        MessageBox *box;
        int kind = -1;

        kiln_portal_event_kind(events, G_N_ELEMENTS(events), event, &kind);
        if (g_str_equal(event, "access_authorization_expiry_updated")) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                                    "event \"access_authorization_expiry_updated\" is obsolete");
                return FALSE;
        }
        if (kind < 0) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                            "event \"%s\" is unknown", event);
                return FALSE;
        }
        box = g_new0(MessageBox, 1);
        g_atomic_ref_count_init(&box->ref_count);
        box->message.kind = (KilnPortalMessageKind)kind;
        if (!parse_payload(&box->message, payload, error)) {
                kiln_json_prefix(error, "%s", event);
                message_clear(&box->message);
                g_free(box);
                return FALSE;
        }
        *ret_message = &box->message;
        return TRUE;
}

KilnPortalMessage *kiln_portal_message_ref(KilnPortalMessage *message)
{
        MessageBox *box = G_STRUCT_MEMBER_P(message, -G_STRUCT_OFFSET(MessageBox, message));

        g_atomic_ref_count_inc(&box->ref_count);
        return message;
}

void kiln_portal_message_unref(KilnPortalMessage *message)
{
        MessageBox *box;

        if (!message)
                return;
        box = G_STRUCT_MEMBER_P(message, -G_STRUCT_OFFSET(MessageBox, message));
        if (!g_atomic_ref_count_dec(&box->ref_count))
                return;
        message_clear(message);
        g_free(box);
}

G_DEFINE_BOXED_TYPE(KilnPortalMessage, kiln_portal_message, kiln_portal_message_ref,
                    kiln_portal_message_unref)

/* ---- normalized JSON ---- */

void kiln_portal_add_filters(JsonBuilder *b, GArray *filters)
{
        static const char *const protocols[] = { "tcp", "udp", "icmp" };

        json_builder_set_member_name(b, "filters");
        json_builder_begin_array(b);
        for (guint i = 0; filters && i < filters->len; i++) {
                const KilnPortalFilter *f = &g_array_index(filters, KilnPortalFilter, i);

                json_builder_begin_object(b);
                kiln_json_add_string_or_null(b, "protocol", protocols[f->protocol]);
                if (f->protocol != KILN_PORTAL_FILTER_ICMP) {
                        json_builder_set_member_name(b, "port_range_start");
                        json_builder_add_int_value(b, f->port_range_start);
                        json_builder_set_member_name(b, "port_range_end");
                        json_builder_add_int_value(b, f->port_range_end);
                }
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
}

static void add_resource(JsonBuilder *b, const KilnPortalResource *r)
{
        static const char *const stacks[] = { "dual", "ipv4_only", "ipv6_only" };

        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "id", r->id);
        kiln_json_add_string_or_null(b, "type", kiln_portal_resource_type_to_string(r->type));
        kiln_json_add_string_or_null(b, "name", r->name);
        kiln_json_add_string_or_null(b, "address", r->address);
        kiln_json_add_string_or_null(b, "address_description", r->address_description);
        json_builder_set_member_name(b, "sites");
        json_builder_begin_array(b);
        for (guint i = 0; i < r->sites->len; i++) {
                const KilnPortalSite *s = g_ptr_array_index(r->sites, i);

                json_builder_begin_object(b);
                kiln_json_add_string_or_null(b, "id", s->id);
                kiln_json_add_string_or_null(b, "name", s->name);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
        kiln_portal_add_filters(b, r->filters);
        kiln_json_add_string_or_null(b, "ip_stack", stacks[r->ip_stack]);
        if (r->devices) {
                json_builder_set_member_name(b, "devices");
                json_builder_begin_array(b);
                for (guint i = 0; i < r->devices->len; i++) {
                        const KilnPortalPoolDevice *d = g_ptr_array_index(r->devices, i);

                        json_builder_begin_object(b);
                        kiln_json_add_string_or_null(b, "client_id", d->client_id);
                        kiln_json_add_string_or_null(b, "ipv4", d->ipv4);
                        kiln_json_add_string_or_null(b, "ipv6", d->ipv6);
                        json_builder_end_object(b);
                }
                json_builder_end_array(b);
        }
        json_builder_end_object(b);
}

void kiln_portal_add_interface(JsonBuilder *b, const KilnPortalInterface *i)
{
        json_builder_set_member_name(b, "interface");
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "ipv4", i->ipv4);
        kiln_json_add_string_or_null(b, "ipv6", i->ipv6);
        kiln_json_add_strings(b, "upstream_do53", i->upstream_do53);
        kiln_json_add_strings(b, "upstream_doh", i->upstream_doh);
        kiln_json_add_strings(b, "upstream_dns", i->upstream_dns);
        kiln_json_add_string_or_null(b, "search_domain", i->search_domain);
        json_builder_end_object(b);
}

void kiln_portal_add_relays(JsonBuilder *b, const char *key, GPtrArray *relays)
{
        json_builder_set_member_name(b, key);
        json_builder_begin_array(b);
        for (guint i = 0; i < relays->len; i++) {
                const KilnPortalRelay *r = g_ptr_array_index(relays, i);

                json_builder_begin_object(b);
                kiln_json_add_string_or_null(b, "type", "turn");
                kiln_json_add_string_or_null(b, "id", r->id);
                kiln_json_add_string_or_null(b, "addr", r->addr);
                kiln_json_add_string_or_null(b, "username", r->username);
                kiln_json_add_string_or_null(b, "password", r->password);
                json_builder_set_member_name(b, "expires_at");
                json_builder_add_int_value(b, r->expires_at);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
}

void kiln_portal_add_ice_credentials(JsonBuilder *b, const char *key, const KilnPortalIceCredentials *c)
{
        json_builder_set_member_name(b, key);
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "username", c->username);
        kiln_json_add_string_or_null(b, "password", c->password);
        json_builder_end_object(b);
}

void kiln_portal_add_ingest_token(JsonBuilder *b, const KilnPortalIngestToken *t)
{
        json_builder_set_member_name(b, "flow_logs_ingest_token");
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "role", t->role);
        json_builder_set_member_name(b, "uploads_enabled");
        json_builder_add_boolean_value(b, t->uploads_enabled);
        kiln_json_add_string_or_null(b, "resource_id", t->resource_id);
        json_builder_set_member_name(b, "exp");
        json_builder_add_int_value(b, (gint64)t->exp);
        json_builder_end_object(b);
}

static void add_device_access_authorized(JsonBuilder *b, const KilnPortalDeviceAccessAuthorized *a)
{
        char key[WG_KEY_LEN_BASE64];

        kiln_json_add_string_or_null(b, "client_id", a->client_id);
        kiln_json_add_string_or_null(b, "client_name", a->client_name);
        key_to_base64(key, a->client_public_key);
        kiln_json_add_string_or_null(b, "client_public_key", key);
        kiln_json_add_string_or_null(b, "client_ipv4", a->client_ipv4);
        kiln_json_add_string_or_null(b, "client_ipv6", a->client_ipv6);
        json_builder_set_member_name(b, "preshared_key_bytes");
        json_builder_add_int_value(b, WG_KEY_LEN);
        kiln_portal_add_ice_credentials(b, "local_ice_credentials", &a->local_ice_credentials);
        kiln_portal_add_ice_credentials(b, "remote_ice_credentials", &a->remote_ice_credentials);
        kiln_json_add_string_or_null(
            b, "ice_role", a->ice_role == KILN_PORTAL_ICE_ROLE_CONTROLLING ? "controlling" : "controlled");
        json_builder_set_member_name(b, "use_iceless");
        json_builder_add_boolean_value(b, a->use_iceless);
        kiln_json_add_string_or_null(b, "resource_id", a->resource_id);
        kiln_portal_add_filters(b, a->filters);
        json_builder_set_member_name(b, "expires_at");
        if (a->expires_at)
                json_builder_add_int_value(b, (gint64)a->expires_at);
        else
                json_builder_add_null_value(b);
        kiln_portal_add_ingest_token(b, &a->ingest_token);
}

static void add_peer_event(JsonBuilder *b, const KilnPortalPeerEvent *e)
{
        if (e->client_id)
                kiln_json_add_string_or_null(b, "client_id", e->client_id);
        if (e->resource_id)
                kiln_json_add_string_or_null(b, "resource_id", e->resource_id);
        if (e->domain)
                kiln_json_add_string_or_null(b, "domain", e->domain);
        if (e->ipv4)
                kiln_json_add_string_or_null(b, "ipv4", e->ipv4);
        if (e->ipv6)
                kiln_json_add_string_or_null(b, "ipv6", e->ipv6);
        if (e->has_reason)
                kiln_json_add_string_or_null(b, "reason", kiln_portal_fail_reason_to_string(e->reason));
        if (e->filters)
                kiln_portal_add_filters(b, e->filters);
}

static void add_authorization_created(JsonBuilder *b, const KilnPortalAuthorizationCreated *a)
{
        char key[WG_KEY_LEN_BASE64];

        kiln_json_add_string_or_null(b, "resource_id", a->resource_id);
        kiln_json_add_string_or_null(b, "gateway_id", a->gateway_id);
        key_to_base64(key, a->gateway_public_key);
        kiln_json_add_string_or_null(b, "gateway_public_key", key);
        kiln_json_add_string_or_null(b, "gateway_ipv4", a->gateway_ipv4);
        kiln_json_add_string_or_null(b, "gateway_ipv6", a->gateway_ipv6);
        kiln_json_add_string_or_null(b, "site_id", a->site_id);
        /* The PSK is a secret: say that a valid one arrived, never what it is. */
        json_builder_set_member_name(b, "preshared_key_bytes");
        json_builder_add_int_value(b, WG_KEY_LEN);
        kiln_portal_add_ice_credentials(b, "client_ice_credentials", &a->client_ice_credentials);
        kiln_portal_add_ice_credentials(b, "gateway_ice_credentials", &a->gateway_ice_credentials);
        json_builder_set_member_name(b, "use_iceless");
        json_builder_add_boolean_value(b, a->use_iceless);
        kiln_portal_add_ingest_token(b, &a->ingest_token);
}

void kiln_portal_add_authorizations(JsonBuilder *b, GPtrArray *authorizations)
{
        json_builder_set_member_name(b, "authorizations");
        json_builder_begin_array(b);
        for (guint i = 0; i < authorizations->len; i++) {
                const KilnPortalAuthorization *a = g_ptr_array_index(authorizations, i);

                json_builder_begin_object(b);
                kiln_json_add_string_or_null(b, "client_id", a->client_id);
                kiln_json_add_string_or_null(b, "resource_id", a->resource_id);
                json_builder_set_member_name(b, "expires_at");
                json_builder_add_int_value(b, (gint64)a->expires_at);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
}

void kiln_portal_add_flow_logs(JsonBuilder *b, const KilnPortalFlowLogs *f)
{
        json_builder_set_member_name(b, "flow_logs");
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "api_url", f->api_url);
        json_builder_set_member_name(b, "upload_interval_secs");
        json_builder_add_int_value(b, (gint64)f->upload_interval_secs);
        json_builder_set_member_name(b, "upload_batch_size");
        json_builder_add_int_value(b, (gint64)f->upload_batch_size);
        json_builder_end_object(b);
}

JsonNode *kiln_portal_message_to_json(const KilnPortalMessage *m)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "event", kiln_portal_message_event_name(m));
        switch (m->kind) {
        case KILN_PORTAL_MESSAGE_INIT:
                kiln_portal_add_interface(b, m->init->interface);
                json_builder_set_member_name(b, "resources");
                json_builder_begin_array(b);
                for (guint i = 0; i < m->init->resources->len; i++)
                        add_resource(b, g_ptr_array_index(m->init->resources, i));
                json_builder_end_array(b);
                kiln_portal_add_relays(b, "relays", m->init->relays);
                kiln_portal_add_authorizations(b, m->init->authorizations);
                kiln_portal_add_flow_logs(b, &m->init->flow_logs);
                break;
        case KILN_PORTAL_MESSAGE_CONFIG_CHANGED:
                kiln_portal_add_interface(b, m->interface);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED:
                json_builder_set_member_name(b, "resource");
                add_resource(b, m->resource);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_DELETED:
                kiln_json_add_string_or_null(b, "resource_id", m->resource_id);
                break;
        case KILN_PORTAL_MESSAGE_RELAYS_PRESENCE:
                kiln_json_add_strings(b, "disconnected_ids", m->relays_presence->disconnected_ids);
                kiln_portal_add_relays(b, "connected", m->relays_presence->connected);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED:
                add_authorization_created(b, m->authorization_created);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED:
                kiln_json_add_string_or_null(b, "resource_id", m->authorization_failed->resource_id);
                kiln_json_add_string_or_null(
                    b, "reason", kiln_portal_fail_reason_to_string(m->authorization_failed->reason));
                json_builder_set_member_name(b, "violated_properties");
                json_builder_begin_array(b);
                for (guint i = 0; i < m->authorization_failed->violated_properties->len; i++)
                        json_builder_add_string_value(
                            b, violated_names[g_array_index(m->authorization_failed->violated_properties,
                                                            KilnPortalViolatedProperty, i)]);
                json_builder_end_array(b);
                break;
        case KILN_PORTAL_MESSAGE_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES:
                kiln_json_add_string_or_null(b, "gateway_id", m->ice_candidates->peer_id);
                kiln_json_add_strings(b, "candidates", m->ice_candidates->candidates);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_CLIENT_ICE_CANDIDATES:
                kiln_json_add_string_or_null(b, "client_id", m->ice_candidates->peer_id);
                kiln_json_add_strings(b, "candidates", m->ice_candidates->candidates);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED:
                add_device_access_authorized(b, m->device_access_authorized);
                break;
        case KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR:
        case KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED:
        case KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED:
        case KILN_PORTAL_MESSAGE_REJECT_ACCESS:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED:
        case KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED:
                add_peer_event(b, m->peer_event);
                break;
        case KILN_PORTAL_MESSAGE_DISCONNECT:
                kiln_json_add_string_or_null(b, "reason", m->disconnect_reason);
                break;
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

/* ---- client → portal ---- */

JsonNode *kiln_portal_build_set_snownet_capabilities(gboolean iceless)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "iceless");
        json_builder_add_boolean_value(b, iceless);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *kiln_portal_build_request_authorization(const char *resource_id,
                                                  const char *const *connected_gateway_ids, const char *ipv4,
                                                  const char *ipv6, GError **error)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autofree char *v4 = NULL, *v6 = NULL;

        if (!kiln_portal_is_uuid(resource_id))
                return kiln_json_fail(error, "resource id is not a UUID"), NULL;
        if (ipv4 && ipv6)
                return kiln_json_fail(error,
                                      "give ipv4 or ipv6, not both (the portal answers ambiguous_address)"),
                       NULL;
        if (ipv4 && !kiln_json_parse_ip(ipv4, G_SOCKET_FAMILY_IPV4, &v4))
                return kiln_json_fail(error, "ipv4 is not an IPv4 address"), NULL;
        if (ipv6 && !kiln_json_parse_ip(ipv6, G_SOCKET_FAMILY_IPV6, &v6))
                return kiln_json_fail(error, "ipv6 is not an IPv6 address"), NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "resource_id");
        json_builder_add_string_value(b, resource_id);
        json_builder_set_member_name(b, "connected_gateway_ids");
        json_builder_begin_array(b);
        for (gsize i = 0; connected_gateway_ids && connected_gateway_ids[i]; i++) {
                if (!kiln_portal_is_uuid(connected_gateway_ids[i]) || i >= KILN_PORTAL_MAX_LIST)
                        return kiln_json_fail(error,
                                              "connected gateway id %" G_GSIZE_FORMAT " is not a UUID", i),
                               NULL;
                json_builder_add_string_value(b, connected_gateway_ids[i]);
        }
        json_builder_end_array(b);
        if (v4) {
                json_builder_set_member_name(b, "ipv4");
                json_builder_add_string_value(b, v4);
        }
        if (v6) {
                json_builder_set_member_name(b, "ipv6");
                json_builder_add_string_value(b, v6);
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

gboolean kiln_portal_add_candidates(JsonBuilder *b, const char *const *candidates, GError **error)
{
        json_builder_set_member_name(b, "candidates");
        json_builder_begin_array(b);
        for (gsize i = 0; candidates && candidates[i]; i++) {
                if (!kiln_portal_is_ice_candidate(candidates[i]) || i >= KILN_PORTAL_MAX_LIST)
                        return kiln_json_fail(error, "candidate %" G_GSIZE_FORMAT " is not an SDP candidate",
                                              i);
                json_builder_add_string_value(b, candidates[i]);
        }
        json_builder_end_array(b);
        return TRUE;
}

JsonNode *kiln_portal_build_ice_candidates(const char *peer_key, const char *peer_id,
                                           const char *const *candidates, GError **error)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        if (!g_str_equal(peer_key, "gateway_id") && !g_str_equal(peer_key, "client_id"))
                return kiln_json_fail(error, "peer key must be gateway_id or client_id"), NULL;
        if (!kiln_portal_is_uuid(peer_id))
                return kiln_json_fail(error, "%s is not a UUID", peer_key), NULL;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, peer_key);
        json_builder_add_string_value(b, peer_id);
        if (!kiln_portal_add_candidates(b, candidates, error))
                return NULL;
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *kiln_portal_build_no_relays(void)
{
        return json_node_init_object(json_node_alloc(), json_object_new());
}

JsonNode *kiln_portal_build_resolve_device_pool_domain(const char *resource_id, const char *domain,
                                                       GError **error)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        if (!kiln_portal_is_uuid(resource_id))
                return kiln_json_fail(error, "resource id is not a UUID"), NULL;
        if (!kiln_portal_is_domain_name(domain))
                return kiln_json_fail(error, "domain is not a domain name"), NULL;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "resource_id");
        json_builder_add_string_value(b, resource_id);
        json_builder_set_member_name(b, "domain");
        json_builder_add_string_value(b, domain);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}
