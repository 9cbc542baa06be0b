#pragma once

#include <gio/gio.h>

#include "app/kiln/kiln-resource.h"
#include "kiln-tunnel-dbus.h"

G_BEGIN_DECLS

#define KILN_TUNNEL_BUS_NAME    "dev.kiln.Tunnel"
#define KILN_TUNNEL_OBJECT_PATH "/dev/kiln/Tunnel"

#define KILN_TYPE_TUNNEL_STATE  (kiln_tunnel_state_get_type())
G_DECLARE_FINAL_TYPE(KilnTunnelState, kiln_tunnel_state, KILN, TUNNEL_STATE, GObject)

/* Mirrors kilnd's dev.kiln.Tunnel1 properties.  Properties: service-available (kilnd owns
 * its name), unavailable-reason, state ("signed-out", "connecting", "raising-tunnel",
 * "connected", "error"), actor-name, account-slug, internet-resource-enabled, log-level,
 * version.  get_resources() is a GListModel of KilnResource in kilnd's order.  Signal
 * "changed" is emitted once after every batch of updates; "error" (s message, b
 * requires_sign_in) and "resource-unreachable" (s id, s reason, s message) relay kilnd's. */
KilnTunnelState *kiln_tunnel_state_new(void);

/* Connects to kilnd on the system bus, or on $KILN_TUNNEL_BUS_ADDRESS when set. */
void kiln_tunnel_state_connect(KilnTunnelState *self);

/* Applies a snapshot of kilnd's properties (a{sv} keyed by the D-Bus property names) as
 * if they had arrived from kilnd; the proxy path uses the same code. */
void kiln_tunnel_state_apply(KilnTunnelState *self, gboolean service_available, GVariant *properties);

gboolean kiln_tunnel_state_get_service_available(KilnTunnelState *self);
const char *kiln_tunnel_state_get_unavailable_reason(KilnTunnelState *self);
const char *kiln_tunnel_state_get_state(KilnTunnelState *self);
const char *kiln_tunnel_state_get_actor_name(KilnTunnelState *self);
const char *kiln_tunnel_state_get_account_slug(KilnTunnelState *self);
gboolean kiln_tunnel_state_get_internet_resource_enabled(KilnTunnelState *self);
const char *kiln_tunnel_state_get_version(KilnTunnelState *self);
GListModel *kiln_tunnel_state_get_resources(KilnTunnelState *self);
KilnResource *kiln_tunnel_state_find_resource(KilnTunnelState *self, const char *id);
/* The proxy, or NULL while kilnd is not reachable. */
KilnDBusTunnel1 *kiln_tunnel_state_get_proxy(KilnTunnelState *self);

G_END_DECLS
