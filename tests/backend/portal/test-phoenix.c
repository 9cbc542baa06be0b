/* SPDX-License-Identifier: MIT */
/* Phoenix V1 frames: exact client wire strings and the server frames Firezone accepts or drops. */
#include <string.h>

#include "backend/portal/phoenix.h"

static KilnPhoenixFrame *parse_ok(const char *text)
{
        g_autoptr(GError) error = NULL;
        KilnPhoenixFrame *frame = NULL;

        g_assert_true(kiln_phoenix_frame_parse(text, strlen(text), &frame, &error));
        g_assert_no_error(error);
        return frame;
}

static void assert_rejected(const char *text, const char *reason)
{
        g_autoptr(GError) error = NULL;
        KilnPhoenixFrame *frame = NULL;

        g_assert_false(kiln_phoenix_frame_parse(text, strlen(text), &frame, &error));
        g_assert_null(frame);
        g_assert_nonnull(error);
        g_assert_nonnull(strstr(error->message, reason));
}

static void test_client_wire_strings(void)
{
        g_autofree char *join = kiln_phoenix_join_frame("client", 0);
        g_autofree char *heartbeat = kiln_phoenix_heartbeat_frame(7);
        g_autoptr(JsonNode) payload =
            json_from_string("{\"resource_id\":\"f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3\"}", NULL);
        g_autofree char *message =
            kiln_phoenix_frame_serialize("client", "request_authorization", payload, 3);

        g_assert_cmpstr(join, ==,
                        "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}");
        g_assert_cmpstr(heartbeat, ==,
                        "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":7}");
        g_assert_cmpstr(
            message, ==,
            "{\"topic\":\"client\",\"event\":\"request_authorization\",\"payload\":{\"resource_id\":"
            "\"f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3\"},\"ref\":3}");
}

static void test_push_and_reply(void)
{
        g_autoptr(KilnPhoenixFrame) push =
            parse_ok("{\"topic\":\"client\",\"event\":\"init\",\"payload\":{\"a\":1},\"ref\":null}");
        g_autoptr(KilnPhoenixFrame) reply =
            parse_ok("{\"join_ref\":\"3\",\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,"
                     "\"payload\":{\"status\":\"ok\",\"response\":{}}}");
        KilnPhoenixReply r;

        g_assert_cmpstr(push->topic, ==, "client");
        g_assert_cmpstr(push->event, ==, "init");
        g_assert_false(push->has_ref);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(push->payload));

        g_assert_true(reply->has_ref);
        g_assert_cmpuint(reply->ref, ==, 0);
        g_assert_true(kiln_phoenix_reply_parse(reply, &r, NULL));
        g_assert_cmpint(r.status, ==, KILN_PHOENIX_REPLY_OK);
        kiln_phoenix_reply_clear(&r);
}

static void test_error_reasons(void)
{
        static const struct {
                const char *reason;
                KilnPhoenixReason kind;
        } cases[] = {
                { "unmatched topic", KILN_PHOENIX_REASON_UNMATCHED_TOPIC },
                { "invalid_version", KILN_PHOENIX_REASON_INVALID_VERSION },
                { "disabled", KILN_PHOENIX_REASON_DISABLED },
                { "something else", KILN_PHOENIX_REASON_OTHER },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *text =
                    g_strdup_printf("{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,\"payload\":{"
                                    "\"status\":\"error\",\"response\":{\"reason\":\"%s\"}}}",
                                    cases[i].reason);
                g_autoptr(KilnPhoenixFrame) frame = parse_ok(text);
                KilnPhoenixReply r;

                g_assert_true(kiln_phoenix_reply_parse(frame, &r, NULL));
                g_assert_cmpint(r.status, ==, KILN_PHOENIX_REPLY_ERROR);
                g_assert_cmpint(r.reason, ==, cases[i].kind);
                g_assert_cmpstr(r.reason_text, ==, cases[i].reason);
                kiln_phoenix_reply_clear(&r);
        }
}

