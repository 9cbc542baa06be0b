/* SPDX-License-Identifier: MIT */
#include "backend/kiln-gateway/log-connections.h"

#define TARGET "kiln_gateway::connections"

struct _KilnGatewayLogConnections {
        GObject parent_instance;
        KilnLogger *logger;
};

static void connections_iface_init(KilnGatewayConnectionsInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(KilnGatewayLogConnections, kiln_gateway_log_connections, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_GATEWAY_CONNECTIONS, connections_iface_init))

static gboolean log_authorize(KilnGatewayConnections *connections, const KilnPortalCreateAuthorization *auth,
                              GError **error)
{
        KilnGatewayLogConnections *self = KILN_GATEWAY_LOG_CONNECTIONS(connections);

        (void)error;
        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "connection to client requested (no ICE layer yet)",
                 KILN_LOG_STR("client_id", auth->client.id), KILN_LOG_STR("client_ipv4", auth->client.ipv4),
                 KILN_LOG_STR("client_ipv6", auth->client.ipv6),
                 KILN_LOG_STR("local_ufrag", auth->gateway_ice_credentials.username),
                 KILN_LOG_STR("remote_ufrag", auth->client_ice_credentials.username),
                 KILN_LOG_SECRET("preshared_key"));
        return TRUE;
}

static void log_candidates(KilnGatewayLogConnections *self, const char *message, const char *client_id,
                           GPtrArray *candidates)
{
        for (guint i = 0; i < candidates->len; i++)
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, message, KILN_LOG_STR("client_id", client_id),
                         KILN_LOG_STR("candidate", g_ptr_array_index(candidates, i)));
}

static void log_add_candidates(KilnGatewayConnections *connections, const char *client_id,
                               GPtrArray *candidates)
{
        log_candidates(KILN_GATEWAY_LOG_CONNECTIONS(connections), "remote ICE candidate", client_id,
                       candidates);
}

static void log_remove_candidates(KilnGatewayConnections *connections, const char *client_id,
                                  GPtrArray *candidates)
{
        log_candidates(KILN_GATEWAY_LOG_CONNECTIONS(connections), "remote ICE candidate withdrawn",
                       client_id, candidates);
}

static void log_set_relays(KilnGatewayConnections *connections, GPtrArray *connected,
                           GPtrArray *disconnected_ids)
{
        KilnGatewayLogConnections *self = KILN_GATEWAY_LOG_CONNECTIONS(connections);

        for (guint i = 0; disconnected_ids && i < disconnected_ids->len; i++)
                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "relay gone",
                         KILN_LOG_STR("relay_id", g_ptr_array_index(disconnected_ids, i)));
        for (guint i = 0; i < connected->len; i++) {
                const KilnPortalRelay *relay = g_ptr_array_index(connected, i);

                kiln_log(self->logger, KILN_LOG_INFO, TARGET, "relay", KILN_LOG_STR("relay_id", relay->id),
                         KILN_LOG_STR("addr", relay->addr), KILN_LOG_SECRET("password"));
        }
}

static void log_send_packet(KilnGatewayConnections *connections, const char *client_id, const guint8 *data,
                            gsize len)
{
        KilnGatewayLogConnections *self = KILN_GATEWAY_LOG_CONNECTIONS(connections);

        (void)data;
        kiln_log(self->logger, KILN_LOG_DEBUG, TARGET, "packet for client dropped: no connection",
                 KILN_LOG_STR("client_id", client_id), KILN_LOG_INT("len", len));
}

static void log_close(KilnGatewayConnections *connections, const char *client_id)
{
        KilnGatewayLogConnections *self = KILN_GATEWAY_LOG_CONNECTIONS(connections);

        kiln_log(self->logger, KILN_LOG_INFO, TARGET, "connection to client closed",
                 KILN_LOG_STR("client_id", client_id));
}

static void connections_iface_init(KilnGatewayConnectionsInterface *iface)
{
        iface->authorize = log_authorize;
        iface->add_candidates = log_add_candidates;
        iface->remove_candidates = log_remove_candidates;
        iface->set_relays = log_set_relays;
        iface->send_packet = log_send_packet;
        iface->close = log_close;
}

static void kiln_gateway_log_connections_class_init(KilnGatewayLogConnectionsClass *klass)
{
        (void)klass;
}

static void kiln_gateway_log_connections_init(KilnGatewayLogConnections *self)
{
        (void)self;
}

KilnGatewayLogConnections *kiln_gateway_log_connections_new(KilnLogger *logger)
{
        KilnGatewayLogConnections *self = g_object_new(KILN_TYPE_GATEWAY_LOG_CONNECTIONS, NULL);

        self->logger = logger;
        return self;
}
