/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/dns-message.h"

/* A reply as dig/BIND put it on the wire: www.example.com A, with a compressed CNAME chain. */
static const uint8_t reply[] = {
        0xab,
        0xcd,
        0x81,
        0x80,
        0x00,
        0x01,
        0x00,
        0x02,
        0x00,
        0x00,
        0x00,
        0x00,
        /* question: www.example.com A IN (offset 12) */
        3,
        'w',
        'w',
        'w',
        7,
        'e',
        'x',
        'a',
        'm',
        'p',
        'l',
        'e',
        3,
        'c',
        'o',
        'm',
        0,
        0x00,
        0x01,
        0x00,
        0x01,
        /* answer 1: ptr to 12, CNAME, target "web" + ptr to 16 (example.com) */
        0xc0,
        0x0c,
        0x00,
        0x05,
        0x00,
        0x01,
        0x00,
        0x00,
        0x0e,
        0x10,
        0x00,
        0x06,
        3,
        'w',
        'e',
        'b',
        0xc0,
        0x10,
        /* answer 2: ptr to the CNAME target (offset 45), A 93.184.216.34 */
        0xc0,
        0x2d,
        0x00,
        0x01,
        0x00,
        0x01,
        0x00,
        0x00,
        0x0e,
        0x10,
        0x00,
        0x04,
        93,
        184,
        216,
        34,
};

static void test_parse_reply(void)
{
        static struct kiln_dns_message m;
        g_assert_cmpint(kiln_dns_parse(reply, sizeof(reply), &m), ==, 0);
        g_assert_cmphex(m.id, ==, 0xabcd);
        g_assert_cmpint(kiln_dns_rcode(&m), ==, 0);
        g_assert_cmpstr(m.questions[0].name, ==, "www.example.com");
        g_assert_cmpuint(m.n_answers, ==, 2);
        g_assert_cmpint(m.answers[0].type, ==, KILN_DNS_TYPE_CNAME);
        g_assert_cmpstr(m.answers[0].target, ==, "web.example.com");
        g_assert_cmpstr(m.answers[1].name, ==, "web.example.com");
        g_assert_cmpuint(m.answers[1].ttl, ==, 3600);
        const uint8_t want[4] = { 93, 184, 216, 34 };
        g_assert_cmpmem(m.answers[1].addr, 4, want, 4);
}

static void test_rejects(void)
{
        static struct kiln_dns_message m;
        uint8_t b[sizeof(reply)];

        /* every truncation is refused */
        for (size_t n = 0; n < sizeof(reply); n++)
                g_assert_cmpint(kiln_dns_parse(reply, n, &m), <, 0);
        /* trailing garbage */
        uint8_t longer[sizeof(reply) + 1];
        memcpy(longer, reply, sizeof(reply));
        longer[sizeof(reply)] = 0;
        g_assert_cmpint(kiln_dns_parse(longer, sizeof(longer), &m), ==, -EBADMSG);
        /* a forward pointer */
        memcpy(b, reply, sizeof(b));
        b[33] = 0x30;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -EBADMSG);
        /* a pointer to itself */
        memcpy(b, reply, sizeof(b));
        b[33] = 33;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -EBADMSG);
        /* A record with rdlength 5 */
        memcpy(b, reply, sizeof(b));
        b[sizeof(b) - 5] = 5;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -EBADMSG);
        /* label type 0x40 */
        memcpy(b, reply, sizeof(b));
        b[12] = 0x43;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -EBADMSG);
        /* too many questions */
        memcpy(b, reply, sizeof(b));
        b[5] = KILN_DNS_MAX_QUESTIONS + 1;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -E2BIG);
        /* a reject leaves the output untouched */
        m.id = 0x1111;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), <, 0);
        g_assert_cmphex(m.id, ==, 0x1111);
}

