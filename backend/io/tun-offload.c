/* SPDX-License-Identifier: MIT */
#include "backend/io/tun-offload.h"

#include <errno.h>
#include <string.h>

/* struct virtio_net_hdr (linux/virtio_net.h), native-endian on a TUN without TUNSETVNETLE. */
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE     0
#define VNET_GSO_TCPV4    1
#define VNET_GSO_UDP      3
#define VNET_GSO_TCPV6    4
#define VNET_GSO_UDP_L4   5
#define VNET_GSO_ECN      0x80

#define PROTO_TCP         6
#define PROTO_UDP         17
#define TCP_FIN           0x01
#define TCP_SYN           0x02
#define TCP_RST           0x04
#define TCP_PSH           0x08
#define TCP_ACK           0x10
#define TCP_URG           0x20
#define TCP_ECE           0x40
#define TCP_CWR           0x80

struct vnet_hdr {
        uint8_t flags, gso_type;
        uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t)(v >> 16));
        put16(p + 2, (uint16_t)v);
}

/* The one's-complement sum does not depend on byte order (RFC 1071 §2(B)): add native 32-bit
 * halves of 64-bit loads, fold, and swap to the network-order value once at the end.  This is the
 * split path's hot loop (a full checksum per segment). */
uint32_t inet_csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
        uint64_t acc = 0, result;
        size_t i = 0;

        for (; i + 32 <= len; i += 32) {
                uint64_t w[4];

                memcpy(w, data + i, sizeof(w));
                acc += (w[0] & 0xffffffff) + (w[0] >> 32) + (w[1] & 0xffffffff) + (w[1] >> 32) +
                       (w[2] & 0xffffffff) + (w[2] >> 32) + (w[3] & 0xffffffff) + (w[3] >> 32);
        }
        for (; i + 4 <= len; i += 4) {
                uint32_t w;

                memcpy(&w, data + i, sizeof(w));
                acc += w;
        }
        for (; i + 2 <= len; i += 2) {
                uint16_t w;

                memcpy(&w, data + i, sizeof(w));
                acc += w;
        }
        if (i < len) {
                /* The odd byte is the high byte of its (zero-padded) 16-bit word. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                acc += data[i];
#else
                acc += (uint64_t)data[i] << 8;
#endif
        }
        while (acc >> 16)
                acc = (acc & 0xffff) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
        result = (uint64_t)sum + acc;
        return (uint32_t)((result & 0xffffffff) + (result >> 32));
}

uint16_t inet_csum_fold(uint32_t sum)
{
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

uint32_t inet_pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
        uint32_t sum;

        if ((ip[0] >> 4) == 4)
                sum = inet_csum_add(0, ip + 12, 8);
        else
                sum = inet_csum_add(0, ip + 8, 32);
        return inet_csum_fold(sum + proto + (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff));
}

/* The layout of one IP packet as far as offloads care. */
struct pkt_info {
        int family;
        size_t ip_len; /* IP header (IPv6: fixed header; extension headers are refused for GSO) */
        size_t l4_len; /* TCP/UDP header, 0 for anything else */
        size_t len;    /* the packet, from the IP header's own length field */
        uint8_t proto;
};

static int parse_ip(const uint8_t *p, size_t len, struct pkt_info *ret, const char **reason)
{
        struct pkt_info info = { 0 };

        if (len < 1) {
                *reason = "empty packet";
                return -EINVAL;
        }
        if ((p[0] >> 4) == 4) {
                if (len < 20) {
                        *reason = "IPv4 packet shorter than its header";
                        return -EINVAL;
                }
                info.family = 4;
                info.ip_len = (size_t)(p[0] & 0xf) * 4;
                info.len = get16(p + 2);
                info.proto = p[9];
                if (info.ip_len < 20 || info.ip_len > info.len || info.len > len) {
                        *reason = "IPv4 header or total length out of bounds";
                        return -EINVAL;
                }
        } else if ((p[0] >> 4) == 6) {
                if (len < 40) {
                        *reason = "IPv6 packet shorter than its header";
                        return -EINVAL;
                }
                info.family = 6;
                info.ip_len = 40;
                info.len = 40 + (size_t)get16(p + 4);
                info.proto = p[6];
                if (info.len > len) {
                        *reason = "IPv6 payload length beyond the packet";
                        return -EINVAL;
                }
        } else {
                *reason = "not an IPv4 or IPv6 packet";
                return -EINVAL;
        }
        if (info.proto == PROTO_TCP && info.len - info.ip_len >= 20) {
                info.l4_len = (size_t)(p[info.ip_len + 12] >> 4) * 4;
                if (info.l4_len < 20 || info.l4_len > info.len - info.ip_len) {
                        *reason = "TCP header length out of bounds";
                        return -EINVAL;
                }
        } else if (info.proto == PROTO_UDP && info.len - info.ip_len >= 8) {
                info.l4_len = 8;
        }
        *ret = info;
        return 0;
}

static void ipv4_fix_header_csum(uint8_t *ip, size_t ip_len)
{
        put16(ip + 10, 0);
        put16(ip + 10, (uint16_t)~inet_csum_fold(inet_csum_add(0, ip, ip_len)));
}

/* Full L4 checksum of a complete packet (TCP/UDP), written into the header. */
static void fill_l4_csum(uint8_t *p, const struct pkt_info *info)
{
        size_t l4 = info->len - info->ip_len;
        size_t field = info->ip_len + (info->proto == PROTO_TCP ? 16 : 6);
        uint16_t csum;

        put16(p + field, 0);
        csum = (uint16_t)~inet_csum_fold(
            inet_csum_add(inet_pseudo_sum(p, info->proto, l4), p + info->ip_len, l4));
        if (csum == 0 && info->proto == PROTO_UDP)
                csum = 0xffff; /* 0 means "no checksum" in UDP */
        put16(p + field, csum);
}

static int split_gso(const struct vnet_hdr *h, const uint8_t *p, size_t len, uint8_t *out, size_t cap,
                     struct tun_segment *segs, size_t max_segs, const char **reason)
{
        uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
        struct pkt_info info;
        size_t hdr, payload, n, total;
        uint32_t seq = 0;
        uint16_t id = 0;
        int r;

        r = parse_ip(p, len, &info, reason);
        if (r < 0)
                return r;
        if ((type == VNET_GSO_TCPV4 && info.family != 4) || (type == VNET_GSO_TCPV6 && info.family != 6)) {
                *reason = "GSO type does not match the IP version";
                return -EINVAL;
        }
        if (info.proto != (type == VNET_GSO_UDP_L4 ? PROTO_UDP : PROTO_TCP) || info.l4_len == 0) {
                *reason = "GSO packet without the transport header its type names";
                return -EINVAL;
        }
        if (h->gso_size == 0) {
                *reason = "GSO packet with gso_size 0";
                return -EINVAL;
        }
        /* The header length is recomputed from the packet, never taken from hdr_len. */
        hdr = info.ip_len + info.l4_len;
        payload = info.len - hdr;
        n = payload == 0 ? 1 : (payload + h->gso_size - 1) / h->gso_size;
        if (n > TUN_SPLIT_MAX_SEGMENTS) {
                *reason = "GSO packet would split into too many segments";
                return -EINVAL;
        }
        total = n * hdr + payload;
        if (n > max_segs || total > cap) {
                *reason = "no room for the segments";
                return -ENOSPC;
        }
        if (info.family == 4)
                id = get16(p + 4);
        if (info.proto == PROTO_TCP)
                seq = get32(p + info.ip_len + 4);

        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
                size_t chunk =
                    payload - i * h->gso_size < h->gso_size ? payload - i * h->gso_size : h->gso_size;
                uint8_t *s = out + off;
                struct pkt_info si = info;

                memcpy(s, p, hdr);
                memcpy(s + hdr, p + hdr + i * h->gso_size, chunk);
                si.len = hdr + chunk;
                if (info.family == 4) {
                        put16(s + 2, (uint16_t)si.len);
                        put16(s + 4, (uint16_t)(id + i));
                        ipv4_fix_header_csum(s, info.ip_len);
                } else {
                        put16(s + 4, (uint16_t)(si.len - 40));
                }
                if (info.proto == PROTO_TCP) {
                        uint8_t *flags = s + info.ip_len + 13;

                        put32(s + info.ip_len + 4, seq + (uint32_t)(i * h->gso_size));
                        if (i + 1 < n)
                                *flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
                        if (i > 0)
                                *flags &= (uint8_t)~TCP_CWR;
                } else {
                        put16(s + info.ip_len + 4, (uint16_t)(8 + chunk));
                }
                fill_l4_csum(s, &si);
                segs[i].off = (uint32_t)off;
                segs[i].len = (uint16_t)si.len;
                off += si.len;
        }
        return (int)n;
}

