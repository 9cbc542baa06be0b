/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "tests/portal/handshake.h"
#include "tests/portal/phoenix.h"
#include "tests/support/test-support.h"

#define PK "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U="
#define UA "Debian/12 gui-client/1.5.17 (x86_64; 6.1.0)"

static TpConfig *demo(void)
{
        g_autofree char *path = kiln_test_source_path("tests/portal/demo.json");
        g_autoptr(GError) error = NULL;
        TpConfig *c = tp_config_load_file(path, &error);

        g_assert_no_error(error);
        return c;
}

static GHashTable *query(const char *external_id, const char *public_key)
{
        GHashTable *q = g_hash_table_new(g_str_hash, g_str_equal);

        if (external_id)
                g_hash_table_insert(q, (gpointer) "external_id", (gpointer)external_id);
        if (public_key)
                g_hash_table_insert(q, (gpointer) "public_key", (gpointer)public_key);
        return q;
}

static void expect_problem(const TpConfig *c, TpRole role, GHashTable *q, const char *auth, const char *ua,
                           guint status, const char *code, const char *detail)
{
        g_auto(TpConnectInfo) info = { 0 };
        g_auto(TpProblem) problem = { 0 };

        g_assert_false(tp_handshake_check(c, role, q, auth, ua, 1000, &info, &problem));
        g_assert_cmpuint(problem.status, ==, status);
        g_assert_cmpstr(problem.code, ==, code);
        g_assert_cmpstr(problem.detail, ==, detail);
}

static void test_client(void)
{
        g_autoptr(TpConfig) c = demo();
        g_autofree char *fragment =
            tp_token_issue_fragment(c->secret, "demo", "bob@example.com", "n0nce", 0, 2000);
        g_autofree char *auth = g_strconcat("Bearer n0nce", fragment, NULL);
        g_autofree char *expired_fragment =
            tp_token_issue_fragment(c->secret, "demo", "bob@example.com", "n", 0, 999);
        g_autofree char *expired = g_strconcat("Bearer n", expired_fragment, NULL);
        g_autofree char *ghost_fragment =
            tp_token_issue_fragment(c->secret, "demo", "ghost@example.com", "n", 0, 2000);
        g_autofree char *ghost = g_strconcat("Bearer n", ghost_fragment, NULL);
        g_autoptr(GHashTable) good = query("dev-1", PK);
        g_autoptr(GHashTable) no_id = query(NULL, PK);
        g_autoptr(GHashTable) no_key = query("dev-1", NULL);
        g_autoptr(GHashTable) short_key = query("dev-1", "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U");
        g_autoptr(GHashTable) spaced_key = query("dev-1", "S6REkbStSNMfn8hpLkVxibjR zz3RO/Gq40TprHJE2U=");
        g_autoptr(GHashTable) with_token = query("dev-1", PK);
        g_auto(TpConnectInfo) info = { 0 };
        g_auto(TpProblem) problem = { 0 };

        expect_problem(c, TP_ROLE_CLIENT, good, NULL, UA, 401, "missing_token", "Missing token");
        expect_problem(c, TP_ROLE_CLIENT, good, "Bearer nope.SFMyNTY.a.b", UA, 401, "invalid_token",
                       "Invalid token");
        expect_problem(c, TP_ROLE_CLIENT, good, expired, UA, 401, "invalid_token", "Invalid token");
        expect_problem(c, TP_ROLE_CLIENT, good, ghost, UA, 401, "invalid_token", "Invalid token");
        expect_problem(c, TP_ROLE_CLIENT, good, "Bearer demo-gateway-token-hq-1", UA, 401, "invalid_token",
                       "Invalid token");
        expect_problem(c, TP_ROLE_CLIENT, good, auth, NULL, 400, "invalid_connect_params",
                       "user_agent is invalid");
        expect_problem(c, TP_ROLE_CLIENT, good, auth, "curl/8.0", 400, "invalid_connect_params",
                       "user_agent is invalid");
        expect_problem(c, TP_ROLE_CLIENT, good, auth, "Debian/12 gui-client/1.5", 400,
                       "invalid_connect_params", "user_agent is invalid");
        expect_problem(c, TP_ROLE_CLIENT, good, auth, "Debian/12 gateway/1.5.0", 400,
                       "invalid_connect_params", "user_agent is invalid");
        expect_problem(c, TP_ROLE_CLIENT, no_id, auth, UA, 400, "invalid_connect_params",
                       "external_id can't be blank");
        expect_problem(c, TP_ROLE_CLIENT, no_key, auth, UA, 400, "invalid_connect_params",
                       "public_key can't be blank");
        expect_problem(c, TP_ROLE_CLIENT, short_key, auth, UA, 400, "invalid_connect_params",
                       "public_key is invalid");
        /* An unencoded '+' arrives as a space after form decoding. */
        expect_problem(c, TP_ROLE_CLIENT, spaced_key, auth, UA, 400, "invalid_connect_params",
                       "public_key is invalid");

        g_assert_true(tp_handshake_check(c, TP_ROLE_CLIENT, good, auth, UA, 1000, &info, &problem));
        g_assert_cmpstr(info.user->email, ==, "bob@example.com");
        g_assert_cmpstr(info.component, ==, "gui-client");
        g_assert_cmpstr(info.version, ==, "1.5.17");
        g_assert_cmpint(info.expires_at, ==, 2000);
        g_assert_cmpstr(info.name, ==, "client-dev-1");
        tp_connect_info_clear(&info);

        /* The legacy ?token= is used when the header is absent. */
        g_hash_table_insert(with_token, (gpointer) "token", (gpointer)(auth + strlen("Bearer ")));
        g_assert_true(tp_handshake_check(c, TP_ROLE_CLIENT, with_token, NULL, "x headless-client/1.5.12",
                                         1000, &info, &problem));
        g_assert_cmpstr(info.component, ==, "headless-client");
}