static void test_pointer_loop(void)
{
        /* Label "abcde" then a pointer back to it: a loop that must end in a reject. */
        uint8_t b[12 + 8 + 4] = { 0, 1, 0, 0, 0, 1 };
        b[12] = 5;
        memcpy(b + 13, "abcde", 5);
        b[18] = 0xc0;
        b[19] = 12;
        static struct kiln_dns_message m;
        g_assert_cmpint(kiln_dns_parse(b, sizeof(b), &m), ==, -EBADMSG);
}

static void test_build_roundtrip(void)
{
        uint8_t buf[512];
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, buf, sizeof(buf), 0x1234, KILN_DNS_FLAG_QR | KILN_DNS_FLAG_RD);
        kiln_dns_add_question(&b, "svc.Corp.example", KILN_DNS_TYPE_SRV, KILN_DNS_CLASS_IN);
        const uint8_t aaaa[16] = { 0xfd, 0, 0x20, 0x21, 0x11, 0x11, 0x80, 0, [15] = 1 };
        kiln_dns_add_rr(&b, "svc.Corp.example", KILN_DNS_TYPE_AAAA, 1, aaaa, 16);
        kiln_dns_add_name_rr(&b, "1.0.0.127.in-addr.arpa", KILN_DNS_TYPE_PTR, 60, "host.example");
        const uint8_t txt[] = { 3, 'a', 'b', 'c', 0 };
        kiln_dns_add_rr(&b, "t.example", KILN_DNS_TYPE_TXT, 5, txt, sizeof(txt));
        ssize_t n = kiln_dns_builder_finish(&b);
        g_assert_cmpint(n, >, 0);
        static struct kiln_dns_message m;
        g_assert_cmpint(kiln_dns_parse(buf, (size_t)n, &m), ==, 0);
        g_assert_cmpuint(m.ancount, ==, 3);
        g_assert_true(kiln_dns_name_equal(m.questions[0].name, "SVC.corp.EXAMPLE"));
        g_assert_cmpmem(m.answers[0].addr, 16, aaaa, 16);
        g_assert_cmpstr(m.answers[1].target, ==, "host.example");
        g_assert_cmpuint(m.answers[2].rdlength, ==, sizeof(txt));

        /* names the builder refuses */
        kiln_dns_builder_init(&b, buf, sizeof(buf), 1, 0);
        kiln_dns_add_question(&b, "a..b", 1, 1);
        g_assert_cmpint(kiln_dns_builder_finish(&b), ==, -EINVAL);
        kiln_dns_builder_init(&b, buf, 20, 1, 0);
        kiln_dns_add_question(&b, "much-too-long-for-twenty-bytes.example", 1, 1);
        g_assert_cmpint(kiln_dns_builder_finish(&b), ==, -ENOBUFS);
}

static void test_tcp_framing(void)
{
        uint8_t msg[3] = { 1, 2, 3 }, buf[8];
        g_assert_cmpint(kiln_dns_tcp_frame(msg, 3, buf, sizeof(buf)), ==, 5);
        g_assert_cmpint(buf[0], ==, 0);
        g_assert_cmpint(buf[1], ==, 3);
        const uint8_t *out;
        size_t len;
        g_assert_cmpuint(kiln_dns_tcp_unframe(buf, 4, &out, &len), ==, 0); /* incomplete */
        g_assert_cmpuint(kiln_dns_tcp_unframe(buf, 5, &out, &len), ==, 5);
        g_assert_cmpuint(len, ==, 3);
        g_assert_cmpmem(out, 3, msg, 3);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tunnel/dns-message/parse-reply", test_parse_reply);
        g_test_add_func("/tunnel/dns-message/rejects", test_rejects);
        g_test_add_func("/tunnel/dns-message/pointer-loop", test_pointer_loop);
        g_test_add_func("/tunnel/dns-message/build-roundtrip", test_build_roundtrip);
        g_test_add_func("/tunnel/dns-message/tcp-framing", test_tcp_framing);
        return g_test_run();
}
