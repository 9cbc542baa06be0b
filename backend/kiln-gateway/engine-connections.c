/* SPDX-License-Identifier: MIT */
#include "backend/kiln-gateway/engine-connections.h"

#include <errno.h>
#include <gio/gio.h>
#include <sodium.h>
#include <string.h>

#include "backend/io/event-loop.h"
#include "backend/io/udp-socket.h"
#include "backend/tunnel/engine-io.h"
#include "backend/tunnel/gateway-engine.h"

#define TARGET "kiln_gateway::connections"

struct _KilnGatewayEngineConnections {
        GObject parent_instance;

        KilnLogger *logger;
        GMainContext *context; /* where outputs are handled */
        struct kiln_gateway_engine *engine;
        struct kiln_engine_io *eio;
        struct io_loop *loop;
        struct udp_socket sockets[2];
        guint n_sockets;
        GThread *thread;
        GCancellable *cancellable; /* DNS lookups in flight */
};

static void connections_iface_init(KilnGatewayConnectionsInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(KilnGatewayEngineConnections, kiln_gateway_engine_connections, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_GATEWAY_CONNECTIONS, connections_iface_init))

/* ---- work for the engine thread ---- */

/* The portal's unix-seconds expiry on the engine's monotonic clock; 0 stays "never". */
static uint64_t expiry_on_engine_clock(gint64 expires_at, uint64_t now)
{
        gint64 left = expires_at - g_get_real_time() / G_USEC_PER_SEC;

        return expires_at == 0 ? 0 : now + (uint64_t)MAX(left, 0) * KILN_NS_PER_SEC + 1;
}

typedef struct {
        struct kiln_gateway_authorization a;
        char client_id[KILN_ID_MAX + 1];
        char *gateway_ufrag, *gateway_pwd, *client_ufrag, *client_pwd;
        struct kiln_resource resource;
        gint64 expires_at; /* unix seconds, 0 = never */
} Authorize;

static void authorize_free(void *data)
{
        Authorize *w = data;

        g_free(w->gateway_ufrag);
        g_free(w->client_ufrag);
        if (w->gateway_pwd)
                sodium_memzero(w->gateway_pwd, strlen(w->gateway_pwd));
        if (w->client_pwd)
                sodium_memzero(w->client_pwd, strlen(w->client_pwd));
        g_free(w->gateway_pwd);
        g_free(w->client_pwd);
        sodium_memzero(&w->a, sizeof(w->a));
        g_free(w);
}

typedef struct {
        KilnGatewayEngineConnections *self;
        Authorize *w;
} AuthorizeCall;

static void apply_authorize(void *engine, void *data, uint64_t now)
{
        AuthorizeCall *call = data;
        Authorize *w = call->w;
        int r;

        w->a.expires_at = expiry_on_engine_clock(w->expires_at, now);
        r = kiln_gateway_engine_authorize(engine, &w->a, now);
        if (r < 0)
                kiln_log(call->self->logger, KILN_LOG_WARN, TARGET, "engine refused the authorization",
                         KILN_LOG_STR("client_id", w->client_id), KILN_LOG_STR("error", g_strerror(-r)));
}

static void authorize_call_free(void *data)
{
        AuthorizeCall *call = data;

        authorize_free(call->w);
        g_free(call);
}

