/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/portal-session.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/kilnd/dns-control.h"
#include "backend/kilnd/route-watch.h"
#include "backend/kilnd/tunnel.h"
#include "backend/platform/addresses.h"
#include "backend/platform/routes.h"
#include "backend/portal/client.h"
#include "backend/portal/device-id.h"
#include "backend/tunnel/resources.h"

#define T_PORTAL               "kilnd::portal"
#define T_TUN                  "kilnd::tun"
#define T_ROUTES               "kilnd::routes"
#define T_ENGINE               "kilnd::engine"
#define MAX_ROUTES             (KILN_RESOURCES_MAX + 16)

#define INTERNET_RESOURCE_NAME "Internet Resource"

struct _KilnPortalBackedSession {
        GObject parent_instance;
        KilnLogger *logger;
        char *device_id;
        KilnSessionState state;

        KilnSessionOptions *options;
        char *token; /* sodium_malloc: locked, guarded, wiped on free */
        size_t token_len;
        uint8_t *private_key; /* sodium_malloc'd WG_KEY_LEN bytes, for the tunnel engine */
        uint8_t public_key[WG_KEY_LEN];
        KilnPortalClient *client;

        /* The resources as the portal last described them, in the order it sent them. */
        GPtrArray *resources; /* KilnPortalResource, each kept alive by the message at the same index */
        GPtrArray *owners;    /* KilnPortalMessage refs, parallel to `resources` */

        unsigned ifindex;
        KilnIfAddress addresses[2];
        guint n_addresses;

        /* The data plane, from the first init until teardown. */
        GMainContext *context; /* where the engine's outputs are handled */
        char *state_dir;
        char *dns_mode;
        struct kilnd_tunnel *tunnel;
        struct kiln_routes *routes;
        unsigned rule_families;
        KilndDnsControl *dns;
        char *search_domain;
        guint n_portal_upstreams;
        KilndRouteWatch *watch;
        struct OutputTarget *output_target; /* what the engine thread's outputs go to */
        /* Site status for the Resources property: site id → "online"/"offline". */
        GHashTable *site_status;
        GHashTable *gateway_sites; /* gateway id → site id, from authorization_created */
};

/*
 * The engine thread's handle on the session: it never touches the session itself, it only
 * queues Hops holding a reference to this.  close_tun clears `self` (on the main thread, where
 * hops are handled) after the engine thread stopped.
 */
typedef struct OutputTarget {
        gatomicrefcount refs;
        KilnPortalBackedSession *self;
        GMainContext *context; /* the session's; it outlives every tunnel */
} OutputTarget;

static void output_target_unref(OutputTarget *t)
{
        if (t && g_atomic_ref_count_dec(&t->refs))
                g_free(t);
}

static void kiln_portal_backed_session_iface_init(KilnSessionInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(KilnPortalBackedSession, kiln_portal_backed_session, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_SESSION,
                                                    kiln_portal_backed_session_iface_init))

static void set_state(KilnPortalBackedSession *self, KilnSessionState state)
{
        if (self->state == state)
                return;
        self->state = state;
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "session state",
                 KILN_LOG_STR("state", kiln_session_state_to_string(state)));
        kiln_session_emit_state_changed(KILN_SESSION(self), state);
}

static gboolean internet_resource_enabled(KilnPortalBackedSession *self)
{
        return self->options && self->options->has_internet_resource_enabled &&
               self->options->internet_resource_enabled;
}

static GVariant *resource_variant(KilnPortalBackedSession *self, const KilnPortalResource *r)
{
        GVariantBuilder b, sites;

        g_variant_builder_init(&sites, G_VARIANT_TYPE("a(sss)"));
        for (guint i = 0; r->sites && i < r->sites->len; i++) {
                const KilnPortalSite *site = g_ptr_array_index(r->sites, i);

                const char *status = g_hash_table_lookup(self->site_status, site->id);

                /* "unknown" until a connection to one of its gateways succeeds or fails. */
                g_variant_builder_add(&sites, "(sss)", site->id, site->name ? site->name : "",
                                      status ? status : "unknown");
        }
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(r->id));
        g_variant_builder_add(&b, "{sv}", "type",
                              g_variant_new_string(kiln_portal_resource_type_to_string(r->type)));
        g_variant_builder_add(&b, "{sv}", "name",
                              g_variant_new_string(r->name ? r->name
                                                   : r->type == KILN_PORTAL_RESOURCE_INTERNET
                                                       ? INTERNET_RESOURCE_NAME
                                                       : ""));
        g_variant_builder_add(&b, "{sv}", "address", g_variant_new_string(r->address ? r->address : ""));
        g_variant_builder_add(&b, "{sv}", "address-description",
                              g_variant_new_string(r->address_description ? r->address_description : ""));
        g_variant_builder_add(&b, "{sv}", "sites", g_variant_builder_end(&sites));
        g_variant_builder_add(&b, "{sv}", "enabled",
                              g_variant_new_boolean(r->type != KILN_PORTAL_RESOURCE_INTERNET ||
                                                    internet_resource_enabled(self)));
        return g_variant_builder_end(&b);
}

