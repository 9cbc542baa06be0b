/* SPDX-License-Identifier: MIT */
#include "backend/kiln-gateway/session.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

#include "backend/portal/messages.h"

#define TARGET "kiln_gateway::session"

/* One client's access to one resource, kept to resync with init's authorizations. */
typedef struct {
        char *client_id;
        struct kiln_ip_addr ipv4, ipv6;
        struct kiln_resource resource;
        gint64 expires_at; /* unix seconds; 0 = never */
} Grant;

struct _KilnGatewaySession {
        GObject parent_instance;

        KilnGatewayConnections *connections;
        const KilnGatewayPlatformOps *platform;
        gpointer platform_data;
        KilnLogger *logger;
        gboolean configured;

        struct kiln_gateway *state;
        GHashTable *grants; /* "client_id/resource_id" → Grant */
        guint timer_id;
        GCancellable *cancellable; /* DNS lookups in flight */
};

G_DEFINE_FINAL_TYPE(KilnGatewaySession, kiln_gateway_session, G_TYPE_OBJECT)

enum {
        SIGNAL_PORTAL_SEND,
        SIGNAL_FATAL_ERROR,
        N_SIGNALS
};
static guint signals[N_SIGNALS];

static void drain(KilnGatewaySession *self);

static guint64 now_ns(void)
{
        return (guint64)g_get_monotonic_time() * 1000;
}

/* The portal's unix-seconds expiry on the state machine's clock; 0 stays "never". */
static guint64 expiry_ns(gint64 expires_at)
{
        gint64 left = expires_at - g_get_real_time() / G_USEC_PER_SEC;

        if (expires_at == 0)
                return 0;
        return now_ns() + (guint64)MAX(left, 0) * KILN_NS_PER_SEC + 1;
}

static void grant_free(Grant *g)
{
        g_free(g->client_id);
        g_free(g);
}

static char *grant_key(const char *client_id, const char *resource_id)
{
        return g_strconcat(client_id, "/", resource_id, NULL);
}

static void send_to_portal(KilnGatewaySession *self, const char *event, JsonNode *payload)
{
        g_signal_emit(self, signals[SIGNAL_PORTAL_SEND], 0, event, payload);
}

static int to_kiln_resource(const KilnPortalGatewayResource *in, struct kiln_resource *out)
{
        memset(out, 0, sizeof(*out));
        if (strlen(in->id) > KILN_ID_MAX ||
            (in->address && strlen(in->address) > KILN_RESOURCE_ADDRESS_MAX) ||
            in->filters->len > KILN_RESOURCE_MAX_FILTERS)
                return -EINVAL;
        g_strlcpy(out->id, in->id, sizeof(out->id));
        out->type = in->type == KILN_PORTAL_RESOURCE_DNS    ? KILN_RESOURCE_DNS
                    : in->type == KILN_PORTAL_RESOURCE_CIDR ? KILN_RESOURCE_CIDR
                                                            : KILN_RESOURCE_INTERNET;
        if (in->address)
                g_strlcpy(out->address, in->address, sizeof(out->address));
        for (guint i = 0; i < in->filters->len; i++) {
                const KilnPortalFilter *f = &g_array_index(in->filters, KilnPortalFilter, i);

                out->filters[i].proto = f->protocol == KILN_PORTAL_FILTER_TCP   ? KILN_IPPROTO_TCP
                                        : f->protocol == KILN_PORTAL_FILTER_UDP ? KILN_IPPROTO_UDP
                                                                                : KILN_IPPROTO_ICMP;
                out->filters[i].port_start = f->port_range_start;
                out->filters[i].port_end = f->port_range_end;
        }
        out->n_filters = in->filters->len;
        return 0;
}

/* ---- the state machine's clock and actions ---- */

static gboolean on_timer(gpointer data)
{
        KilnGatewaySession *self = data;

        self->timer_id = 0;
        kiln_gateway_handle_timeout(self->state, now_ns());
        drain(self);
        return G_SOURCE_REMOVE;
}

