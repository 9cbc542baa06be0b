/* SPDX-License-Identifier: MIT */
/*
 * DNS control through systemd-resolved's D-Bus API (org.freedesktop.resolve1.Manager on the
 * system bus): the TUN link gets the sentinel addresses as its DNS servers and the routing
 * domain "~." (plus the search domain), so resolved sends every query to Kiln's stub.
 * RevertLink undoes it (resolved also forgets the link when the TUN goes away).
 */
#pragma once

#include <gio/gio.h>

/* TRUE if org.freedesktop.resolve1 has an owner on this bus. */
gboolean kiln_resolved_available(GDBusConnection *bus);

/* servers: IPv4/IPv6 address strings.  search_domain may be NULL. */
gboolean kiln_resolved_activate(GDBusConnection *bus, int ifindex, const char *const *servers,
                                gsize n_servers, const char *search_domain, GError **error);
gboolean kiln_resolved_revert(GDBusConnection *bus, int ifindex, GError **error);
gboolean kiln_resolved_flush_caches(GDBusConnection *bus, GError **error);