/* Only the types the D-Bus contract knows; device pools are client-to-client, not listed. */
static gboolean is_listed(const KilnPortalResource *r)
{
        return r->type == KILN_PORTAL_RESOURCE_DNS || r->type == KILN_PORTAL_RESOURCE_CIDR ||
               r->type == KILN_PORTAL_RESOURCE_INTERNET;
}

static void publish_resources(KilnPortalBackedSession *self)
{
        GVariantBuilder b;
        guint n = 0;

        g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < self->resources->len; i++) {
                const KilnPortalResource *r = g_ptr_array_index(self->resources, i);

                if (!is_listed(r))
                        continue;
                g_variant_builder_add_value(&b, resource_variant(self, r));
                n++;
        }
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "resources", KILN_LOG_INT("count", n));
        kiln_session_emit_resources_changed(KILN_SESSION(self), g_variant_builder_end(&b));
}

static void log_resource(KilnPortalBackedSession *self, const char *what, const KilnPortalResource *r)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, what, KILN_LOG_STR("id", r->id),
                 KILN_LOG_STR("type", kiln_portal_resource_type_to_string(r->type)),
                 KILN_LOG_STR("name", r->name ? r->name : ""),
                 KILN_LOG_STR("address", r->address ? r->address : ""));
}

static int find_resource(KilnPortalBackedSession *self, const char *id)
{
        for (guint i = 0; i < self->resources->len; i++) {
                const KilnPortalResource *r = g_ptr_array_index(self->resources, i);

                if (g_str_equal(r->id, id))
                        return (int)i;
        }
        return -1;
}

/* GOODBYE to the gateways, DNS back, rules and routes gone, then the device. */
static void close_tun(KilnPortalBackedSession *self)
{
        if (self->tunnel) {
                size_t told = kilnd_tunnel_goodbye(self->tunnel);

                kiln_log(self->logger, KILN_LOG_INFO, T_ENGINE, "said goodbye to the gateways",
                         KILN_LOG_INT("gateways", (gint64)told));
        }
        g_clear_pointer(&self->watch, kilnd_route_watch_free);
        if (self->dns) {
                kilnd_dns_control_free(self->dns);
                self->dns = NULL;
        }
        if (self->routes) {
                if (self->rule_families)
                        (void)kiln_routes_remove_rules(self->routes, self->rule_families);
                (void)kiln_routes_flush(self->routes);
                kiln_routes_free(self->routes);
                self->routes = NULL;
                self->rule_families = 0;
                kiln_log(self->logger, KILN_LOG_INFO, T_ROUTES, "routes and rules removed");
        }
        if (!self->tunnel)
                return;
        kilnd_tunnel_free(self->tunnel);
        self->tunnel = NULL;
        /* Outputs still queued on the main context find no session and are dropped. */
        self->output_target->self = NULL;
        g_clear_pointer(&self->output_target, output_target_unref);
        self->ifindex = 0;
        self->n_addresses = 0;
        g_clear_pointer(&self->search_domain, g_free);
        g_hash_table_remove_all(self->site_status);
        g_hash_table_remove_all(self->gateway_sites);
        kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "tunnel device removed",
                 KILN_LOG_STR("device", KILN_TUN_NAME));
}

/* Everything a session holds, gone: the portal channel, the device, the token and the keys. */
static void teardown(KilnPortalBackedSession *self)
{
        if (self->client) {
                g_signal_handlers_disconnect_by_data(self->client, self);
                kiln_portal_client_stop(self->client);
                g_clear_object(&self->client);
        }
        close_tun(self);
        g_ptr_array_set_size(self->resources, 0);
        g_ptr_array_set_size(self->owners, 0);
        if (self->token) {
                sodium_memzero(self->token, self->token_len);
                sodium_free(self->token);
                self->token = NULL;
                self->token_len = 0;
        }
        if (self->private_key) {
                sodium_memzero(self->private_key, WG_KEY_LEN);
                sodium_free(self->private_key);
                self->private_key = NULL;
        }
        sodium_memzero(self->public_key, sizeof(self->public_key));
        g_clear_pointer(&self->options, kiln_session_options_free);
}

/* The session ends on its own: tell kilnd why, then settle in `final`. */
static void end_with_error(KilnPortalBackedSession *self, const char *message, gboolean requires_sign_in,
                           KilnSessionState final)
{
        kiln_log(self->logger, KILN_LOG_ERROR, T_PORTAL, "session ended", KILN_LOG_STR("error", message),
                 KILN_LOG_BOOL("requires_sign_in", requires_sign_in));
        teardown(self);
        kiln_session_emit_error(KILN_SESSION(self), message, requires_sign_in);
        set_state(self, final);
}

