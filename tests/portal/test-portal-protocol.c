/* SPDX-License-Identifier: MIT */
/* Drives a running kiln-test-portal over real WebSockets with libsoup's client as a plain
 * Phoenix protocol driver: join, init, heartbeats, reload pushes, authorizations between a client
 * and a gateway, ICE candidate relaying, the offline failures, token expiry and duplicate gateways. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "tests/portal/token.h"
#include "tests/support/ws-peer.h"

#define SECRET_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define R_WEB      "11111111-1111-4111-8111-111111111111"
#define R_LAN      "22222222-2222-4222-8222-222222222222"
#define R_FAR      "33333333-3333-4333-8333-333333333333"
#define R_NEW      "44444444-4444-4444-8444-444444444444"
#define SITE_1     "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define GW_1       "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define RELAY_OLD  "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
#define RELAY_NEW  "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
#define CLIENT_UA  "Debian/12 gui-client/1.5.17 (x86_64; 6.1.0)"
#define GATEWAY_UA "Debian/12 gateway/1.6.0 (x86_64; 6.1.0)"

typedef struct {
        char *dir;
        char *config_path;
        char *log_path;
        GSubprocess *portal;
        char *ws_url;
        SoupSession *session;
        uint8_t secret[TP_SECRET_LEN];
        guint ticker;
} Fixture;

static const char *config_variant(int variant)
{
        static const char base[] =
            "{\"secret\":\"" SECRET_HEX "\",\"authorization_timeout_secs\":2,\"accounts\":[{"
            "\"slug\":\"acme\",\"name\":\"Acme Inc\",\"search_domain\":\"acme.test\","
            "\"users\":[{\"email\":\"alice@acme.test\",\"password\":\"a\",\"name\":\"Alice\"},"
            "{\"email\":\"bob@acme.test\",\"password\":\"b\",\"name\":\"Bob\"}],"
            "\"sites\":[{\"id\":\"" SITE_1 "\",\"name\":\"one\"},{\"name\":\"two\"}],"
            "\"gateways\":[{\"id\":\"" GW_1 "\",\"name\":\"g1\",\"site\":\"one\",\"token\":\"gw-one\"},"
            "{\"name\":\"g2\",\"site\":\"two\",\"token\":\"gw-two\"}],"
            "\"resources\":["
            "{\"id\":\"" R_WEB "\",\"type\":\"dns\",\"name\":\"web\",\"address\":\"web.acme.test\","
            "\"sites\":[\"one\"],\"filters\":[{\"protocol\":\"tcp\",\"port_range_start\":443,"
            "\"port_range_end\":443}]},"
            "{\"id\":\"" R_LAN "\",\"type\":\"cidr\",\"name\":\"lan\",\"address\":\"10.9.0.0/16\","
            "\"sites\":[\"one\"]},"
            "{\"id\":\"" R_FAR "\",\"type\":\"dns\",\"name\":\"far\",\"address\":\"far.acme.test\","
            "\"sites\":[\"two\"]}],"
            "\"policies\":[{\"users\":[\"*\"],\"resources\":[\"web\"]},"
            "{\"users\":[\"alice@acme.test\"],\"resources\":[\"lan\",\"far\"]}]}],"
            "\"relays\":[{\"id\":\"" RELAY_OLD "\",\"addresses\":[\"127.0.0.1:3478\",\"[::1]:3478\"],"
            "\"secret\":\"old-secret\"}]}";
        /* lan removed, web moved, new added, the relay replaced. */
        static const char reloaded[] =
            "{\"secret\":\"" SECRET_HEX "\",\"authorization_timeout_secs\":2,\"accounts\":[{"
            "\"slug\":\"acme\",\"name\":\"Acme Inc\",\"search_domain\":\"acme.test\","
            "\"users\":[{\"email\":\"alice@acme.test\",\"password\":\"a\",\"name\":\"Alice\"},"
            "{\"email\":\"bob@acme.test\",\"password\":\"b\",\"name\":\"Bob\"}],"
            "\"sites\":[{\"id\":\"" SITE_1 "\",\"name\":\"one\"},{\"name\":\"two\"}],"
            "\"gateways\":[{\"id\":\"" GW_1 "\",\"name\":\"g1\",\"site\":\"one\",\"token\":\"gw-one\"}],"
            "\"resources\":["
            "{\"id\":\"" R_WEB "\",\"type\":\"dns\",\"name\":\"web\",\"address\":\"www.acme.test\","
            "\"sites\":[\"one\"],\"filters\":[{\"protocol\":\"tcp\",\"port_range_start\":443,"
            "\"port_range_end\":443}]},"
            "{\"id\":\"" R_FAR "\",\"type\":\"dns\",\"name\":\"far\",\"address\":\"far.acme.test\","
            "\"sites\":[\"two\"]},"
            "{\"id\":\"" R_NEW "\",\"type\":\"cidr\",\"name\":\"new\",\"address\":\"10.10.0.0/24\","
            "\"sites\":[\"one\"]}],"
            "\"policies\":[{\"users\":[\"*\"],\"resources\":[\"web\"]},"
            "{\"users\":[\"alice@acme.test\"],\"resources\":[\"far\",\"new\"]}]}],"
            "\"relays\":[{\"id\":\"" RELAY_NEW "\",\"addresses\":[\"127.0.0.1:3479\"],"
            "\"secret\":\"new-secret\"}]}";
        static const char broken[] =
            "{\"accounts\":[{\"slug\":\"acme\",\"name\":\"x\",\"resources\":[{}]}]}";

        return variant == 0 ? base : variant == 1 ? reloaded : broken;
}

