/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewayConnections: the gateway's data path as the session sees it: the per-client ICE +
 * WireGuard connections and the gateway state behind them (authorizations with expiry,
 * filters, the DNS-resource NAT, spec §6.4, §6.6).  The data path owns that state alone: the
 * session only turns portal events into these calls.  KilnGatewayEngineConnections is the real
 * one (backend/tunnel's gateway engine on backend/io's loop); unit tests pass a recorder.
 *
 * Session → connections (methods):
 *   authorize          a create_authorization was accepted: set up (or reuse) the connection to
 *                      auth->client.id with auth->client.public_key, preshared_key,
 *                      gateway_ice_credentials (local) and client_ice_credentials (remote), and
 *                      grant it `resource` until auth->expires_at.
 *                      FALSE + error: the gateway does not confirm; the portal times out.
 *   renew              init lists an authorization again: keep it with the portal's expiry
 *                      (unix seconds, 0 = never); client_ipv6 may be NULL
 *   revoke             reject_access, or init no longer lists the authorization: the client
 *                      loses the resource (GOODBYE and close with its last one)
 *   update_resource    resource_updated: new filters for every client that has it
 *   add_candidates     the client's trickled candidates (portal ice_candidates)
 *   remove_candidates  the client withdrew them (portal invalidate_ice_candidates)
 *   set_relays         TURN relays: init gives the full list (disconnected_ids NULL), then
 *                      relays_presence gives changes
 *
 * Connections → session (signals):
 *   new-candidates (const char *client_id, GStrv candidates)          → broadcast_ice_candidates
 *   invalidated-candidates (const char *client_id, GStrv candidates)  → broadcast_invalidated_ice_candidates
 */
#pragma once

#include <glib-object.h>

#include "backend/portal/gateway-messages.h"
#include "backend/tunnel/resources.h"

G_BEGIN_DECLS

#define KILN_TYPE_GATEWAY_CONNECTIONS (kiln_gateway_connections_get_type())
G_DECLARE_INTERFACE(KilnGatewayConnections, kiln_gateway_connections, KILN, GATEWAY_CONNECTIONS, GObject)

struct _KilnGatewayConnectionsInterface {
        GTypeInterface parent_iface;

        gboolean (*authorize)(KilnGatewayConnections *self, const KilnPortalCreateAuthorization *auth,
                              const struct kiln_resource *resource, GError **error);
        void (*renew)(KilnGatewayConnections *self, const char *client_id, const char *client_ipv4,
                      const char *client_ipv6, const struct kiln_resource *resource, guint64 expires_at);
        void (*revoke)(KilnGatewayConnections *self, const char *client_id, const char *resource_id);
        void (*update_resource)(KilnGatewayConnections *self, const struct kiln_resource *resource);
        void (*add_candidates)(KilnGatewayConnections *self, const char *client_id, GPtrArray *candidates);
        void (*remove_candidates)(KilnGatewayConnections *self, const char *client_id,
                                  GPtrArray *candidates);
        void (*set_relays)(KilnGatewayConnections *self, GPtrArray *connected, GPtrArray *disconnected_ids);
};

gboolean kiln_gateway_connections_authorize(KilnGatewayConnections *self,
                                            const KilnPortalCreateAuthorization *auth,
                                            const struct kiln_resource *resource, GError **error);
void kiln_gateway_connections_renew(KilnGatewayConnections *self, const char *client_id,
                                    const char *client_ipv4, const char *client_ipv6,
                                    const struct kiln_resource *resource, guint64 expires_at);
void kiln_gateway_connections_revoke(KilnGatewayConnections *self, const char *client_id,
                                     const char *resource_id);
void kiln_gateway_connections_update_resource(KilnGatewayConnections *self,
                                              const struct kiln_resource *resource);
void kiln_gateway_connections_add_candidates(KilnGatewayConnections *self, const char *client_id,
                                             GPtrArray *candidates);
void kiln_gateway_connections_remove_candidates(KilnGatewayConnections *self, const char *client_id,
                                                GPtrArray *candidates);
/* connected: KilnPortalRelay; disconnected_ids: relay ids, NULL for a full list (init). */
void kiln_gateway_connections_set_relays(KilnGatewayConnections *self, GPtrArray *connected,
                                         GPtrArray *disconnected_ids);

G_END_DECLS