typedef struct {
        char client_id[KILN_ID_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
        char *sdp;
        struct kiln_resource resource;
        struct kiln_ip_addr addrs[KILN_GATEWAY_MAX_REAL_IPS];
        size_t n_addrs;
} Work;

static void work_free(void *data)
{
        Work *w = data;

        g_free(w->sdp);
        g_free(w);
}

typedef struct {
        KilnGatewayEngineConnections *self;
        char client_id[KILN_ID_MAX + 1];
        struct kiln_ip_addr ipv4, ipv6;
        struct kiln_resource resource;
        gint64 expires_at; /* unix seconds, 0 = never */
} Renew;

static void apply_renew(void *engine, void *data, uint64_t now)
{
        Renew *w = data;
        /* Same client addresses and resource: only the expiry moves; no connection change. */
        int r = kiln_gateway_authorize(kiln_gateway_engine_state(engine), now, w->client_id,
                                       w->ipv4.family ? &w->ipv4 : NULL, w->ipv6.family ? &w->ipv6 : NULL,
                                       &w->resource, expiry_on_engine_clock(w->expires_at, now));

        if (r < 0)
                kiln_log(w->self->logger, KILN_LOG_WARN, TARGET, "authorization not renewed",
                         KILN_LOG_STR("client_id", w->client_id), KILN_LOG_STR("error", g_strerror(-r)));
}

static void apply_revoke(void *engine, void *data, uint64_t now)
{
        Work *w = data;

        kiln_gateway_engine_revoke(engine, w->client_id, w->resource_id, now);
}

static void apply_update_resource(void *engine, void *data, uint64_t now)
{
        (void)now;
        kiln_gateway_engine_update_resource(engine, &((Work *)data)->resource);
}

static void apply_add_candidate(void *engine, void *data, uint64_t now)
{
        Work *w = data;

        kiln_gateway_engine_add_candidate(engine, w->client_id, w->sdp, now);
}

static void apply_remove_candidate(void *engine, void *data, uint64_t now)
{
        Work *w = data;

        kiln_gateway_engine_remove_candidate(engine, w->client_id, w->sdp, now);
}

static void apply_dns_resolved(void *engine, void *data, uint64_t now)
{
        Work *w = data;

        kiln_gateway_engine_handle_dns_resolved(engine, w->client_id, w->resource_id, w->domain, w->addrs,
                                                w->n_addrs, now);
}

typedef struct {
        struct kiln_node_relay relay;
        gboolean remove;
} RelayWork;

static void relay_work_free(void *data)
{
        sodium_memzero(data, sizeof(RelayWork));
        g_free(data);
}

static void apply_relay(void *engine, void *data, uint64_t now)
{
        RelayWork *w = data;

        if (w->remove)
                kiln_gateway_engine_remove_relay(engine, w->relay.id);
        else
                kiln_gateway_engine_upsert_relay(engine, &w->relay, now);
}

static void apply_stop(void *engine, void *data, uint64_t now)
{
        (void)engine;
        (void)now;
        io_loop_stop(data);
}

static void call(KilnGatewayEngineConnections *self, kiln_engine_io_fn fn, void *data,
                 void (*free_fn)(void *))
{
        if (kiln_engine_io_call(self->eio, fn, data, free_fn) < 0) {
                kiln_log(self->logger, KILN_LOG_ERROR, TARGET, "out of memory: engine call dropped");
                free_fn(data);
        }
}

static Work *work_new(const char *client_id, const char *resource_id)
{
        Work *w = g_new0(Work, 1);

        if (client_id)
                g_strlcpy(w->client_id, client_id, sizeof(w->client_id));
        if (resource_id)
                g_strlcpy(w->resource_id, resource_id, sizeof(w->resource_id));
        return w;
}

/* ---- outputs, back on the main context ---- */

typedef struct {
        KilnGatewayEngineConnections *self;
        struct kiln_gateway_output o;
} Output;

static void output_free(gpointer data)
{
        Output *out = data;

        g_object_unref(out->self);
        g_free(out);
}

static void on_resolved(GObject *source, GAsyncResult *result, gpointer data)
{
        Output *out = data;
        KilnGatewayEngineConnections *self = out->self;
        g_autoptr(GError) error = NULL;
        GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
        Work *w;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                output_free(out);
                return;
        }
        w = work_new(out->o.client_id, out->o.resource_id);
        g_strlcpy(w->domain, out->o.domain, sizeof(w->domain));
        if (error)
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "DNS resource did not resolve",
                         KILN_LOG_STR("domain", w->domain), KILN_LOG_STR("error", error->message));
        for (GList *a = addresses; a && w->n_addrs < G_N_ELEMENTS(w->addrs); a = a->next) {
                g_autofree char *text = g_inet_address_to_string(a->data);

                if (kiln_ip_addr_parse(text, &w->addrs[w->n_addrs]) == 0)
                        w->n_addrs++;
        }
        g_resolver_free_addresses(addresses);
        kiln_log(self->logger, KILN_LOG_DEBUG, TARGET, "DNS resource resolved",
                 KILN_LOG_STR("domain", w->domain), KILN_LOG_INT("addresses", w->n_addrs));
        /* No addresses is the failure case: the client gets DOMAIN_STATUS Inactive. */
        call(self, apply_dns_resolved, w, work_free);
        output_free(out);
}