static void write_config(Fixture *f, int variant)
{
        g_autoptr(GError) error = NULL;

        g_file_set_contents(f->config_path, config_variant(variant), -1, &error);
        g_assert_no_error(error);
}

static gboolean tick(gpointer data)
{
        return G_SOURCE_CONTINUE;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        const char *args[] = { "--config", NULL, "--listen", "127.0.0.1", "--port", "0", NULL };

        f->dir = g_dir_make_tmp("kiln-portal-test-XXXXXX", &error);
        g_assert_no_error(error);
        f->config_path = g_build_filename(f->dir, "portal.json", NULL);
        f->log_path = g_build_filename(f->dir, "portal.log", NULL);
        write_config(f, 0);
        args[1] = f->config_path;
        f->portal = kiln_test_portal_spawn(NULL, args, f->log_path, &f->ws_url);
        for (int i = 0; i < TP_SECRET_LEN; i++)
                f->secret[i] = (uint8_t)(g_ascii_xdigit_value(SECRET_HEX[2 * i]) << 4 |
                                         g_ascii_xdigit_value(SECRET_HEX[2 * i + 1]));
        f->session = soup_session_new();
        f->ticker = g_timeout_add(50, tick, NULL);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;

        g_source_remove(f->ticker);
        g_subprocess_send_signal(f->portal, SIGTERM);
        g_subprocess_wait(f->portal, NULL, &error);
        g_assert_no_error(error);
        /* A clean stop: no crash, and no leak report when built with sanitizers. */
        g_assert_true(g_subprocess_get_if_exited(f->portal));
        g_assert_cmpint(g_subprocess_get_exit_status(f->portal), ==, 0);
        g_clear_object(&f->portal);
        g_clear_object(&f->session);
        g_unlink(f->config_path);
        g_unlink(f->log_path);
        g_rmdir(f->dir);
        g_free(f->dir);
        g_free(f->config_path);
        g_free(f->log_path);
        g_free(f->ws_url);
}

/* ---- a minimal Phoenix peer (tests/support/ws-peer.h) ----------------------------------------- */

static KilnWsPeer *peer_connect(Fixture *f, const char *path, const char *token, const char *ua,
                                const char *external_id)
{
        return kiln_ws_peer_connect(f->session, f->ws_url, path, token, ua, external_id);
}

/* Lets the main loop run briefly, so frames that would arrive have arrived. */
static void settle(void)
{
        gint64 until = g_get_monotonic_time() + 300 * 1000;

        while (g_get_monotonic_time() < until)
                g_main_context_iteration(NULL, TRUE);
}

static void assert_no_frame(KilnWsPeer *p, const char *event)
{
        for (GList *l = p->frames.head; l; l = l->next)
                g_assert_cmpstr(kiln_ws_frame_event(l->data), !=, event);
}

/* Joins the topic and checks the reply is exactly ok/{} with our ref; returns the init payload frame. */
static char *client_token(Fixture *f, const char *email, gint64 lifetime)
{
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;
        g_autofree char *fragment =
            tp_token_issue_fragment(f->secret, "acme", email, "abcdef0123", now, now + lifetime);

        return g_strconcat("abcdef0123", fragment, NULL);
}

static KilnWsPeer *connect_client(Fixture *f, const char *email, const char *external_id)
{
        g_autofree char *token = client_token(f, email, 3600);
        KilnWsPeer *p = peer_connect(f, "/client/v2/websocket", token, CLIENT_UA, external_id);

        g_assert_cmpuint(p->status, ==, 101);
        return p;
}

static KilnWsPeer *connect_gateway(Fixture *f, const char *token)
{
        KilnWsPeer *p = peer_connect(f, "/gateway/v2/websocket", token, GATEWAY_UA, "gw-external");

        g_assert_cmpuint(p->status, ==, 101);
        return p;
}

static GPtrArray *resource_ids(JsonArray *resources)
{
        GPtrArray *ids = g_ptr_array_new();

        for (guint i = 0; i < json_array_get_length(resources); i++)
                g_ptr_array_add(ids, (gpointer)json_object_get_string_member(
                                         json_array_get_object_element(resources, i), "id"));
        g_ptr_array_sort(ids, (GCompareFunc)g_strcmp0);
        return ids;
}