static void test_gateway(void)
{
        g_autoptr(TpConfig) c = demo();
        g_autoptr(GHashTable) good = query("gw-1", PK);
        g_auto(TpConnectInfo) info = { 0 };
        g_auto(TpProblem) problem = { 0 };

        expect_problem(c, TP_ROLE_GATEWAY, good, "Bearer wrong", "Debian/12 gateway/1.6.0", 401,
                       "invalid_token", "Invalid token");
        expect_problem(c, TP_ROLE_GATEWAY, good, "Bearer demo-gateway-token-hq-1", UA, 400,
                       "invalid_connect_params", "user_agent is invalid");
        g_assert_true(tp_handshake_check(c, TP_ROLE_GATEWAY, good, "Bearer demo-gateway-token-hq-1",
                                         "Debian/12 gateway/1.6.0", 1000, &info, &problem));
        g_assert_cmpstr(info.gateway->name, ==, "hq-gateway-1");
}

static void test_problem_json(void)
{
        TpProblem p = { .status = 401, .code = "invalid_token", .detail = (char *)"Invalid token" };
        g_autofree char *json = tp_problem_to_json(&p);

        g_assert_cmpstr(
            json, ==,
            "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,\"detail\":\"Invalid "
            "token\",\"code\":\"invalid_token\"}");
}

static void expect_frame_reject(const char *text, const char *reason)
{
        g_auto(TpFrame) f = { 0 };
        g_autoptr(GError) error = NULL;

        g_assert_false(tp_frame_parse(text, strlen(text), &f, &error));
        g_assert_cmpstr(error->message, ==, reason);
        g_assert_null(f.topic);
}

static void test_frames(void)
{
        static const char join[] =
            "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}";
        static const char push[] = "{\"topic\":\"client\",\"event\":\"x\",\"join_ref\":\"1\"}";
        static const char nul[] = "{\"topic\":\"a\"\0}";
        g_auto(TpFrame) f = { 0 };
        g_auto(TpFrame) g = { 0 };
        g_autoptr(GError) error = NULL;
        g_autofree char *reply = tp_frame_build_reply("client", 7, "ok", NULL);

        g_assert_true(tp_frame_parse(join, strlen(join), &f, &error));
        g_assert_cmpstr(f.topic, ==, "client");
        g_assert_cmpstr(f.event, ==, "phx_join");
        g_assert_true(f.has_ref);
        g_assert_cmpint(f.ref, ==, 0);
        g_assert_true(JSON_NODE_HOLDS_NULL(f.payload));
        g_assert_true(tp_frame_parse(push, strlen(push), &g, &error));
        g_assert_false(g.has_ref);

        expect_frame_reject("", "frame is not a JSON object");
        expect_frame_reject("{\"topic\":", "frame is not JSON");
        expect_frame_reject("[1,2]", "frame is not a JSON object");
        expect_frame_reject("{\"event\":\"x\"}", "\"topic\" is missing or not a string");
        expect_frame_reject("{\"topic\":1,\"event\":\"x\"}", "\"topic\" is missing or not a string");
        expect_frame_reject("{\"topic\":\"t\"}", "\"event\" is missing or not a string");
        expect_frame_reject("{\"topic\":\"t\",\"event\":\"e\",\"ref\":\"12\"}",
                            "\"ref\" is not a non-negative integer or null");
        expect_frame_reject("{\"topic\":\"t\",\"event\":\"e\",\"ref\":-1}",
                            "\"ref\" is not a non-negative integer or null");
        expect_frame_reject("{\"topic\":\"t\",\"event\":\"e\",\"ref\":1.5}",
                            "\"ref\" is not a non-negative integer or null");
        expect_frame_reject("\xff", "frame is not UTF-8");
        expect_frame_reject("{\"topic\":\"t\",\"event\":\"e\",\"ref\":1,\"payload\":{\"x\":[\"\\666\"]}}",
                            "frame has a string that is not UTF-8 (an escape JSON does not have)");
        {
                g_auto(TpFrame) h = { 0 };
                g_autoptr(GError) e = NULL;

                g_assert_false(tp_frame_parse(nul, sizeof(nul) - 1, &h, &e));
                g_assert_cmpstr(e->message, ==, "frame holds a NUL byte");
        }
        g_assert_cmpstr(
            reply, ==,
            "{\"topic\":\"client\",\"event\":\"phx_reply\",\"payload\":{\"status\":\"ok\",\"response\":{}},"
            "\"ref\":7}");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/handshake/client", test_client);
        g_test_add_func("/portal/handshake/gateway", test_gateway);
        g_test_add_func("/portal/handshake/problem-json", test_problem_json);
        g_test_add_func("/portal/phoenix/frames", test_frames);
        return g_test_run();
}
