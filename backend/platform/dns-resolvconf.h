/* SPDX-License-Identifier: MIT */
/*
 * DNS control by rewriting /etc/resolv.conf (specs/firezone-data-plane.md §7.5), for systems
 * without systemd-resolved.  The original is backed up first; a crash-state file in the state
 * directory records that our file is in place, so the next start (or kiln_resolvconf_recover)
 * puts the original back even after SIGKILL.  All paths are injectable for tests.
 *
 * The target is rewritten in place (truncate + write), never renamed over: under
 * `ip netns exec` /etc/resolv.conf is a bind mount, which rename(2) cannot replace.
 */
#pragma once

#include <stddef.h>

#define KILN_RESOLVCONF_HEADER "# BEGIN Kiln DNS configuration"

struct kiln_resolvconf_paths {
        const char *resolv_conf; /* /etc/resolv.conf */
        const char *backup;      /* /etc/resolv.conf.before-kiln */
        const char *state_dir;   /* e.g. /var/lib/kiln: holds "resolvconf-active" */
};

/* Restores the original if a previous run left ours in place; 0 if nothing was to do. */
int kiln_resolvconf_recover(const struct kiln_resolvconf_paths *p);

/* Backs up the current file (once) and writes ours: the nameservers, "search" with the
 * search domain if any, "options ndots:1".  -ELOOP if the target is a symlink (then
 * systemd-resolved or another manager owns it), -EINVAL for bad arguments. */
int kiln_resolvconf_activate(const struct kiln_resolvconf_paths *p, const char *const *nameservers, size_t n,
                             const char *search_domain);

/* Puts the original back and clears the crash state; 0 if we were not active. */
int kiln_resolvconf_deactivate(const struct kiln_resolvconf_paths *p);