static void rearm(KilnGatewaySession *self)
{
        guint64 at = kiln_gateway_poll_timeout(self->state), now = now_ns();

        g_clear_handle_id(&self->timer_id, g_source_remove);
        if (at == UINT64_MAX)
                return;
        self->timer_id =
            g_timeout_add((guint)MIN((at > now ? at - now : 0) / 1000000 + 1, G_MAXUINT), on_timer, self);
}

typedef struct {
        KilnGatewaySession *self;
        char *client_id, *resource_id, *domain;
} Lookup;

static void lookup_free(Lookup *l)
{
        g_object_unref(l->self);
        g_free(l->client_id);
        g_free(l->resource_id);
        g_free(l->domain);
        g_free(l);
}

static void on_resolved(GObject *source, GAsyncResult *result, gpointer data)
{
        Lookup *l = data;
        g_autoptr(GError) error = NULL;
        GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
        struct kiln_ip_addr addrs[KILN_GATEWAY_MAX_REAL_IPS];
        size_t n = 0;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                lookup_free(l);
                return;
        }
        if (error)
                kiln_log(l->self->logger, KILN_LOG_INFO, TARGET, "DNS resource did not resolve",
                         KILN_LOG_STR("domain", l->domain), KILN_LOG_STR("error", error->message));
        for (GList *a = addresses; a && n < G_N_ELEMENTS(addrs); a = a->next) {
                g_autofree char *text = g_inet_address_to_string(a->data);

                if (kiln_ip_addr_parse(text, &addrs[n]) == 0)
                        n++;
        }
        g_resolver_free_addresses(addresses);
        /* No addresses is the failure case: the client gets DOMAIN_STATUS Inactive. */
        kiln_gateway_handle_dns_resolved(l->self->state, now_ns(), l->client_id, l->resource_id, l->domain,
                                         addrs, n);
        drain(l->self);
        lookup_free(l);
}

static void resolve(KilnGatewaySession *self, const struct kiln_gateway_action *a)
{
        g_autoptr(GResolver) resolver = g_resolver_get_default();
        Lookup *l = g_new0(Lookup, 1);

        l->self = g_object_ref(self);
        l->client_id = g_strdup(a->client_id);
        l->resource_id = g_strdup(a->resource_id);
        l->domain = g_strdup(a->domain);
        /* A and AAAA together, with the system's configuration and hosts file (spec §6.4). */
        g_resolver_lookup_by_name_async(resolver, a->domain, self->cancellable, on_resolved, l);
}

static void forget_client(KilnGatewaySession *self, const char *client_id)
{
        GHashTableIter it;
        Grant *g;

        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *)&g))
                if (g_str_equal(g->client_id, client_id))
                        g_hash_table_iter_remove(&it);
}

static void drain(KilnGatewaySession *self)
{
        struct kiln_gateway_action a;

        while (kiln_gateway_poll_action(self->state, &a)) {
                switch (a.type) {
                case KILN_GATEWAY_WRITE_TUN:
                        self->platform->write_tun(self->platform_data, a.data, a.len);
                        break;
                case KILN_GATEWAY_SEND_TO_CLIENT:
                        kiln_gateway_connections_send_packet(self->connections, a.client_id, a.data, a.len);
                        break;
                case KILN_GATEWAY_RESOLVE_DNS:
                        resolve(self, &a);
                        break;
                case KILN_GATEWAY_CLOSE_CLIENT:
                        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "client has no authorization left",
                                 KILN_LOG_STR("client_id", a.client_id));
                        forget_client(self, a.client_id);
                        kiln_gateway_connections_close(self->connections, a.client_id);
                        break;
                }
        }
        rearm(self);
}

/* ---- portal events ---- */

