/* SPDX-License-Identifier: MIT */
/*
 * The message model: Firezone's exact outbound JSON (spec §3.2 serialization vectors), and
 * the parsed structs for the §3.5 vectors kept under frames/ (the normalized output of every
 * frame is compared by the conformance suite; here we check the C structs kilnd consumes).
 */
#include <string.h>

#include "backend/portal/messages.h"
#include "tests/support/test-support.h"

#define RESOURCE "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3"

/* Firezone's tests serialize {"event":…,"payload":…}; the Phoenix wrapper adds topic and ref. */
static char *event_json(const char *event, JsonNode *payload)
{
        g_autofree char *text = kiln_json_to_string(payload);

        return g_strdup_printf("{\"event\":\"%s\",\"payload\":%s}", event, text);
}

static void test_serialize(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) request =
            kiln_portal_build_request_authorization(RESOURCE, NULL, NULL, NULL, &error);
        g_autoptr(JsonNode) v4 =
            kiln_portal_build_request_authorization(RESOURCE, NULL, "100.65.0.1", NULL, NULL);
        g_autoptr(JsonNode) v6 =
            kiln_portal_build_request_authorization(RESOURCE, NULL, NULL, "fd00:2021:1111::1", NULL);
        g_autoptr(JsonNode) no_relays = kiln_portal_build_no_relays();
        g_autoptr(JsonNode) caps_true = kiln_portal_build_set_snownet_capabilities(TRUE);
        g_autoptr(JsonNode) caps_false = kiln_portal_build_set_snownet_capabilities(FALSE);
        g_autoptr(JsonNode) resolve = kiln_portal_build_resolve_device_pool_domain(
            "b2c3d4e5-f6a7-8901-bcde-f12345678901", "device-42.laptops.example.com", NULL);
        const char *gateways[] = { "d263d490-a0bb-452a-8990-01d27a1f1144", NULL };
        const char *candidates[] = {
                "candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay", NULL
        };
        g_autoptr(JsonNode) with_gateway =
            kiln_portal_build_request_authorization(RESOURCE, gateways, NULL, NULL, NULL);
        g_autoptr(JsonNode) ice =
            kiln_portal_build_ice_candidates("gateway_id", gateways[0], candidates, NULL);
        struct {
                const char *event;
                JsonNode *payload;
                const char *expected;
        } cases[] = {
                { "request_authorization", request,
                  "{\"event\":\"request_authorization\",\"payload\":{\"resource_id\":\"" RESOURCE
                  "\",\"connected_gateway_ids\":[]}}" },
                { "request_authorization", v4,
                  "{\"event\":\"request_authorization\",\"payload\":{\"resource_id\":\"" RESOURCE
                  "\",\"connected_gateway_ids\":[],\"ipv4\":\"100.65.0.1\"}}" },
                { "request_authorization", v6,
                  "{\"event\":\"request_authorization\",\"payload\":{\"resource_id\":\"" RESOURCE
                  "\",\"connected_gateway_ids\":[],\"ipv6\":\"fd00:2021:1111::1\"}}" },
                { "request_authorization", with_gateway,
                  "{\"event\":\"request_authorization\",\"payload\":{\"resource_id\":\"" RESOURCE
                  "\",\"connected_gateway_ids\":[\"d263d490-a0bb-452a-8990-01d27a1f1144\"]}}" },
                { "no_relays", no_relays, "{\"event\":\"no_relays\",\"payload\":{}}" },
                { "set_snownet_capabilities", caps_true,
                  "{\"event\":\"set_snownet_capabilities\",\"payload\":{\"iceless\":true}}" },
                { "set_snownet_capabilities", caps_false,
                  "{\"event\":\"set_snownet_capabilities\",\"payload\":{\"iceless\":false}}" },
                { "resolve_device_pool_domain", resolve,
                  "{\"event\":\"resolve_device_pool_domain\",\"payload\":{\"resource_id\":\"b2c3d4e5-f6a7-"
                  "8901-bcde-"
                  "f12345678901\",\"domain\":\"device-42.laptops.example.com\"}}" },
                { "new_gateway_ice_candidates", ice,
                  "{\"event\":\"new_gateway_ice_candidates\",\"payload\":{\"gateway_id\":\"d263d490-a0bb-"
                  "452a-8990-"
                  "01d27a1f1144\",\"candidates\":[\"candidate:7031633958891736544 1 udp 50331391 "
                  "35.244.108.190 "
                  "53909 typ relay\"]}}" },
        };

        g_assert_no_error(error);
        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *text = event_json(cases[i].event, cases[i].payload);

                g_assert_cmpstr(text, ==, cases[i].expected);
        }
}