static gboolean has_id(GPtrArray *ids, const char *id)
{
        return g_ptr_array_find_with_equal_func(ids, id, g_str_equal, NULL);
}

/* Recomputes coturn's REST-API password independently of the portal's code. */
static void assert_turn_credentials(JsonObject *relay, const char *secret, const char *public_key,
                                    gint64 expires)
{
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        uint8_t digest[32];
        gsize len = sizeof(digest);
        g_autofree char *salt = NULL;
        g_autofree char *username = NULL;
        g_autofree char *password = NULL;
        g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)secret, strlen(secret));
        uint8_t mac[20];
        gsize mac_len = sizeof(mac);

        g_checksum_update(sum, (const guchar *)public_key, -1);
        g_checksum_get_digest(sum, digest, &len);
        salt = g_base64_encode(digest, len);
        *strchr(salt, '=') = '\0';
        username = g_strdup_printf("%" G_GINT64_FORMAT ":%s", expires, salt);
        g_hmac_update(hmac, (const guchar *)username, -1);
        g_hmac_get_digest(hmac, mac, &mac_len);
        password = g_base64_encode(mac, mac_len);
        g_assert_cmpstr(json_object_get_string_member(relay, "type"), ==, "turn");
        g_assert_cmpstr(json_object_get_string_member(relay, "username"), ==, username);
        g_assert_cmpstr(json_object_get_string_member(relay, "password"), ==, password);
        g_assert_cmpint(json_object_get_int_member(relay, "expires_at"), ==, expires);
}

static void assert_key(const char *b64)
{
        gsize len = 0;
        g_autofree guchar *raw = NULL;

        g_assert_nonnull(b64);
        g_assert_cmpuint(strlen(b64), ==, 44);
        raw = g_base64_decode(b64, &len);
        g_assert_cmpuint(len, ==, 32);
}

static void assert_ice_pair(JsonObject *creds)
{
        g_assert_cmpuint(strlen(json_object_get_string_member(creds, "username")), ==, 4);
        g_assert_cmpuint(strlen(json_object_get_string_member(creds, "password")), ==, 22);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_join_init_heartbeat(Fixture *f, gconstpointer data)
{
        g_autofree char *token = client_token(f, "alice@acme.test", 3600);
        g_autoptr(KilnWsPeer) alice =
            peer_connect(f, "/client/v2/websocket", token, CLIENT_UA, "alice-laptop");
        g_autoptr(KilnWsPeer) bob = connect_client(f, "bob@acme.test", "bob-laptop");
        g_autoptr(KilnWsPeer) again = NULL;
        g_autoptr(JsonNode) init = NULL;
        g_autoptr(JsonNode) bob_init = NULL;
        g_autoptr(JsonNode) again_init = NULL;
        g_autoptr(JsonNode) hb = NULL;
        g_autoptr(GPtrArray) ids = NULL;
        g_autoptr(GPtrArray) bob_ids = NULL;
        g_autoptr(GInetAddress) v4 = NULL;
        g_autoptr(GInetAddressMask) pool4 = g_inet_address_mask_new_from_string("100.64.0.0/11", NULL);
        g_autoptr(GInetAddressMask) pool6 =
            g_inet_address_mask_new_from_string("fd00:2021:1111::/107", NULL);
        g_autoptr(GInetAddress) v6 = NULL;
        JsonObject *payload, *interface, *web = NULL;
        JsonArray *relays, *resources;
        gint64 ref;

        g_assert_cmpuint(alice->status, ==, 101);
        init = kiln_ws_peer_join(alice, "client");
        /* Pushes carry a null ref. */
        g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(json_node_get_object(init), "ref")));
        payload = kiln_ws_frame_payload(init);
        interface = json_object_get_object_member(payload, "interface");
        v4 = g_inet_address_new_from_string(json_object_get_string_member(interface, "ipv4"));
        v6 = g_inet_address_new_from_string(json_object_get_string_member(interface, "ipv6"));
        g_assert_nonnull(v4);
        g_assert_nonnull(v6);
        g_assert_true(g_inet_address_mask_matches(pool4, v4));
        g_assert_true(g_inet_address_mask_matches(pool6, v6));
        g_assert_cmpstr(json_object_get_string_member(interface, "search_domain"), ==, "acme.test");
        g_assert_true(json_object_has_member(payload, "flow_logs"));
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(payload, "authorizations")), ==,
                         0);

        /* Policies: alice sees web, lan and far; bob only web. */
        resources = json_object_get_array_member(payload, "resources");
        ids = resource_ids(resources);
        g_assert_cmpuint(ids->len, ==, 3);
        g_assert_true(has_id(ids, R_WEB) && has_id(ids, R_LAN) && has_id(ids, R_FAR));
        for (guint i = 0; i < json_array_get_length(resources); i++) {
                JsonObject *r = json_array_get_object_element(resources, i);

                if (g_str_equal(json_object_get_string_member(r, "id"), R_WEB))
                        web = r;
        }
        g_assert_nonnull(web);
        g_assert_cmpstr(json_object_get_string_member(web, "type"), ==, "dns");
        g_assert_cmpstr(json_object_get_string_member(web, "address"), ==, "web.acme.test");
        g_assert_cmpstr(json_object_get_string_member(web, "ip_stack"), ==, "dual");
        g_assert_cmpstr(
            json_object_get_string_member(
                json_array_get_object_element(json_object_get_array_member(web, "sites"), 0), "id"),
            ==, SITE_1);
        g_assert_cmpint(json_object_get_int_member(
                            json_array_get_object_element(json_object_get_array_member(web, "filters"), 0),
                            "port_range_start"),
                        ==, 443);

        bob_init = kiln_ws_peer_join(bob, "client");
        bob_ids = resource_ids(json_object_get_array_member(kiln_ws_frame_payload(bob_init), "resources"));
        g_assert_cmpuint(bob_ids->len, ==, 1);
        g_assert_true(has_id(bob_ids, R_WEB));

        /* One TURN entry per relay address, coturn REST-API credentials salted with our key. */
        relays = json_object_get_array_member(payload, "relays");
        g_assert_cmpuint(json_array_get_length(relays), ==, 2);
        for (guint i = 0; i < 2; i++) {
                JsonObject *relay = json_array_get_object_element(relays, i);

                g_assert_cmpstr(json_object_get_string_member(relay, "id"), ==, RELAY_OLD);
                assert_turn_credentials(relay, "old-secret", alice->public_key,
                                        json_object_get_int_member(relay, "expires_at"));
        }
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(relays, 0), "addr"), ==,
                        "127.0.0.1:3478");
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(relays, 1), "addr"), ==,
                        "[::1]:3478");

        kiln_ws_peer_send(alice, "client", "set_snownet_capabilities", "{\"iceless\":false}");
        ref = kiln_ws_peer_send(alice, "phoenix", "heartbeat", "{}");
        hb = kiln_ws_peer_wait_ref(alice, "phx_reply", ref);
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(hb), "topic"), ==, "phoenix");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(hb), "status"), ==, "ok");

        /* The same device reconnecting keeps its addresses. */
        again = connect_client(f, "alice@acme.test", "alice-laptop");
        again_init = kiln_ws_peer_join(again, "client");
        g_assert_cmpstr(
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(again_init), "interface"), "ipv4"),
            ==, json_object_get_string_member(interface, "ipv4"));
        g_assert_cmpstr(
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(again_init), "interface"), "ipv6"),
            ==, json_object_get_string_member(interface, "ipv6"));
        g_assert_cmpstr(
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(bob_init), "interface"), "ipv4"),
            !=, json_object_get_string_member(interface, "ipv4"));
}

