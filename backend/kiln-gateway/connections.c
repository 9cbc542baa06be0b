/* SPDX-License-Identifier: MIT */
#include "backend/kiln-gateway/connections.h"

G_DEFINE_INTERFACE(KilnGatewayConnections, kiln_gateway_connections, G_TYPE_OBJECT)

static void kiln_gateway_connections_default_init(KilnGatewayConnectionsInterface *iface)
{
        GType type = G_TYPE_FROM_INTERFACE(iface);

        g_signal_new("new-candidates", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                     G_TYPE_STRING, G_TYPE_STRV);
        g_signal_new("invalidated-candidates", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                     G_TYPE_STRING, G_TYPE_STRV);
        g_signal_new("packet-received", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                     G_TYPE_STRING, G_TYPE_BYTES);
}

gboolean kiln_gateway_connections_authorize(KilnGatewayConnections *self,
                                            const KilnPortalCreateAuthorization *auth, GError **error)
{
        return KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->authorize(self, auth, error);
}

void kiln_gateway_connections_add_candidates(KilnGatewayConnections *self, const char *client_id,
                                             GPtrArray *candidates)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->add_candidates(self, client_id, candidates);
}

void kiln_gateway_connections_remove_candidates(KilnGatewayConnections *self, const char *client_id,
                                                GPtrArray *candidates)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->remove_candidates(self, client_id, candidates);
}

void kiln_gateway_connections_set_relays(KilnGatewayConnections *self, GPtrArray *connected,
                                         GPtrArray *disconnected_ids)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->set_relays(self, connected, disconnected_ids);
}

void kiln_gateway_connections_send_packet(KilnGatewayConnections *self, const char *client_id,
                                          const guint8 *data, gsize len)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->send_packet(self, client_id, data, len);
}

void kiln_gateway_connections_close(KilnGatewayConnections *self, const char *client_id)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->close(self, client_id);
}