static gboolean dispatch_output(gpointer data)
{
        Output *out = data;
        KilnGatewayEngineConnections *self = out->self;
        const struct kiln_gateway_output *o = &out->o;
        const char *candidates[] = { o->sdp, NULL };
        g_autoptr(GResolver) resolver = NULL;

        switch (o->type) {
        case KILN_GATEWAY_OUTPUT_CANDIDATE:
                g_signal_emit_by_name(self, "new-candidates", o->client_id, candidates);
                break;
        case KILN_GATEWAY_OUTPUT_CANDIDATE_INVALIDATED:
                g_signal_emit_by_name(self, "invalidated-candidates", o->client_id, candidates);
                break;
        case KILN_GATEWAY_OUTPUT_RESOLVE_DNS:
                /* A and AAAA together, with the system's configuration and hosts file (spec §6.4). */
                resolver = g_resolver_get_default();
                g_resolver_lookup_by_name_async(resolver, o->domain, self->cancellable, on_resolved,
                                                g_steal_pointer(&out));
                return G_SOURCE_REMOVE;
        case KILN_GATEWAY_OUTPUT_CLIENT_CONNECTED:
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "client connected",
                         KILN_LOG_STR("client_id", o->client_id), KILN_LOG_BOOL("via_relay", o->via_relay),
                         KILN_LOG_INT("time_to_connect_ms", o->time_to_connect / 1000000));
                break;
        case KILN_GATEWAY_OUTPUT_CLIENT_FAILED:
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "client connection ended",
                         KILN_LOG_STR("client_id", o->client_id), KILN_LOG_STR("reason", o->reason));
                break;
        case KILN_GATEWAY_OUTPUT_TUN:
                break;
        }
        output_free(out);
        return G_SOURCE_REMOVE;
}

/* The engine thread: copy and hand over; the output's data pointer is not used past here. */
static void on_engine_output(void *userdata, const struct kiln_gateway_output *o)
{
        KilnGatewayEngineConnections *self = userdata;
        Output *out = g_new(Output, 1);

        out->self = g_object_ref(self);
        out->o = *o;
        out->o.data = NULL;
        out->o.len = 0;
        g_main_context_invoke_full(self->context, G_PRIORITY_DEFAULT, dispatch_output, out, NULL);
}

/* ---- the interface ---- */