int tun_split(const uint8_t *in, size_t len, bool vnet, uint8_t *out, size_t cap, struct tun_segment *segs,
              size_t max_segs, const char **ret_reason)
{
        struct vnet_hdr h = { 0 };
        const char *reason = NULL;
        const uint8_t *p = in;
        struct pkt_info info;
        int r;

        if (!ret_reason)
                ret_reason = &reason;
        if (vnet) {
                if (len < TUN_VNET_HDR_LEN) {
                        *ret_reason = "shorter than a virtio_net_hdr";
                        return -EINVAL;
                }
                h.flags = in[0];
                h.gso_type = in[1];
                memcpy(&h.hdr_len, in + 2, 2);
                memcpy(&h.gso_size, in + 4, 2);
                memcpy(&h.csum_start, in + 6, 2);
                memcpy(&h.csum_offset, in + 8, 2);
                p += TUN_VNET_HDR_LEN;
                len -= TUN_VNET_HDR_LEN;
        }
        switch (h.gso_type & (uint8_t)~VNET_GSO_ECN) {
        case VNET_GSO_NONE:
                break;
        case VNET_GSO_TCPV4:
        case VNET_GSO_TCPV6:
        case VNET_GSO_UDP_L4:
                return split_gso(&h, p, len, out, cap, segs, max_segs, ret_reason);
        default:
                *ret_reason = "unknown GSO type";
                return -EPROTONOSUPPORT;
        }

        r = parse_ip(p, len, &info, ret_reason);
        if (r < 0)
                return r;
        if (max_segs < 1 || info.len > cap) {
                *ret_reason = "no room for the packet";
                return -ENOSPC;
        }
        if (h.flags & VNET_F_NEEDS_CSUM) {
                /* The field holds the pseudo-header sum; the rest is ours to add. */
                size_t field = (size_t)h.csum_start + h.csum_offset;
                uint16_t csum;

                if (h.csum_start < info.ip_len || field + 2 > info.len) {
                        *ret_reason = "checksum offsets outside the packet";
                        return -EINVAL;
                }
                memcpy(out, p, info.len);
                csum =
                    (uint16_t)~inet_csum_fold(inet_csum_add(0, out + h.csum_start, info.len - h.csum_start));
                if (csum == 0 && info.proto == PROTO_UDP)
                        csum = 0xffff;
                put16(out + field, csum);
        } else {
                memcpy(out, p, info.len);
        }
        segs[0].off = 0;
        segs[0].len = (uint16_t)info.len;
        return 1;
}