static void test_unjoined_and_unknown(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnWsPeer) alice = connect_client(f, "alice@acme.test", "alice-laptop");
        g_autoptr(JsonNode) early = NULL;
        g_autoptr(JsonNode) init = NULL;
        g_autoptr(JsonNode) unknown = NULL;
        gint64 ref;

        ref = kiln_ws_peer_send(alice, "client", "request_authorization", "{\"resource_id\":\"" R_WEB "\"}");
        early = kiln_ws_peer_wait_ref(alice, "phx_reply", ref);
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(early), "status"), ==, "error");
        g_assert_cmpstr(
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(early), "response"), "reason"),
            ==, "unmatched topic");
        init = kiln_ws_peer_join(alice, "client");
        ref = kiln_ws_peer_send(alice, "client", "create_flow", "{\"resource_id\":\"" R_WEB "\"}");
        unknown = kiln_ws_peer_wait_ref(alice, "phx_reply", ref);
        g_assert_cmpstr(
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(unknown), "response"), "reason"),
            ==, "unknown_message");
}

static void test_authorization(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnWsPeer) gw = connect_gateway(f, "gw-one");
        g_autoptr(KilnWsPeer) alice = connect_client(f, "alice@acme.test", "alice-laptop");
        g_autoptr(KilnWsPeer) gw_again = NULL;
        g_autoptr(JsonNode) gw_init = kiln_ws_peer_join(gw, "gateway");
        g_autoptr(JsonNode) init = kiln_ws_peer_join(alice, "client");
        g_autoptr(JsonNode) create = NULL;
        g_autoptr(JsonNode) confirm = NULL;
        g_autoptr(JsonNode) created = NULL;
        g_autoptr(JsonNode) to_gw = NULL;
        g_autoptr(JsonNode) to_client = NULL;
        g_autoptr(JsonNode) inval_gw = NULL;
        g_autoptr(JsonNode) inval_client = NULL;
        g_autoptr(JsonNode) reconnect_init = NULL;
        JsonObject *gi = kiln_ws_frame_payload(gw_init);
        JsonObject *c, *client, *a, *gw_interface;
        g_autofree char *payload = NULL;
        g_auto(GStrv) ingest = NULL;
        g_autofree char *client_id = NULL;
        const char *ref;
        gint64 frame_ref;
        gsize header_len;
        g_autofree guchar *header = NULL;

        /* Gateway init: interface, masquerading, relays valid until 2038, account, flow logs. */
        gw_interface = json_object_get_object_member(gi, "interface");
        g_assert_true(g_str_has_prefix(json_object_get_string_member(gw_interface, "ipv4"), "100."));
        g_assert_true(json_object_get_boolean_member(json_object_get_object_member(gi, "config"),
                                                     "ipv4_masquerade_enabled"));
        g_assert_true(json_object_get_boolean_member(json_object_get_object_member(gi, "config"),
                                                     "ipv6_masquerade_enabled"));
        g_assert_cmpstr(json_object_get_string_member(gi, "account_slug"), ==, "acme");
        g_assert_true(json_object_has_member(gi, "flow_logs"));
        assert_turn_credentials(json_array_get_object_element(json_object_get_array_member(gi, "relays"), 0),
                                "old-secret", gw->public_key, 2145916800);

        kiln_ws_peer_send(alice, "client", "request_authorization",
                          "{\"resource_id\":\"" R_WEB "\",\"connected_gateway_ids\":[]}");
        create = kiln_ws_peer_wait(gw, "create_authorization");
        c = kiln_ws_frame_payload(create);
        ref = json_object_get_string_member(c, "ref");
        g_assert_nonnull(ref);
        client = json_object_get_object_member(c, "client");
        client_id = g_strdup(json_object_get_string_member(client, "id"));
        g_assert_cmpstr(json_object_get_string_member(client, "public_key"), ==, alice->public_key);
        g_assert_cmpstr(
            json_object_get_string_member(client, "ipv4"), ==,
            json_object_get_string_member(
                json_object_get_object_member(kiln_ws_frame_payload(init), "interface"), "ipv4"));
        assert_key(json_object_get_string_member(client, "preshared_key"));
        g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(c, "resource"), "id"),
                        ==, R_WEB);
        g_assert_cmpstr(
            json_object_get_string_member(json_object_get_object_member(c, "resource"), "address"), ==,
            "web.acme.test");
        assert_ice_pair(json_object_get_object_member(c, "client_ice_credentials"));
        assert_ice_pair(json_object_get_object_member(c, "gateway_ice_credentials"));
        g_assert_true(json_object_has_member(c, "flow_logs_ingest_token"));

        /* The client hears nothing until the gateway confirms. */
        settle();
        assert_no_frame(alice, "authorization_created");
        payload = g_strdup_printf("{\"ref\":\"%s\"}", ref);
        frame_ref = kiln_ws_peer_send(gw, "gateway", "authorization_created", payload);
        confirm = kiln_ws_peer_wait_ref(gw, "phx_reply", frame_ref);
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(confirm), "status"), ==, "ok");

        created = kiln_ws_peer_wait(alice, "authorization_created");
        a = kiln_ws_frame_payload(created);
        g_assert_cmpstr(json_object_get_string_member(a, "resource_id"), ==, R_WEB);
        g_assert_cmpstr(json_object_get_string_member(a, "gateway_id"), ==, GW_1);
        g_assert_cmpstr(json_object_get_string_member(a, "gateway_public_key"), ==, gw->public_key);
        g_assert_cmpstr(json_object_get_string_member(a, "gateway_ipv4"), ==,
                        json_object_get_string_member(gw_interface, "ipv4"));
        g_assert_cmpstr(json_object_get_string_member(a, "gateway_ipv6"), ==,
                        json_object_get_string_member(gw_interface, "ipv6"));
        g_assert_cmpstr(json_object_get_string_member(a, "site_id"), ==, SITE_1);
        /* Both sides hold the same PSK and the same two ICE credential pairs. */
        g_assert_cmpstr(json_object_get_string_member(a, "preshared_key"), ==,
                        json_object_get_string_member(client, "preshared_key"));
        for (int i = 0; i < 2; i++) {
                const char *member = i ? "gateway_ice_credentials" : "client_ice_credentials";
                JsonObject *mine = json_object_get_object_member(a, member);
                JsonObject *theirs = json_object_get_object_member(c, member);

                g_assert_cmpstr(json_object_get_string_member(mine, "username"), ==,
                                json_object_get_string_member(theirs, "username"));
                g_assert_cmpstr(json_object_get_string_member(mine, "password"), ==,
                                json_object_get_string_member(theirs, "password"));
        }
        g_assert_false(json_object_get_boolean_member(a, "use_iceless"));
        ingest = g_strsplit(json_object_get_string_member(a, "flow_logs_ingest_token"), ".", -1);
        g_assert_cmpuint(g_strv_length(ingest), ==, 3);
        g_assert_cmpuint(strlen(ingest[2]), >, 0);
        {
                g_autofree char *std = g_strdup(ingest[0]);

                for (char *p = std; *p; p++)
                        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
                while (strlen(std) % 4) {
                        char *longer = g_strconcat(std, "=", NULL);

                        g_free(std);
                        std = longer;
                }
                header = g_base64_decode(std, &header_len);
                g_assert_nonnull(
                    g_strstr_len((const char *)header, (gssize)header_len, "\"alg\":\"HS256\""));
        }

        /* ICE candidates both ways, and their invalidation. */
        kiln_ws_peer_send(alice, "client", "new_gateway_ice_candidates",
                          "{\"gateway_id\":\"" GW_1
                          "\",\"candidates\":[\"candidate:1 1 udp 2130706431 10.0.0.1 5000 typ "
                          "host\"]}");
        to_gw = kiln_ws_peer_wait(gw, "ice_candidates");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(to_gw), "client_id"), ==,
                        client_id);
        g_assert_cmpstr(json_array_get_string_element(
                            json_object_get_array_member(kiln_ws_frame_payload(to_gw), "candidates"), 0),
                        ==, "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host");
        payload =
            (g_free(payload), g_strdup_printf("{\"client_ids\":[\"%s\"],\"candidates\":[\"candidate:2 1 udp "
                                              "1694498815 192.0.2.7 6000 typ srflx\"]}",
                                              client_id));
        kiln_ws_peer_send(gw, "gateway", "broadcast_ice_candidates", payload);
        to_client = kiln_ws_peer_wait(alice, "ice_candidates");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(to_client), "gateway_id"), ==,
                        GW_1);
        g_assert_cmpstr(json_array_get_string_element(
                            json_object_get_array_member(kiln_ws_frame_payload(to_client), "candidates"), 0),
                        ==, "candidate:2 1 udp 1694498815 192.0.2.7 6000 typ srflx");
        kiln_ws_peer_send(alice, "client", "invalidate_gateway_ice_candidates",
                          "{\"gateway_id\":\"" GW_1
                          "\",\"candidates\":[\"candidate:1 1 udp 2130706431 10.0.0.1 5000 typ "
                          "host\"]}");
        inval_gw = kiln_ws_peer_wait(gw, "invalidate_ice_candidates");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(inval_gw), "client_id"), ==,
                        client_id);
        kiln_ws_peer_send(gw, "gateway", "broadcast_invalidated_ice_candidates", payload);
        inval_client = kiln_ws_peer_wait(alice, "invalidate_ice_candidates");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(inval_client), "gateway_id"), ==,
                        GW_1);

        /* A second socket for the same gateway is refused while the first is up. */
        gw_again = peer_connect(f, "/gateway/v2/websocket", "gw-one", GATEWAY_UA, "gw-external");
        g_assert_cmpuint(gw_again->status, ==, 409);
        g_assert_null(gw_again->ws);

        /* After a reconnect the gateway's init lists the grant for resync. */
        soup_websocket_connection_close(gw->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
        kiln_ws_peer_wait_closed(gw);
        settle();
        g_clear_pointer(&gw_again, kiln_ws_peer_free);
        gw_again = connect_gateway(f, "gw-one");
        reconnect_init = kiln_ws_peer_join(gw_again, "gateway");
        {
                JsonArray *auths =
                    json_object_get_array_member(kiln_ws_frame_payload(reconnect_init), "authorizations");

                g_assert_cmpuint(json_array_get_length(auths), ==, 1);
                g_assert_cmpstr(
                    json_object_get_string_member(json_array_get_object_element(auths, 0), "client_id"), ==,
                    client_id);
                g_assert_cmpstr(
                    json_object_get_string_member(json_array_get_object_element(auths, 0), "resource_id"),
                    ==, R_WEB);
        }
}

