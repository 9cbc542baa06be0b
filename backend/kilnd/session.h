/* SPDX-License-Identifier: MIT */
/*
 * KilnSession: what kilnd asks of a tunnel session, and what it hears back.  kilnd (KilnDaemon)
 * owns the D-Bus side: validation, the session owner, properties, logs.  A session
 * implementation owns the portal connection and the tunnel, and reports through four signals:
 *
 *   "state-changed"        (guint KilnSessionState)
 *   "resources-changed"    (GVariant aa{sv}, the Resources property format of ipc/dev.kiln.Tunnel1.xml)
 *   "error"                (const char *message, gboolean requires_sign_in)
 *   "resource-unreachable" (const char *resource_id, const char *reason, const char *message)
 *
 * Rules an implementation keeps:
 * - start() is called with validated arguments only and must not block; it enters CONNECTING
 *   (emitting state-changed) before returning TRUE.  A start() while a session runs replaces it.
 *   The token is borrowed: copy it into memory you wipe (sodium_memzero) on stop and never log
 *   it (KILN_LOG_SECRET names it in a log line without its value).
 * - stop() begins the teardown (close the portal channel, GOODBYE to gateways, restore DNS and
 *   routes) and emits state-changed SIGNED_OUT when it is done, possibly later from the main
 *   loop; kilnd's SIGTERM path waits a few seconds for that.
 * - When the session ends on its own (token rejected, portal gone for good) it emits "error"
 *   and then SIGNED_OUT (or ERROR); kilnd forgets the owner and the token scrub then.
 * - Signals are emitted on the main context kilnd runs (the thread default at construction).
 */
#pragma once

#include <glib-object.h>

#include "backend/kilnd/session-options.h"

typedef enum {
        KILN_SESSION_SIGNED_OUT,
        KILN_SESSION_CONNECTING,
        KILN_SESSION_RAISING_TUNNEL,
        KILN_SESSION_CONNECTED,
        KILN_SESSION_ERROR,
} KilnSessionState;

/* The State property's strings: "signed-out", "connecting", "raising-tunnel", "connected", "error". */
const char *kiln_session_state_to_string(KilnSessionState state);

#define KILN_TYPE_SESSION (kiln_session_get_type())
G_DECLARE_INTERFACE(KilnSession, kiln_session, KILN, SESSION, GObject)

struct _KilnSessionInterface {
        GTypeInterface parent_iface;

        gboolean (*start)(KilnSession *self, const char *token, const KilnSessionOptions *options,
                          GError **error);
        void (*stop)(KilnSession *self);
        void (*set_internet_resource_enabled)(KilnSession *self, gboolean enabled);
        KilnSessionState (*get_state)(KilnSession *self);
};

gboolean kiln_session_start(KilnSession *self, const char *token, const KilnSessionOptions *options,
                            GError **error);
void kiln_session_stop(KilnSession *self);
void kiln_session_set_internet_resource_enabled(KilnSession *self, gboolean enabled);
KilnSessionState kiln_session_get_state(KilnSession *self);

/* For implementations. */
void kiln_session_emit_state_changed(KilnSession *self, KilnSessionState state);
void kiln_session_emit_resources_changed(KilnSession *self, GVariant *resources);
void kiln_session_emit_error(KilnSession *self, const char *message, gboolean requires_sign_in);
void kiln_session_emit_resource_unreachable(KilnSession *self, const char *resource_id, const char *reason,
                                            const char *message);
