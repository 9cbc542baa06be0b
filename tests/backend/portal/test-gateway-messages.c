/* SPDX-License-Identifier: MIT */
/*
 * The gateway role of the portal protocol (control-plane spec §4): the portal → gateway events
 * parsed from the conformance frames, the gateway → portal payloads built exactly, the
 * gateway's login URL and User-Agent, and the sans-IO session joining topic "gateway" and
 * handing out gateway messages.
 */
#include <string.h>

#include "backend/portal/gateway-messages.h"
#include "backend/portal/handshake.h"
#include "backend/portal/phoenix.h"
#include "backend/portal/session.h"
#include "tests/support/test-support.h"

static const uint8_t KEY[32] = { 0x4b, 0xa4, 0x44, 0x91, 0xb4, 0xad, 0x48, 0xd3, 0x1f, 0x9f, 0xc8,
                                 0x69, 0x2e, 0x45, 0x71, 0x89, 0xb8, 0xd1, 0xfb, 0x3c, 0xf7, 0x44,
                                 0xef, 0xc6, 0xab, 0x8d, 0x13, 0xa6, 0xb1, 0xc9, 0x13, 0x65 };

static KilnPortalGatewayMessage *parse_frame_file(const char *name, GError **error)
{
        g_autofree char *relative = g_strdup_printf("tests/backend/portal/frames/gateway/%s.json", name);
        g_autofree char *path = kiln_test_source_path(relative);
        g_autofree char *contents = NULL;
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        KilnPortalGatewayMessage *m = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
        g_assert_true(kiln_phoenix_frame_parse(contents, len, &frame, NULL));
        if (!kiln_portal_gateway_message_parse(frame->event, frame->payload, &m, error))
                return NULL;
        return m;
}

static void test_create_authorization(void)
{
        g_autoptr(KilnPortalGatewayMessage) m = parse_frame_file("create-authorization", NULL);
        const KilnPortalCreateAuthorization *a;
        uint8_t psk[32];

        g_assert_nonnull(m);
        g_assert_cmpint(m->kind, ==, KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION);
        a = m->create_authorization;
        g_assert_true(g_str_has_prefix(a->ref, "SFMyNTY.g2gDaAJtAAAAJGMzYTE0"));
        g_assert_cmpint(a->resource->type, ==, KILN_PORTAL_RESOURCE_DNS);
        g_assert_cmpstr(a->resource->address, ==, "?.httpbin");
        g_assert_cmpuint(a->resource->filters->len, ==, 3);
        g_assert_cmpint(g_array_index(a->resource->filters, KilnPortalFilter, 2).protocol, ==,
                        KILN_PORTAL_FILTER_ICMP);
        g_assert_cmpmem(a->client.public_key, 32, KEY, 32);
        g_assert_cmpint(key_from_base64(psk, "sMdtUOVHkcUdDqnZvA55kYj3ADjI4MTsnSBwLoxDLR8="), ==, 0);
        g_assert_cmpmem(a->client.preshared_key, 32, psk, 32);
        g_assert_cmpstr(a->client.ipv4, ==, "100.93.81.151");
        g_assert_cmpstr(a->client.ipv6, ==, "fd00:2021:1111::a:bd8d");
        g_assert_cmpstr(a->gateway_ice_credentials.username, ==, "jbi4");
        g_assert_cmpstr(a->client_ice_credentials.password, ==, "rqi3ibvfikfaxj3wgp7muh");
        g_assert_cmpuint(a->expires_at, ==, 1785434400);
        g_assert_cmpstr(a->ingest_token.role, ==, "responder");
}