static void expect_failure(KilnWsPeer *p, const char *resource_id, const char *reason)
{
        g_autoptr(JsonNode) failed = kiln_ws_peer_wait(p, "authorization_creation_failed");

        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(failed), "resource_id"), ==,
                        resource_id);
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(failed), "reason"), ==, reason);
}

static void test_offline_and_not_found(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnWsPeer) gw = connect_gateway(f, "gw-one");
        g_autoptr(KilnWsPeer) alice = connect_client(f, "alice@acme.test", "alice-laptop");
        g_autoptr(KilnWsPeer) bob = connect_client(f, "bob@acme.test", "bob-laptop");
        g_autoptr(JsonNode) gw_init = kiln_ws_peer_join(gw, "gateway");
        g_autoptr(JsonNode) init = kiln_ws_peer_join(alice, "client");
        g_autoptr(JsonNode) bob_init = kiln_ws_peer_join(bob, "client");
        g_autoptr(JsonNode) create = NULL;

        /* far lives in site two, whose gateway is not connected. */
        kiln_ws_peer_send(alice, "client", "request_authorization",
                          "{\"resource_id\":\"" R_FAR "\",\"connected_gateway_ids\":[]}");
        expect_failure(alice, R_FAR, "offline");
        /* bob's policies do not grant lan. */
        kiln_ws_peer_send(bob, "client", "request_authorization",
                          "{\"resource_id\":\"" R_LAN "\",\"connected_gateway_ids\":[]}");
        expect_failure(bob, R_LAN, "not_found");
        /* The gateway of site one gets the request but never confirms: offline after the timeout (2 s here). */
        kiln_ws_peer_send(alice, "client", "request_authorization",
                          "{\"resource_id\":\"" R_LAN "\",\"connected_gateway_ids\":[]}");
        create = kiln_ws_peer_wait(gw, "create_authorization");
        expect_failure(alice, R_LAN, "offline");
        assert_no_frame(alice, "authorization_created");
}

