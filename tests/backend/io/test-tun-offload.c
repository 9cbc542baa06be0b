/* SPDX-License-Identifier: MIT */
/*
 * Splitting TUN super-packets and coalescing packets for the TUN, checked against an
 * independent, deliberately naive checksum routine written here from RFC 1071.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "backend/io/tun-offload.h"
#include "tests/backend/io/packet-check.h"
#include "tests/support/test-support.h"

/* ---- packet builders ------------------------------------------------------------------ */

static size_t build_ip(uint8_t *p, int family, uint8_t proto, size_t l4_len)
{
        if (family == 4) {
                memset(p, 0, 20);
                p[0] = 0x45;
                p[2] = (uint8_t)((20 + l4_len) >> 8);
                p[3] = (uint8_t)(20 + l4_len);
                p[4] = 0x12;
                p[5] = 0x34;
                p[6] = 0x40; /* DF */
                p[8] = 64;
                p[9] = proto;
                memcpy(p + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
                return 20;
        }
        memset(p, 0, 40);
        p[0] = 0x60;
        p[4] = (uint8_t)(l4_len >> 8);
        p[5] = (uint8_t)l4_len;
        p[6] = proto;
        p[7] = 64;
        p[8] = 0xfd;
        p[23] = 1;
        p[24] = 0xfd;
        p[39] = 2;
        return 40;
}

/* A TCP packet (20-byte header + 12 bytes of timestamp-like options) with payload bytes
 * numbered from `seq`; complete checksums unless partial (then the pseudo sum, as the
 * kernel leaves it under CHECKSUM_PARTIAL). */
static size_t build_tcp(uint8_t *p, int family, uint32_t seq, uint8_t flags, size_t payload, bool partial)
{
        size_t ip = build_ip(p, family, 6, 32 + payload), len = ip + 32 + payload;
        uint8_t *t = p + ip;

        memset(t, 0, 32);
        t[0] = 0x9c;
        t[1] = 0x40; /* 40000 */
        t[3] = 80;
        t[4] = (uint8_t)(seq >> 24);
        t[5] = (uint8_t)(seq >> 16);
        t[6] = (uint8_t)(seq >> 8);
        t[7] = (uint8_t)seq;
        t[11] = 7; /* ack */
        t[12] = 8 << 4;
        t[13] = flags;
        t[14] = 0xff;
        t[15] = 0xff;
        memcpy(t + 20, (uint8_t[]){ 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, 12);
        for (size_t i = 0; i < payload; i++)
                t[32 + i] = (uint8_t)(seq + i);
        if (family == 4) {
                p[10] = p[11] = 0;
                uint16_t c = (uint16_t)~inet_csum_fold(inet_csum_add(0, p, 20));
                p[10] = (uint8_t)(c >> 8);
                p[11] = (uint8_t)c;
        }
        uint16_t ps = inet_csum_fold(inet_pseudo_sum(p, 6, 32 + payload));
        uint16_t c = partial ? ps : (uint16_t)~inet_csum_fold(inet_csum_add(ps, t, 32 + payload));
        t[16] = (uint8_t)(c >> 8);
        t[17] = (uint8_t)c;
        return len;
}

static size_t build_udp(uint8_t *p, int family, uint8_t fill, size_t payload, bool partial)
{
        size_t ip = build_ip(p, family, 17, 8 + payload), len = ip + 8 + payload;
        uint8_t *u = p + ip;

        u[0] = 0x13;
        u[1] = 0x88;
        u[2] = 0xca;
        u[3] = 0x6c;
        u[4] = (uint8_t)((8 + payload) >> 8);
        u[5] = (uint8_t)(8 + payload);
        u[6] = u[7] = 0;
        memset(u + 8, fill, payload);
        if (family == 4) {
                uint16_t c = (uint16_t)~inet_csum_fold(inet_csum_add(0, p, 20));
                p[10] = (uint8_t)(c >> 8);
                p[11] = (uint8_t)c;
        }
        uint16_t ps = inet_csum_fold(inet_pseudo_sum(p, 17, 8 + payload));
        uint16_t c = partial ? ps : (uint16_t)~inet_csum_fold(inet_csum_add(ps, u, 8 + payload));
        u[6] = (uint8_t)(c >> 8);
        u[7] = (uint8_t)c;
        return len;
}

static void put_vnet(uint8_t *v, uint8_t flags, uint8_t type, uint16_t hdr_len, uint16_t gso,
                     uint16_t cstart, uint16_t coff)
{
        v[0] = flags;
        v[1] = type;
        memcpy(v + 2, &hdr_len, 2);
        memcpy(v + 4, &gso, 2);
        memcpy(v + 6, &cstart, 2);
        memcpy(v + 8, &coff, 2);
}

static uint32_t tcp_seq(const uint8_t *p, size_t ip)
{
        return (uint32_t)p[ip + 4] << 24 | (uint32_t)p[ip + 5] << 16 | (uint32_t)p[ip + 6] << 8 | p[ip + 7];
}

static uint8_t in[TUN_VNET_HDR_LEN + 65535];
static uint8_t out[2 * 65536];

/* A TSO super-packet (PSH|FIN set, CWR too) split into MSS-sized segments. */
static void check_tcp_split(int family)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        size_t ip = family == 4 ? 20 : 40, payload = 10000, mss = 1400;
        size_t len =
            build_tcp(in + TUN_VNET_HDR_LEN, family, 1000000, 0x10 | 0x08 | 0x01 | 0x80, payload, true);
        const char *reason = NULL;
        int n;

        put_vnet(in, 1, family == 4 ? 1 : 4, (uint16_t)(ip + 32), (uint16_t)mss, (uint16_t)ip, 16);
        n = tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, G_N_ELEMENTS(segs), &reason);
        g_assert_cmpint(n, ==, 8); /* 7 × 1400 + 200 */
        for (int i = 0; i < n; i++) {
                const uint8_t *s = out + segs[i].off;
                size_t pl = i == n - 1 ? payload - 7 * mss : mss;
                uint8_t flags = s[ip + 13];

                g_assert_cmpuint(segs[i].len, ==, ip + 32 + pl);
                g_assert_true(packet_checksums_ok(s, segs[i].len));
                g_assert_cmpuint(tcp_seq(s, ip), ==, 1000000 + i * mss);
                if (family == 4) {
                        g_assert_cmpuint((size_t)(s[2] << 8 | s[3]), ==, segs[i].len);
                        g_assert_cmpuint((unsigned)(s[4] << 8 | s[5]), ==, 0x1234u + (unsigned)i);
                } else {
                        g_assert_cmpuint((size_t)(s[4] << 8 | s[5]), ==, segs[i].len - 40);
                }
                g_assert_cmpuint(flags & 0x10, ==, 0x10);
                g_assert_cmpuint(flags & 0x09, ==, i == n - 1 ? 0x09 : 0); /* FIN|PSH only last */
                g_assert_cmpuint(flags & 0x80, ==, i == 0 ? 0x80 : 0);     /* CWR only first */
                for (size_t k = 0; k < pl; k++)
                        g_assert_cmpuint(s[ip + 32 + k], ==, (uint8_t)(1000000 + i * mss + k));
        }
}

