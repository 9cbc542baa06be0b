/* SPDX-License-Identifier: MIT */
/*
 * The client's resource table (specs/firezone-data-plane.md §6, control-plane §3.3.2):
 * CIDR/IP resources with longest-prefix lookup, DNS resources matched by Firezone's name
 * patterns, the Internet resource, per-resource filters, and which gateway serves a resource
 * once the portal authorized it.  Plain C, used per packet.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/tunnel/packet.h"

#define KILN_ID_MAX               64 /* portal ids are UUIDs (36 chars); anything longer is refused */
#define KILN_RESOURCE_MAX_FILTERS 64
#define KILN_RESOURCE_MAX_SITES   8
#define KILN_RESOURCE_ADDRESS_MAX 254
#define KILN_RESOURCES_MAX        10000

enum kiln_resource_type {
        KILN_RESOURCE_CIDR,
        KILN_RESOURCE_DNS,
        KILN_RESOURCE_INTERNET,
};

enum kiln_ip_stack {
        KILN_IP_STACK_DUAL,
        KILN_IP_STACK_IPV4_ONLY,
        KILN_IP_STACK_IPV6_ONLY,
};

/* {"protocol":"tcp"|"udp", port_range_start..=port_range_end} or {"protocol":"icmp"} (which
 * allows ICMP and ICMPv6 of any type). */
struct kiln_filter {
        uint8_t proto; /* KILN_IPPROTO_TCP, _UDP or _ICMP */
        uint16_t port_start, port_end;
};

struct kiln_resource {
        char id[KILN_ID_MAX + 1];
        enum kiln_resource_type type;
        char address[KILN_RESOURCE_ADDRESS_MAX + 1]; /* CIDR text or DNS pattern; "" for Internet */
        enum kiln_ip_stack ip_stack;                 /* DNS resources */
        struct kiln_filter filters[KILN_RESOURCE_MAX_FILTERS];
        unsigned n_filters; /* 0 = everything allowed */
        char sites[KILN_RESOURCE_MAX_SITES][KILN_ID_MAX + 1];
        unsigned n_sites;
        /* Filled by the table: */
        struct kiln_ip_addr net;
        unsigned prefix;
};

struct kiln_resources;

struct kiln_resources *kiln_resources_new(void);
void kiln_resources_free(struct kiln_resources *t);

/* Adds or replaces (by id).  Validates the id, the CIDR (host bits zero) or the DNS pattern,
 * and the filters; -EINVAL leaves the table unchanged.  Replacing a resource keeps its
 * gateway unless its sites changed. */
int kiln_resources_upsert(struct kiln_resources *t, const struct kiln_resource *r);
int kiln_resources_remove(struct kiln_resources *t, const char *id);
const struct kiln_resource *kiln_resources_get(const struct kiln_resources *t, const char *id);
size_t kiln_resources_count(const struct kiln_resources *t);
const struct kiln_resource *kiln_resources_at(const struct kiln_resources *t, size_t i);

/* The Internet resource only routes while enabled (the user's toggle). */
void kiln_resources_set_internet_enabled(struct kiln_resources *t, bool enabled);
bool kiln_resources_internet_enabled(const struct kiln_resources *t);

/* CIDR resource with the longest matching prefix, else the enabled Internet resource (never
 * for tunnel, proxy or sentinel addresses), else NULL. */
const struct kiln_resource *kiln_resources_lookup_ip(const struct kiln_resources *t,
                                                     const struct kiln_ip_addr *a);

/* The DNS resource whose pattern matches name: an exact pattern wins over wildcards, then the
 * longest pattern. */
const struct kiln_resource *kiln_resources_match_name(const struct kiln_resources *t, const char *name);

/* Firezone's DNS patterns, case-insensitive: "a.b" exact; "*.b" = "b" or one label under it;
 * "**.b" = "b" or any depth under it; inside a label "*" = any characters, "?" = exactly one. */
bool kiln_dns_pattern_match(const char *pattern, const char *name);
bool kiln_dns_pattern_valid(const char *pattern);

/* Which gateway the portal authorized for a resource; "" when none yet. */
int kiln_resources_set_gateway(struct kiln_resources *t, const char *id, const char *gateway_id);
const char *kiln_resources_gateway(const struct kiln_resources *t, const char *id);
void kiln_resources_clear_gateway(struct kiln_resources *t, const char *gateway_id);

/* Filter check for one packet: empty list = allow; TCP/UDP by destination port; ICMP filter
 * allows ICMP and ICMPv6; everything else (and non-first fragments) is denied by a non-empty
 * list. */
bool kiln_filters_allow(const struct kiln_filter *filters, unsigned n, const struct kiln_packet *p);

struct kiln_ip_prefix {
        struct kiln_ip_addr net;
        unsigned prefix;
};

/* The client's TUN routes (spec §6.1): every CIDR resource, the tunnel, proxy and sentinel
 * ranges, and 0.0.0.0/0 + ::/0 while the Internet resource is enabled; duplicates once.
 * Returns how many there are (possibly more than cap; only cap are written). */
size_t kiln_resources_routes(const struct kiln_resources *t, struct kiln_ip_prefix *out, size_t cap);

/* Address plan (spec §6.1). */
bool kiln_addr_is_tunnel(const struct kiln_ip_addr *a);
bool kiln_addr_is_proxy(const struct kiln_ip_addr *a); /* proxy range, sentinels excluded */
bool kiln_addr_is_sentinel(const struct kiln_ip_addr *a);