static void test_versions(Fixture *f, gconstpointer data)
{
        g_autofree char *token = client_token(f, "alice@acme.test", 3600);
        g_autoptr(KilnWsPeer) gw =
            peer_connect(f, "/gateway/v2/websocket", "gw-one", "Debian/12 gateway/1.9.0", "gw-external");
        g_autoptr(KilnWsPeer) old =
            peer_connect(f, "/client/v2/websocket", token, "Debian/12 gui-client/1.5.9", "old-laptop");
        g_autoptr(JsonNode) gw_init = NULL;
        g_autoptr(JsonNode) init = NULL;
        JsonObject *first;

        g_assert_cmpuint(gw->status, ==, 101);
        g_assert_cmpuint(old->status, ==, 101);
        gw_init = kiln_ws_peer_join(gw, "gateway");
        init = kiln_ws_peer_join(old, "client");
        /* A gui-client older than 1.5.10 gets gateway_groups instead of sites. */
        first = json_array_get_object_element(
            json_object_get_array_member(kiln_ws_frame_payload(init), "resources"), 0);
        g_assert_true(json_object_has_member(first, "gateway_groups"));
        g_assert_false(json_object_has_member(first, "sites"));
        /* A 1.5 client cannot be served by a 1.9 gateway. */
        kiln_ws_peer_send(old, "client", "request_authorization",
                          "{\"resource_id\":\"" R_WEB "\",\"connected_gateway_ids\":[]}");
        expect_failure(old, R_WEB, "version_mismatch");
        assert_no_frame(gw, "create_authorization");
}

