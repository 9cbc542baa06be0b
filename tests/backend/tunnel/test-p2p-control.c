/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/p2p-control.h"
#include "test-util.h"

static void test_assigned_ips_wire(void)
{
        struct kiln_p2p_message m = { .type = KILN_P2P_ASSIGNED_IPS };
        g_strlcpy(m.resource, "9a0e4b6e-0e2c-4fd0-9d3a-1f0e2b8b1a11", sizeof(m.resource));
        g_strlcpy(m.domain, "app.corp.example", sizeof(m.domain));
        m.proxy_ips[0] = ip("100.96.0.1");
        m.proxy_ips[1] = ip("fd00:2021:1111:8000::1");
        m.n_proxy_ips = 2;
        uint8_t buf[KILN_P2P_MAX_PACKET];
        ssize_t n = kiln_p2p_build(&m, buf, sizeof(buf));
        g_assert_cmpint(n, >, 48);
        /* the exact framing of spec §6.4 */
        g_assert_cmphex(buf[0], ==, 0x60);
        g_assert_cmpint(buf[6], ==, 0xff);
        g_assert_cmpint(buf[7], ==, 0);
        for (int i = 8; i < 40; i++)
                g_assert_cmpint(buf[i], ==, 0);
        g_assert_cmpint((buf[4] << 8 | buf[5]), ==, n - 40);
        g_assert_cmpint(buf[40], ==, 0);
        const char *json =
            "{\"resource\":\"9a0e4b6e-0e2c-4fd0-9d3a-1f0e2b8b1a11\",\"domain\":\"app.corp.example\","
            "\"proxy_ips\":[\"100.96.0.1\",\"fd00:2021:1111:8000::1\"]}";
        g_assert_cmpmem(buf + 48, (size_t)n - 48, json, strlen(json));
        g_assert_true(kiln_p2p_is_control(buf, (size_t)n));

        struct kiln_p2p_message back;
        g_assert_cmpint(kiln_p2p_parse(buf, (size_t)n, &back), ==, 0);
        g_assert_cmpint(back.type, ==, KILN_P2P_ASSIGNED_IPS);
        g_assert_cmpstr(back.domain, ==, m.domain);
        g_assert_cmpuint(back.n_proxy_ips, ==, 2);
        g_assert_true(kiln_ip_addr_equal(&back.proxy_ips[1], &m.proxy_ips[1]));
}

static size_t wrap(uint8_t *buf, uint8_t type, const char *json)
{
        size_t n = strlen(json);
        memset(buf, 0, 48);
        buf[0] = 0x60;
        buf[4] = (uint8_t)((8 + n) >> 8);
        buf[5] = (uint8_t)(8 + n);
        buf[6] = 0xff;
        buf[40] = type;
        memcpy(buf + 48, json, n);
        return 48 + n;
}

static void test_domain_status(void)
{
        uint8_t buf[2048];
        struct kiln_p2p_message m;
        size_t n = wrap(buf, 1,
                        " { \"status\" : \"Active\", \"domain\":\"a.b\", \"extra\": [1, {\"x\": null}],"
                        "\"resource\":\"r\\u0031\" } ");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, 0);
        g_assert_true(m.active);
        g_assert_cmpstr(m.resource, ==, "r1");
        n = wrap(buf, 1, "{\"status\":\"Whatever\",\"domain\":\"a.b\",\"resource\":\"r\"}");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, 0);
        g_assert_false(m.active); /* unknown status reads as Inactive */
        n = wrap(buf, 2, "");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, 0);
        g_assert_cmpint(m.type, ==, KILN_P2P_GOODBYE);
}

static void test_rejects(void)
{
        uint8_t buf[2048];
        struct kiln_p2p_message m = { .type = KILN_P2P_DOMAIN_STATUS };
        const char *bad[] = {
                "",
                "{",
                "{\"domain\":\"a.b\",\"resource\":\"r\"}",                         /* no status */
                "{\"status\":\"Active\",\"domain\":\"a.b\"}",                      /* no resource */
                "{\"status\":\"Active\",\"domain\":\"a.b\",\"resource\":\"r\"} x", /* trailing */
                "{\"status\":\"Active\",\"domain\":\"a\\u00e9\",\"resource\":\"r\"}",
                "{\"status\":\"Active\",\"domain\":\"a.b\",\"resource\":\"r\",\"n\":tru}",
                "{\"status\":\"Active\",\"domain\":\"a.b\",\"resource\":\"r\",\"resource\":\"s\"}",
                "{\"status\":\"Active\",\"domain\":\"a.b\",\"resource\":\"r\",\"deep\":[[[[[[[[[[1]]]]]]]]]]"
                "}",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                size_t n = wrap(buf, 1, bad[i]);
                m.resource[0] = 'Z';
                if (kiln_p2p_parse(buf, n, &m) != -EBADMSG)
                        g_error("accepted: %s", bad[i]);
        }
        size_t n =
            wrap(buf, 0, "{\"resource\":\"r\",\"domain\":\"a.b\",\"proxy_ips\":[\"1.2.3.4\",\"nope\"]}");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, -EBADMSG);
        n = wrap(buf, 0,
                 "{\"resource\":\"r\",\"domain\":\"a.b\",\"proxy_ips\":[\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\","
                 "\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\",\"1.1.1.1\"]}");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, -EBADMSG); /* 9 proxy IPs */
        n = wrap(buf, 7, "{}");
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, -EPROTONOSUPPORT);
        n = wrap(buf, 2, "");
        buf[7] = 1; /* hop limit must be 0 */
        g_assert_false(kiln_p2p_is_control(buf, n));
        n = wrap(buf, 2, "");
        buf[44] = 1; /* header bytes must be zero */
        g_assert_cmpint(kiln_p2p_parse(buf, n, &m), ==, -EBADMSG);
        n = wrap(buf, 2, "");
        g_assert_cmpint(kiln_p2p_parse(buf, n - 1, &m), ==, -EBADMSG);

        struct kiln_p2p_message out = { .type = KILN_P2P_ASSIGNED_IPS };
        g_strlcpy(out.resource, "r", sizeof(out.resource));
        g_strlcpy(out.domain, "a\"b", sizeof(out.domain));
        out.n_proxy_ips = 1;
        out.proxy_ips[0] = ip("100.96.0.1");
        g_assert_cmpint(kiln_p2p_build(&out, buf, sizeof(buf)), ==, -EINVAL);
        g_strlcpy(out.domain, "a.b", sizeof(out.domain));
        out.n_proxy_ips = 0;
        g_assert_cmpint(kiln_p2p_build(&out, buf, sizeof(buf)), ==, -EINVAL);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tunnel/p2p-control/assigned-ips-wire", test_assigned_ips_wire);
        g_test_add_func("/tunnel/p2p-control/domain-status", test_domain_status);
        g_test_add_func("/tunnel/p2p-control/rejects", test_rejects);
        return g_test_run();
}
