/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewaySession: the gateway role between the portal, the data path (connections.h, which
 * owns the gateway state) and the host (control-plane spec §4, data-plane §8).
 *
 *   portal events in:  kiln_gateway_session_handle_message() (connect it to KilnPortalClient's
 *                      "gateway-message" signal)
 *   portal events out: the "portal-send" signal (const char *event, JsonNode *payload): pass them
 *                      to kiln_portal_client_send()
 *   "fatal-error" (const char *detail): the host could not be set up (TUN, forwarding); stop
 *   init               → platform configure (TUN, addresses, forwarding), relays to the
 *                        connections, resync of the authorizations still valid
 *   create_authorization → connections authorize (connection + authorization with its expiry),
 *                        then authorization_created {ref} to the portal
 *   reject_access / resource_updated → connections revoke / update_resource
 *   ice_candidates / invalidate_ice_candidates / relays_presence → the connections
 *   connections' new-candidates / invalidated-candidates → broadcast_(invalidated_)ice_candidates
 * The session keeps the portal's grants only to resync them with a later init (renew with the
 * portal's expiry, or revoke).
 */
#pragma once

#include <glib-object.h>

#include "backend/kiln-gateway/connections.h"
#include "backend/kiln-gateway/platform.h"
#include "backend/log/log.h"
#include "backend/portal/gateway-messages.h"

G_BEGIN_DECLS

#define KILN_TYPE_GATEWAY_SESSION (kiln_gateway_session_get_type())
G_DECLARE_FINAL_TYPE(KilnGatewaySession, kiln_gateway_session, KILN, GATEWAY_SESSION, GObject)

/* connections is referenced; platform (ops and data) and logger are borrowed and must outlive it. */
KilnGatewaySession *kiln_gateway_session_new(KilnGatewayConnections *connections,
                                             const KilnGatewayPlatformOps *platform, gpointer platform_data,
                                             KilnLogger *logger);

void kiln_gateway_session_handle_message(KilnGatewaySession *self, const KilnPortalGatewayMessage *message);

/* Clients the portal granted something (the data path ends expired grants itself; the
 * portal's next init drops them here), and whether init configured the platform. */
guint kiln_gateway_session_n_clients(KilnGatewaySession *self);
gboolean kiln_gateway_session_is_configured(KilnGatewaySession *self);
/* Closes every client connection and tears the platform down (SIGTERM). */
void kiln_gateway_session_shutdown(KilnGatewaySession *self);

G_END_DECLS
