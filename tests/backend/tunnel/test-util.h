/* SPDX-License-Identifier: MIT */
/* Packet helpers shared by the tunnel tests. */
#pragma once

#include <glib.h>

#include "backend/tunnel/packet.h"

static inline struct kiln_ip_addr ip(const char *s)
{
        struct kiln_ip_addr a;
        g_assert_cmpint(kiln_ip_addr_parse(s, &a), ==, 0);
        return a;
}

/* A UDP/TCP/ICMP packet into buf; returns its length. */
static inline size_t make_packet(uint8_t *buf, size_t cap, const char *src, const char *dst, uint8_t proto,
                                 uint16_t sport, uint16_t dport, const char *payload)
{
        struct kiln_packet_spec s = {
                .src = ip(src),
                .dst = ip(dst),
                .proto = proto,
                .sport = sport,
                .dport = dport,
                .payload = (const uint8_t *)payload,
                .payload_len = payload ? strlen(payload) : 0,
        };
        if (proto == KILN_IPPROTO_ICMP || proto == KILN_IPPROTO_ICMPV6) {
                s.icmp_type = proto == KILN_IPPROTO_ICMP ? 8 : 128;
                s.icmp_id = sport;
                s.icmp_seq = dport;
        }
        if (proto == KILN_IPPROTO_TCP)
                s.tcp_flags = KILN_TCP_SYN;
        ssize_t n = kiln_packet_build(&s, buf, cap);
        g_assert_cmpint(n, >, 0);
        return (size_t)n;
}
