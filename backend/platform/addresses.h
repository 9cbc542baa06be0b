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