static const char *address_text(const KilnIfAddress *a, char buf[static INET6_ADDRSTRLEN])
{
        return inet_ntop(a->family, &a->in6, buf, INET6_ADDRSTRLEN);
}

/*
 * Puts the interface's addresses on the device: the IPv4 as /32, the IPv6 as /128 (data-plane
 * §7.1), replacing earlier ones that changed.  One family failing leaves a single-stack tunnel;
 * both failing is fatal.
 */
static int apply_interface(KilnPortalBackedSession *self, const KilnPortalInterface *iface)
{
        KilnIfAddress want[2];
        guint n_want = 0, n_ok = 0;
        char buf[INET6_ADDRSTRLEN];

        if (kiln_if_address_parse(iface->ipv4, &want[n_want]) == 0 && want[n_want].family == AF_INET)
                n_want++;
        if (kiln_if_address_parse(iface->ipv6, &want[n_want]) == 0 && want[n_want].family == AF_INET6)
                n_want++;
        if (n_want == 0)
                return -EINVAL;

        for (guint i = 0; i < self->n_addresses; i++) {
                gboolean kept = FALSE;

                for (guint j = 0; j < n_want; j++)
                        kept = kept || memcmp(&self->addresses[i], &want[j], sizeof(want[j])) == 0;
                if (!kept)
                        (void)kiln_if_address_del(self->ifindex, &self->addresses[i]);
        }
        self->n_addresses = 0;
        for (guint j = 0; j < n_want; j++) {
                int r = kiln_if_address_add(self->ifindex, &want[j]);

                if (r < 0) {
                        kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "cannot add an address",
                                 KILN_LOG_STR("address", address_text(&want[j], buf)),
                                 KILN_LOG_STR("error", g_strerror(-r)));
                        continue;
                }
                kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "address set",
                         KILN_LOG_STR("device", KILN_TUN_NAME),
                         KILN_LOG_STR("address", address_text(&want[j], buf)),
                         KILN_LOG_INT("prefix", want[j].prefixlen));
                self->addresses[self->n_addresses++] = want[j];
                n_ok++;
        }
        return n_ok > 0 ? 0 : -EADDRNOTAVAIL;
}

/* ---- engine outputs: produced on the engine thread, handled here on the main context ---- */

typedef struct {
        OutputTarget *target;
        enum kiln_client_output_type type;
        char event[64];
        JsonNode *payload;
        char resource_id[KILN_ID_MAX + 1];
        char gateway_id[KILN_ID_MAX + 1];
        char reason[96];
        gboolean via_relay;
        guint64 time_to_connect;
        uint8_t public_key[WG_KEY_LEN]; /* reset */
        gboolean reset;
} Hop;

static void hop_free(gpointer data)
{
        Hop *h = data;

        g_clear_pointer(&h->payload, json_node_unref);
        output_target_unref(h->target);
        g_free(h);
}

static void set_sites_status(KilnPortalBackedSession *self, const char *resource_id, const char *status)
{
        int at = find_resource(self, resource_id);
        const KilnPortalResource *r;

        if (at < 0)
                return;
        r = g_ptr_array_index(self->resources, at);
        for (guint i = 0; r->sites && i < r->sites->len; i++) {
                const KilnPortalSite *site = g_ptr_array_index(r->sites, i);

                g_hash_table_insert(self->site_status, g_strdup(site->id), (gpointer)status);
        }
}

/* The portal's FailReason → the ResourceUnreachable reason of ipc/dev.kiln.Tunnel1.xml. */
static const char *unreachable_reason(const char *fail_reason)
{
        if (g_str_equal(fail_reason, "offline"))
                return "offline";
        if (g_str_equal(fail_reason, "version_mismatch"))
                return "version-mismatch";
        if (g_str_equal(fail_reason, "forbidden") || g_str_equal(fail_reason, "not_found") ||
            g_str_equal(fail_reason, "disabled"))
                return "forbidden";
        return "unknown";
}