static void test_split_tcp4(void)
{
        check_tcp_split(4);
}

static void test_split_tcp6(void)
{
        check_tcp_split(6);
}

static void check_udp_split(int family)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        size_t ip = family == 4 ? 20 : 40;
        size_t len = build_udp(in + TUN_VNET_HDR_LEN, family, 0xab, 3 * 1200 + 100, true);
        int n;

        put_vnet(in, 1, 5, (uint16_t)(ip + 8), 1200, (uint16_t)ip, 6);
        n = tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, G_N_ELEMENTS(segs), NULL);
        g_assert_cmpint(n, ==, 4);
        for (int i = 0; i < n; i++) {
                const uint8_t *s = out + segs[i].off;
                size_t pl = i == 3 ? 100 : 1200;

                g_assert_cmpuint(segs[i].len, ==, ip + 8 + pl);
                g_assert_cmpuint((size_t)(s[ip + 4] << 8 | s[ip + 5]), ==, 8 + pl);
                g_assert_true(packet_checksums_ok(s, segs[i].len));
                g_assert_cmpuint(s[ip + 8 + pl - 1], ==, 0xab);
        }
}

static void test_split_udp4(void)
{
        check_udp_split(4);
}

static void test_split_udp6(void)
{
        check_udp_split(6);
}

/* GSO_NONE with NEEDS_CSUM: the checksum is completed; without the flag: copied as is. */
static void test_split_needs_csum(void)
{
        struct tun_segment segs[4];
        size_t len = build_tcp(in + TUN_VNET_HDR_LEN, 4, 5, 0x18, 300, true);

        put_vnet(in, 1, 0, 0, 0, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 4, NULL), ==, 1);
        g_assert_cmpuint(segs[0].len, ==, len);
        g_assert_true(packet_checksums_ok(out, len));

        len = build_udp(in, 6, 1, 77, false);
        g_assert_cmpint(tun_split(in, len, false, out, sizeof(out), segs, 4, NULL), ==, 1);
        g_assert_cmpmem(out, len, in, len);
        g_assert_true(packet_checksums_ok(out, len));
}

