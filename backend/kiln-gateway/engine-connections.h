/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewayEngineConnections: KilnGatewayConnections on backend/tunnel's gateway engine
 * (ICE controlled, WireGuard responder, the gateway state), run by engine-io on backend/io's
 * loop in a thread of its own, with one UDP socket per family and the gateway's TUN.
 *
 * The session's calls (GLib main thread) reach the engine through kiln_engine_io_call(); the
 * engine's outputs come back to the main context: candidates become the interface's signals,
 * RESOLVE_DNS is answered with GResolver (system configuration and hosts file, spec §6.4),
 * connection set-up and failures are logged ("client connected" with via_relay and
 * time_to_connect_ms).
 *
 *   c = kiln_gateway_engine_connections_new(private_key, 0, logger, &error);
 *   … platform configure (init) …
 *   kiln_gateway_engine_connections_start(c, tun_fd, &error);   // the data path runs
 *   … kiln_gateway_session_shutdown() …
 *   kiln_gateway_engine_connections_stop(c);
 */
#pragma once

#include <stdint.h>

#include "backend/kiln-gateway/connections.h"
#include "backend/log/log.h"

G_BEGIN_DECLS

#define KILN_TYPE_GATEWAY_ENGINE_CONNECTIONS (kiln_gateway_engine_connections_get_type())
G_DECLARE_FINAL_TYPE(KilnGatewayEngineConnections, kiln_gateway_engine_connections, KILN,
                     GATEWAY_ENGINE_CONNECTIONS, GObject)

/* The engine copies private_key; port 0 picks one; logger is borrowed.
 * The sockets are open on return; nothing runs before _start(). */
KilnGatewayEngineConnections *kiln_gateway_engine_connections_new(const uint8_t private_key[static 32],
                                                                  guint16 port, KilnLogger *logger,
                                                                  GError **error);
/* Starts the loop thread on the TUN (fd borrowed, non-blocking).  Calls made before are queued
 * and run first.  A second call is a no-op. */
gboolean kiln_gateway_engine_connections_start(KilnGatewayEngineConnections *self, int tun_fd,
                                               GError **error);
/* Runs what is queued (GOODBYEs of a shutdown), then stops and joins the thread. */
void kiln_gateway_engine_connections_stop(KilnGatewayEngineConnections *self);

G_END_DECLS
