/* SPDX-License-Identifier: MIT */
/*
 * The gateway host's forwarding (specs/firezone-data-plane.md §8): the gateway writes
 * decrypted CIDR/Internet traffic to its TUN unchanged, and the kernel forwards it and
 * masquerades the clients' tunnel addresses.  kiln-gateway sets this up at start and removes
 * it at exit: IPv4/IPv6 forwarding sysctls (the previous values come back), FORWARD accept
 * rules for the TUN and MASQUERADE for 100.64.0.0/11 and fd00:2021:1111::/107 leaving through
 * any other interface, all tagged with the comment "kiln:TUN" so teardown finds exactly them.
 * Runs iptables/ip6tables (Debian 12: the nft backend); not on the packet path.
 */
#pragma once

#include <glib.h>

typedef struct _KilnForwarding KilnForwarding;

/* IPv6 is best effort: a host without IPv6 (or ip6tables) still forwards IPv4. */
KilnForwarding *kiln_forwarding_setup(const char *tun_name, GError **error);
/* Removes the rules and restores the sysctls; NULL is fine. */
void kiln_forwarding_teardown(KilnForwarding *f);
/* Whether the IPv6 part was set up. */
gboolean kiln_forwarding_has_ipv6(const KilnForwarding *f);