/* ---- coalescing ---------------------------------------------------------------------- */

static void write_vnet(uint8_t *out, const struct vnet_hdr *h)
{
        out[0] = h->flags;
        out[1] = h->gso_type;
        memcpy(out + 2, &h->hdr_len, 2);
        memcpy(out + 4, &h->gso_size, 2);
        memcpy(out + 6, &h->csum_start, 2);
        memcpy(out + 8, &h->csum_offset, 2);
}

/* May b follow a in one super-packet?  Same headers except the fields segmentation
 * rewrites (lengths, IPv4 id and checksum, TCP seq, checksums, the last segment's PSH). */
static bool same_flow(const uint8_t *a, const struct pkt_info *ia, const uint8_t *b,
                      const struct pkt_info *ib)
{
        if (ia->family != ib->family || ia->proto != ib->proto || ia->ip_len != ib->ip_len ||
            ia->l4_len != ib->l4_len)
                return false;
        if (ia->family == 4) {
                /* version/ihl, tos, flags/fragment offset, ttl, proto, addresses and options */
                if (a[0] != b[0] || a[1] != b[1] || memcmp(a + 6, b + 6, 4) != 0 ||
                    memcmp(a + 12, b + 12, ia->ip_len - 12) != 0)
                        return false;
                if (get16(a + 6) & 0x3fff) /* MF or a fragment offset: not coalescable */
                        return false;
        } else {
                if (memcmp(a, b, 4) != 0 || memcmp(a + 6, b + 6, 34) != 0)
                        return false;
        }
        if (ia->proto == PROTO_TCP) {
                const uint8_t *ta = a + ia->ip_len, *tb = b + ib->ip_len;

                /* ports, ack, data offset, window, urgent pointer and options: equal */
                return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 5) == 0 &&
                       memcmp(ta + 14, tb + 14, 2) == 0 && memcmp(ta + 18, tb + 18, ia->l4_len - 18) == 0;
        }
        return memcmp(a + ia->ip_len, b + ib->ip_len, 4) == 0;
}

