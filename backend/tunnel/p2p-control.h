/* SPDX-License-Identifier: MIT */
/*
 * Firezone's p2p control packets (specs/firezone-data-plane.md §6.4).  They travel inside
 * WireGuard only and never reach a TUN: an IPv6 header with src = dst = "::", next header 0xFF,
 * hop limit 0; the payload is an 8-byte header (byte 0 = event type, the rest zero) followed
 * by a JSON body:
 *   0 ASSIGNED_IPS  {"resource":id,"domain":name,"proxy_ips":[4 or 8 addresses]}  client → gateway
 *   1 DOMAIN_STATUS {"resource":id,"domain":name,"status":"Active"|"Inactive"}     gateway → client
 *   2 GOODBYE       (empty body)                                                    either side
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/tunnel/packet.h"
#include "backend/tunnel/resources.h"

#define KILN_P2P_MAX_PROXY_IPS 8
#define KILN_P2P_MAX_JSON      1024 /* Firezone's ASSIGNED_IPS is at most 402 bytes */
#define KILN_P2P_MAX_PACKET    (40 + 8 + KILN_P2P_MAX_JSON)

enum kiln_p2p_type {
        KILN_P2P_ASSIGNED_IPS = 0,
        KILN_P2P_DOMAIN_STATUS = 1,
        KILN_P2P_GOODBYE = 2,
};

struct kiln_p2p_message {
        enum kiln_p2p_type type;
        char resource[KILN_ID_MAX + 1];
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
        struct kiln_ip_addr proxy_ips[KILN_P2P_MAX_PROXY_IPS];
        unsigned n_proxy_ips;
        bool active; /* DOMAIN_STATUS; an unknown status string reads as Inactive */
};

/* True if the packet has the p2p control shape (checked before the normal IP path). */
bool kiln_p2p_is_control(const uint8_t *pkt, size_t len);

/* -EBADMSG on a malformed packet or body, -EPROTONOSUPPORT on an unknown event type. */
int kiln_p2p_parse(const uint8_t *pkt, size_t len, struct kiln_p2p_message *ret);

/* Returns the packet length, -ENOBUFS or -EINVAL (bad fields, e.g. 0 or >8 proxy IPs). */
ssize_t kiln_p2p_build(const struct kiln_p2p_message *m, uint8_t *buf, size_t cap);
