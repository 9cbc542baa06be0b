/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "backend/io/ecn.h"
#include "tests/support/test-support.h"

/* An IPv4 UDP packet with a valid header checksum and the given ECN bits. */
static size_t ipv4_packet(uint8_t *p, uint8_t ecn)
{
        static const uint8_t hdr[28] = {
                0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10,   0,
                0,    1,    10,   0,    0,    2,    0x30, 0x39, 0x01, 0xbb, 0x00, 0x08, 0x00, 0x00,
        };
        uint32_t sum = 0;

        memcpy(p, hdr, sizeof(hdr));
        p[1] = ecn;
        for (size_t i = 0; i < 20; i += 2)
                sum += (uint32_t)p[i] << 8 | p[i + 1];
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        p[10] = (uint8_t)(~sum >> 8);
        p[11] = (uint8_t)~sum;
        return sizeof(hdr);
}

static bool ipv4_header_ok(const uint8_t *p)
{
        uint32_t sum = 0;

        for (size_t i = 0; i < 20; i += 2)
                sum += (uint32_t)p[i] << 8 | p[i + 1];
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return sum == 0xffff;
}

static void test_ipv4(void)
{
        uint8_t p[28];
        size_t len;

        /* ECT(0) and ECT(1) under an outer CE become CE, with a valid header checksum. */
        for (uint8_t ect = 1; ect <= 2; ect++) {
                len = ipv4_packet(p, ect);
                g_assert_cmpuint(io_ecn_of_packet(p, len), ==, ect);
                io_ecn_decapsulate(p, len, IO_ECN_CE);
                g_assert_cmpuint(io_ecn_of_packet(p, len), ==, IO_ECN_CE);
                g_assert_true(ipv4_header_ok(p));
        }
        /* Not-ECT stays Not-ECT; an outer ECT changes nothing. */
        len = ipv4_packet(p, 0);
        io_ecn_decapsulate(p, len, IO_ECN_CE);
        g_assert_cmpuint(io_ecn_of_packet(p, len), ==, 0);
        len = ipv4_packet(p, 2);
        io_ecn_decapsulate(p, len, 1);
        g_assert_cmpuint(io_ecn_of_packet(p, len), ==, 2);
        g_assert_true(ipv4_header_ok(p));
}

static void test_ipv6_and_junk(void)
{
        uint8_t p[48] = { 0x60 | 0, 0x20 }; /* traffic class 0x02: ECT(0) */

        g_assert_cmpuint(io_ecn_of_packet(p, sizeof(p)), ==, 2);
        io_ecn_decapsulate(p, sizeof(p), IO_ECN_CE);
        g_assert_cmpuint(io_ecn_of_packet(p, sizeof(p)), ==, IO_ECN_CE);
        g_assert_cmpuint(p[0], ==, 0x60);
        /* Too short or not IP: untouched. */
        g_assert_cmpuint(io_ecn_of_packet(p, 39), ==, 0);
        memset(p, 0x42, sizeof(p));
        io_ecn_decapsulate(p, 10, IO_ECN_CE);
        g_assert_cmpuint(p[1], ==, 0x42);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/io/ecn/ipv4", test_ipv4);
        g_test_add_func("/io/ecn/ipv6-and-junk", test_ipv6_and_junk);
        return g_test_run();
}