static void test_split_rejects(void)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        const char *reason = NULL;
        size_t len = build_tcp(in + TUN_VNET_HDR_LEN, 4, 1, 0x10, 2000, true);

        /* shorter than the virtio header */
        g_assert_cmpint(tun_split(in, 5, true, out, sizeof(out), segs, 8, &reason), ==, -EINVAL);
        g_assert_nonnull(reason);
        /* gso_size 0 */
        put_vnet(in, 1, 1, 52, 0, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EINVAL);
        /* TCPv6 type on an IPv4 packet */
        put_vnet(in, 1, 4, 52, 1000, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EINVAL);
        /* unknown GSO type (UFO) */
        put_vnet(in, 1, 3, 52, 1000, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EPROTONOSUPPORT);
        /* too many segments */
        put_vnet(in, 1, 1, 52, 1, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 300, &reason),
                        ==, -EINVAL);
        /* not enough room: -ENOSPC, retryable */
        put_vnet(in, 1, 1, 52, 1000, 20, 16);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 1, &reason), ==,
                        -ENOSPC);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, 100, segs, 8, &reason), ==,
                        -ENOSPC);
        /* the IP total length beyond the read */
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + 40, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EINVAL);
        /* checksum offsets outside the packet */
        put_vnet(in, 1, 0, 0, 0, 20, 60000);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EINVAL);
        /* not IP */
        in[TUN_VNET_HDR_LEN] = 0x20;
        put_vnet(in, 0, 0, 0, 0, 0, 0);
        g_assert_cmpint(tun_split(in, TUN_VNET_HDR_LEN + len, true, out, sizeof(out), segs, 8, &reason), ==,
                        -EINVAL);
}

/* ---- coalescing: the result is split back and must equal the input ------------------- */

static uint8_t pkt_store[64][2048];

static void check_roundtrip(const uint8_t *const *pkts, const size_t *lens, size_t n, size_t expect_consumed)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        static uint8_t merged[TUN_VNET_HDR_LEN + 65535];
        size_t len = 0, consumed;
        int m;

        consumed = tun_coalesce(pkts, lens, n, 0x67, merged, sizeof(merged), &len);
        g_assert_cmpuint(consumed, ==, expect_consumed);
        m = tun_split(merged, len, true, out, sizeof(out), segs, G_N_ELEMENTS(segs), NULL);
        g_assert_cmpint(m, ==, (int)consumed);
        for (int i = 0; i < m; i++) {
                const uint8_t *orig = pkts[i];
                uint8_t *s = out + segs[i].off;

                g_assert_cmpuint(segs[i].len, ==, lens[i]);
                g_assert_true(packet_checksums_ok(s, segs[i].len));
                /* identical except the IPv4 id, which segmentation numbers from the first */
                if ((orig[0] >> 4) == 4) {
                        s[4] = orig[4];
                        s[5] = orig[5];
                        s[10] = orig[10];
                        s[11] = orig[11];
                }
                g_assert_cmpmem(s, segs[i].len, orig, lens[i]);
        }
}

static void check_tcp_coalesce(int family)
{
        const uint8_t *pkts[8];
        size_t lens[8];

        for (int i = 0; i < 5; i++) {
                size_t pl = i == 4 ? 500 : 1300;

                lens[i] = build_tcp(pkt_store[i], family, 1000 + (uint32_t)i * 1300, i == 4 ? 0x18 : 0x10,
                                    pl, false);
                pkts[i] = pkt_store[i];
        }
        /* a sixth packet after the PSH may not join */
        lens[5] = build_tcp(pkt_store[5], family, 1000 + 4 * 1300 + 500, 0x10, 1300, false);
        pkts[5] = pkt_store[5];
        check_roundtrip(pkts, lens, 6, 5);
}

static void test_coalesce_tcp4(void)
{
        check_tcp_coalesce(4);
}

static void test_coalesce_tcp6(void)
{
        check_tcp_coalesce(6);
}

static void test_coalesce_udp(void)
{
        const uint8_t *pkts[8];
        size_t lens[8];

        for (int f = 4; f <= 6; f += 2) {
                for (int i = 0; i < 4; i++) {
                        lens[i] = build_udp(pkt_store[i], f, (uint8_t)i, i == 3 ? 10 : 1200, false);
                        pkts[i] = pkt_store[i];
                }
                check_roundtrip(pkts, lens, 4, 4);
        }
}

