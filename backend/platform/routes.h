/* SPDX-License-Identifier: MIT */
/*
 * Routes and policy rules for the client TUN over rtnetlink (specs/firezone-data-plane.md
 * §7.2, §7.4).  Three tables: resources, copies of link-scope routes (so local networks bypass
 * the Internet resource) and default routes for the Internet resource, each reached by a rule
 * "not fwmark KILN_FWMARK lookup TABLE", so sockets Kiln marks with KILN_FWMARK use the main
 * table and never loop into the tunnel.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KILN_FWMARK                   0xfd002021u
#define KILN_TABLE_RESOURCES          0x2021fd00u
#define KILN_TABLE_LINK_SCOPE         0x2021fd01u
#define KILN_TABLE_INTERNET           0x2021fd02u
#define KILN_RULE_PRIORITY_RESOURCES  100
#define KILN_RULE_PRIORITY_LINK_SCOPE 200
#define KILN_RULE_PRIORITY_INTERNET   300

struct kiln_route {
        uint8_t family; /* 4 or 6 */
        uint8_t addr[16];
        uint8_t prefix;
};

struct kiln_routes;

/* Opens a NETLINK_ROUTE socket for the device ifindex. */
int kiln_routes_new(int ifindex, struct kiln_routes **ret);
void kiln_routes_free(struct kiln_routes *r);

/* Adds the six rules (three tables, v4 and v6); existing ones are kept.  families: bit 0 = v4,
 * bit 1 = v6. */
int kiln_routes_add_rules(struct kiln_routes *r, unsigned families);
int kiln_routes_remove_rules(struct kiln_routes *r, unsigned families);

/* Deletes every route in Kiln's three tables. */
int kiln_routes_flush(struct kiln_routes *r);

/* Makes the device's routes in the resources and Internet tables exactly this set: adds what
 * is new, deletes what is gone.  A /0 goes to the Internet table. */
int kiln_routes_set(struct kiln_routes *r, const struct kiln_route *routes, size_t n);

/* Copies every scope-link route of the main table on an up interface other than ours into
 * the link-scope table (replacing its previous content), so LAN traffic bypasses a default
 * route through the tunnel.  The caller re-runs it on route/link changes. */
int kiln_routes_sync_link_scope(struct kiln_routes *r);

/* Adds addr/prefix to the device (the kernel adds the prefix route with it); an address that
 * is already there is fine.  IPv6 addresses skip duplicate address detection. */
int kiln_routes_add_address(struct kiln_routes *r, const struct kiln_route *addr);

/* Adds a link-scope route through the device to the main table (the gateway's tunnel ranges,
 * spec §6.1); it goes away with the device. */
int kiln_routes_add_main(struct kiln_routes *r, const struct kiln_route *rt);

/* SO_MARK for Kiln's own sockets. */
int kiln_socket_set_mark(int fd);

/* "10.0.0.0/8", "fd00::/8" → route; host bits must be zero. */
int kiln_route_parse(const char *s, struct kiln_route *ret);
