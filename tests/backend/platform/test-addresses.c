/* SPDX-License-Identifier: MIT */
/* backend/platform/addresses: parsing the portal's interface addresses into host routes' prefixes. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/platform/addresses.h"

static void test_parse(void)
{
        KilnIfAddress a, untouched;
        char buf[INET6_ADDRSTRLEN];

        g_assert_cmpint(kiln_if_address_parse("100.71.3.9", &a), ==, 0);
        g_assert_cmpint(a.family, ==, AF_INET);
        g_assert_cmpuint(a.prefixlen, ==, 32);
        g_assert_cmpstr(inet_ntop(AF_INET, &a.in, buf, sizeof(buf)), ==, "100.71.3.9");

        g_assert_cmpint(kiln_if_address_parse("fd00:2021:1111::a:b", &a), ==, 0);
        g_assert_cmpint(a.family, ==, AF_INET6);
        g_assert_cmpuint(a.prefixlen, ==, 128);
        g_assert_cmpstr(inet_ntop(AF_INET6, &a.in6, buf, sizeof(buf)), ==, "fd00:2021:1111::a:b");

        /* Rejects leave the output alone. */
        memset(&untouched, 0xa5, sizeof(untouched));
        a = untouched;
        for (const char *const *bad = (const char *const[]){ "", "100.71.3", "100.71.3.9/32", "fd00::/128",
                                                             " 1.2.3.4", "1.2.3.256", "example.com", NULL };
             *bad; bad++) {
                g_assert_cmpint(kiln_if_address_parse(*bad, &a), ==, -EINVAL);
                g_assert_cmpmem(&a, sizeof(a), &untouched, sizeof(untouched));
        }
        g_assert_cmpint(kiln_if_address_parse(NULL, &a), ==, -EINVAL);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/platform/addresses/parse", test_parse);
        return g_test_run();
}
