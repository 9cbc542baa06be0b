/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/resources.h"
#include "test-util.h"

static struct kiln_resource res(const char *id, enum kiln_resource_type type, const char *address)
{
        struct kiln_resource r = { .type = type };
        g_strlcpy(r.id, id, sizeof(r.id));
        g_strlcpy(r.address, address, sizeof(r.address));
        return r;
}

static void test_patterns(void)
{
        struct {
                const char *pattern, *name;
                gboolean match;
        } cases[] = {
                { "app.example.com", "app.example.com", TRUE },
                { "app.example.com", "APP.Example.com.", TRUE },
                { "app.example.com", "x.app.example.com", FALSE },
                { "*.example.com", "example.com", TRUE },
                { "*.example.com", "a.example.com", TRUE },
                { "*.example.com", "a.b.example.com", FALSE },
                { "**.example.com", "example.com", TRUE },
                { "**.example.com", "a.b.c.example.com", TRUE },
                { "**.example.com", "example.org", FALSE },
                { "?.httpbin", "a.httpbin", TRUE },
                { "?.httpbin", "ab.httpbin", FALSE },
                { "?.httpbin", "httpbin", FALSE },
                { "web-??.corp", "web-01.corp", TRUE },
                { "web-*.corp", "web-frontend.corp", TRUE },
                { "web-*.corp", "db.corp", FALSE },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                if (kiln_dns_pattern_match(cases[i].pattern, cases[i].name) != cases[i].match)
                        g_error("%s vs %s: expected %d", cases[i].pattern, cases[i].name, cases[i].match);
        }
        g_assert_false(kiln_dns_pattern_valid("a..b"));
        g_assert_false(kiln_dns_pattern_valid("a b.c"));
        g_assert_true(kiln_dns_pattern_valid("**.x.y"));
}

static void test_lookup(void)
{
        struct kiln_resources *t = kiln_resources_new();
        struct kiln_resource r = res("wide", KILN_RESOURCE_CIDR, "10.0.0.0/8");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        r = res("narrow", KILN_RESOURCE_CIDR, "10.1.0.0/16");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        r = res("v6", KILN_RESOURCE_CIDR, "fd10::/64");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        r = res("net", KILN_RESOURCE_INTERNET, "");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        r = res("dns", KILN_RESOURCE_DNS, "*.corp.example");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        r = res("dns-exact", KILN_RESOURCE_DNS, "db.corp.example");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);

        r = res("bad", KILN_RESOURCE_CIDR, "10.1.2.3/16");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, -EINVAL);
        r = res("bad", KILN_RESOURCE_DNS, "a..b");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, -EINVAL);
        r = res("", KILN_RESOURCE_CIDR, "10.0.0.0/8");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, -EINVAL);
        g_assert_cmpuint(kiln_resources_count(t), ==, 6);

        struct kiln_ip_addr a = ip("10.1.2.3");
        g_assert_cmpstr(kiln_resources_lookup_ip(t, &a)->id, ==, "narrow");
        a = ip("10.2.0.1");
        g_assert_cmpstr(kiln_resources_lookup_ip(t, &a)->id, ==, "wide");
        a = ip("fd10::5");
        g_assert_cmpstr(kiln_resources_lookup_ip(t, &a)->id, ==, "v6");
        a = ip("8.8.8.8");
        g_assert_null(kiln_resources_lookup_ip(t, &a)); /* Internet resource off */
        kiln_resources_set_internet_enabled(t, true);
        g_assert_cmpstr(kiln_resources_lookup_ip(t, &a)->id, ==, "net");
        a = ip("100.64.0.9"); /* a tunnel address never goes to the Internet resource */
        g_assert_null(kiln_resources_lookup_ip(t, &a));
        a = ip("100.96.0.9");
        g_assert_null(kiln_resources_lookup_ip(t, &a));

        g_assert_cmpstr(kiln_resources_match_name(t, "db.corp.example")->id, ==, "dns-exact");
        g_assert_cmpstr(kiln_resources_match_name(t, "web.corp.example")->id, ==, "dns");
        g_assert_null(kiln_resources_match_name(t, "web.other.example"));

        g_assert_cmpstr(kiln_resources_gateway(t, "narrow"), ==, "");
        g_assert_cmpint(kiln_resources_set_gateway(t, "narrow", "gw-1"), ==, 0);
        g_assert_cmpstr(kiln_resources_gateway(t, "narrow"), ==, "gw-1");
        /* an update with the same sites keeps the gateway, a site change drops it */
        r = res("narrow", KILN_RESOURCE_CIDR, "10.1.0.0/16");
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        g_assert_cmpstr(kiln_resources_gateway(t, "narrow"), ==, "gw-1");
        g_strlcpy(r.sites[0], "site-b", sizeof(r.sites[0]));
        r.n_sites = 1;
        g_assert_cmpint(kiln_resources_upsert(t, &r), ==, 0);
        g_assert_cmpstr(kiln_resources_gateway(t, "narrow"), ==, "");
        g_assert_cmpint(kiln_resources_remove(t, "narrow"), ==, 0);
        g_assert_cmpint(kiln_resources_remove(t, "narrow"), ==, -ENOENT);
        a = ip("10.1.2.3");
        g_assert_cmpstr(kiln_resources_lookup_ip(t, &a)->id, ==, "wide");
        kiln_resources_free(t);
}

