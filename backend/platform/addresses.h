/* SPDX-License-Identifier: MIT */
/*
 * Interface addresses over raw rtnetlink (RTM_NEWADDR / RTM_DELADDR), for the tunnel device's
 * own addresses: Firezone puts the portal-assigned IPv4 as a /32 and IPv6 as a /128 on the TUN
 * (data-plane spec §7.1).  One request per call, acknowledged by the kernel.
 */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

typedef struct {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        };
        uint8_t prefixlen;
} KilnIfAddress;

/* Parses "a.b.c.d" or an IPv6 literal into a host address (/32 or /128).  0 or -EINVAL. */
int kiln_if_address_parse(const char *text, KilnIfAddress *ret_address);

/* Adds the address to the interface (EEXIST counts as done).  0 or -errno. */
int kiln_if_address_add(unsigned ifindex, const KilnIfAddress *address);
/* Removes it (EADDRNOTAVAIL/ENODEV: it is already gone, which counts as done).  0 or -errno. */
int kiln_if_address_del(unsigned ifindex, const KilnIfAddress *address);

/*
 * No IPv6 link-local address on the device (IFLA_INET6_ADDR_GEN_MODE none, as Firezone sets on
 * its TUN, data-plane spec §7.1): cycles the link down and up so that the kernel's fe80::/64
 * goes; addresses must be added afterwards.  0 or -errno (-EAFNOSUPPORT without IPv6).
 */
int kiln_if_disable_ipv6_link_local(unsigned ifindex);
