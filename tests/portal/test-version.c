/* SPDX-License-Identifier: MIT */
#include "tests/portal/version.h"

static void test_parse(void)
{
        guint v[3] = { 0 };

        g_assert_true(tp_version_parse("1.5.17", v));
        g_assert_cmpuint(v[0], ==, 1);
        g_assert_cmpuint(v[1], ==, 5);
        g_assert_cmpuint(v[2], ==, 17);
        g_assert_false(tp_version_parse("1.5", v));
        g_assert_false(tp_version_parse("1.5.x", v));
        g_assert_false(tp_version_parse("1..5", v));
        g_assert_false(tp_version_parse("1.5.17-rc1", v));
        g_assert_false(tp_version_parse("1.5.1234567890", v));
        g_assert_false(tp_version_parse(NULL, v));
}

static void test_sites(void)
{
        g_assert_true(tp_client_uses_sites("gui-client", "1.5.17"));
        g_assert_true(tp_client_uses_sites("gui-client", "1.5.10"));
        g_assert_false(tp_client_uses_sites("gui-client", "1.5.9"));
        g_assert_true(tp_client_uses_sites("headless-client", "1.5.6"));
        g_assert_false(tp_client_uses_sites("headless-client", "1.5.5"));
        g_assert_true(tp_client_uses_sites("apple-client", "1.6.0"));
        g_assert_false(tp_client_uses_sites("android-client", "1.4.99"));
        g_assert_false(tp_client_uses_sites("connlib", "1.5.17"));
}

static void test_gateway(void)
{
        g_assert_true(tp_gateway_compatible("1.5.17", "1.4.0"));
        g_assert_true(tp_gateway_compatible("1.5.17", "1.6.9"));
        g_assert_false(tp_gateway_compatible("1.5.17", "1.3.9"));
        g_assert_false(tp_gateway_compatible("1.5.17", "1.7.0"));
        g_assert_false(tp_gateway_compatible("1.5.17", "2.5.0"));
        g_assert_true(tp_gateway_compatible("1.0.3", "1.0.0"));
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/version/parse", test_parse);
        g_test_add_func("/portal/version/sites", test_sites);
        g_test_add_func("/portal/version/gateway", test_gateway);
        return g_test_run();
}
