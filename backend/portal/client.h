/* SPDX-License-Identifier: MIT */
/*
 * KilnPortalClient: the portal connection over a libsoup3 WebSocket.  A thin IO shell around
 * KilnPortalSession, which makes every protocol decision; this object dials, sends, closes and
 * runs the session's timer on the thread-default main context, and turns its actions into
 * signals:
 *
 *   message::EVENT (KilnPortalMessage *)  each parsed portal event, detailed by its event name,
 *                                         e.g. "message::init", "message::authorization_created"
 *   joined ()                             the "client" channel is joined (init follows)
 *   hiccup (const char *reason, guint delay_ms)   a retryable failure; redials after delay_ms
 *   sign-in-required (const char *detail) 401 invalid/missing token, or disconnect token_expired
 *   fatal-error (KilnPortalFatal kind, const char *detail)  every fatal stop, sign-in or not
 *
 * The "state" property (KilnPortalState) follows the session.
 */
#pragma once

#include <stdint.h>

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "backend/crypto/encoding.h"
#include "backend/portal/handshake.h"
#include "backend/portal/messages.h"
#include "backend/portal/session.h"

G_BEGIN_DECLS

#define KILN_TYPE_PORTAL_CLIENT (kiln_portal_client_get_type())
G_DECLARE_FINAL_TYPE(KilnPortalClient, kiln_portal_client, KILN, PORTAL_CLIENT, GObject)

/*
 * params->api_url and external_id are required (see kiln_device_id_external_id()); token may
 * be NULL (the portal then answers 401 missing_token).  public_key is this session's
 * WireGuard public key, generated in memory by the caller.
 */
KilnPortalClient *kiln_portal_client_new(const KilnPortalLoginParams *params, const char *token,
                                         const uint8_t public_key[static WG_KEY_LEN], GError **error);

/* Heartbeat interval for tests (default 10 s); the hung-portal timeout is about four of them.
 * Only before kiln_portal_client_start(). */
void kiln_portal_client_set_heartbeat_interval(KilnPortalClient *self, guint interval_ms);

void kiln_portal_client_start(KilnPortalClient *self);
void kiln_portal_client_stop(KilnPortalClient *self);
/* Reconnects at once with a new WireGuard key (network change, reset): a new public_key param. */
void kiln_portal_client_reset(KilnPortalClient *self, const uint8_t public_key[static WG_KEY_LEN]);

/* Sends a client → portal event (build payloads with messages.h); FALSE when dropped while disconnected. */
gboolean kiln_portal_client_send(KilnPortalClient *self, const char *event, JsonNode *payload);

KilnPortalState kiln_portal_client_get_state(KilnPortalClient *self);

G_END_DECLS