static void test_reply_response_must_be_empty_object(void)
{
        static const char *const bad[] = {
                "{\"status\":\"ok\",\"response\":null}",
                "{\"status\":\"ok\",\"response\":{\"extra\":1}}",
                "{\"status\":\"ok\"}",
                "{\"status\":\"maybe\",\"response\":{}}",
                "{\"status\":\"error\",\"response\":{}}",
                "[]",
        };

        for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *text = g_strdup_printf(
                    "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,\"payload\":%s}", bad[i]);
                g_autoptr(KilnPhoenixFrame) frame = parse_ok(text);
                g_autoptr(GError) error = NULL;
                KilnPhoenixReply r = { 0 };

                g_assert_false(kiln_phoenix_reply_parse(frame, &r, &error));
                g_assert_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID);
                g_assert_null(r.reason_text);
        }
}

static void test_rejects(void)
{
        g_autofree char *deep = NULL;
        g_autoptr(GString) nest =
            g_string_new("{\"topic\":\"client\",\"event\":\"x\",\"ref\":null,\"payload\":");

        assert_rejected("{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":\"12\",\"payload\":{}}",
                        "neither an integer nor null");
        assert_rejected("{\"topic\":\"client\",\"event\":\"x\",\"ref\":1.5,\"payload\":{}}",
                        "neither an integer");
        assert_rejected("{\"topic\":\"client\",\"event\":\"x\",\"ref\":-1,\"payload\":{}}", "out of range");
        assert_rejected("{\"topic\":\"client\",\"event\":\"x\",\"ref\":null}", "no \"payload\"");
        assert_rejected("{\"topic\":1,\"event\":\"x\",\"ref\":null,\"payload\":{}}",
                        "\"topic\" is missing or not a string");
        assert_rejected("{\"topic\":\"client\",\"ref\":null,\"payload\":{}}", "\"event\" is missing");
        assert_rejected("[null,null,\"client\",\"init\",{}]", "not a JSON object");
        assert_rejected("{\"topic\":\"client\",", "not JSON");
        assert_rejected("\xff\xfe", "UTF-8");
        /* "\\666" is a C escape, not JSON: json-glib turned it into the byte 0xb6 (fuzzing found
         * it); in a value, a member name or an array element alike. */
        assert_rejected(
            "{\"topic\":\"client\",\"event\":\"x\",\"ref\":null,\"payload\":{\"name\":\"a\\666\"}}",
            "not UTF-8");
        assert_rejected("{\"topic\":\"client\",\"event\":\"x\",\"ref\":null,\"payload\":{\"a\\666\":1}}",
                        "not UTF-8");
        assert_rejected("{\"topic\":\"client\",\"event\":\"x\",\"ref\":null,\"payload\":[[\"\\377\"]]}",
                        "not UTF-8");
        for (int i = 0; i < KILN_PHOENIX_MAX_DEPTH + 1; i++)
                g_string_append_c(nest, '[');
        for (int i = 0; i < KILN_PHOENIX_MAX_DEPTH + 1; i++)
                g_string_append_c(nest, ']');
        g_string_append_c(nest, '}');
        deep = g_string_free(g_steal_pointer(&nest), FALSE);
        assert_rejected(deep, "nests deeper");
}

static void test_size_limit(void)
{
        gsize len = KILN_PHOENIX_MAX_FRAME + 1;
        g_autofree char *big = g_malloc(len);
        g_autoptr(GError) error = NULL;
        KilnPhoenixFrame *frame = NULL;

        memset(big, ' ', len);
        g_assert_false(kiln_phoenix_frame_parse(big, len, &frame, &error));
        g_assert_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/phoenix/client-wire-strings", test_client_wire_strings);
        g_test_add_func("/portal/phoenix/push-and-reply", test_push_and_reply);
        g_test_add_func("/portal/phoenix/error-reasons", test_error_reasons);
        g_test_add_func("/portal/phoenix/reply-response-must-be-empty-object",
                        test_reply_response_must_be_empty_object);
        g_test_add_func("/portal/phoenix/rejects", test_rejects);
        g_test_add_func("/portal/phoenix/size-limit", test_size_limit);
        return g_test_run();
}
