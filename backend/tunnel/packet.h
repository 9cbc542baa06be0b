/* SPDX-License-Identifier: MIT */
/*
 * IPv4/IPv6 packets with TCP, UDP, ICMP and ICMPv6: a strict parser, a builder, checksums
 * (with the pseudo-headers) and the ICMP errors the tunnel synthesizes.  Plain C, no GLib:
 * this runs for every packet read from the TUN or decrypted from a peer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KILN_IPPROTO_ICMP   1
#define KILN_IPPROTO_TCP    6
#define KILN_IPPROTO_UDP    17
#define KILN_IPPROTO_ICMPV6 58

#define KILN_TCP_FIN        0x01
#define KILN_TCP_SYN        0x02
#define KILN_TCP_RST        0x04
#define KILN_TCP_ACK        0x10

/* An IPv4 address sits in bytes[0..3]; the rest stays zero so addresses compare with memcmp. */
struct kiln_ip_addr {
        uint8_t family; /* 4 or 6 */
        uint8_t bytes[16];
};

struct kiln_packet {
        const uint8_t *data;
        size_t len; /* the IP total length; trailing bytes beyond it are not part of the packet */
        uint8_t version;
        struct kiln_ip_addr src, dst;
        uint8_t proto; /* upper-layer protocol after IPv6 extension headers */
        uint8_t ttl;   /* TTL or hop limit */
        size_t l3_len; /* IP header length incl. IPv6 extension headers */
        const uint8_t *l4;
        size_t l4_len;
        bool fragment;       /* any fragment; only the first one carries an L4 header */
        bool later_fragment; /* fragment offset > 0: no L4 header */
        bool has_ports;      /* TCP or UDP with a complete header */
        uint16_t sport, dport;
        uint8_t tcp_flags;
        bool is_icmp; /* ICMP (v4) or ICMPv6 with a complete 8-byte header */
        uint8_t icmp_type, icmp_code;
        uint16_t icmp_id; /* echo request/reply identifier, 0 otherwise */
        bool icmp_error;  /* destination unreachable, time exceeded, ... (carries a packet) */
};

/* Parses data[0..len).  Rejects (-EBADMSG) anything truncated, with a bad IPv4 header checksum,
 * bad lengths, more than 8 IPv6 extension headers, or a TCP/UDP header cut short.  On
 * success fills *ret. */
int kiln_packet_parse(const uint8_t *data, size_t len, struct kiln_packet *ret);

/* Parses the packet embedded in an ICMP error (which is usually truncated): only the IP header
 * and the first 8 bytes of L4 are required.  Fills ret->src/dst/proto/ports/icmp_id. */
int kiln_packet_parse_embedded(const uint8_t *data, size_t len, struct kiln_packet *ret);

/* RFC 1071 one's-complement sum helpers. */
uint32_t kiln_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t kiln_csum_fold(uint32_t sum);

/* Recomputes the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6 checksum of a complete,
 * unfragmented packet in place.  -EINVAL if it does not parse or is a fragment. */
int kiln_packet_fix_checksums(uint8_t *data, size_t len);

/* True if the IPv4 header (if any) and the L4 checksum are correct. */
bool kiln_packet_checksums_ok(const uint8_t *data, size_t len);

struct kiln_packet_spec {
        struct kiln_ip_addr src, dst; /* same family */
        uint8_t proto;                /* TCP, UDP, ICMP (v4) or ICMPv6 */
        uint8_t ttl;                  /* 0 means 64 */
        uint16_t sport, dport;        /* TCP/UDP */
        uint32_t tcp_seq, tcp_ack;
        uint8_t tcp_flags;
        uint8_t icmp_type, icmp_code;
        uint16_t icmp_id, icmp_seq; /* echo; for errors the 4 bytes are "rest of header" = 0 */
        const uint8_t *payload;
        size_t payload_len;
};

/* Builds a packet with valid checksums into buf; returns its length or -ENOBUFS/-EINVAL. */
ssize_t kiln_packet_build(const struct kiln_packet_spec *spec, uint8_t *buf, size_t cap);

enum kiln_icmp_unreachable {
        KILN_ICMP_PROHIBITED,      /* v4 type 3 code 13, v6 type 1 code 1 */
        KILN_ICMP_NET_UNREACHABLE, /* v4 type 3 code 0,  v6 type 1 code 3 */
};

/* The ICMP error the tunnel sends back for a packet it refuses: src = the original
 * destination, dst = the original source, TTL 20, payload = the original IP header + 8 bytes
 * of L4.  Never for an ICMP error itself (-EINVAL), so errors cannot ping-pong. */
ssize_t kiln_packet_icmp_unreachable(const uint8_t *orig, size_t orig_len, enum kiln_icmp_unreachable kind,
                                     uint8_t *buf, size_t cap);

/* Rewrites addresses and ports of a complete unfragmented packet in place and fixes its
 * checksums.  NULL/negative leaves a field alone; a port is only set on TCP/UDP, and for ICMP
 * echo the "port" is the identifier.  The new addresses must have the packet's family. */
int kiln_packet_rewrite(uint8_t *data, size_t len, const struct kiln_ip_addr *src,
                        const struct kiln_ip_addr *dst, int sport, int dport);

/* Helpers for addresses. */
void kiln_ip_addr_v4(struct kiln_ip_addr *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3);
int kiln_ip_addr_parse(const char *s, struct kiln_ip_addr *ret);
/* buf needs 46 bytes. */
const char *kiln_ip_addr_format(const struct kiln_ip_addr *a, char *buf, size_t cap);
bool kiln_ip_addr_equal(const struct kiln_ip_addr *a, const struct kiln_ip_addr *b);
bool kiln_ip_addr_in_prefix(const struct kiln_ip_addr *a, const struct kiln_ip_addr *net, unsigned prefix);
/* "10.0.0.0/8" or "fd00::/8"; a bare address means a host prefix.  Host bits must be zero. */
int kiln_ip_prefix_parse(const char *s, struct kiln_ip_addr *ret_net, unsigned *ret_prefix);