static gboolean engine_authorize(KilnGatewayConnections *connections,
                                 const KilnPortalCreateAuthorization *auth,
                                 const struct kiln_resource *resource, GError **error)
{
        KilnGatewayEngineConnections *self = KILN_GATEWAY_ENGINE_CONNECTIONS(connections);
        Authorize *w = g_new0(Authorize, 1);
        AuthorizeCall *c;

        if (strlen(auth->client.id) > KILN_ID_MAX || !auth->gateway_ice_credentials.username ||
            !auth->gateway_ice_credentials.password || !auth->client_ice_credentials.username ||
            !auth->client_ice_credentials.password || !auth->client.ipv4 ||
            kiln_ip_addr_parse(auth->client.ipv4, &w->a.client_ipv4) < 0 || w->a.client_ipv4.family != 4) {
                authorize_free(w);
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                    "the client's id, tunnel address or ICE credentials are unusable");
                return FALSE;
        }
        if (!auth->client.ipv6 || kiln_ip_addr_parse(auth->client.ipv6, &w->a.client_ipv6) < 0)
                w->a.client_ipv6.family = 0;
        g_strlcpy(w->client_id, auth->client.id, sizeof(w->client_id));
        w->gateway_ufrag = g_strdup(auth->gateway_ice_credentials.username);
        w->gateway_pwd = g_strdup(auth->gateway_ice_credentials.password);
        w->client_ufrag = g_strdup(auth->client_ice_credentials.username);
        w->client_pwd = g_strdup(auth->client_ice_credentials.password);
        w->resource = *resource;
        w->expires_at = (gint64)MIN(auth->expires_at, (guint64)G_MAXINT64);
        w->a.client_id = w->client_id;
        memcpy(w->a.client_public_key, auth->client.public_key, WG_KEY_LEN);
        memcpy(w->a.preshared_key, auth->client.preshared_key, WG_KEY_LEN);
        w->a.gateway_ufrag = w->gateway_ufrag;
        w->a.gateway_pwd = w->gateway_pwd;
        w->a.client_ufrag = w->client_ufrag;
        w->a.client_pwd = w->client_pwd;
        w->a.resource = &w->resource;
        c = g_new(AuthorizeCall, 1);
        c->self = self;
        c->w = w;
        call(self, apply_authorize, c, authorize_call_free);
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "connection to client requested",
                 KILN_LOG_STR("client_id", auth->client.id), KILN_LOG_STR("client_ipv4", auth->client.ipv4),
                 KILN_LOG_STR("local_ufrag", auth->gateway_ice_credentials.username),
                 KILN_LOG_STR("remote_ufrag", auth->client_ice_credentials.username),
                 KILN_LOG_SECRET("preshared_key"));
        return TRUE;
}

static void engine_renew(KilnGatewayConnections *connections, const char *client_id, const char *client_ipv4,
                         const char *client_ipv6, const struct kiln_resource *resource, guint64 expires_at)
{
        KilnGatewayEngineConnections *self = KILN_GATEWAY_ENGINE_CONNECTIONS(connections);
        Renew *w = g_new0(Renew, 1);

        w->self = self;
        g_strlcpy(w->client_id, client_id, sizeof(w->client_id));
        if (!client_ipv4 || kiln_ip_addr_parse(client_ipv4, &w->ipv4) < 0)
                w->ipv4.family = 0;
        if (!client_ipv6 || kiln_ip_addr_parse(client_ipv6, &w->ipv6) < 0)
                w->ipv6.family = 0;
        w->resource = *resource;
        w->expires_at = (gint64)MIN(expires_at, (guint64)G_MAXINT64);
        call(self, apply_renew, w, g_free);
}

static void engine_revoke(KilnGatewayConnections *connections, const char *client_id,
                          const char *resource_id)
{
        call(KILN_GATEWAY_ENGINE_CONNECTIONS(connections), apply_revoke, work_new(client_id, resource_id),
             work_free);
}

static void engine_update_resource(KilnGatewayConnections *connections, const struct kiln_resource *resource)
{
        Work *w = work_new(NULL, NULL);

        w->resource = *resource;
        call(KILN_GATEWAY_ENGINE_CONNECTIONS(connections), apply_update_resource, w, work_free);
}

static void candidates_to_engine(KilnGatewayEngineConnections *self, kiln_engine_io_fn fn,
                                 const char *client_id, GPtrArray *candidates)
{
        for (guint i = 0; i < candidates->len; i++) {
                Work *w = work_new(client_id, NULL);

                w->sdp = g_strdup(g_ptr_array_index(candidates, i));
                call(self, fn, w, work_free);
        }
}