static gboolean handle_hop(gpointer data)
{
        Hop *h = data;
        KilnPortalBackedSession *self = h->target->self;

        if (!self || !self->tunnel || !self->client)
                return G_SOURCE_REMOVE;
        if (h->reset) {
                char b64[WG_KEY_LEN_BASE64];

                memcpy(self->public_key, h->public_key, WG_KEY_LEN);
                key_to_base64(b64, self->public_key);
                kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL,
                         "reconnecting to the portal with the new WireGuard key",
                         KILN_LOG_STR("public_key", b64));
                kiln_portal_client_reset(self->client, self->public_key);
                return G_SOURCE_REMOVE;
        }
        switch (h->type) {
        case KILN_CLIENT_OUTPUT_PORTAL:
                kiln_log(self->logger, KILN_LOG_DEBUG, T_ENGINE, "to the portal",
                         KILN_LOG_STR("event", h->event));
                if (!kiln_portal_client_send(self->client, h->event, h->payload))
                        kiln_log(self->logger, KILN_LOG_DEBUG, T_ENGINE,
                                 "portal message dropped (not joined)", KILN_LOG_STR("event", h->event));
                break;
        case KILN_CLIENT_OUTPUT_AUTHORIZATION_FAILED: {
                const char *reason = unreachable_reason(h->reason);
                g_autofree char *text =
                    g_strdup_printf("the portal could not authorize the resource: %s", h->reason);

                kiln_log(self->logger, KILN_LOG_WARN, T_ENGINE, "resource unreachable",
                         KILN_LOG_STR("resource", h->resource_id), KILN_LOG_STR("reason", reason));
                if (g_str_equal(reason, "offline")) {
                        set_sites_status(self, h->resource_id, "offline");
                        publish_resources(self);
                }
                kiln_session_emit_resource_unreachable(KILN_SESSION(self), h->resource_id, reason, text);
                break;
        }
        case KILN_CLIENT_OUTPUT_GATEWAY_CONNECTED: {
                const char *site = g_hash_table_lookup(self->gateway_sites, h->gateway_id);

                kiln_log(self->logger, KILN_LOG_INFO, T_ENGINE, "gateway connected",
                         KILN_LOG_STR("gateway", h->gateway_id), KILN_LOG_BOOL("via_relay", h->via_relay),
                         KILN_LOG_INT("time_to_connect_ms", (gint64)(h->time_to_connect / 1000000)));
                if (site) {
                        g_hash_table_insert(self->site_status, g_strdup(site), (gpointer) "online");
                        publish_resources(self);
                }
                break;
        }
        case KILN_CLIENT_OUTPUT_GATEWAY_PATH_CHANGED:
                kiln_log(self->logger, KILN_LOG_INFO, T_ENGINE, "gateway path changed",
                         KILN_LOG_STR("gateway", h->gateway_id), KILN_LOG_BOOL("via_relay", h->via_relay));
                break;
        case KILN_CLIENT_OUTPUT_GATEWAY_FAILED:
                kiln_log(self->logger, KILN_LOG_WARN, T_ENGINE, "gateway connection failed",
                         KILN_LOG_STR("gateway", h->gateway_id), KILN_LOG_STR("reason", h->reason));
                break;
        case KILN_CLIENT_OUTPUT_DOMAIN_INACTIVE:
                kiln_log(self->logger, KILN_LOG_WARN, T_ENGINE, "the gateway could not resolve the resource",
                         KILN_LOG_STR("resource", h->resource_id));
                break;
        default:
                break;
        }
        return G_SOURCE_REMOVE;
}

/* Engine thread. */
static Hop *hop_new(OutputTarget *t)
{
        Hop *h = g_new0(Hop, 1);

        g_atomic_ref_count_inc(&t->refs);
        h->target = t;
        return h;
}

static void on_engine_output(void *userdata, const struct kiln_client_output *o)
{
        OutputTarget *t = userdata;
        Hop *h;

        if (o->type == KILN_CLIENT_OUTPUT_DNS_RECORDS_CHANGED || o->type == KILN_CLIENT_OUTPUT_TUN)
                return;
        h = hop_new(t);
        h->type = o->type;
        if (o->event)
                g_strlcpy(h->event, o->event, sizeof(h->event));
        if (o->payload)
                h->payload = json_node_ref(o->payload);
        g_strlcpy(h->resource_id, o->resource_id, sizeof(h->resource_id));
        g_strlcpy(h->gateway_id, o->gateway_id, sizeof(h->gateway_id));
        g_strlcpy(h->reason, o->reason, sizeof(h->reason));
        h->via_relay = o->via_relay;
        h->time_to_connect = o->time_to_connect;
        g_main_context_invoke_full(t->context, G_PRIORITY_DEFAULT, handle_hop, h, hop_free);
}

static void on_reset_done(void *userdata, const uint8_t *public_key)
{
        OutputTarget *t = userdata;
        Hop *h = hop_new(t);

        h->reset = TRUE;
        memcpy(h->public_key, public_key, WG_KEY_LEN);
        g_main_context_invoke_full(t->context, G_PRIORITY_DEFAULT, handle_hop, h, hop_free);
}

/* ---- routes and DNS for the current resources -------------------------------------------- */