static int authorize(KilnGatewaySession *self, const Grant *g)
{
        return kiln_gateway_authorize(self->state, now_ns(), g->client_id, &g->ipv4,
                                      g->ipv6.family ? &g->ipv6 : NULL, &g->resource,
                                      expiry_ns(g->expires_at));
}

static void handle_init(KilnGatewaySession *self, const KilnPortalGatewayInit *init)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GHashTable) valid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GHashTableIter it;
        const char *key;
        Grant *g;

        if (!self->platform->configure(self->platform_data, init->interface->ipv4, init->interface->ipv6,
                                       &error)) {
                kiln_log(self->logger, KILN_LOG_ERROR, TARGET, "could not set up the tunnel interface",
                         KILN_LOG_STR("error", error->message));
                /* A gateway without its TUN would only accept clients it cannot serve. */
                g_signal_emit(self, signals[SIGNAL_FATAL_ERROR], 0, error->message);
                return;
        }
        self->configured = TRUE;
        kiln_gateway_connections_set_relays(self->connections, init->relays, NULL);

        /* Resync: keep (with the portal's expiry) what the portal still lists, revoke the rest. */
        for (guint i = 0; i < init->authorizations->len; i++) {
                const KilnPortalAuthorization *a = g_ptr_array_index(init->authorizations, i);
                char *k = grant_key(a->client_id, a->resource_id);

                g = g_hash_table_lookup(self->grants, k);
                if (g) {
                        g->expires_at = (gint64)MIN(a->expires_at, (guint64)G_MAXINT64);
                        authorize(self, g);
                }
                g_hash_table_add(valid, k);
        }
        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, (gpointer *)&key, (gpointer *)&g)) {
                if (g_hash_table_contains(valid, key))
                        continue;
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "authorization no longer listed by the portal",
                         KILN_LOG_STR("client_id", g->client_id),
                         KILN_LOG_STR("resource_id", g->resource.id));
                kiln_gateway_revoke(self->state, now_ns(), g->client_id, g->resource.id);
                g_hash_table_iter_remove(&it);
        }
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "init", KILN_LOG_STR("ipv4", init->interface->ipv4),
                 KILN_LOG_STR("ipv6", init->interface->ipv6), KILN_LOG_INT("relays", init->relays->len),
                 KILN_LOG_INT("authorizations", init->authorizations->len));
        drain(self);
}

static void handle_create_authorization(KilnGatewaySession *self, const KilnPortalCreateAuthorization *a)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;
        Grant *g = g_new0(Grant, 1);
        int r;

        g->client_id = g_strdup(a->client.id);
        g->expires_at = (gint64)MIN(a->expires_at, (guint64)G_MAXINT64);
        r = to_kiln_resource(a->resource, &g->resource);
        if (r == 0)
                r = kiln_ip_addr_parse(a->client.ipv4, &g->ipv4);
        if (r == 0 && kiln_ip_addr_parse(a->client.ipv6, &g->ipv6) < 0)
                g->ipv6.family = 0;
        if (r == 0)
                r = authorize(self, g);
        if (r < 0) {
                kiln_log(self->logger, KILN_LOG_WARN, TARGET, "authorization refused: resource not usable",
                         KILN_LOG_STR("client_id", a->client.id),
                         KILN_LOG_STR("resource_id", a->resource->id),
                         KILN_LOG_STR("error", g_strerror(-r)));
                grant_free(g);
                drain(self);
                return;
        }
        if (!kiln_gateway_connections_authorize(self->connections, a, &error)) {
                kiln_log(self->logger, KILN_LOG_WARN, TARGET, "authorization refused: no connection",
                         KILN_LOG_STR("client_id", a->client.id), KILN_LOG_STR("error", error->message));
                kiln_gateway_revoke(self->state, now_ns(), g->client_id, g->resource.id);
                grant_free(g);
                drain(self);
                return;
        }
        g_hash_table_replace(self->grants, grant_key(a->client.id, a->resource->id), g);
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "client authorized",
                 KILN_LOG_STR("client_id", a->client.id), KILN_LOG_STR("resource_id", a->resource->id),
                 KILN_LOG_STR("resource", a->resource->name), KILN_LOG_INT("expires_at", a->expires_at));
        reply = kiln_portal_build_authorization_created(a->ref, NULL);
        send_to_portal(self, KILN_PORTAL_EVENT_AUTHORIZATION_CREATED, reply);
        drain(self);
}

