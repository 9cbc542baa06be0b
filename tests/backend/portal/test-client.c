/* SPDX-License-Identifier: MIT */
/*
 * KilnPortalClient's libsoup shell against an in-process libsoup server on 127.0.0.1: the
 * handshake request it really sends (path, query, headers), a 401 problem+json reported as
 * sign-in required, a 503 Retry-After reported as a hiccup, and join → init over a real
 * WebSocket.  The full protocol against Kiln's test portal is covered by the e2e suite.
 */
#include <string.h>

#include <libsoup/soup.h>

#include "backend/portal/client.h"
#include "tests/support/test-support.h"

static const uint8_t KEY[32] = { 0x4b, 0xa4, 0x44, 0x91, 0xb4, 0xad, 0x48, 0xd3, 0x1f, 0x9f, 0xc8,
                                 0x69, 0x2e, 0x45, 0x71, 0x89, 0xb8, 0xd1, 0xfb, 0x3c, 0xf7, 0x44,
                                 0xef, 0xc6, 0xab, 0x8d, 0x13, 0xa6, 0xb1, 0xc9, 0x13, 0x65 };

typedef struct {
        GMainLoop *loop;
        SoupServer *server;
        char *url;
        guint requests;
        char *path, *query, *host, *authorization, *user_agent, *extensions, *origin, *accept_encoding;
        guint status; /* what the plain handler answers */
        SoupWebsocketConnection *ws;
        GPtrArray *received; /* frames the server got */
        char *sign_in_detail;
        char *hiccup_reason;
        guint hiccup_delay_ms;
        KilnPortalMessage *init;
} Fixture;

static void record(Fixture *f, SoupServerMessage *msg)
{
        SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
        GUri *uri = soup_server_message_get_uri(msg);

        f->requests++;
        g_free(f->path);
        g_free(f->query);
        g_free(f->host);
        g_free(f->authorization);
        g_free(f->user_agent);
        g_free(f->extensions);
        g_free(f->origin);
        g_free(f->accept_encoding);
        f->path = g_strdup(g_uri_get_path(uri));
        f->query = g_strdup(g_uri_get_query(uri));
        f->host = g_strdup(soup_message_headers_get_one(h, "Host"));
        f->authorization = g_strdup(soup_message_headers_get_one(h, "X-Authorization"));
        f->user_agent = g_strdup(soup_message_headers_get_one(h, "User-Agent"));
        f->extensions = g_strdup(soup_message_headers_get_one(h, "Sec-WebSocket-Extensions"));
        f->origin = g_strdup(soup_message_headers_get_one(h, "Origin"));
        f->accept_encoding = g_strdup(soup_message_headers_get_one(h, "Accept-Encoding"));
}

static void plain_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                          gpointer user_data)
{
        Fixture *f = user_data;
        static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,"
                                   "\"detail\":\"Invalid token\",\"code\":\"invalid_token\"}";

        record(f, msg);
        if (f->status == 503)
                soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                                             "1");
        soup_server_message_set_status(msg, f->status, NULL);
        soup_server_message_set_response(msg, "application/problem+json", SOUP_MEMORY_STATIC, body,
                                         strlen(body));
}

static void on_server_message(SoupWebsocketConnection *ws, int type, GBytes *message, Fixture *f)
{
        gsize len;
        const char *data = g_bytes_get_data(message, &len);
        g_autofree char *text = g_strndup(data, len);
        g_autofree char *init_path =
            kiln_test_source_path("tests/backend/portal/frames/spec-init-example.json");
        g_autofree char *init = NULL;

        g_ptr_array_add(f->received, g_strdup(text));
        if (strstr(text, "\"phx_join\"")) {
                soup_websocket_connection_send_text(ws,
                                                    "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":"
                                                    "0,\"payload\":{\"status\":\"ok\",\"response\":{}}}");
                g_assert_true(g_file_get_contents(init_path, &init, NULL, NULL));
                soup_websocket_connection_send_text(ws, init);
        }
}

