/* SPDX-License-Identifier: MIT */
/*
 * KilnDaemon: kilnd's dev.kiln.Tunnel1 object.  It validates every call, keeps the properties,
 * applies the session-owner rule (the caller of SignIn owns the session; when its unique bus
 * name vanishes, or its peer-to-peer connection closes, the session ends as if SignOut had been
 * called) and drives a KilnSession.  It can be exported on several connections at once (one bus
 * connection, or every peer of a peer-to-peer server).
 */
#pragma once

#include <gio/gio.h>

#include "backend/kilnd/session.h"
#include "backend/log/log.h"
#include "kiln-tunnel-dbus.h"

#define KILN_TUNNEL_OBJECT_PATH "/dev/kiln/Tunnel"
#define KILN_TUNNEL_BUS_NAME    "dev.kiln.Tunnel"

#define KILN_TYPE_DAEMON        (kiln_daemon_get_type())
G_DECLARE_FINAL_TYPE(KilnDaemon, kiln_daemon, KILN, DAEMON, GObject)

/* The logger must outlive the daemon.  device_id is what the DeviceId property reports. */
KilnDaemon *kiln_daemon_new(KilnLogger *logger, KilnSession *session, const char *device_id);

gboolean kiln_daemon_export(KilnDaemon *self, GDBusConnection *connection, GError **error);
void kiln_daemon_unexport(KilnDaemon *self, GDBusConnection *connection);

KilnDBusTunnel1 *kiln_daemon_get_skeleton(KilnDaemon *self);

/* Refuses new sign-ins, stops the session and completes once it is signed out, or after
 * timeout_ms (then the result is FALSE with G_IO_ERROR_TIMED_OUT). */
void kiln_daemon_shutdown_async(KilnDaemon *self, guint timeout_ms, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean kiln_daemon_shutdown_finish(KilnDaemon *self, GAsyncResult *result, GError **error);