static void test_coalesce_stops(void)
{
        const uint8_t *pkts[3] = { pkt_store[0], pkt_store[1], pkt_store[2] };
        size_t lens[3];
        uint8_t merged[TUN_VNET_HDR_LEN + 65535];
        size_t len;

        /* a sequence gap */
        lens[0] = build_tcp(pkt_store[0], 4, 0, 0x10, 1000, false);
        lens[1] = build_tcp(pkt_store[1], 4, 2000, 0x10, 1000, false);
        check_roundtrip(pkts, lens, 2, 1);
        /* a SYN first */
        lens[0] = build_tcp(pkt_store[0], 4, 0, 0x02, 1000, false);
        lens[1] = build_tcp(pkt_store[1], 4, 1000, 0x10, 1000, false);
        check_roundtrip(pkts, lens, 2, 1);
        /* a longer packet after the first */
        lens[0] = build_tcp(pkt_store[0], 6, 0, 0x10, 1000, false);
        lens[1] = build_tcp(pkt_store[1], 6, 1000, 0x10, 1200, false);
        check_roundtrip(pkts, lens, 2, 1);
        /* nothing after a short one */
        lens[0] = build_tcp(pkt_store[0], 6, 0, 0x10, 1000, false);
        lens[1] = build_tcp(pkt_store[1], 6, 1000, 0x10, 500, false);
        lens[2] = build_tcp(pkt_store[2], 6, 1500, 0x10, 500, false);
        check_roundtrip(pkts, lens, 3, 2);
        /* mixed families */
        lens[0] = build_udp(pkt_store[0], 4, 0, 100, false);
        lens[1] = build_udp(pkt_store[1], 6, 0, 100, false);
        check_roundtrip(pkts, lens, 2, 1);
        /* without the offloads negotiated: one at a time, GSO_NONE */
        lens[0] = build_udp(pkt_store[0], 4, 0, 100, false);
        lens[1] = build_udp(pkt_store[1], 4, 0, 100, false);
        g_assert_cmpuint(tun_coalesce(pkts, lens, 2, 0, merged, sizeof(merged), &len), ==, 1);
        g_assert_cmpuint(merged[1], ==, 0);
        g_assert_cmpuint(tun_coalesce(pkts, lens, 2, 0x03, merged, sizeof(merged), &len), ==, 1);
        /* no room */
        g_assert_cmpuint(tun_coalesce(pkts, lens, 2, 0x67, merged, 20, &len), ==, 0);
}

/* The word-at-a-time sum against byte pairs in network order, at every length and alignment,
 * chained onto a running sum as the split path does. */
static void test_csum_matches_bytewise(void)
{
        uint8_t data[300];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 151 + 7);
        for (size_t off = 0; off < 8; off++) {
                for (size_t len = 0; len + off <= sizeof(data); len++) {
                        uint64_t ref = 0x1234;

                        for (size_t i = 0; i < len; i += 2)
                                ref += (uint32_t)data[off + i] << 8 | (i + 1 < len ? data[off + i + 1] : 0);
                        while (ref >> 16)
                                ref = (ref & 0xffff) + (ref >> 16);
                        g_assert_cmpuint(inet_csum_fold(inet_csum_add(0x1234, data + off, len)), ==, ref);
                }
        }
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/io/tun-offload/csum-matches-bytewise", test_csum_matches_bytewise);
        g_test_add_func("/io/tun-offload/split-tcp4", test_split_tcp4);
        g_test_add_func("/io/tun-offload/split-tcp6", test_split_tcp6);
        g_test_add_func("/io/tun-offload/split-udp4", test_split_udp4);
        g_test_add_func("/io/tun-offload/split-udp6", test_split_udp6);
        g_test_add_func("/io/tun-offload/split-needs-csum", test_split_needs_csum);
        g_test_add_func("/io/tun-offload/split-rejects", test_split_rejects);
        g_test_add_func("/io/tun-offload/coalesce-tcp4", test_coalesce_tcp4);
        g_test_add_func("/io/tun-offload/coalesce-tcp6", test_coalesce_tcp6);
        g_test_add_func("/io/tun-offload/coalesce-udp", test_coalesce_udp);
        g_test_add_func("/io/tun-offload/coalesce-stops", test_coalesce_stops);
        return g_test_run();
}
