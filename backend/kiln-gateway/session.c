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
        char *ipv4, *ipv6; /* the client's tunnel addresses */
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

        GHashTable *grants; /* "client_id/resource_id" → Grant */
};

G_DEFINE_FINAL_TYPE(KilnGatewaySession, kiln_gateway_session, G_TYPE_OBJECT)

enum {
        SIGNAL_PORTAL_SEND,
        SIGNAL_FATAL_ERROR,
        N_SIGNALS
};
static guint signals[N_SIGNALS];

static void grant_free(Grant *g)
{
        g_free(g->client_id);
        g_free(g->ipv4);
        g_free(g->ipv6);
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

/* ---- portal events ---- */

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
                        kiln_gateway_connections_renew(self->connections, g->client_id, g->ipv4, g->ipv6,
                                                       &g->resource, (guint64)g->expires_at);
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
                kiln_gateway_connections_revoke(self->connections, g->client_id, g->resource.id);
                g_hash_table_iter_remove(&it);
        }
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "init", KILN_LOG_STR("ipv4", init->interface->ipv4),
                 KILN_LOG_STR("ipv6", init->interface->ipv6), KILN_LOG_INT("relays", init->relays->len),
                 KILN_LOG_INT("authorizations", init->authorizations->len));
}

static void handle_create_authorization(KilnGatewaySession *self, const KilnPortalCreateAuthorization *a)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;
        Grant *g = g_new0(Grant, 1);
        int r;

        g->client_id = g_strdup(a->client.id);
        g->ipv4 = g_strdup(a->client.ipv4);
        g->ipv6 = g_strdup(a->client.ipv6);
        g->expires_at = (gint64)MIN(a->expires_at, (guint64)G_MAXINT64);
        r = to_kiln_resource(a->resource, &g->resource);
        if (r < 0) {
                kiln_log(self->logger, KILN_LOG_WARN, TARGET, "authorization refused: resource not usable",
                         KILN_LOG_STR("client_id", a->client.id),
                         KILN_LOG_STR("resource_id", a->resource->id),
                         KILN_LOG_STR("error", g_strerror(-r)));
                grant_free(g);
                return;
        }
        if (!kiln_gateway_connections_authorize(self->connections, a, &g->resource, &error)) {
                kiln_log(self->logger, KILN_LOG_WARN, TARGET, "authorization refused: no connection",
                         KILN_LOG_STR("client_id", a->client.id), KILN_LOG_STR("error", error->message));
                grant_free(g);
                return;
        }
        g_hash_table_replace(self->grants, grant_key(a->client.id, a->resource->id), g);
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "client authorized",
                 KILN_LOG_STR("client_id", a->client.id), KILN_LOG_STR("resource_id", a->resource->id),
                 KILN_LOG_STR("resource", a->resource->name), KILN_LOG_INT("expires_at", a->expires_at));
        reply = kiln_portal_build_authorization_created(a->ref, NULL);
        send_to_portal(self, KILN_PORTAL_EVENT_AUTHORIZATION_CREATED, reply);
}

static void handle_reject_access(KilnGatewaySession *self, const KilnPortalRejectAccess *r)
{
        g_autofree char *key = grant_key(r->client_id, r->resource_id);

        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "access revoked",
                 KILN_LOG_STR("client_id", r->client_id), KILN_LOG_STR("resource_id", r->resource_id));
        g_hash_table_remove(self->grants, key);
        kiln_gateway_connections_revoke(self->connections, r->client_id, r->resource_id);
}

static void handle_resource_updated(KilnGatewaySession *self, const KilnPortalGatewayResource *resource)
{
        struct kiln_resource r;
        GHashTableIter it;
        Grant *g;

        if (to_kiln_resource(resource, &r) < 0)
                return;
        kiln_gateway_connections_update_resource(self->connections, &r);
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

guint kiln_gateway_session_n_clients(KilnGatewaySession *self)
{
        g_autoptr(GHashTable) clients = g_hash_table_new(g_str_hash, g_str_equal);
        GHashTableIter it;
        Grant *g;

        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *)&g))
                g_hash_table_add(clients, g->client_id);
        return g_hash_table_size(clients);
}

gboolean kiln_gateway_session_is_configured(KilnGatewaySession *self)
{
        return self->configured;
}

void kiln_gateway_session_shutdown(KilnGatewaySession *self)
{
        GHashTableIter it;
        Grant *g;

        /* Revoking everything sends each client its GOODBYE and closes its connection. */
        g_hash_table_iter_init(&it, self->grants);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *)&g)) {
                kiln_gateway_connections_revoke(self->connections, g->client_id, g->resource.id);
                g_hash_table_iter_remove(&it);
        }
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
        return self;
}

static void kiln_gateway_session_dispose(GObject *object)
{
        KilnGatewaySession *self = KILN_GATEWAY_SESSION(object);

        g_clear_object(&self->connections);
        G_OBJECT_CLASS(kiln_gateway_session_parent_class)->dispose(object);
}

static void kiln_gateway_session_finalize(GObject *object)
{
        KilnGatewaySession *self = KILN_GATEWAY_SESSION(object);

        g_hash_table_unref(self->grants);
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
        self->grants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)grant_free);
}