static void apply_routes(KilnPortalBackedSession *self)
{
        struct kiln_resources *table = kiln_resources_new();
        g_autofree struct kiln_ip_prefix *prefixes = NULL;
        g_autofree struct kiln_route *routes = NULL;
        unsigned families = 0;
        size_t n, m = 0;
        int r;

        if (!self->routes || !table) {
                kiln_resources_free(table);
                return;
        }
        for (guint i = 0; i < self->n_addresses; i++)
                families |= self->addresses[i].family == AF_INET ? 1u : 2u;
        if (families & ~self->rule_families) {
                r = kiln_routes_add_rules(self->routes, families & ~self->rule_families);
                if (r < 0)
                        kiln_log(self->logger, KILN_LOG_WARN, T_ROUTES, "cannot add the policy rules",
                                 KILN_LOG_STR("error", g_strerror(-r)));
                else
                        self->rule_families |= families;
        }
        for (guint i = 0; i < self->resources->len; i++) {
                struct kiln_resource res;

                if (kiln_resource_from_portal(g_ptr_array_index(self->resources, i), &res) == 0)
                        (void)kiln_resources_upsert(table, &res);
        }
        kiln_resources_set_internet_enabled(table, internet_resource_enabled(self));
        prefixes = g_new(struct kiln_ip_prefix, MAX_ROUTES);
        routes = g_new0(struct kiln_route, MAX_ROUTES);
        n = MIN(kiln_resources_routes(table, prefixes, MAX_ROUTES), (size_t)MAX_ROUTES);
        for (size_t i = 0; i < n; i++) {
                /* Only the families the device has an address of (data-plane §7.1). */
                if (!(families & (prefixes[i].net.family == 4 ? 1u : 2u)))
                        continue;
                routes[m].family = prefixes[i].net.family;
                memcpy(routes[m].addr, prefixes[i].net.bytes, 16);
                routes[m].prefix = (uint8_t)prefixes[i].prefix;
                m++;
        }
        kiln_resources_free(table);
        r = kiln_routes_set(self->routes, routes, m);
        if (r < 0)
                kiln_log(self->logger, KILN_LOG_WARN, T_ROUTES, "some routes did not apply",
                         KILN_LOG_STR("error", g_strerror(-r)));
        if (internet_resource_enabled(self)) {
                r = kiln_routes_sync_link_scope(self->routes);
                if (r < 0)
                        kiln_log(self->logger, KILN_LOG_WARN, T_ROUTES, "cannot copy the local routes",
                                 KILN_LOG_STR("error", g_strerror(-r)));
        }
        kiln_log(self->logger, KILN_LOG_INFO, T_ROUTES, "routes set", KILN_LOG_INT("routes", (gint64)m),
                 KILN_LOG_BOOL("internet", internet_resource_enabled(self)));
}

/* One sentinel per effective upstream (portal Do53 first, else the system's), as the stub
 * numbers them (data-plane §6.2); IPv4 ones first, at least one. */
static void apply_dns(KilnPortalBackedSession *self)
{
        struct kiln_dns_upstream system[KILND_DNS_MAX_UPSTREAMS];
        size_t n_system = kilnd_dns_control_system_upstreams(self->dns, system, G_N_ELEMENTS(system));
        size_t n = self->n_portal_upstreams ? self->n_portal_upstreams : n_system;
        g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func(g_free);
        gboolean v6 = FALSE;

        kilnd_tunnel_set_system_upstreams(self->tunnel, system, n_system);
        for (guint i = 0; i < self->n_addresses; i++)
                v6 = v6 || self->addresses[i].family == AF_INET6;
        n = CLAMP(n, 1, KILND_DNS_MAX_UPSTREAMS);
        for (int fam = 4; fam <= 6; fam += 2) {
                if (fam == 6 && !v6)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        struct kiln_ip_addr a;
                        char buf[INET6_ADDRSTRLEN];

                        kiln_dns_sentinel((uint8_t)fam, (unsigned)i, &a);
                        inet_ntop(fam == 4 ? AF_INET : AF_INET6, a.bytes, buf, sizeof(buf));
                        g_ptr_array_add(servers, g_strdup(buf));
                }
        }
        /* A failure is logged there; the tunnel works for IP resources without it. */
        (void)kilnd_dns_control_activate(self->dns, (int)self->ifindex, (const char *const *)servers->pdata,
                                         servers->len, self->search_domain);
        kilnd_dns_control_flush(self->dns);
}

static void remember_interface(KilnPortalBackedSession *self, const KilnPortalInterface *iface)
{
        guint n = 0;

        for (guint i = 0; iface->upstream_do53 && i < iface->upstream_do53->len; i++) {
                struct kiln_ip_addr a;

                n += kiln_ip_addr_parse(g_ptr_array_index(iface->upstream_do53, i), &a) == 0;
        }
        self->n_portal_upstreams = MIN(n, 8u);
        g_free(self->search_domain);
        self->search_domain = g_strdup(iface->search_domain);
}

