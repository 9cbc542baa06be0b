/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewayLogConnections: a KilnGatewayConnections that sets up nothing and logs what it is
 * given (authorized clients, their ICE candidates, relays, packets it would send).  It accepts
 * every authorization, so the portal side of the gateway works end to end before the ICE and
 * WireGuard layers are wired in; it never emits candidates or packets.
 */
#pragma once

#include "backend/kiln-gateway/connections.h"
#include "backend/log/log.h"

G_BEGIN_DECLS

#define KILN_TYPE_GATEWAY_LOG_CONNECTIONS (kiln_gateway_log_connections_get_type())
G_DECLARE_FINAL_TYPE(KilnGatewayLogConnections, kiln_gateway_log_connections, KILN, GATEWAY_LOG_CONNECTIONS,
                     GObject)

/* logger is borrowed and must outlive the object; NULL logs nothing. */
KilnGatewayLogConnections *kiln_gateway_log_connections_new(KilnLogger *logger);

G_END_DECLS