static void test_rejects_say_why(void)
{
        static const struct {
                const char *name;
                gint code;
                const char *reason;
        } cases[] = {
                { "create-authorization-short-key", KILN_PORTAL_ERROR_INVALID, "public_key" },
                { "create-authorization-unknown-resource-type", KILN_PORTAL_ERROR_INVALID,
                  "static_device_pool" },
                { "create-authorization-requires-ingest-token", KILN_PORTAL_ERROR_INVALID,
                  "flow_logs_ingest_token" },
                { "init-missing-config", KILN_PORTAL_ERROR_INVALID, "config" },
                { "resource-updated-unknown-type", KILN_PORTAL_ERROR_UNKNOWN_EVENT, "dynamic_device_pool" },
                { "authorize-flow-v1", KILN_PORTAL_ERROR_UNKNOWN_EVENT, "authorize_flow" },
                { "disconnect-other-reason", KILN_PORTAL_ERROR_INVALID, "certificate_revoked" },
        };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;

                g_assert_null(parse_frame_file(cases[i].name, &error));
                g_assert_error(error, KILN_PORTAL_ERROR, cases[i].code);
                g_assert_nonnull(strstr(error->message, cases[i].reason));
        }
}

static void test_init_and_candidates(void)
{
        g_autoptr(KilnPortalGatewayMessage) init = parse_frame_file("init", NULL);
        g_autoptr(KilnPortalGatewayMessage) ice = parse_frame_file("ice-candidates", NULL);
        const KilnPortalAuthorization *auth;

        g_assert_cmpstr(init->init->interface->ipv4, ==, "100.115.164.78");
        g_assert_true(init->init->ipv4_masquerade_enabled && init->init->ipv6_masquerade_enabled);
        g_assert_cmpuint(init->init->relays->len, ==, 2);
        g_assert_cmpuint(init->init->authorizations->len, ==, 1);
        auth = g_ptr_array_index(init->init->authorizations, 0);
        g_assert_cmpuint(auth->expires_at, ==, 1785434400);
        g_assert_cmpstr(ice->ice_candidates->peer_id, ==, "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1");
        /* The bad entries are dropped alone. */
        g_assert_cmpuint(ice->ice_candidates->candidates->len, ==, 2);
}

static void test_builders(void)
{
        static const char *const ids[] = { "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1", NULL };
        static const char *const candidates[] = { "candidate:2 1 udp 2130706431 172.28.0.100 52625 typ host",
                                                  NULL };
        static const char *const bad_ids[] = { "nope", NULL };
        g_autoptr(JsonNode) created = kiln_portal_build_authorization_created("SFMyNTY.abc", NULL);
        g_autoptr(JsonNode) broadcast = kiln_portal_build_broadcast_ice_candidates(ids, candidates, NULL);
        g_autofree char *a = kiln_json_to_string(created);
        g_autofree char *b = kiln_json_to_string(broadcast);
        g_autofree char *frame =
            kiln_phoenix_frame_serialize("gateway", "authorization_created", created, 7);
        g_autoptr(GError) error = NULL;

        g_assert_cmpstr(a, ==, "{\"ref\":\"SFMyNTY.abc\"}");
        g_assert_cmpstr(
            b, ==,
            "{\"client_ids\":[\"3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1\"],\"candidates\":[\"candidate:2 "
            "1 udp 2130706431 172.28.0.100 52625 typ host\"]}");
        g_assert_cmpstr(frame, ==,
                        "{\"topic\":\"gateway\",\"event\":\"authorization_created\",\"payload\":{\"ref\":"
                        "\"SFMyNTY.abc\"},\"ref\":7}");
        g_assert_null(kiln_portal_build_authorization_created("", &error));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_broadcast_ice_candidates(bad_ids, candidates, &error));
        g_assert_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID);
}

static void test_login_url_and_user_agent(void)
{
        KilnPortalLoginParams p = { .role = KILN_PORTAL_ROLE_GATEWAY,
                                    .api_url = "ws://127.0.0.1:8081/",
                                    .external_id = "gw-1",
                                    .name = "gw one",
                                    .device_serial = "PF1",
                                    .device_uuid = "u" };
        g_autofree char *url = kiln_portal_login_url(&p, KEY, NULL);
        g_autofree char *ua =
            kiln_portal_user_agent_for_role(KILN_PORTAL_ROLE_GATEWAY, "Debian", "12", "x86_64", "6.1.0");

        /* Spec §4.1: external_id, name, public_key, and nothing of the client's device fields. */
        g_assert_cmpstr(url, ==,
                        "ws://127.0.0.1:8081/gateway/v2/websocket?external_id=gw-1&name=gw+one&public_key="
                        "S6REkbStSNMfn8hpLkVxibjR%2Bzz3RO%2FGq40TprHJE2U%3D");
        g_assert_cmpstr(ua, ==, "Debian/12.0.0 gateway/1.6.0 (x86_64; 6.1.0)");
}