static void on_network_changed(gboolean default_route_changed, gpointer user_data)
{
        KilnPortalBackedSession *self = user_data;

        if (internet_resource_enabled(self) && self->routes)
                (void)kiln_routes_sync_link_scope(self->routes);
        if (!default_route_changed || !self->tunnel)
                return;
        kiln_log(self->logger, KILN_LOG_INFO, T_ENGINE,
                 "network changed (default route): resetting connections with a new key");
        kilnd_tunnel_reset(self->tunnel, on_reset_done, self->output_target);
}

static int raise_tunnel(KilnPortalBackedSession *self, const KilnPortalInterface *iface)
{
        char offloads[64];
        int r;

        self->output_target = g_new0(OutputTarget, 1);
        g_atomic_ref_count_init(&self->output_target->refs);
        self->output_target->self = self;
        self->output_target->context = self->context;
        r = kilnd_tunnel_new(
            &(struct kilnd_tunnel_config){
                .device = KILN_TUN_NAME,
                .mtu = KILN_TUN_MTU,
                .private_key = self->private_key,
                .output = on_engine_output,
                .userdata = self->output_target,
            },
            &self->tunnel);
        if (r < 0) {
                g_clear_pointer(&self->output_target, output_target_unref);
                return r;
        }
        self->ifindex = kilnd_tunnel_ifindex(self->tunnel);
        /* Only the portal's addresses on the device: no link-local fe80:: (Firezone does the same). */
        r = kiln_if_disable_ipv6_link_local(self->ifindex);
        if (r < 0)
                kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "cannot turn off the IPv6 link-local address",
                         KILN_LOG_STR("error", g_strerror(-r)));
        kiln_log(self->logger, KILN_LOG_INFO, T_TUN, "tunnel device up",
                 KILN_LOG_STR("device", KILN_TUN_NAME), KILN_LOG_INT("mtu", KILN_TUN_MTU),
                 KILN_LOG_STR("offloads", kilnd_tunnel_offloads(self->tunnel, offloads, sizeof(offloads))));
        r = apply_interface(self, iface);
        if (r < 0) {
                close_tun(self);
                return r;
        }
        r = kiln_routes_new((int)self->ifindex, &self->routes);
        if (r < 0) {
                close_tun(self);
                return r;
        }
        /* Leftovers of a killed kilnd would shadow the new routes. */
        (void)kiln_routes_flush(self->routes);
        self->dns = kilnd_dns_control_new(self->logger, self->dns_mode ? self->dns_mode : "auto",
                                          self->state_dir ? self->state_dir : "/var/lib/kiln");
        self->watch = kilnd_route_watch_new(on_network_changed, self);
        if (!self->watch)
                kiln_log(self->logger, KILN_LOG_WARN, T_ENGINE, "cannot watch the default route");
        kilnd_tunnel_set_internet_enabled(self->tunnel, internet_resource_enabled(self));
        return 0;
}

static void on_init(KilnPortalClient *client, KilnPortalMessage *message, KilnPortalBackedSession *self)
{
        const KilnPortalInit *init = message->init;
        gint64 started = g_get_monotonic_time();
        int r;

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "init", KILN_LOG_STR("ipv4", init->interface->ipv4),
                 KILN_LOG_STR("ipv6", init->interface->ipv6),
                 KILN_LOG_INT("resources", init->resources->len), KILN_LOG_INT("relays", init->relays->len));
        /* init replaces everything: it follows every join, reconnects included. */
        g_ptr_array_set_size(self->resources, 0);
        g_ptr_array_set_size(self->owners, 0);
        for (guint i = 0; i < init->resources->len; i++) {
                KilnPortalResource *res = g_ptr_array_index(init->resources, i);

                log_resource(self, "resource", res);
                g_ptr_array_add(self->resources, res);
                g_ptr_array_add(self->owners, kiln_portal_message_ref(message));
        }

        if (!self->tunnel) {
                set_state(self, KILN_SESSION_RAISING_TUNNEL);
                r = raise_tunnel(self, init->interface);
        } else {
                r = apply_interface(self, init->interface);
        }
        if (r < 0) {
                g_autofree char *text =
                    g_strdup_printf("cannot raise the tunnel device %s: %s", KILN_TUN_NAME, g_strerror(-r));

                end_with_error(self, text, FALSE, KILN_SESSION_ERROR);
                return;
        }
        remember_interface(self, init->interface);
        apply_routes(self);
        apply_dns(self);
        kilnd_tunnel_portal_message(self->tunnel, message);
        kiln_log(self->logger, KILN_LOG_INFO, T_ENGINE, "tunnel ready: routes and DNS in place",
                 KILN_LOG_INT("setup_ms", (g_get_monotonic_time() - started) / 1000));
        publish_resources(self);
        set_state(self, KILN_SESSION_CONNECTED);
}

