/* SPDX-License-Identifier: MIT */
/*
 * Network-change detection for kilnd (specs/firezone-data-plane.md §7.6): an rtnetlink
 * socket subscribed to IPv4/IPv6 route changes, on the thread-default main context.  Changes
 * of the main table are debounced (500 ms, as Firezone's link-scope listener) and reported
 * once: default_route_changed when a default route (prefix length 0) of the main table came
 * or went — the network the tunnel runs over changed — else FALSE (another main-table route,
 * e.g. a LAN route the Internet resource must bypass).  Kiln's own tables never trigger it.
 */
#pragma once

#include <glib.h>

typedef struct _KilndRouteWatch KilndRouteWatch;

typedef void (*KilndRouteWatchFn)(gboolean default_route_changed, gpointer user_data);

/* NULL when the socket cannot be opened. */
KilndRouteWatch *kilnd_route_watch_new(KilndRouteWatchFn fn, gpointer user_data);
void kilnd_route_watch_free(KilndRouteWatch *w);