static void test_filters(void)
{
        struct kiln_filter f[] = {
                { KILN_IPPROTO_TCP, 80, 80 },
                { KILN_IPPROTO_UDP, 5000, 5100 },
        };
        uint8_t buf[256];
        struct kiln_packet p;
        size_t n;

        n = make_packet(buf, sizeof(buf), "100.64.0.1", "10.0.0.1", KILN_IPPROTO_TCP, 1234, 80, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_true(kiln_filters_allow(f, 2, &p));
        g_assert_true(kiln_filters_allow(f, 0, &p));
        n = make_packet(buf, sizeof(buf), "100.64.0.1", "10.0.0.1", KILN_IPPROTO_TCP, 1234, 81, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_false(kiln_filters_allow(f, 2, &p));
        n = make_packet(buf, sizeof(buf), "100.64.0.1", "10.0.0.1", KILN_IPPROTO_UDP, 1234, 5100, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_true(kiln_filters_allow(f, 2, &p));
        n = make_packet(buf, sizeof(buf), "100.64.0.1", "10.0.0.1", KILN_IPPROTO_UDP, 1234, 80, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_false(kiln_filters_allow(f, 2, &p)); /* UDP 80 is not TCP 80 */
        n = make_packet(buf, sizeof(buf), "100.64.0.1", "10.0.0.1", KILN_IPPROTO_ICMP, 1, 1, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_false(kiln_filters_allow(f, 2, &p));
        struct kiln_filter icmp = { KILN_IPPROTO_ICMP };
        g_assert_true(kiln_filters_allow(&icmp, 1, &p));
        n = make_packet(buf, sizeof(buf), "fd00::1", "fd00::2", KILN_IPPROTO_ICMPV6, 1, 1, NULL);
        kiln_packet_parse(buf, n, &p);
        g_assert_true(kiln_filters_allow(&icmp, 1, &p));
}

static void test_address_plan(void)
{
        struct kiln_ip_addr a = ip("100.100.111.1");
        g_assert_true(kiln_addr_is_sentinel(&a));
        g_assert_false(kiln_addr_is_proxy(&a));
        a = ip("100.96.0.1");
        g_assert_true(kiln_addr_is_proxy(&a));
        a = ip("100.127.255.255");
        g_assert_true(kiln_addr_is_proxy(&a));
        a = ip("100.128.0.0");
        g_assert_false(kiln_addr_is_proxy(&a));
        a = ip("100.95.255.255");
        g_assert_true(kiln_addr_is_tunnel(&a));
        a = ip("fd00:2021:1111:8000:100:100:111:5");
        g_assert_true(kiln_addr_is_sentinel(&a));
        a = ip("fd00:2021:1111:8000::3");
        g_assert_true(kiln_addr_is_proxy(&a));
        a = ip("fd00:2021:1111::3");
        g_assert_true(kiln_addr_is_tunnel(&a));
}

static void test_routes(void)
{
        struct kiln_resources *t = kiln_resources_new();
        struct kiln_ip_prefix out[16];
        g_assert_cmpuint(kiln_resources_routes(t, out, 16), ==, 6);
        struct kiln_resource r = res("a", KILN_RESOURCE_CIDR, "10.0.0.0/8");
        kiln_resources_upsert(t, &r);
        r = res("b", KILN_RESOURCE_CIDR, "10.0.0.0/8"); /* same network: one route */
        kiln_resources_upsert(t, &r);
        r = res("c", KILN_RESOURCE_CIDR, "fd10::/64");
        kiln_resources_upsert(t, &r);
        r = res("d", KILN_RESOURCE_DNS, "x.example");
        kiln_resources_upsert(t, &r);
        r = res("net", KILN_RESOURCE_INTERNET, "");
        kiln_resources_upsert(t, &r);
        g_assert_cmpuint(kiln_resources_routes(t, out, 16), ==, 8);
        g_assert_cmpuint(out[6].prefix, ==, 8);
        g_assert_cmpuint(out[7].prefix, ==, 64);
        kiln_resources_set_internet_enabled(t, true);
        g_assert_cmpuint(kiln_resources_routes(t, out, 16), ==, 10);
        g_assert_cmpuint(out[8].prefix, ==, 0);
        g_assert_cmpint(out[8].net.family, ==, 4);
        g_assert_cmpint(out[9].net.family, ==, 6);
        g_assert_cmpuint(kiln_resources_routes(t, out, 3), ==, 10); /* count even when cut */
        char buf[64];
        g_assert_cmpstr(kiln_ip_addr_format(&out[0].net, buf, sizeof(buf)), ==, "100.64.0.0");
        g_assert_cmpuint(out[0].prefix, ==, 11);
        kiln_resources_free(t);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tunnel/resources/patterns", test_patterns);
        g_test_add_func("/tunnel/resources/lookup", test_lookup);
        g_test_add_func("/tunnel/resources/filters", test_filters);
        g_test_add_func("/tunnel/resources/address-plan", test_address_plan);
        g_test_add_func("/tunnel/resources/routes", test_routes);
        return g_test_run();
}