/* Every portal event but init (on_init hands that over itself, once the engine exists). */
static void on_any_message(KilnPortalClient *client, KilnPortalMessage *message,
                           KilnPortalBackedSession *self)
{
        if (message->kind == KILN_PORTAL_MESSAGE_INIT || !self->tunnel)
                return;
        if (message->kind == KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED) {
                const KilnPortalAuthorizationCreated *a = message->authorization_created;

                if (a->gateway_id && a->site_id)
                        g_hash_table_insert(self->gateway_sites, g_strdup(a->gateway_id),
                                            g_strdup(a->site_id));
        }
        kilnd_tunnel_portal_message(self->tunnel, message);
}

static void on_config_changed(KilnPortalClient *client, KilnPortalMessage *message,
                              KilnPortalBackedSession *self)
{
        int r;

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "interface config changed",
                 KILN_LOG_STR("ipv4", message->interface->ipv4),
                 KILN_LOG_STR("ipv6", message->interface->ipv6));
        if (!self->tunnel)
                return;
        r = apply_interface(self, message->interface);
        if (r < 0)
                kiln_log(self->logger, KILN_LOG_WARN, T_TUN, "the new interface addresses did not apply",
                         KILN_LOG_STR("error", g_strerror(-r)));
        remember_interface(self, message->interface);
        apply_routes(self);
        apply_dns(self);
}

static void on_resource_updated(KilnPortalClient *client, KilnPortalMessage *message,
                                KilnPortalBackedSession *self)
{
        KilnPortalResource *r = message->resource;
        int at = find_resource(self, r->id);

        log_resource(self, at < 0 ? "resource added" : "resource updated", r);
        /* In place, so that lists keep their order for the user. */
        if (at < 0) {
                g_ptr_array_add(self->resources, r);
                g_ptr_array_add(self->owners, kiln_portal_message_ref(message));
        } else {
                kiln_portal_message_unref(self->owners->pdata[at]);
                self->owners->pdata[at] = kiln_portal_message_ref(message);
                self->resources->pdata[at] = r;
        }
        apply_routes(self);
        if (self->dns)
                kilnd_dns_control_flush(self->dns);
        publish_resources(self);
}

static void on_resource_deleted(KilnPortalClient *client, KilnPortalMessage *message,
                                KilnPortalBackedSession *self)
{
        int at = find_resource(self, message->resource_id);

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "resource removed",
                 KILN_LOG_STR("id", message->resource_id), KILN_LOG_BOOL("known", at >= 0));
        if (at < 0)
                return;
        g_ptr_array_remove_index(self->resources, (guint)at);
        g_ptr_array_remove_index(self->owners, (guint)at);
        apply_routes(self);
        if (self->dns)
                kilnd_dns_control_flush(self->dns);
        publish_resources(self);
}

static void on_joined(KilnPortalClient *client, KilnPortalBackedSession *self)
{
        /* Firezone's v2 client announces this after every join; Kiln has no ICE-less mode. */
        g_autoptr(JsonNode) capabilities = kiln_portal_build_set_snownet_capabilities(FALSE);

        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "joined the portal channel");
        kiln_portal_client_send(client, KILN_PORTAL_EVENT_SET_SNOWNET_CAPABILITIES, capabilities);
}

static void on_hiccup(KilnPortalClient *client, const char *reason, guint delay_ms,
                      KilnPortalBackedSession *self)
{
        kiln_log(self->logger, KILN_LOG_WARN, T_PORTAL,
                 self->state == KILN_SESSION_CONNECTING
                     ? "portal connection failed, still connecting"
                     : "portal connection lost, the tunnel stays up while reconnecting",
                 KILN_LOG_STR("reason", reason), KILN_LOG_INT("retry_in_ms", delay_ms));
}

static void on_fatal(KilnPortalClient *client, int kind, const char *detail, KilnPortalBackedSession *self)
{
        g_autoptr(KilnPortalBackedSession) hold = g_object_ref(self);
        g_autofree char *text = NULL;

        if (kind == KILN_PORTAL_FATAL_SIGN_IN_REQUIRED) {
                text = g_strdup_printf("Your session ended; sign in again (%s)",
                                       detail ? detail : "token rejected");
                end_with_error(self, text, TRUE, KILN_SESSION_SIGNED_OUT);
        } else {
                text = g_strdup_printf("Connection to the portal failed: %s",
                                       detail ? detail : "unknown error");
                end_with_error(self, text, FALSE, KILN_SESSION_ERROR);
        }
}