static void engine_add_candidates(KilnGatewayConnections *connections, const char *client_id,
                                  GPtrArray *candidates)
{
        candidates_to_engine(KILN_GATEWAY_ENGINE_CONNECTIONS(connections), apply_add_candidate, client_id,
                             candidates);
}

static void engine_remove_candidates(KilnGatewayConnections *connections, const char *client_id,
                                     GPtrArray *candidates)
{
        candidates_to_engine(KILN_GATEWAY_ENGINE_CONNECTIONS(connections), apply_remove_candidate, client_id,
                             candidates);
}

static void engine_set_relays(KilnGatewayConnections *connections, GPtrArray *connected,
                              GPtrArray *disconnected_ids)
{
        KilnGatewayEngineConnections *self = KILN_GATEWAY_ENGINE_CONNECTIONS(connections);

        for (guint i = 0; disconnected_ids && i < disconnected_ids->len; i++) {
                RelayWork *w = g_new0(RelayWork, 1);

                w->remove = TRUE;
                g_strlcpy(w->relay.id, g_ptr_array_index(disconnected_ids, i), sizeof(w->relay.id));
                call(self, apply_relay, w, relay_work_free);
        }
        for (guint i = 0; i < connected->len; i++) {
                const KilnPortalRelay *r = g_ptr_array_index(connected, i);
                RelayWork *w;

                /* Only TURN relays: STUN-only entries add nothing a TURN server's binding does not. */
                if (r->type != KILN_PORTAL_RELAY_TURN || !r->id || !r->username || !r->password ||
                    strlen(r->id) > KILN_NODE_ID_MAX || strlen(r->username) >= TURN_MAX_TEXT ||
                    strlen(r->password) >= TURN_MAX_TEXT)
                        continue;
                w = g_new0(RelayWork, 1);
                if (kiln_relay_addr_parse(r->addr, &w->relay.addr) < 0) {
                        kiln_log(self->logger, KILN_LOG_WARN, TARGET, "relay address unusable",
                                 KILN_LOG_STR("relay_id", r->id), KILN_LOG_STR("addr", r->addr));
                        relay_work_free(w);
                        continue;
                }
                strcpy(w->relay.id, r->id);
                strcpy(w->relay.username, r->username);
                strcpy(w->relay.password, r->password);
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "relay", KILN_LOG_STR("relay_id", r->id),
                         KILN_LOG_STR("addr", r->addr));
                call(self, apply_relay, w, relay_work_free);
        }
}

static void connections_iface_init(KilnGatewayConnectionsInterface *iface)
{
        iface->authorize = engine_authorize;
        iface->renew = engine_renew;
        iface->revoke = engine_revoke;
        iface->update_resource = engine_update_resource;
        iface->add_candidates = engine_add_candidates;
        iface->remove_candidates = engine_remove_candidates;
        iface->set_relays = engine_set_relays;
}

/* ---- life cycle ---- */

static int open_socket(KilnGatewayEngineConnections *self, sa_family_t family, guint16 port)
{
        struct udp_socket_config sc = { 0 };
        int r;

        sc.bind.sa.sa_family = family;
        if (family == AF_INET)
                sc.bind.in.sin_port = g_htons(port);
        else
                sc.bind.in6.sin6_port = g_htons(port);
        r = udp_socket_open(&sc, &self->sockets[self->n_sockets]);
        if (r == 0)
                self->n_sockets++;
        return r;
}

