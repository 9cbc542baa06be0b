/* SPDX-License-Identifier: MIT */
/*
 * What KilnGatewaySession needs from the host: the gateway's TUN with the portal's addresses
 * and the tunnel routes, kernel forwarding and masquerade (spec §8).  linux-platform.c is the
 * real one; tests pass a recorder.
 */
#pragma once

#include <glib.h>

typedef struct {
        /* Brings the TUN up with ipv4/32 and ipv6/128 (the portal's init interface) and installs
         * forwarding; called again with new addresses when a later init changes them. */
        gboolean (*configure)(gpointer data, const char *ipv4, const char *ipv6, GError **error);
        /* Removes everything configure set up; safe to call when nothing was. */
        void (*teardown)(gpointer data);
} KilnGatewayPlatformOps;