static gboolean session_start(KilnSession *session, const char *token, const KilnSessionOptions *options,
                              GError **error)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);
        g_autofree char *external_id = kiln_device_id_external_id(self->device_id);
        KilnPortalLoginParams params = {
                .api_url = options->api_url,
                .external_id = external_id,
                .name = g_get_host_name(),
        };
        size_t len = strlen(token);
        char public_b64[WG_KEY_LEN_BASE64];

        teardown(self);
        self->token = sodium_malloc(len + 1);
        self->private_key = sodium_malloc(WG_KEY_LEN);
        if (!self->token || !self->private_key) {
                teardown(self);
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "out of locked memory for the secrets");
                return FALSE;
        }
        memcpy(self->token, token, len + 1);
        self->token_len = len;
        self->options = kiln_session_options_copy(options);
        /* A key per session, in memory only (control-plane spec §7.2). */
        curve25519_generate_secret(self->private_key);
        curve25519_generate_public(self->public_key, self->private_key);

        self->client = kiln_portal_client_new(&params, self->token, self->public_key, error);
        if (!self->client) {
                teardown(self);
                return FALSE;
        }
        g_signal_connect(self->client, "message::init", G_CALLBACK(on_init), self);
        g_signal_connect(self->client, "message::config_changed", G_CALLBACK(on_config_changed), self);
        g_signal_connect(self->client, "message::resource_created_or_updated",
                         G_CALLBACK(on_resource_updated), self);
        g_signal_connect(self->client, "message::resource_deleted", G_CALLBACK(on_resource_deleted), self);
        /* The engine gets every other event (authorizations, candidates, relays, failures). */
        g_signal_connect(self->client, "message", G_CALLBACK(on_any_message), self);
        g_signal_connect(self->client, "joined", G_CALLBACK(on_joined), self);
        g_signal_connect(self->client, "hiccup", G_CALLBACK(on_hiccup), self);
        g_signal_connect(self->client, "fatal-error", G_CALLBACK(on_fatal), self);

        key_to_base64(public_b64, self->public_key);
        kiln_log(self->logger, KILN_LOG_INFO, T_PORTAL, "connecting to the portal",
                 KILN_LOG_STR("api_url", options->api_url), KILN_LOG_STR("external_id", external_id),
                 KILN_LOG_STR("public_key", public_b64), KILN_LOG_SECRET("token"));
        set_state(self, KILN_SESSION_CONNECTING);
        kiln_portal_client_start(self->client);
        return TRUE;
}

static void session_stop(KilnSession *session)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);

        teardown(self);
        set_state(self, KILN_SESSION_SIGNED_OUT);
}

static void session_set_internet_resource_enabled(KilnSession *session, gboolean enabled)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(session);

        if (!self->options)
                return;
        self->options->internet_resource_enabled = enabled;
        self->options->has_internet_resource_enabled = TRUE;
        if (self->tunnel) {
                kilnd_tunnel_set_internet_enabled(self->tunnel, enabled);
                apply_routes(self);
        }
        publish_resources(self);
}

static KilnSessionState session_get_state(KilnSession *session)
{
        return KILN_PORTAL_BACKED_SESSION(session)->state;
}

static void kiln_portal_backed_session_iface_init(KilnSessionInterface *iface)
{
        iface->start = session_start;
        iface->stop = session_stop;
        iface->set_internet_resource_enabled = session_set_internet_resource_enabled;
        iface->get_state = session_get_state;
}

static void kiln_portal_backed_session_finalize(GObject *object)
{
        KilnPortalBackedSession *self = KILN_PORTAL_BACKED_SESSION(object);

        teardown(self);
        g_ptr_array_unref(self->resources);
        g_ptr_array_unref(self->owners);
        g_hash_table_unref(self->site_status);
        g_hash_table_unref(self->gateway_sites);
        g_main_context_unref(self->context);
        g_free(self->state_dir);
        g_free(self->dns_mode);
        g_free(self->device_id);
        G_OBJECT_CLASS(kiln_portal_backed_session_parent_class)->finalize(object);
}

static void kiln_portal_backed_session_class_init(KilnPortalBackedSessionClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_portal_backed_session_finalize;
}

static void kiln_portal_backed_session_init(KilnPortalBackedSession *self)
{
        self->state = KILN_SESSION_SIGNED_OUT;
        self->context = g_main_context_ref_thread_default();
        self->site_status = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        self->gateway_sites = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        self->resources = g_ptr_array_new();
        self->owners = g_ptr_array_new_with_free_func((GDestroyNotify)kiln_portal_message_unref);
}

KilnPortalBackedSession *kiln_portal_backed_session_new(KilnLogger *logger, const char *device_id)
{
        KilnPortalBackedSession *self = g_object_new(KILN_TYPE_PORTAL_BACKED_SESSION, NULL);

        self->logger = logger;
        self->device_id = g_strdup(device_id);
        return self;
}

void kiln_portal_backed_session_set_platform(KilnPortalBackedSession *self, const char *state_dir,
                                             const char *dns_control)
{
        g_free(self->state_dir);
        self->state_dir = g_strdup(state_dir);
        g_free(self->dns_mode);
        self->dns_mode = g_strdup(dns_control);
}