static void handle_reject_access(KilnGatewaySession *self, const KilnPortalRejectAccess *r)
{
        g_autofree char *key = grant_key(r->client_id, r->resource_id);

        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "access revoked",
                 KILN_LOG_STR("client_id", r->client_id), KILN_LOG_STR("resource_id", r->resource_id));
        g_hash_table_remove(self->grants, key);
        kiln_gateway_revoke(self->state, now_ns(), r->client_id, r->resource_id);
        drain(self);
}

static void handle_resource_updated(KilnGatewaySession *self, const KilnPortalGatewayResource *resource)
{
        struct kiln_resource r;
        GHashTableIter it;
        Grant *g;

        if (to_kiln_resource(resource, &r) < 0)
                return;
        kiln_gateway_update_resource(self->state, &r);
        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *)&g))
                if (g_str_equal(g->resource.id, r.id))
                        g->resource = r;
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "resource updated", KILN_LOG_STR("resource_id", r.id),
                 KILN_LOG_INT("filters", r.n_filters));
}

void kiln_gateway_session_handle_message(KilnGatewaySession *self, const KilnPortalGatewayMessage *m)
{
        switch (m->kind) {
        case KILN_PORTAL_GATEWAY_INIT:
                handle_init(self, m->init);
                break;
        case KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION:
                handle_create_authorization(self, m->create_authorization);
                break;
        case KILN_PORTAL_GATEWAY_ICE_CANDIDATES:
                kiln_gateway_connections_add_candidates(self->connections, m->ice_candidates->peer_id,
                                                        m->ice_candidates->candidates);
                break;
        case KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES:
                kiln_gateway_connections_remove_candidates(self->connections, m->ice_candidates->peer_id,
                                                           m->ice_candidates->candidates);
                break;
        case KILN_PORTAL_GATEWAY_REJECT_ACCESS:
                handle_reject_access(self, m->reject_access);
                break;
        case KILN_PORTAL_GATEWAY_RESOURCE_UPDATED:
                handle_resource_updated(self, m->resource);
                break;
        case KILN_PORTAL_GATEWAY_RELAYS_PRESENCE:
                kiln_gateway_connections_set_relays(self->connections, m->relays_presence->connected,
                                                    m->relays_presence->disconnected_ids);
                break;
        case KILN_PORTAL_GATEWAY_DISCONNECT:
                /* The portal client turns this into a fatal stop before it gets here. */
                break;
        }
}

/* ---- the connections ---- */

static void broadcast(KilnGatewaySession *self, const char *event, const char *client_id,
                      const char *const *candidates)
{
        const char *const ids[] = { client_id, NULL };
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) payload = kiln_portal_build_broadcast_ice_candidates(ids, candidates, &error);

        if (!payload) {
                kiln_log(self->logger, KILN_LOG_WARN, TARGET, "local candidates not sent",
                         KILN_LOG_STR("error", error->message));
                return;
        }
        send_to_portal(self, event, payload);
}

static void on_new_candidates(KilnGatewayConnections *connections, const char *client_id, char **candidates,
                              KilnGatewaySession *self)
{
        (void)connections;
        broadcast(self, KILN_PORTAL_EVENT_BROADCAST_ICE_CANDIDATES, client_id,
                  (const char *const *)candidates);
}

static void on_invalidated_candidates(KilnGatewayConnections *connections, const char *client_id,
                                      char **candidates, KilnGatewaySession *self)
{
        (void)connections;
        broadcast(self, KILN_PORTAL_EVENT_BROADCAST_INVALIDATED_ICE_CANDIDATES, client_id,
                  (const char *const *)candidates);
}