static void ws_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                       SoupWebsocketConnection *ws, gpointer user_data)
{
        Fixture *f = user_data;

        record(f, msg);
        f->ws = g_object_ref(ws);
        g_signal_connect(ws, "message", G_CALLBACK(on_server_message), f);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        GSList *uris;

        f->loop = g_main_loop_new(NULL, FALSE);
        f->server = soup_server_new(NULL, NULL);
        f->received = g_ptr_array_new_with_free_func(g_free);
        f->status = GPOINTER_TO_UINT(data);
        if (f->status)
                soup_server_add_handler(f->server, "/client/v2/websocket", plain_handler, f, NULL);
        else
                soup_server_add_websocket_handler(f->server, "/client/v2/websocket", NULL, NULL, ws_handler,
                                                  f, NULL);
        g_assert_true(soup_server_listen_local(f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
        uris = soup_server_get_uris(f->server);
        f->url = g_strdup_printf("ws://127.0.0.1:%d", g_uri_get_port(uris->data));
        g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
        g_clear_object(&f->ws);
        soup_server_disconnect(f->server);
        g_object_unref(f->server);
        g_main_loop_unref(f->loop);
        g_ptr_array_unref(f->received);
        kiln_portal_message_unref(f->init);
        g_free(f->url);
        g_free(f->path);
        g_free(f->query);
        g_free(f->host);
        g_free(f->authorization);
        g_free(f->user_agent);
        g_free(f->extensions);
        g_free(f->origin);
        g_free(f->accept_encoding);
        g_free(f->sign_in_detail);
        g_free(f->hiccup_reason);
}

static void on_sign_in_required(KilnPortalClient *client, const char *detail, Fixture *f)
{
        f->sign_in_detail = g_strdup(detail);
        g_main_loop_quit(f->loop);
}

static void on_hiccup(KilnPortalClient *client, const char *reason, guint delay_ms, Fixture *f)
{
        f->hiccup_reason = g_strdup(reason);
        f->hiccup_delay_ms = delay_ms;
        g_main_loop_quit(f->loop);
}

static void on_init(KilnPortalClient *client, KilnPortalMessage *message, Fixture *f)
{
        f->init = kiln_portal_message_ref(message);
        g_main_loop_quit(f->loop);
}

static gboolean on_test_timeout(gpointer data)
{
        g_error("timed out waiting for the client");
        return G_SOURCE_REMOVE;
}

static KilnPortalClient *start_client(Fixture *f)
{
        KilnPortalLoginParams params = { .api_url = f->url, .external_id = "3f9ae1", .name = "test host" };
        g_autoptr(GError) error = NULL;
        KilnPortalClient *client = kiln_portal_client_new(&params, " tok en\n", KEY, &error);

        g_assert_no_error(error);
        g_signal_connect(client, "sign-in-required", G_CALLBACK(on_sign_in_required), f);
        g_signal_connect(client, "hiccup", G_CALLBACK(on_hiccup), f);
        g_signal_connect(client, "message::init", G_CALLBACK(on_init), f);
        kiln_portal_client_start(client);
        return client;
}

static void run(Fixture *f)
{
        guint timeout = g_timeout_add_seconds(20, on_test_timeout, NULL);

        g_main_loop_run(f->loop);
        g_source_remove(timeout);
}

static void test_handshake_and_401(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnPortalClient) client = start_client(f);

        run(f);
        g_assert_cmpstr(f->sign_in_detail, ==, "Invalid token");
        g_assert_cmpint(kiln_portal_client_get_state(client), ==, KILN_PORTAL_STATE_FAILED);
        g_assert_cmpstr(f->path, ==, "/client/v2/websocket");
        g_assert_cmpstr(f->query, ==,
                        "external_id=3f9ae1&name=test+host&public_key=S6REkbStSNMfn8hpLkVxibjR%2Bzz3RO%"
                        "2FGq40TprHJE2U%3D");
        g_assert_cmpstr(f->authorization, ==, "Bearer token");
        g_assert_nonnull(strstr(f->user_agent, " gui-client/1.5.17"));
        g_assert_cmpstr(f->host, ==, "127.0.0.1");
        g_assert_null(f->extensions);
        g_assert_null(f->origin);
        g_assert_null(f->accept_encoding);
        g_assert_cmpuint(f->requests, ==, 2); /* the upgrade, then the probe that reads the 401 body */
}

static void test_retry_after_hiccup(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnPortalClient) client = start_client(f);

        run(f);
        g_assert_nonnull(strstr(f->hiccup_reason, "503"));
        g_assert_cmpuint(f->hiccup_delay_ms, ==, 1000);
        g_assert_cmpint(kiln_portal_client_get_state(client), ==, KILN_PORTAL_STATE_WAITING);
}

static void test_join_and_init(Fixture *f, gconstpointer data)
{
        g_autoptr(KilnPortalClient) client = start_client(f);

        run(f);
        g_assert_nonnull(f->init);
        g_assert_cmpstr(f->init->init->interface->search_domain, ==, "corp.example");
        g_assert_cmpuint(f->init->init->relays->len, ==, 2);
        g_assert_cmpint(kiln_portal_client_get_state(client), ==, KILN_PORTAL_STATE_JOINED);
        g_assert_cmpuint(f->received->len, >=, 1);
        g_assert_cmpstr(g_ptr_array_index(f->received, 0), ==,
                        "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}");
        /* set_snownet_capabilities follows the join reply. */
        while (f->received->len < 2)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpstr(g_ptr_array_index(f->received, 1), ==,
                        "{\"topic\":\"client\",\"event\":\"set_snownet_capabilities\",\"payload\":{"
                        "\"iceless\":false},\"ref\":1}");
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add("/portal/client/handshake-and-401", Fixture, GUINT_TO_POINTER(401), fixture_setup,
                   test_handshake_and_401, fixture_teardown);
        g_test_add("/portal/client/retry-after-hiccup", Fixture, GUINT_TO_POINTER(503), fixture_setup,
                   test_retry_after_hiccup, fixture_teardown);
        g_test_add("/portal/client/join-and-init", Fixture, GUINT_TO_POINTER(0), fixture_setup,
                   test_join_and_init, fixture_teardown);
        return g_test_run();
}
