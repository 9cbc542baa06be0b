/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads as pure functions (data-plane spec §4.3): every read from an IFF_VNET_HDR
 * TUN starts with a struct virtio_net_hdr.  With TSO/USO negotiated the kernel hands us GSO
 * super-packets (one TCP or UDP header, up to 64 KiB of payload) that must be split into
 * MTU-sized packets; on write, consecutive packets of one flow are coalesced back into a
 * super-packet the kernel segments itself.  Everything read from the TUN is untrusted input:
 * malformed headers are rejected with a reason and produce nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUN_VNET_HDR_LEN 10
/* The most packets one super-packet may be split into (the kernel's own limit is 64 KiB of
 * payload; a 1-byte gso_size would mean 64 Ki segments, so the split refuses beyond this). */
#define TUN_SPLIT_MAX_SEGMENTS 256
/* UDP_L4 GRO in the kernel takes at most this many segments. */
#define TUN_COALESCE_MAX_UDP_SEGMENTS 64

/* TUNSETOFFLOAD bits (linux/if_tun.h) as a set the coalescer may use. */
enum {
        TUN_OFFLOAD_CSUM = 0x01,
        TUN_OFFLOAD_TSO4 = 0x02,
        TUN_OFFLOAD_TSO6 = 0x04,
        TUN_OFFLOAD_USO4 = 0x20,
        TUN_OFFLOAD_USO6 = 0x40,
};

struct tun_segment {
        uint32_t off;
        uint16_t len;
};

/*
 * Splits one TUN read (in/len, starting with a virtio_net_hdr when vnet) into complete IP
 * packets with valid checksums, written back to back into out.  Returns the number of packets
 * (stored in segs), or a negative errno with *ret_reason set: -EINVAL malformed, -ENOSPC out
 * or segs too small (nothing is lost: retry with more room), -EPROTONOSUPPORT unknown GSO type.
 */
int tun_split(const uint8_t *in, size_t len, bool vnet, uint8_t *out, size_t cap, struct tun_segment *segs,
              size_t max_segs, const char **ret_reason);

/*
 * Takes the longest run at the start of pkts[0..n) that the kernel would have merged (same
 * TCP flow with contiguous sequence numbers and only ACK/PSH flags, or same UDP flow; equal
 * sizes, at most one shorter last one; ≤ 64 KiB) and that `offloads` allows, and writes
 * virtio_net_hdr + packet into out (cap ≥ TUN_VNET_HDR_LEN + 65535).  A run of one is written
 * as it is with GSO_NONE.  Returns the packets consumed (≥ 1) and the bytes in *ret_len; 0 when
 * pkts[0] does not fit into out.
 */
size_t tun_coalesce(const uint8_t *const *pkts, const size_t *lens, size_t n, unsigned offloads,
                    uint8_t *out, size_t cap, size_t *ret_len);

/* Internet checksum helpers (RFC 1071), also used by the tests' and ECN code's callers. */
uint32_t inet_csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t inet_csum_fold(uint32_t sum);
/* The pseudo-header sum of an IPv4/IPv6 packet for protocol proto and L4 length l4_len. */
uint32_t inet_pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len);
