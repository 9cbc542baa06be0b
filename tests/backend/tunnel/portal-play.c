/* SPDX-License-Identifier: MIT */
#include "tests/backend/tunnel/portal-play.h"

#include <glib.h>
#include <string.h>

#include "tests/backend/tunnel/test-util.h"
#include "tests/support/test-support.h"

#define CLIENT_UFRAG  "cufr"
#define CLIENT_PWD    "client-password-22chr"
#define GATEWAY_UFRAG "gufr"
#define GATEWAY_PWD   "gateway-password-22chr"

KilnPortalMessage *play_message(const char *event, const char *json)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) node = json_from_string(json, &error);
        KilnPortalMessage *m = NULL;

        g_assert_no_error(error);
        kiln_portal_message_parse(event, node, &m, &error);
        g_assert_no_error(error);
        return m;
}

KilnPortalMessage *play_init(const char *relay_addr, const char *username, const char *password)
{
        g_autofree char *json = g_strdup_printf(
            "{\"interface\":{\"ipv4\":\"" PLAY_CLIENT_IP4 "\",\"ipv6\":\"" PLAY_CLIENT_IP6 "\","
            "\"upstream_do53\":[{\"ip\":\"192.0.2.53\"}]},"
            "\"resources\":["
            "{\"type\":\"cidr\",\"id\":\"" PLAY_RES_CIDR "\",\"name\":\"lab\",\"address\":\"" PLAY_CIDR "\","
            "\"sites\":[{\"id\":\"" PLAY_SITE_ID "\",\"name\":\"site\"}],"
            "\"filters\":[{\"protocol\":\"udp\",\"port_range_start\":7,\"port_range_end\":7},"
            "{\"protocol\":\"icmp\"}]},"
            "{\"type\":\"dns\",\"id\":\"" PLAY_RES_DNS "\",\"name\":\"app\",\"address\":\"" PLAY_DNS_NAME
            "\","
            "\"sites\":[{\"id\":\"" PLAY_SITE_ID "\",\"name\":\"site\"}]}],"
            "\"relays\":[{\"id\":\"" PLAY_RELAY_ID "\",\"type\":\"turn\",\"username\":\"%s\","
            "\"password\":\"%s\",\"addr\":\"%s\",\"expires_at\":2145916800}],"
            "\"flow_logs\":{\"api_url\":\"https://flow.example\",\"upload_interval_secs\":0,"
            "\"upload_batch_size\":0}}",
            username, password, relay_addr);

        return play_message("init", json);
}

void play_gateway_resource(struct kiln_resource *r, const char *id)
{
        memset(r, 0, sizeof(*r));
        strcpy(r->id, id);
        strcpy(r->sites[r->n_sites++], PLAY_SITE_ID);
        if (!strcmp(id, PLAY_RES_CIDR)) {
                r->type = KILN_RESOURCE_CIDR;
                strcpy(r->address, PLAY_CIDR);
                r->filters[r->n_filters++] =
                    (struct kiln_filter){ KILN_IPPROTO_UDP, PLAY_ECHO_PORT, PLAY_ECHO_PORT };
                r->filters[r->n_filters++] = (struct kiln_filter){ KILN_IPPROTO_ICMP, 0, 0 };
        } else {
                r->type = KILN_RESOURCE_DNS;
                strcpy(r->address, PLAY_DNS_NAME);
        }
}

void play_gateway_authorization(struct kiln_gateway_authorization *a, struct kiln_resource *res,
                                const char *resource_id, const uint8_t client_key[static WG_KEY_LEN],
                                const uint8_t psk[static WG_KEY_LEN])
{
        play_gateway_resource(res, resource_id);
        memset(a, 0, sizeof(*a));
        a->client_id = PLAY_CLIENT_ID;
        memcpy(a->client_public_key, client_key, WG_KEY_LEN);
        memcpy(a->preshared_key, psk, WG_KEY_LEN);
        a->gateway_ufrag = GATEWAY_UFRAG;
        a->gateway_pwd = GATEWAY_PWD;
        a->client_ufrag = CLIENT_UFRAG;
        a->client_pwd = CLIENT_PWD;
        a->client_ipv4 = ip(PLAY_CLIENT_IP4);
        a->client_ipv6 = ip(PLAY_CLIENT_IP6);
        a->resource = res;
}

KilnPortalMessage *play_authorization_created(const char *resource_id,
                                              const uint8_t gateway_key[static WG_KEY_LEN],
                                              const uint8_t psk[static WG_KEY_LEN])
{
        /* A real portal frame (its flow-log token must parse), with this test's values. */
        g_autofree char *fixture =
            kiln_test_source_path("tests/backend/portal/frames/authorization-created.json");
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;
        char key_b64[WG_KEY_LEN_BASE64], psk_b64[WG_KEY_LEN_BASE64];
        KilnPortalMessage *m = NULL;
        JsonObject *payload, *creds;

        g_assert_true(json_parser_load_from_file(parser, fixture, NULL));
        payload =
            json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)), "payload");
        key_to_base64(key_b64, gateway_key);
        key_to_base64(psk_b64, psk);
        json_object_set_string_member(payload, "gateway_id", PLAY_GATEWAY_ID);
        json_object_set_string_member(payload, "resource_id", resource_id);
        json_object_set_string_member(payload, "gateway_public_key", key_b64);
        json_object_set_string_member(payload, "preshared_key", psk_b64);
        json_object_set_string_member(payload, "gateway_ipv4", PLAY_GATEWAY_IP4);
        creds = json_object_get_object_member(payload, "client_ice_credentials");
        json_object_set_string_member(creds, "username", CLIENT_UFRAG);
        json_object_set_string_member(creds, "password", CLIENT_PWD);
        creds = json_object_get_object_member(payload, "gateway_ice_credentials");
        json_object_set_string_member(creds, "username", GATEWAY_UFRAG);
        json_object_set_string_member(creds, "password", GATEWAY_PWD);
        g_assert_true(kiln_portal_message_parse(
            "authorization_created",
            json_object_get_member(json_node_get_object(json_parser_get_root(parser)), "payload"), &m,
            &error));
        return m;
}

KilnPortalMessage *play_gateway_candidate(const char *sdp, bool invalidate)
{
        g_autofree char *json =
            g_strdup_printf("{\"gateway_id\":\"" PLAY_GATEWAY_ID "\",\"candidates\":[\"%s\"]}", sdp);

        return play_message(invalidate ? "invalidate_ice_candidates" : "ice_candidates", json);
}
