/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/packet.h"
#include "test-util.h"

/* An IPv4/UDP packet captured from Linux (ping-like DNS query), checksums as the kernel made them. */
static const uint8_t captured_udp4[] = {
        0x45, 0x00, 0x00, 0x21, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x0a,
        0x00, 0x00, 0x02, 0x30, 0x39, 0x00, 0x35, 0x00, 0x0d, 0x00, 0x00, 'h',  'e',  'l',  'l',  'o',
};

static void test_checksum_rfc1071(void)
{
        /* RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, complement 220d. */
        const uint8_t d[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
        g_assert_cmphex(kiln_csum_fold(kiln_csum_add(0, d, sizeof(d))), ==, 0x220d);
        /* odd length pads with zero */
        const uint8_t o[] = { 0xab };
        g_assert_cmphex(kiln_csum_fold(kiln_csum_add(0, o, 1)), ==, (uint16_t)~0xab00);
}

static void test_fix_and_verify(void)
{
        uint8_t p[sizeof(captured_udp4)];
        memcpy(p, captured_udp4, sizeof(p));
        g_assert_cmpint(kiln_packet_fix_checksums(p, sizeof(p)), ==, 0);
        /* Independently computed: IPv4 header checksum of this header. */
        uint32_t sum = 0;
        for (int i = 0; i < 20; i += 2)
                sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        g_assert_cmphex(sum, ==, 0xffff);
        g_assert_true(kiln_packet_checksums_ok(p, sizeof(p)));
        p[30] ^= 1; /* flip a payload bit */
        g_assert_false(kiln_packet_checksums_ok(p, sizeof(p)));
}

static void test_parse_udp4(void)
{
        uint8_t buf[256];
        size_t n =
            make_packet(buf, sizeof(buf), "10.0.0.1", "10.0.0.2", KILN_IPPROTO_UDP, 12345, 53, "hello");
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, 0);
        g_assert_cmpint(p.version, ==, 4);
        g_assert_cmpint(p.proto, ==, KILN_IPPROTO_UDP);
        g_assert_true(p.has_ports);
        g_assert_cmpint(p.sport, ==, 12345);
        g_assert_cmpint(p.dport, ==, 53);
        g_assert_cmpuint(p.len, ==, 20 + 8 + 5);
        g_assert_true(kiln_packet_checksums_ok(buf, n));
        struct kiln_ip_addr a = ip("10.0.0.2");
        g_assert_true(kiln_ip_addr_equal(&p.dst, &a));
}

static void test_parse_tcp6_icmp6(void)
{
        uint8_t buf[256];
        size_t n = make_packet(buf, sizeof(buf), "fd00::1", "fd00::2", KILN_IPPROTO_TCP, 40000, 443, "x");
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, 0);
        g_assert_cmpint(p.version, ==, 6);
        g_assert_cmpint(p.tcp_flags, ==, KILN_TCP_SYN);
        g_assert_cmpint(p.dport, ==, 443);
        g_assert_true(kiln_packet_checksums_ok(buf, n));

        n = make_packet(buf, sizeof(buf), "fd00::1", "fd00::2", KILN_IPPROTO_ICMPV6, 7, 1, "ping");
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, 0);
        g_assert_true(p.is_icmp);
        g_assert_false(p.icmp_error);
        g_assert_cmpint(p.icmp_type, ==, 128);
        g_assert_cmpint(p.icmp_id, ==, 7);
        g_assert_true(kiln_packet_checksums_ok(buf, n));
}

static void test_rejects(void)
{
        uint8_t buf[256];
        struct kiln_packet p;
        size_t n = make_packet(buf, sizeof(buf), "10.0.0.1", "10.0.0.2", KILN_IPPROTO_UDP, 1, 2, "abc");

        g_assert_cmpint(kiln_packet_parse(buf, 0, &p), ==, -EBADMSG);
        g_assert_cmpint(kiln_packet_parse(buf, 19, &p), ==, -EBADMSG);
        g_assert_cmpint(kiln_packet_parse(buf, n - 1, &p), ==, -EBADMSG); /* total length > data */
        uint8_t bad[256];
        memcpy(bad, buf, n);
        bad[10] ^= 0xff; /* header checksum */
        g_assert_cmpint(kiln_packet_parse(bad, n, &p), ==, -EBADMSG);
        memcpy(bad, buf, n);
        bad[0] = 0x44; /* IHL 4 */
        g_assert_cmpint(kiln_packet_parse(bad, n, &p), ==, -EBADMSG);
        memcpy(bad, buf, n);
        bad[0] = 0x55; /* version 5 */
        g_assert_cmpint(kiln_packet_parse(bad, n, &p), ==, -EBADMSG);
        memcpy(bad, buf, n);
        bad[24] = 0xff; /* UDP length beyond the packet */
        g_assert_cmpint(kiln_packet_parse(bad, n, &p), ==, -EBADMSG);

        /* IPv6 with a loop of 9 hop-by-hop headers is refused. */
        uint8_t v6[40 + 9 * 8] = { 0x60 };
        v6[4] = 0;
        v6[5] = 9 * 8;
        v6[6] = 0;
        for (int i = 0; i < 9; i++)
                v6[40 + i * 8] = 0;
        g_assert_cmpint(kiln_packet_parse(v6, sizeof(v6), &p), ==, -EBADMSG);
        /* A TCP header shorter than 20 bytes. */
        n = make_packet(buf, sizeof(buf), "10.0.0.1", "10.0.0.2", KILN_IPPROTO_UDP, 1, 2, NULL);
        buf[9] = KILN_IPPROTO_TCP;
        kiln_packet_fix_checksums(buf, n);
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, -EBADMSG);
}