static void test_builders_reject(void)
{
        const char *bad_candidates[] = { "foo", NULL };
        const char *bad_gateways[] = { "not-a-uuid", NULL };
        GError *error = NULL;

        g_assert_null(
            kiln_portal_build_request_authorization(RESOURCE, NULL, "100.65.0.1", "fd00::1", &error));
        g_assert_nonnull(strstr(error->message, "ambiguous_address"));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_request_authorization("nope", NULL, NULL, NULL, &error));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_request_authorization(RESOURCE, bad_gateways, NULL, NULL, &error));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_request_authorization(RESOURCE, NULL, "fd00::1", NULL, &error));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_ice_candidates("gateway_id", RESOURCE, bad_candidates, &error));
        g_clear_error(&error);
        g_assert_null(kiln_portal_build_ice_candidates("relay_id", RESOURCE, NULL, &error));
        g_clear_error(&error);
}

static KilnPortalMessage *parse_fixture(const char *name, GError **error)
{
        g_autofree char *relative = g_strdup_printf("tests/backend/portal/frames/%s.json", name);
        g_autofree char *path = kiln_test_source_path(relative);
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *frame;
        KilnPortalMessage *message = NULL;

        g_assert_true(json_parser_load_from_file(parser, path, NULL));
        frame = json_node_get_object(json_parser_get_root(parser));
        if (!kiln_portal_message_parse(json_object_get_string_member(frame, "event"),
                                       json_object_get_member(frame, "payload"), &message, error))
                return NULL;
        return message;
}

static void test_authorization_created(void)
{
        static const uint8_t psk[32] = { 0x6a, 0x75, 0xf6, 0x4f, 0xd4, 0x47, 0xf6, 0x68, 0xa6, 0x4f, 0x95,
                                         0xdd, 0xe7, 0xe1, 0xea, 0x34, 0x65, 0x74, 0x6d, 0xf0, 0xa8, 0x75,
                                         0x60, 0xc7, 0x41, 0xc8, 0x75, 0x0c, 0xb8, 0x85, 0x36, 0x5b };
        g_autoptr(KilnPortalMessage) m = parse_fixture("authorization-created", NULL);
        g_autoptr(KilnPortalMessage) iceless = parse_fixture("authorization-created-use-iceless", NULL);
        g_autoptr(KilnPortalMessage) site = parse_fixture("authorization-created-site-id", NULL);
        KilnPortalAuthorizationCreated *a;
        char key[WG_KEY_LEN_BASE64];
        GError *error = NULL;

        g_assert_nonnull(m);
        g_assert_cmpint(m->kind, ==, KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED);
        a = m->authorization_created;
        g_assert_cmpstr(a->resource_id, ==, "733e8d14-c18d-4931-af30-3639fa09c0c0");
        g_assert_cmpstr(a->site_id, ==, "ef42a07f-87d0-40da-baa7-e881e619ea1c");
        g_assert_cmpmem(a->preshared_key, 32, psk, 32);
        key_to_base64(key, a->gateway_public_key);
        g_assert_cmpstr(key, ==, "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=");
        g_assert_cmpstr(a->client_ice_credentials.username, ==, "resc");
        g_assert_cmpstr(a->gateway_ice_credentials.password, ==, "a6oeevhlutevykcifd5r2a");
        g_assert_false(a->use_iceless); /* old portals do not send the flag */
        g_assert_cmpstr(a->ingest_token.role, ==, "initiator");
        g_assert_true(g_str_has_prefix(a->ingest_token.raw, "eyJhbGciOiJIUzI1NiIs"));
        g_assert_true(iceless->authorization_created->use_iceless);
        /* The key.rs round-trip vector. */
        key_to_base64(key, site->authorization_created->gateway_public_key);
        g_assert_cmpstr(key, ==, "S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=");

        g_assert_null(parse_fixture("authorization-created-requires-ingest-token", &error));
        g_assert_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID);
        g_clear_error(&error);
        g_assert_null(parse_fixture("authorization-created-short-key", &error));
        g_clear_error(&error);
}