KilnGatewayEngineConnections *kiln_gateway_engine_connections_new(const uint8_t private_key[static 32],
                                                                  guint16 port, KilnLogger *logger,
                                                                  GError **error)
{
        g_autoptr(KilnGatewayEngineConnections) self =
            g_object_new(KILN_TYPE_GATEWAY_ENGINE_CONNECTIONS, NULL);
        struct kiln_gateway_engine_config gc = { .private_key = private_key };
        struct kiln_engine_io_config ec = { .role = KILN_ENGINE_IO_GATEWAY };
        struct io_loop_config lc = { 0 };
        int r;

        self->logger = logger;
        r = open_socket(self, AF_INET, port);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "UDP socket: %s", g_strerror(-r));
                return NULL;
        }
        /* The same port on IPv6 when the host has it. */
        r = open_socket(self, AF_INET6, self->sockets[0].port);
        if (r < 0)
                kiln_log(logger, KILN_LOG_INFO, TARGET, "no IPv6 socket",
                         KILN_LOG_STR("error", g_strerror(-r)));

        randombytes_buf(&gc.seed, sizeof(gc.seed));
        self->engine = kiln_gateway_engine_new(&gc, (uint64_t)g_get_monotonic_time() * 1000);
        if (!self->engine) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "out of memory for the engine");
                return NULL;
        }
        ec.engine = self->engine;
        ec.gateway_output = on_engine_output;
        ec.userdata = self;
        for (guint i = 0; i < self->n_sockets; i++)
                ec.local_port[i] = self->sockets[i].port;
        r = kiln_engine_io_new(&ec, &self->eio);
        if (r == 0)
                r = io_loop_new(kiln_engine_io_ops(), self->eio, &lc, &self->loop);
        for (guint i = 0; r >= 0 && i < self->n_sockets; i++)
                r = io_loop_add_udp(self->loop, &self->sockets[i], self->sockets[i].family);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "event loop: %s", g_strerror(-r));
                return NULL;
        }
        kiln_engine_io_attach(self->eio, self->loop);
        kiln_log(logger, KILN_LOG_INFO, TARGET, "listening", KILN_LOG_INT("port", self->sockets[0].port));
        return g_steal_pointer(&self);
}

static gpointer run_loop(gpointer data)
{
        io_loop_run(data);
        return NULL;
}

gboolean kiln_gateway_engine_connections_start(KilnGatewayEngineConnections *self, int tun_fd,
                                               GError **error)
{
        int r;

        if (self->thread)
                return TRUE;
        r = io_loop_set_tun(self->loop, tun_fd, false, 0);
        if (r == 0)
                r = io_loop_start(self->loop);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "data path: %s", g_strerror(-r));
                return FALSE;
        }
        self->thread = g_thread_new("kiln-gw-engine", run_loop, self->loop);
        /* Work queued before the thread existed. */
        io_wake_signal(io_loop_control_fd(self->loop));
        return TRUE;
}

void kiln_gateway_engine_connections_stop(KilnGatewayEngineConnections *self)
{
        g_cancellable_cancel(self->cancellable);
        if (!self->thread)
                return;
        /* Behind everything already queued, so a shutdown's GOODBYEs are encrypted first. */
        if (kiln_engine_io_call(self->eio, apply_stop, self->loop, NULL) < 0)
                io_loop_stop(self->loop);
        g_thread_join(g_steal_pointer(&self->thread));
}

static void kiln_gateway_engine_connections_finalize(GObject *object)
{
        KilnGatewayEngineConnections *self = KILN_GATEWAY_ENGINE_CONNECTIONS(object);

        kiln_gateway_engine_connections_stop(self);
        io_loop_free(self->loop);
        kiln_engine_io_free(self->eio);
        kiln_gateway_engine_free(self->engine);
        for (guint i = 0; i < self->n_sockets; i++)
                udp_socket_close(&self->sockets[i]);
        g_object_unref(self->cancellable);
        g_main_context_unref(self->context);
        G_OBJECT_CLASS(kiln_gateway_engine_connections_parent_class)->finalize(object);
}

static void kiln_gateway_engine_connections_class_init(KilnGatewayEngineConnectionsClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_gateway_engine_connections_finalize;
}

static void kiln_gateway_engine_connections_init(KilnGatewayEngineConnections *self)
{
        self->context = g_main_context_ref_thread_default();
        self->cancellable = g_cancellable_new();
}
