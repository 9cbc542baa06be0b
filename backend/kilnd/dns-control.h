/* SPDX-License-Identifier: MIT */
/*
 * kilnd's DNS control (specs/firezone-data-plane.md §7.5): points the system at the stub
 * resolver's sentinel addresses while a tunnel is up and puts everything back afterwards.
 * Mode "auto" uses systemd-resolved over D-Bus when org.freedesktop.resolve1 is on the system
 * bus (per-link DNS on tun-kiln with the routing domain "~."), else rewrites /etc/resolv.conf
 * with a backup and a crash state in the state directory (backend/platform/dns-resolvconf.h);
 * "resolved" and "resolv-conf" force one, "disabled" touches nothing.
 *
 * The backup lives in the state directory, not next to /etc/resolv.conf: under
 * `ip netns exec` only /etc/resolv.conf itself is the namespace's file.
 */
#pragma once

#include <glib.h>

#include "backend/log/log.h"
#include "backend/tunnel/dns-stub.h"

#define KILND_DNS_MAX_UPSTREAMS 8

typedef struct _KilndDnsControl KilndDnsControl;

/* TRUE for the --dns-control values: auto, resolved, resolv-conf, disabled. */
gboolean kilnd_dns_control_mode_valid(const char *mode);

/* At kilnd's start: a resolv.conf that a killed kilnd left behind is restored.  0 if nothing
 * was to do, 1 if restored, -errno. */
int kilnd_dns_control_recover(const char *state_dir);

KilndDnsControl *kilnd_dns_control_new(KilnLogger *logger, const char *mode, const char *state_dir);
void kilnd_dns_control_free(KilndDnsControl *c);

/* The system's resolvers (sentinels excluded), read before Kiln's own configuration is in
 * place: /etc/resolv.conf (or its backup while ours is active), or, with systemd-resolved,
 * /run/systemd/resolve/resolv.conf.  Returns how many were written. */
size_t kilnd_dns_control_system_upstreams(KilndDnsControl *c, struct kiln_dns_upstream *out, size_t cap);

/* servers: sentinel address strings.  0 or -errno (logged). */
int kilnd_dns_control_activate(KilndDnsControl *c, int ifindex, const char *const *servers, size_t n,
                               const char *search_domain);
/* Undoes activate; nothing if it was not active. */
void kilnd_dns_control_deactivate(KilndDnsControl *c);
/* After a resource change: cached answers for resource names may be stale (systemd-resolved). */
void kilnd_dns_control_flush(KilndDnsControl *c);