static void test_init(void)
{
        g_autoptr(KilnPortalMessage) m = parse_fixture("init-message", NULL);
        g_autoptr(KilnPortalMessage) bad = parse_fixture("init-bad-resources", NULL);
        g_autoptr(KilnPortalMessage) unknown = parse_fixture("init-unknown-resource", NULL);
        KilnPortalResource *r;
        GError *error = NULL;

        g_assert_nonnull(m);
        g_assert_cmpstr(m->init->interface->ipv4, ==, "100.72.112.111");
        g_assert_cmpuint(m->init->resources->len, ==, 4);
        r = g_ptr_array_index(m->init->resources, 1);
        g_assert_cmpint(r->type, ==, KILN_PORTAL_RESOURCE_CIDR);
        g_assert_cmpstr(r->address, ==, "172.173.0.0/16");
        g_assert_null(r->address_description);
        g_assert_cmpuint(r->sites->len, ==, 1);
        r = g_ptr_array_index(m->init->resources, 2);
        g_assert_cmpint(r->type, ==, KILN_PORTAL_RESOURCE_DNS);
        g_assert_cmpint(r->ip_stack, ==, KILN_PORTAL_IP_STACK_DUAL);
        g_assert_cmpuint(m->init->flow_logs.upload_interval_secs, ==, 60);

        g_assert_cmpuint(bad->init->resources->len, ==, 1);
        g_assert_cmpuint(unknown->init->resources->len, ==, 3);

        g_assert_null(parse_fixture("init-without-flow-logs-config", &error));
        g_assert_nonnull(strstr(error->message, "flow_logs"));
        g_clear_error(&error);
}

static void test_candidates_and_deleted(void)
{
        g_autoptr(KilnPortalMessage) faulty = parse_fixture("faulty-candidate-skipped", NULL);
        g_autoptr(KilnPortalMessage) deleted = parse_fixture("resource-deleted", NULL);
        g_autoptr(KilnPortalMessage) failed = parse_fixture("authorization-creation-failed-unknown", NULL);

        g_assert_cmpuint(faulty->ice_candidates->candidates->len, ==, 1);
        g_assert_cmpstr(deleted->resource_id, ==, "73037362-715d-4a83-a749-f18eadd970e6");
        g_assert_cmpint(failed->authorization_failed->reason, ==, KILN_PORTAL_FAIL_UNKNOWN);
}

static void test_device_pools(void)
{
        g_autoptr(KilnPortalMessage) target = parse_fixture("client-device-access-authorized", NULL);
        g_autoptr(KilnPortalMessage) initiator =
            parse_fixture("client-device-access-authorized-initiator", NULL);
        g_autoptr(KilnPortalMessage) resolved = parse_fixture("device-pool-domain-resolved", NULL);
        g_autoptr(KilnPortalMessage) filters = parse_fixture("resource-filters-updated", NULL);
        g_autoptr(KilnPortalMessage) pool = parse_fixture("resource-static-device-pool", NULL);
        const KilnPortalFilter *f;

        g_assert_cmpint(target->kind, ==, KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED);
        g_assert_cmpint(target->device_access_authorized->ice_role, ==, KILN_PORTAL_ICE_ROLE_CONTROLLED);
        g_assert_cmpstr(target->device_access_authorized->resource_id, ==,
                        "733e8d14-c18d-4931-af30-3639fa09c0c0");
        g_assert_cmpuint(target->device_access_authorized->expires_at, ==, 1729813989);
        g_assert_null(initiator->device_access_authorized->resource_id);
        g_assert_cmpuint(initiator->device_access_authorized->expires_at, ==, 0);
        g_assert_cmpstr(resolved->peer_event->ipv6, ==, "fd00:2021:1111::42");
        f = &g_array_index(filters->peer_event->filters, KilnPortalFilter, 0);
        g_assert_cmpint(f->protocol, ==, KILN_PORTAL_FILTER_TCP);
        g_assert_cmpuint(f->port_range_start, ==, 443);
        g_assert_cmpuint(pool->resource->devices->len, ==, 2);
        g_assert_cmpstr(((KilnPortalPoolDevice *)g_ptr_array_index(pool->resource->devices, 1))->ipv6, ==,
                        "fd00:2021:1111::1777/128");
}

