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
}

gboolean kiln_gateway_connections_authorize(KilnGatewayConnections *self,
                                            const KilnPortalCreateAuthorization *auth,
                                            const struct kiln_resource *resource, GError **error)
{
        return KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->authorize(self, auth, resource, error);
}

void kiln_gateway_connections_renew(KilnGatewayConnections *self, const char *client_id,
                                    const char *client_ipv4, const char *client_ipv6,
                                    const struct kiln_resource *resource, guint64 expires_at)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->renew(self, client_id, client_ipv4, client_ipv6, resource,
                                                        expires_at);
}

void kiln_gateway_connections_revoke(KilnGatewayConnections *self, const char *client_id,
                                     const char *resource_id)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->revoke(self, client_id, resource_id);
}

void kiln_gateway_connections_update_resource(KilnGatewayConnections *self,
                                              const struct kiln_resource *resource)
{
        KILN_GATEWAY_CONNECTIONS_GET_IFACE(self)->update_resource(self, resource);
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
