/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "backend/wireguard/allowedips.h"

static struct wg_allowed_ip ip(const char *text, uint8_t cidr)
{
        struct wg_allowed_ip r = { .cidr = cidr };

        r.family = strchr(text, ':') ? AF_INET6 : AF_INET;
        g_assert_cmpint(inet_pton(r.family, text, r.addr), ==, 1);
        return r;
}

static void *lookup(struct wg_allowedips *t, const char *text)
{
        struct wg_allowed_ip a = ip(text, 0);

        return wg_allowedips_lookup(t, a.family, a.addr);
}

static int collect(const struct wg_allowed_ip *a, void *userdata)
{
        char buf[INET6_ADDRSTRLEN];

        inet_ntop(a->family, a->addr, buf, sizeof(buf));
        g_string_append_printf(userdata, "%s/%u ", buf, a->cidr);
        return 0;
}

static void test_longest_prefix(void)
{
        struct wg_allowedips t;
        int p1, p2, p3;
        struct wg_allowed_ip a;

        wg_allowedips_init(&t);
        a = ip("10.0.0.0", 8);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p1), ==, 0);
        a = ip("10.1.0.0", 16);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p2), ==, 0);
        a = ip("10.1.2.3", 32);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p3), ==, 0);
        a = ip("::", 0);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p1), ==, 0);
        a = ip("fd00::", 64);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p2), ==, 0);
        a = ip("10.0.0.0", 33);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p2), ==, -EINVAL);

        g_assert_true(lookup(&t, "10.9.9.9") == &p1);
        g_assert_true(lookup(&t, "10.1.9.9") == &p2);
        g_assert_true(lookup(&t, "10.1.2.3") == &p3);
        g_assert_true(lookup(&t, "10.1.2.4") == &p2);
        g_assert_null(lookup(&t, "11.0.0.1"));
        g_assert_true(lookup(&t, "fd00::1") == &p2);
        g_assert_true(lookup(&t, "fd01::1") == &p1);

        /* A prefix moves to the peer that adds it last. */
        a = ip("10.1.0.0", 16);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p1), ==, 0);
        g_assert_true(lookup(&t, "10.1.9.9") == &p1);

        g_autoptr(GString) s = g_string_new(NULL);
        wg_allowedips_foreach_peer(&t, &p1, collect, s);
        g_assert_cmpstr(s->str, ==, "10.0.0.0/8 10.1.0.0/16 ::/0 ");

        wg_allowedips_remove_peer(&t, &p1);
        g_assert_null(lookup(&t, "10.9.9.9"));
        g_assert_true(lookup(&t, "10.1.2.3") == &p3);
        g_assert_null(lookup(&t, "fd01::1"));
        g_assert_true(lookup(&t, "fd00::1") == &p2);
        wg_allowedips_free(&t);
}

static void test_host_bits_cleared(void)
{
        struct wg_allowedips t;
        int p;
        struct wg_allowed_ip a = ip("192.168.1.77", 24);

        wg_allowedips_init(&t);
        g_assert_cmpint(wg_allowedips_insert(&t, &a, &p), ==, 0);
        g_autoptr(GString) s = g_string_new(NULL);
        wg_allowedips_foreach_peer(&t, &p, collect, s);
        g_assert_cmpstr(s->str, ==, "192.168.1.0/24 ");
        wg_allowedips_free(&t);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/wireguard/allowedips/longest-prefix", test_longest_prefix);
        g_test_add_func("/wireguard/allowedips/host-bits-cleared", test_host_bits_cleared);
        return g_test_run();
}