static gboolean log_contains(Fixture *f, const char *needle)
{
        g_autofree char *log = NULL;

        return g_file_get_contents(f->log_path, &log, NULL, NULL) && strstr(log, needle);
}

static void wait_log(Fixture *f, const char *needle)
{
        gint64 deadline = g_get_monotonic_time() + KILN_WS_PEER_WAIT_SECS * G_USEC_PER_SEC;

        while (!log_contains(f, needle)) {
                if (g_get_monotonic_time() > deadline)
                        g_error("the portal never logged \"%s\"", needle);
                g_main_context_iteration(NULL, TRUE);
        }
}

static void test_reload(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnWsPeer) alice = connect_client(f, "alice@acme.test", "alice-laptop");
        g_autoptr(KilnWsPeer) bob = connect_client(f, "bob@acme.test", "bob-laptop");
        g_autoptr(KilnWsPeer) late = NULL;
        g_autoptr(JsonNode) init = kiln_ws_peer_join(alice, "client");
        g_autoptr(JsonNode) bob_init = kiln_ws_peer_join(bob, "client");
        g_autoptr(JsonNode) deleted = NULL;
        g_autoptr(JsonNode) first = NULL;
        g_autoptr(JsonNode) second = NULL;
        g_autoptr(JsonNode) bob_update = NULL;
        g_autoptr(JsonNode) presence = NULL;
        g_autoptr(JsonNode) hb = NULL;
        g_autoptr(JsonNode) late_init = NULL;
        g_autoptr(GPtrArray) late_ids = NULL;
        JsonObject *pp;
        JsonArray *connected;
        gint64 ref;
        JsonNode *deleted_payload;

        /* A broken file is rejected and changes nothing. */
        write_config(f, 2);
        g_subprocess_send_signal(f->portal, SIGHUP);
        wait_log(f, "configuration reload rejected");
        ref = kiln_ws_peer_send(alice, "phoenix", "heartbeat", "{}");
        hb = kiln_ws_peer_wait_ref(alice, "phx_reply", ref);
        assert_no_frame(alice, "resource_deleted");
        assert_no_frame(alice, "resource_created_or_updated");
        assert_no_frame(alice, "relays_presence");

        write_config(f, 1);
        g_subprocess_send_signal(f->portal, SIGHUP);
        deleted = kiln_ws_peer_wait(alice, "resource_deleted");
        deleted_payload = json_object_get_member(json_node_get_object(deleted), "payload");
        g_assert_true(JSON_NODE_HOLDS_VALUE(deleted_payload));
        g_assert_cmpstr(json_node_get_string(deleted_payload), ==, R_LAN);
        first = kiln_ws_peer_wait(alice, "resource_created_or_updated");
        second = kiln_ws_peer_wait(alice, "resource_created_or_updated");
        {
                JsonObject *a = kiln_ws_frame_payload(first), *b = kiln_ws_frame_payload(second);
                JsonObject *web = g_str_equal(json_object_get_string_member(a, "id"), R_WEB) ? a : b;
                JsonObject *fresh = web == a ? b : a;

                g_assert_cmpstr(json_object_get_string_member(web, "id"), ==, R_WEB);
                g_assert_cmpstr(json_object_get_string_member(web, "address"), ==, "www.acme.test");
                g_assert_cmpstr(json_object_get_string_member(fresh, "id"), ==, R_NEW);
                g_assert_cmpstr(json_object_get_string_member(fresh, "type"), ==, "cidr");
                g_assert_cmpstr(json_object_get_string_member(fresh, "address"), ==, "10.10.0.0/24");
        }
        presence = kiln_ws_peer_wait(alice, "relays_presence");
        pp = kiln_ws_frame_payload(presence);
        g_assert_cmpuint(json_array_get_length(json_object_get_array_member(pp, "disconnected_ids")), ==, 1);
        g_assert_cmpstr(
            json_array_get_string_element(json_object_get_array_member(pp, "disconnected_ids"), 0), ==,
            RELAY_OLD);
        connected = json_object_get_array_member(pp, "connected");
        g_assert_cmpuint(json_array_get_length(connected), ==, 1);
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(connected, 0), "id"), ==,
                        RELAY_NEW);
        g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(connected, 0), "addr"),
                        ==, "127.0.0.1:3479");
        assert_turn_credentials(
            json_array_get_object_element(connected, 0), "new-secret", alice->public_key,
            json_object_get_int_member(json_array_get_object_element(connected, 0), "expires_at"));

        /* bob only sees web change; nothing about resources he never had. */
        bob_update = kiln_ws_peer_wait(bob, "resource_created_or_updated");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(bob_update), "id"), ==, R_WEB);
        settle();
        assert_no_frame(bob, "resource_deleted");
        assert_no_frame(bob, "resource_created_or_updated");

        /* A client connecting now gets the reloaded configuration in its init. */
        late = connect_client(f, "alice@acme.test", "alice-desktop");
        late_init = kiln_ws_peer_join(late, "client");
        late_ids = resource_ids(json_object_get_array_member(kiln_ws_frame_payload(late_init), "resources"));
        g_assert_cmpuint(late_ids->len, ==, 3);
        g_assert_true(has_id(late_ids, R_WEB) && has_id(late_ids, R_FAR) && has_id(late_ids, R_NEW));
}