static void test_candidate_grammar(void)
{
        g_assert_true(kiln_portal_is_ice_candidate("candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host"));
        g_assert_true(kiln_portal_is_ice_candidate("candidate:1 1 udp 2130706431 fd00::1 5000 typ host"));
        g_assert_false(
            kiln_portal_is_ice_candidate("a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host"));
        g_assert_false(kiln_portal_is_ice_candidate("candidate:1 1 udp prio 10.0.0.1 5000 typ host"));
        g_assert_false(kiln_portal_is_ice_candidate("candidate:1 1 udp 1 10.0.0.1 70000 typ host"));
        g_assert_false(kiln_portal_is_ice_candidate("candidate:1 1 udp 1 10.0.0.1 5000 typ martian"));
        g_assert_false(kiln_portal_is_ice_candidate("candidate:1 1 udp 1 host.local 5000 typ host"));
}

static void test_limits(void)
{
        g_autoptr(GString) frame =
            g_string_new("{\"interface\":{\"ipv4\":\"100.64.0.1\",\"ipv6\":\"fd00::1\"},"
                         "\"flow_logs\":{\"api_url\":\"x\",\"upload_interval_secs\":0,"
                         "\"upload_batch_size\":0},\"relays\":[");
        g_autoptr(JsonNode) payload = NULL;
        g_autofree char *long_name = g_strnfill(KILN_PORTAL_MAX_STRING + 1, 'a');
        g_autofree char *resource = NULL;
        g_autoptr(JsonNode) resource_node = NULL;
        KilnPortalMessage *m = NULL;
        GError *error = NULL;

        for (int i = 0; i <= KILN_PORTAL_MAX_LIST; i++)
                g_string_append_printf(
                    frame, "%s{\"type\":\"stun\",\"id\":\"" RESOURCE "\",\"addr\":\"1.2.3.4:3478\"}",
                    i ? "," : "");
        g_string_append(frame, "]}");
        payload = json_from_string(frame->str, NULL);
        g_assert_false(kiln_portal_message_parse("init", payload, &m, &error));
        g_assert_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE);
        g_clear_error(&error);

        resource = g_strdup_printf(
            "{\"type\":\"internet\",\"id\":\"" RESOURCE "\",\"name\":\"%s\",\"sites\":[]}", long_name);
        resource_node = json_from_string(resource, NULL);
        g_assert_false(kiln_portal_message_parse("resource_created_or_updated", resource_node, &m, &error));
        g_assert_nonnull(strstr(error->message, "longer than"));
        g_clear_error(&error);
        g_assert_null(m);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/messages/serialize", test_serialize);
        g_test_add_func("/portal/messages/builders-reject", test_builders_reject);
        g_test_add_func("/portal/messages/authorization-created", test_authorization_created);
        g_test_add_func("/portal/messages/init", test_init);
        g_test_add_func("/portal/messages/candidates-and-deleted", test_candidates_and_deleted);
        g_test_add_func("/portal/messages/device-pools", test_device_pools);
        g_test_add_func("/portal/messages/candidate-grammar", test_candidate_grammar);
        g_test_add_func("/portal/messages/limits", test_limits);
        return g_test_run();
}
