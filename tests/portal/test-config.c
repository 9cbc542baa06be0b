/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "tests/portal/config.h"
#include "tests/support/test-support.h"

static void test_demo_config(void)
{
        g_autofree char *path = kiln_test_source_path("tests/portal/demo.json");
        g_autoptr(GError) error = NULL;
        g_autoptr(TpConfig) c = tp_config_load_file(path, &error);
        const TpAccount *a;
        const TpUser *alice, *bob;
        const TpResource *intranet, *lan;
        const TpAccount *gw_account = NULL;

        g_assert_no_error(error);
        g_assert_nonnull(c);
        g_assert_true(c->has_secret);
        a = tp_config_find_account(c, "demo");
        g_assert_nonnull(a);
        alice = tp_account_find_user(a, "Alice@Example.com");
        bob = tp_account_find_user(a, "bob@example.com");
        g_assert_nonnull(alice);
        g_assert_nonnull(bob);
        intranet = g_ptr_array_index(a->resources, 0);
        lan = g_ptr_array_index(a->resources, 1);
        g_assert_cmpstr(intranet->name, ==, "Intranet");
        g_assert_true(tp_account_user_may_access(a, bob, intranet));
        g_assert_false(tp_account_user_may_access(a, bob, lan));
        g_assert_true(tp_account_user_may_access(a, alice, lan));
        g_assert_nonnull(tp_config_find_gateway_by_token(c, "demo-gateway-token-hq-1", &gw_account));
        g_assert_true(gw_account == a);
        g_assert_null(tp_config_find_gateway_by_token(c, "demo-gateway-token-hq-2", &gw_account));
        g_assert_cmpuint(c->relays->len, ==, 1);
        g_assert_cmpstr(((TpRelay *)g_ptr_array_index(c->relays, 0))->realm, ==, "firezone");
}

static const char *base_account(void)
{
        return "\"slug\":\"a\",\"name\":\"A\",\"users\":[{\"email\":\"u@x\",\"password\":\"p\",\"name\":"
               "\"U\"}],"
               "\"sites\":[{\"name\":\"S\"}]";
}

static void expect_reject(const char *json, const char *reason)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(TpConfig) c = tp_config_load_data(json, -1, &error);

        g_assert_null(c);
        g_assert_nonnull(error);
        if (!strstr(error->message, reason))
                g_error("expected \"%s\" in \"%s\"", reason, error->message);
}

static void test_rejects(void)
{
        g_autofree char *unknown_site = g_strdup_printf(
            "{\"accounts\":[{%s,\"resources\":[{\"type\":\"dns\",\"name\":\"r\",\"address\":\"x.example\","
            "\"sites\":[\"Nope\"]}]}]}",
            base_account());
        g_autofree char *host_bits = g_strdup_printf("{\"accounts\":[{%s,\"resources\":[{\"type\":\"cidr\","
                                                     "\"name\":\"r\",\"address\":\"10.0.0.1/24\","
                                                     "\"sites\":[\"S\"]}]}]}",
                                                     base_account());
        g_autofree char *bad_filter =
            g_strdup_printf("{\"accounts\":[{%s,\"resources\":[{\"type\":\"cidr\",\"name\":\"r\","
                            "\"address\":\"10.0.0.0/24\","
                            "\"sites\":[\"S\"],\"filters\":[{\"protocol\":\"tcp\",\"port_range_start\":90,"
                            "\"port_range_end\":80}]}]}]}",
                            base_account());
        g_autofree char *unknown_user = g_strdup_printf(
            "{\"accounts\":[{%s,\"policies\":[{\"users\":[\"who@x\"],\"resources\":[]}]}]}", base_account());
        g_autofree char *shared_token = g_strdup_printf(
            "{\"accounts\":[{%s,\"gateways\":[{\"name\":\"g1\",\"site\":\"S\",\"token\":\"t\"},"
            "{\"name\":\"g2\",\"site\":\"S\",\"token\":\"t\"}]}]}",
            base_account());

        expect_reject("{", "");
        expect_reject("[]", "top level must be an object");
        expect_reject("{}", "\"accounts\" is required");
        expect_reject("{\"accounts\":[{\"slug\":\"a b\",\"name\":\"x\"}]}", "slug may hold only");
        expect_reject(unknown_site, "unknown site \"Nope\"");
        expect_reject(host_bits, "is not a network address/prefix");
        expect_reject(bad_filter, "port_range_start > port_range_end");
        expect_reject(unknown_user, "unknown user \"who@x\"");
        expect_reject(shared_token, "share a token");
        expect_reject("{\"accounts\":[],\"secret\":\"abcd\"}", "64 hex characters");
        expect_reject("{\"accounts\":[],\"relays\":[{\"addresses\":[\"::1:3478\"],\"secret\":\"s\"}]}",
                      "is not ip:port");
        expect_reject(
            "{\"accounts\":[],\"relays\":[{\"addresses\":[\"relay.example:3478\"],\"secret\":\"s\"}]}",
            "IP literal");
        expect_reject("{\"accounts\":[],\"token_lifetime_secs\":0}", "token_lifetime_secs");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/config/demo", test_demo_config);
        g_test_add_func("/portal/config/rejects", test_rejects);
        return g_test_run();
}