static void test_token_expiry(Fixture *f, gconstpointer data)
{
        g_autofree char *token = client_token(f, "alice@acme.test", 2);
        g_autofree char *expired = client_token(f, "alice@acme.test", -1);
        g_autoptr(KilnWsPeer) alice =
            peer_connect(f, "/client/v2/websocket", token, CLIENT_UA, "alice-laptop");
        g_autoptr(KilnWsPeer) refused =
            peer_connect(f, "/client/v2/websocket", expired, CLIENT_UA, "alice-laptop");
        g_autoptr(JsonNode) init = NULL;
        g_autoptr(JsonNode) disconnect = NULL;

        g_assert_cmpuint(refused->status, ==, 401);
        g_assert_cmpuint(alice->status, ==, 101);
        init = kiln_ws_peer_join(alice, "client");
        /* Relay credentials expire with the token. */
        g_assert_cmpint(json_object_get_int_member(
                            json_array_get_object_element(
                                json_object_get_array_member(kiln_ws_frame_payload(init), "relays"), 0),
                            "expires_at"),
                        <=, g_get_real_time() / G_USEC_PER_SEC + 2);
        disconnect = kiln_ws_peer_wait(alice, "disconnect");
        g_assert_cmpstr(json_object_get_string_member(json_node_get_object(disconnect), "topic"), ==,
                        "client");
        g_assert_cmpstr(json_object_get_string_member(kiln_ws_frame_payload(disconnect), "reason"), ==,
                        "token_expired");
        kiln_ws_peer_wait_closed(alice);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/portal/protocol/join-init-heartbeat", Fixture, NULL, fixture_setup,
                   test_join_init_heartbeat, fixture_teardown);
        g_test_add("/portal/protocol/unjoined-and-unknown", Fixture, NULL, fixture_setup,
                   test_unjoined_and_unknown, fixture_teardown);
        g_test_add("/portal/protocol/authorization", Fixture, NULL, fixture_setup, test_authorization,
                   fixture_teardown);
        g_test_add("/portal/protocol/offline-and-not-found", Fixture, NULL, fixture_setup,
                   test_offline_and_not_found, fixture_teardown);
        g_test_add("/portal/protocol/versions", Fixture, NULL, fixture_setup, test_versions,
                   fixture_teardown);
        g_test_add("/portal/protocol/reload", Fixture, NULL, fixture_setup, test_reload, fixture_teardown);
        g_test_add("/portal/protocol/token-expiry", Fixture, NULL, fixture_setup, test_token_expiry,
                   fixture_teardown);
        return g_test_run();
}
