/* SPDX-License-Identifier: MIT */
/*
 * KilnPortalBackedSession: kilnd's KilnSession on a real portal connection (the client role's
 * control plane).  start() makes a fresh in-memory WireGuard key and a KilnPortalClient for the
 * api URL; the first init raises the TUN device tun-kiln (MTU 1280) with the interface's IPv4
 * /32 and IPv6 /128, and every resource event keeps the Resources list (ipc/dev.kiln.Tunnel1.xml
 * format) up to date.  States: CONNECTING until init, RAISING_TUNNEL while the device comes up,
 * then CONNECTED.  A portal hiccup keeps the current state (the tunnel stays up while the portal
 * reconnects) and is logged with its delay; sign-in required → error(requires_sign_in) and
 * SIGNED_OUT; any other fatal error → error and ERROR.  stop() closes the channel, removes the
 * device, wipes the token and keys, then SIGNED_OUT, all before it returns.
 *
 * (Named "PortalBacked" because backend/portal already has a KilnPortalSession: the sans-IO
 * channel state machine this object drives through KilnPortalClient.)
 */
#pragma once

#include "backend/kilnd/session.h"
#include "backend/log/log.h"

#define KILN_TUN_NAME                   "tun-kiln"
#define KILN_TUN_MTU                    1280

#define KILN_TYPE_PORTAL_BACKED_SESSION (kiln_portal_backed_session_get_type())
G_DECLARE_FINAL_TYPE(KilnPortalBackedSession, kiln_portal_backed_session, KILN, PORTAL_BACKED_SESSION,
                     GObject)

/* logger must outlive the session; device_id is the stable id (backend/portal/device-id.h). */
KilnPortalBackedSession *kiln_portal_backed_session_new(KilnLogger *logger, const char *device_id);

/* Where DNS control keeps its backup and crash state, and its mode (dns-control.h: auto,
 * resolved, resolv-conf, disabled).  Before the first start(). */
void kiln_portal_backed_session_set_platform(KilnPortalBackedSession *self, const char *state_dir,
                                             const char *dns_control);