static void on_packet_received(KilnGatewayConnections *connections, const char *client_id, GBytes *packet,
                               KilnGatewaySession *self)
{
        gsize len;
        const guint8 *data = g_bytes_get_data(packet, &len);

        (void)connections;
        kiln_gateway_handle_client_packet(self->state, now_ns(), client_id, data, len);
        drain(self);
}

void kiln_gateway_session_handle_tun_packet(KilnGatewaySession *self, const guint8 *packet, gsize len)
{
        kiln_gateway_handle_tun_packet(self->state, now_ns(), packet, len);
        drain(self);
}

guint kiln_gateway_session_n_clients(KilnGatewaySession *self)
{
        return (guint)kiln_gateway_n_clients(self->state);
}

gboolean kiln_gateway_session_is_configured(KilnGatewaySession *self)
{
        return self->configured;
}

const struct kiln_gateway *kiln_gateway_session_get_state(KilnGatewaySession *self)
{
        return self->state;
}

void kiln_gateway_session_shutdown(KilnGatewaySession *self)
{
        GHashTableIter it;
        Grant *g;

        g_cancellable_cancel(self->cancellable);
        /* Revoking everything sends each client its GOODBYE and closes its connection. */
        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *)&g)) {
                kiln_gateway_revoke(self->state, now_ns(), g->client_id, g->resource.id);
                g_hash_table_iter_remove(&it);
        }
        drain(self);
        g_clear_handle_id(&self->timer_id, g_source_remove);
        if (self->configured)
                self->platform->teardown(self->platform_data);
        self->configured = FALSE;
}

/* ---- GObject ---- */

KilnGatewaySession *kiln_gateway_session_new(KilnGatewayConnections *connections,
                                             const KilnGatewayPlatformOps *platform, gpointer platform_data,
                                             KilnLogger *logger)
{
        KilnGatewaySession *self = g_object_new(KILN_TYPE_GATEWAY_SESSION, NULL);

        self->connections = g_object_ref(connections);
        self->platform = platform;
        self->platform_data = platform_data;
        self->logger = logger;
        g_signal_connect_object(connections, "new-candidates", G_CALLBACK(on_new_candidates), self, 0);
        g_signal_connect_object(connections, "invalidated-candidates", G_CALLBACK(on_invalidated_candidates),
                                self, 0);
        g_signal_connect_object(connections, "packet-received", G_CALLBACK(on_packet_received), self, 0);
        return self;
}

static void kiln_gateway_session_dispose(GObject *object)
{
        KilnGatewaySession *self = KILN_GATEWAY_SESSION(object);

        g_cancellable_cancel(self->cancellable);
        g_clear_handle_id(&self->timer_id, g_source_remove);
        g_clear_object(&self->connections);
        G_OBJECT_CLASS(kiln_gateway_session_parent_class)->dispose(object);
}

static void kiln_gateway_session_finalize(GObject *object)
{
        KilnGatewaySession *self = KILN_GATEWAY_SESSION(object);

        g_hash_table_unref(self->grants);
        kiln_gateway_free(self->state);
        g_object_unref(self->cancellable);
        G_OBJECT_CLASS(kiln_gateway_session_parent_class)->finalize(object);
}

static void kiln_gateway_session_class_init(KilnGatewaySessionClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = kiln_gateway_session_dispose;
        object_class->finalize = kiln_gateway_session_finalize;
        signals[SIGNAL_PORTAL_SEND] =
            g_signal_new("portal-send", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                         G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_NODE);
        signals[SIGNAL_FATAL_ERROR] =
            g_signal_new("fatal-error", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                         G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void kiln_gateway_session_init(KilnGatewaySession *self)
{
        self->state = kiln_gateway_new();
        g_assert(self->state);
        self->grants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)grant_free);
        self->cancellable = g_cancellable_new();
}