static void check_unreachable(const char *src, const char *dst, uint8_t proto,
                              enum kiln_icmp_unreachable kind, uint8_t type, uint8_t code)
{
        uint8_t orig[256], out[1280];
        size_t n = make_packet(orig, sizeof(orig), src, dst, proto, 5555, 8080, "payload-that-is-long");
        ssize_t m = kiln_packet_icmp_unreachable(orig, n, kind, out, sizeof(out));
        g_assert_cmpint(m, >, 0);
        struct kiln_packet p, o;
        g_assert_cmpint(kiln_packet_parse(out, (size_t)m, &p), ==, 0);
        g_assert_cmpint(kiln_packet_parse(orig, n, &o), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.src, &o.dst));
        g_assert_true(kiln_ip_addr_equal(&p.dst, &o.src));
        g_assert_cmpint(p.ttl, ==, 20);
        g_assert_true(p.icmp_error);
        g_assert_cmpint(p.icmp_type, ==, type);
        g_assert_cmpint(p.icmp_code, ==, code);
        g_assert_cmpuint(p.l4_len, ==, 8 + o.l3_len + 8); /* header + original IP header + 8 bytes */
        g_assert_cmpmem(p.l4 + 8, o.l3_len + 8, orig, o.l3_len + 8);
        g_assert_true(kiln_packet_checksums_ok(out, (size_t)m));
        /* Never an error about an error. */
        g_assert_cmpint(kiln_packet_icmp_unreachable(out, (size_t)m, kind, orig, sizeof(orig)), ==, -EINVAL);
}

static void test_icmp_prohibited(void)
{
        check_unreachable("100.64.0.1", "10.0.0.9", KILN_IPPROTO_TCP, KILN_ICMP_PROHIBITED, 3, 13);
        check_unreachable("fd00:2021:1111::1", "fd00::9", KILN_IPPROTO_UDP, KILN_ICMP_PROHIBITED, 1, 1);
        check_unreachable("100.64.0.1", "10.0.0.9", KILN_IPPROTO_UDP, KILN_ICMP_NET_UNREACHABLE, 3, 0);
        check_unreachable("fd00:2021:1111::1", "fd00::9", KILN_IPPROTO_TCP, KILN_ICMP_NET_UNREACHABLE, 1, 3);
}

static void test_rewrite(void)
{
        uint8_t buf[256];
        size_t n =
            make_packet(buf, sizeof(buf), "100.64.0.1", "100.96.0.1", KILN_IPPROTO_TCP, 1000, 80, "GET");
        struct kiln_ip_addr real = ip("192.0.2.7");
        g_assert_cmpint(kiln_packet_rewrite(buf, n, NULL, &real, 1001, -1), ==, 0);
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.dst, &real));
        g_assert_cmpint(p.sport, ==, 1001);
        g_assert_cmpint(p.dport, ==, 80);
        g_assert_true(kiln_packet_checksums_ok(buf, n));
        struct kiln_ip_addr v6 = ip("fd00::1");
        g_assert_cmpint(kiln_packet_rewrite(buf, n, &v6, NULL, -1, -1), ==, -EINVAL);

        n = make_packet(buf, sizeof(buf), "100.64.0.1", "100.96.0.1", KILN_IPPROTO_ICMP, 77, 1, "ping");
        g_assert_cmpint(kiln_packet_rewrite(buf, n, NULL, &real, 78, -1), ==, 0);
        g_assert_cmpint(kiln_packet_parse(buf, n, &p), ==, 0);
        g_assert_cmpint(p.icmp_id, ==, 78);
        g_assert_true(kiln_packet_checksums_ok(buf, n));
}

static void test_prefix(void)
{
        struct kiln_ip_addr net, a;
        unsigned prefix;
        g_assert_cmpint(kiln_ip_prefix_parse("10.1.0.0/16", &net, &prefix), ==, 0);
        g_assert_cmpuint(prefix, ==, 16);
        a = ip("10.1.200.3");
        g_assert_true(kiln_ip_addr_in_prefix(&a, &net, prefix));
        a = ip("10.2.0.1");
        g_assert_false(kiln_ip_addr_in_prefix(&a, &net, prefix));
        g_assert_cmpint(kiln_ip_prefix_parse("10.1.0.1/16", &net, &prefix), ==, -EINVAL); /* host bits */
        g_assert_cmpint(kiln_ip_prefix_parse("10.1.0.0/33", &net, &prefix), ==, -EINVAL);
        g_assert_cmpint(kiln_ip_prefix_parse("10.1.0.0/", &net, &prefix), ==, -EINVAL);
        g_assert_cmpint(kiln_ip_prefix_parse("fd00:2021:1111::/107", &net, &prefix), ==, 0);
        g_assert_cmpuint(prefix, ==, 107);
        g_assert_cmpint(kiln_ip_prefix_parse("1.2.3.4", &net, &prefix), ==, 0);
        g_assert_cmpuint(prefix, ==, 32);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tunnel/packet/checksum-rfc1071", test_checksum_rfc1071);
        g_test_add_func("/tunnel/packet/fix-and-verify", test_fix_and_verify);
        g_test_add_func("/tunnel/packet/parse-udp4", test_parse_udp4);
        g_test_add_func("/tunnel/packet/parse-tcp6-icmp6", test_parse_tcp6_icmp6);
        g_test_add_func("/tunnel/packet/rejects", test_rejects);
        g_test_add_func("/tunnel/packet/icmp-unreachable", test_icmp_prohibited);
        g_test_add_func("/tunnel/packet/rewrite", test_rewrite);
        g_test_add_func("/tunnel/packet/prefix", test_prefix);
        return g_test_run();
}