size_t tun_coalesce(const uint8_t *const *pkts, const size_t *lens, size_t n, unsigned offloads,
                    uint8_t *out, size_t cap, size_t *ret_len)
{
        struct vnet_hdr h = { 0 };
        struct pkt_info first, info;
        const char *reason;
        size_t hdr, gso, total, count = 1;
        uint32_t next_seq = 0;
        uint8_t *s = out + TUN_VNET_HDR_LEN;
        bool tcp, allowed;

        if (n == 0 || lens[0] + TUN_VNET_HDR_LEN > cap)
                return 0;
        write_vnet(out, &h);
        memcpy(s, pkts[0], lens[0]);
        *ret_len = TUN_VNET_HDR_LEN + lens[0];

        if (n == 1 || !(offloads & TUN_OFFLOAD_CSUM) || parse_ip(pkts[0], lens[0], &first, &reason) < 0 ||
            first.l4_len == 0 || first.len != lens[0])
                return 1;
        tcp = first.proto == PROTO_TCP;
        if (tcp)
                allowed = offloads & (first.family == 4 ? TUN_OFFLOAD_TSO4 : TUN_OFFLOAD_TSO6);
        else
                allowed = offloads & (first.family == 4 ? TUN_OFFLOAD_USO4 : TUN_OFFLOAD_USO6);
        hdr = first.ip_len + first.l4_len;
        gso = first.len - hdr;
        if (!allowed || gso == 0)
                return 1;
        if (!tcp && get16(pkts[0] + first.ip_len + 4) != first.len - first.ip_len)
                return 1; /* a UDP length that disagrees with the packet: not ours to merge */
        if (tcp) {
                uint8_t flags = pkts[0][first.ip_len + 13];

                if (flags != TCP_ACK) /* PSH, FIN, SYN … end a run; a PSH may only be last */
                        return 1;
                next_seq = get32(pkts[0] + first.ip_len + 4) + (uint32_t)gso;
        }

        total = first.len;
        for (size_t i = 1; i < n; i++) {
                const uint8_t *p = pkts[i];
                size_t pl;
                uint8_t flags = 0;

                if (parse_ip(p, lens[i], &info, &reason) < 0 || info.len != lens[i] ||
                    !same_flow(pkts[0], &first, p, &info))
                        break;
                pl = info.len - hdr;
                if (pl == 0 || pl > gso || total + pl > 65535 || TUN_VNET_HDR_LEN + total + pl > cap)
                        break;
                if (!tcp && count == TUN_COALESCE_MAX_UDP_SEGMENTS)
                        break;
                if (tcp) {
                        flags = p[info.ip_len + 13];
                        if ((flags != TCP_ACK && flags != (TCP_ACK | TCP_PSH)) ||
                            get32(p + info.ip_len + 4) != next_seq)
                                break;
                        next_seq += (uint32_t)pl;
                }
                memcpy(s + total, p + hdr, pl);
                total += pl;
                count++;
                if (tcp && (flags & TCP_PSH))
                        s[first.ip_len + 13] |= TCP_PSH;
                if (pl < gso || (flags & TCP_PSH))
                        break; /* a shorter segment or a push ends the run */
        }
        if (count == 1)
                return 1;

        if (first.family == 4) {
                put16(s + 2, (uint16_t)total);
                ipv4_fix_header_csum(s, first.ip_len);
        } else {
                put16(s + 4, (uint16_t)(total - 40));
        }
        if (!tcp)
                put16(s + first.ip_len + 4, (uint16_t)(total - first.ip_len));
        /* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum of the whole
         * super-packet; the kernel completes it per segment. */
        put16(s + first.ip_len + (tcp ? 16 : 6),
              inet_csum_fold(inet_pseudo_sum(s, first.proto, total - first.ip_len)));

        h.flags = VNET_F_NEEDS_CSUM;
        h.gso_type = tcp ? (first.family == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6) : VNET_GSO_UDP_L4;
        h.hdr_len = (uint16_t)hdr;
        h.gso_size = (uint16_t)gso;
        h.csum_start = (uint16_t)first.ip_len;
        h.csum_offset = tcp ? 16 : 6;
        write_vnet(out, &h);
        *ret_len = TUN_VNET_HDR_LEN + total;
        return count;
}