static void test_session_gateway_role(void)
{
        KilnPortalSessionConfig config = { .role = KILN_PORTAL_ROLE_GATEWAY, .seed = 1 };
        g_autoptr(KilnPortalSession) s = kiln_portal_session_new(&config);
        static const char ok[] = "{\"topic\":\"gateway\",\"event\":\"phx_reply\",\"ref\":0,\"payload\":{"
                                 "\"status\":\"ok\",\"response\":{}}}";
        static const char reject[] =
            "{\"topic\":\"gateway\",\"event\":\"reject_access\",\"ref\":null,\"payload\":"
            "{\"client_id\":\"3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1\",\"resource_id\":"
            "\"ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b\"}}";
        static const char expired[] =
            "{\"topic\":\"gateway\",\"event\":\"disconnect\",\"ref\":null,\"payload\":"
            "{\"reason\":\"token_expired\"}}";
        g_autoptr(JsonNode) payload = kiln_portal_build_authorization_created("r", NULL);
        KilnPortalAction *a;

        kiln_portal_session_start(s, 0);
        kiln_portal_action_free(kiln_portal_session_poll_action(s)); /* dial */
        kiln_portal_session_handle_open(s, 0);
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpstr(a->text, ==,
                        "{\"topic\":\"gateway\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}");
        kiln_portal_action_free(a);
        kiln_portal_session_handle_text(s, 1, ok, strlen(ok));
        kiln_portal_action_free(kiln_portal_session_poll_action(s)); /* joined */
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpstr(
            a->text, ==,
            "{\"topic\":\"gateway\",\"event\":\"set_snownet_capabilities\",\"payload\":{\"iceless\":"
            "false},\"ref\":1}");
        kiln_portal_action_free(a);

        kiln_portal_session_handle_text(s, 2, reject, strlen(reject));
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpint(a->kind, ==, KILN_PORTAL_ACTION_MESSAGE);
        g_assert_null(a->message);
        g_assert_cmpint(a->gateway_message->kind, ==, KILN_PORTAL_GATEWAY_REJECT_ACCESS);
        kiln_portal_action_free(a);

        g_assert_true(kiln_portal_session_send(s, KILN_PORTAL_EVENT_AUTHORIZATION_CREATED, payload));
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpstr(
            a->text, ==,
            "{\"topic\":\"gateway\",\"event\":\"authorization_created\",\"payload\":{\"ref\":\"r\"},"
            "\"ref\":2}");
        kiln_portal_action_free(a);

        kiln_portal_session_handle_text(s, 3, expired, strlen(expired));
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpint(a->kind, ==, KILN_PORTAL_ACTION_CLOSE);
        kiln_portal_action_free(a);
        a = kiln_portal_session_poll_action(s);
        g_assert_cmpint(a->kind, ==, KILN_PORTAL_ACTION_FATAL);
        g_assert_cmpint(a->fatal, ==, KILN_PORTAL_FATAL_SIGN_IN_REQUIRED);
        kiln_portal_action_free(a);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/gateway/create-authorization", test_create_authorization);
        g_test_add_func("/portal/gateway/rejects-say-why", test_rejects_say_why);
        g_test_add_func("/portal/gateway/init-and-candidates", test_init_and_candidates);
        g_test_add_func("/portal/gateway/builders", test_builders);
        g_test_add_func("/portal/gateway/login-url-and-user-agent", test_login_url_and_user_agent);
        g_test_add_func("/portal/gateway/session", test_session_gateway_role);
        return g_test_run();
}
