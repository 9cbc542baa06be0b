/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewayConnections: the per-client ICE + WireGuard connections, as the gateway session
 * sees them.  The ICE/WireGuard integration implements this interface (ICE controlled side,
 * WireGuard responder with the client's key and PSK, TURN allocations on the portal's relays);
 * KilnGatewayLogConnections is the stand-in that only logs.
 *
 * Session → connections (methods):
 *   authorize          a create_authorization was accepted: set up (or reuse) the connection to
 *                      auth->client.id with auth->client.public_key, preshared_key,
 *                      gateway_ice_credentials (local) and client_ice_credentials (remote).
 *                      FALSE + error: the gateway does not confirm; the portal times out.
 *   add_candidates     the client's trickled candidates (portal ice_candidates)
 *   remove_candidates  the client withdrew them (portal invalidate_ice_candidates)
 *   set_relays         TURN relays: init gives the full list (disconnected_ids NULL), then
 *                      relays_presence gives changes
 *   send_packet        encrypt this IP packet for client_id (replies, ICMP errors, DOMAIN_STATUS,
 *                      GOODBYE); drop it when the connection is still being set up
 *   close              the client's last authorization ended (GOODBYE already sent)
 *
 * Connections → session (signals):
 *   new-candidates (const char *client_id, GStrv candidates)          → broadcast_ice_candidates
 *   invalidated-candidates (const char *client_id, GStrv candidates)  → broadcast_invalidated_ice_candidates
 *   packet-received (const char *client_id, GBytes *packet)  a packet WireGuard decrypted
 */
#pragma once

#include <glib-object.h>

#include "backend/portal/gateway-messages.h"

G_BEGIN_DECLS

#define KILN_TYPE_GATEWAY_CONNECTIONS (kiln_gateway_connections_get_type())
G_DECLARE_INTERFACE(KilnGatewayConnections, kiln_gateway_connections, KILN, GATEWAY_CONNECTIONS, GObject)

struct _KilnGatewayConnectionsInterface {
        GTypeInterface parent_iface;

        gboolean (*authorize)(KilnGatewayConnections *self, const KilnPortalCreateAuthorization *auth,
                              GError **error);
        void (*add_candidates)(KilnGatewayConnections *self, const char *client_id, GPtrArray *candidates);
        void (*remove_candidates)(KilnGatewayConnections *self, const char *client_id,
                                  GPtrArray *candidates);
        void (*set_relays)(KilnGatewayConnections *self, GPtrArray *connected, GPtrArray *disconnected_ids);
        void (*send_packet)(KilnGatewayConnections *self, const char *client_id, const guint8 *data,
                            gsize len);
        void (*close)(KilnGatewayConnections *self, const char *client_id);
};

gboolean kiln_gateway_connections_authorize(KilnGatewayConnections *self,
                                            const KilnPortalCreateAuthorization *auth, GError **error);
void kiln_gateway_connections_add_candidates(KilnGatewayConnections *self, const char *client_id,
                                             GPtrArray *candidates);
void kiln_gateway_connections_remove_candidates(KilnGatewayConnections *self, const char *client_id,
                                                GPtrArray *candidates);
/* connected: KilnPortalRelay; disconnected_ids: relay ids, NULL for a full list (init). */
void kiln_gateway_connections_set_relays(KilnGatewayConnections *self, GPtrArray *connected,
                                         GPtrArray *disconnected_ids);
void kiln_gateway_connections_send_packet(KilnGatewayConnections *self, const char *client_id,
                                          const guint8 *data, gsize len);
void kiln_gateway_connections_close(KilnGatewayConnections *self, const char *client_id);

G_END_DECLS
