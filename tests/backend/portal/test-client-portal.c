/* SPDX-License-Identifier: MIT */
/*
 * KilnPortalClient (Kiln's real portal client, in-process) against a real kiln-test-portal
 * process over WebSockets: join and init contents, resource pushes on a SIGHUP reload,
 * heartbeat timeout while the portal is stopped (SIGSTOP) and the reconnect after SIGCONT,
 * sign-in required for expired and invalid tokens, a portal restart (same secret, same port)
 * and the reconnect with backoff, and an authorization_created from a connected gateway (a raw
 * Phoenix peer, tests/support/ws-peer.h) accepted by the client's strict parser.
 *
 * The hung-portal case uses kiln_portal_client_set_heartbeat_interval(300 ms), so that the
 * client gives up after ~4 unanswered intervals (~1.2 s) instead of Firezone's ~40 s.
 * Observed reconnect delays are printed as TAP comments.
 */
#include <signal.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/portal/client.h"
#include "backend/portal/device-id.h"
#include "tests/support/ws-peer.h"

#define SECRET_HEX   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define R_WEB        "11111111-1111-4111-8111-111111111111"
#define R_LAN        "22222222-2222-4222-8222-222222222222"
#define R_NEW        "44444444-4444-4444-8444-444444444444"
#define SITE_1       "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define GW_1         "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define DEVICE_ID    "0d4c3a1e-6f3b-4f8e-9c55-2b7f1e0a9d31"
#define GATEWAY_UA   "Debian/12 gateway/1.6.0 (x86_64; 6.1.0)"
#define WAIT_SECS    20
#define HEARTBEAT_MS 300

/* %s: the resources; %s: the policy's resource names. */
#define CONFIG_FORMAT                                                                                       \
        "{\"secret\":\"" SECRET_HEX "\",\"accounts\":[{\"slug\":\"acme\",\"name\":\"Acme Inc\","            \
        "\"users\":[{\"email\":\"alice@acme.test\",\"password\":\"a\",\"name\":\"Alice\"}],"                \
        "\"sites\":[{\"id\":\"" SITE_1 "\",\"name\":\"one\"}],"                                             \
        "\"gateways\":[{\"id\":\"" GW_1 "\",\"name\":\"g1\",\"site\":\"one\",\"token\":\"gw-one\"}],"       \
        "\"resources\":[%s],\"policies\":[{\"users\":[\"*\"],\"resources\":[%s]}]}],"                       \
        "\"relays\":[{\"addresses\":[\"127.0.0.1:3478\"],\"secret\":\"relay-secret\"}]}"
#define RES_WEB                                                                                             \
        "{\"id\":\"" R_WEB "\",\"type\":\"dns\",\"name\":\"web\",\"address\":\"web.acme.test\","            \
        "\"address_description\":\"the web\",\"sites\":[\"one\"]}"
#define RES_LAN                                                                                             \
        "{\"id\":\"" R_LAN "\",\"type\":\"cidr\",\"name\":\"lan\",\"address\":\"10.9.0.0/16\","             \
        "\"sites\":[\"one\"]}"
#define RES_NEW                                                                                             \
        "{\"id\":\"" R_NEW "\",\"type\":\"cidr\",\"name\":\"new\",\"address\":\"10.10.0.0/24\","            \
        "\"sites\":[\"one\"]}"

typedef struct {
        char *dir;
        char *config_path;
        char *log_path;
        char *port;
        GSubprocess *portal;
        char *ws_url;
        KilnPortalClient *client;
        GQueue events; /* Event* */
        guint ticker;
} Fixture;

typedef struct {
        char *name; /* "joined", "hiccup", "sign-in-required", "fatal", or a portal event name */
        char *text;
        guint delay_ms;
        int fatal_kind;
        gint64 at; /* monotonic µs */
        KilnPortalMessage *message;
} Event;

static void event_free(Event *e)
{
        g_free(e->name);
        g_free(e->text);
        kiln_portal_message_unref(e->message);
        g_free(e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Event, event_free)

static Event *push(Fixture *f, const char *name)
{
        Event *e = g_new0(Event, 1);

        e->name = g_strdup(name);
        e->at = g_get_monotonic_time();
        g_queue_push_tail(&f->events, e);
        return e;
}

static void on_message(KilnPortalClient *c, KilnPortalMessage *m, Fixture *f)
{
        push(f, kiln_portal_message_event_name(m))->message = kiln_portal_message_ref(m);
}

static void on_joined(KilnPortalClient *c, Fixture *f)
{
        push(f, "joined");
}

static void on_hiccup(KilnPortalClient *c, const char *reason, guint delay_ms, Fixture *f)
{
        Event *e = push(f, "hiccup");

        e->text = g_strdup(reason);
        e->delay_ms = delay_ms;
}

static void on_sign_in_required(KilnPortalClient *c, const char *detail, Fixture *f)
{
        push(f, "sign-in-required")->text = g_strdup(detail);
}

static void on_fatal(KilnPortalClient *c, int kind, const char *detail, Fixture *f)
{
        Event *e = push(f, "fatal");

        e->text = g_strdup(detail);
        e->fatal_kind = kind;
}

/* The first queued event with this name (earlier ones of other names stay), within WAIT_SECS. */
static Event *wait_event(Fixture *f, const char *name)
{
        gint64 deadline = g_get_monotonic_time() + WAIT_SECS * G_USEC_PER_SEC;

        for (;;) {
                for (GList *l = f->events.head; l; l = l->next) {
                        Event *e = l->data;

                        if (g_str_equal(e->name, name)) {
                                g_queue_delete_link(&f->events, l);
                                return e;
                        }
                }
                if (g_get_monotonic_time() > deadline)
                        g_error("no \"%s\" from the client within %d s", name, WAIT_SECS);
                g_main_context_iteration(NULL, TRUE);
        }
}

static void drop_events(Fixture *f)
{
        g_queue_clear_full(&f->events, (GDestroyNotify)event_free);
}

static void write_config(Fixture *f, const char *resources, const char *granted)
{
        g_autofree char *text = g_strdup_printf(CONFIG_FORMAT, resources, granted);

        g_assert_true(g_file_set_contents(f->config_path, text, -1, NULL));
}

static void start_portal(Fixture *f)
{
        const char *args[] = {
                "--config", f->config_path, "--listen", "127.0.0.1", "--port", f->port, NULL
        };
        g_autofree char *url = NULL;

        f->portal = kiln_test_portal_spawn(NULL, args, f->log_path, &url);
        if (!f->ws_url) {
                f->ws_url = g_steal_pointer(&url);
                g_free(f->port);
                f->port = g_strdup(strrchr(f->ws_url, ':') + 1);
        } else {
                g_assert_cmpstr(url, ==, f->ws_url);
        }
}

static void stop_portal(Fixture *f)
{
        if (!f->portal)
                return;
        g_subprocess_send_signal(f->portal, SIGCONT);
        g_subprocess_send_signal(f->portal, SIGTERM);
        g_subprocess_wait(f->portal, NULL, NULL);
        g_clear_object(&f->portal);
}

static gboolean tick(gpointer data)
{
        return G_SOURCE_CONTINUE;
}

static void setup(Fixture *f, gconstpointer data)
{
        f->dir = g_dir_make_tmp("kiln-client-portal-XXXXXX", NULL);
        f->config_path = g_build_filename(f->dir, "portal.json", NULL);
        f->log_path = g_build_filename(f->dir, "portal.log", NULL);
        f->port = g_strdup("0");
        write_config(f, RES_WEB "," RES_LAN, "\"web\",\"lan\"");
        start_portal(f);
        f->ticker = g_timeout_add(50, tick, NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
        if (f->client) {
                kiln_portal_client_stop(f->client);
                g_clear_object(&f->client);
        }
        stop_portal(f);
        drop_events(f);
        g_source_remove(f->ticker);
        g_unlink(f->config_path);
        g_unlink(f->log_path);
        g_rmdir(f->dir);
        g_free(f->dir);
        g_free(f->config_path);
        g_free(f->log_path);
        g_free(f->port);
        g_free(f->ws_url);
}

/* A client token from the portal's own CLI (the same path the e2e tests and the demo use). */
static char *issue_token(Fixture *f, const char *expires_in)
{
        const char *build_root = g_getenv("KILN_BUILD_ROOT");
        g_autofree char *exe =
            g_build_filename(build_root ? build_root : ".", "tests", "portal", "kiln-test-portal", NULL);
        const char *argv[] = { exe,         "--config", f->config_path, "--issue-token", "alice@acme.test",
                               "--account", "acme",     "--expires-in", expires_in,      NULL };
        g_autofree char *out = NULL;
        g_autoptr(GError) error = NULL;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                                   NULL, &status, &error));
        g_assert_no_error(error);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        return g_strdup(g_strstrip(out));
}

static void start_client(Fixture *f, const char *token, guint heartbeat_ms)
{
        g_autofree char *external_id = kiln_device_id_external_id(DEVICE_ID);
        KilnPortalLoginParams params = { .api_url = f->ws_url,
                                         .external_id = external_id,
                                         .name = "test-laptop" };
        uint8_t secret[WG_KEY_LEN], public_key[WG_KEY_LEN];
        g_autoptr(GError) error = NULL;

        curve25519_generate_secret(secret);
        curve25519_generate_public(public_key, secret);
        sodium_memzero(secret, sizeof(secret));
        f->client = kiln_portal_client_new(&params, token, public_key, &error);
        g_assert_no_error(error);
        if (heartbeat_ms)
                kiln_portal_client_set_heartbeat_interval(f->client, heartbeat_ms);
        g_signal_connect(f->client, "message", G_CALLBACK(on_message), f);
        g_signal_connect(f->client, "joined", G_CALLBACK(on_joined), f);
        g_signal_connect(f->client, "hiccup", G_CALLBACK(on_hiccup), f);
        g_signal_connect(f->client, "sign-in-required", G_CALLBACK(on_sign_in_required), f);
        g_signal_connect(f->client, "fatal-error", G_CALLBACK(on_fatal), f);
        kiln_portal_client_start(f->client);
}

/* Signs in as alice and returns the first init. */
static Event *connect_alice(Fixture *f, guint heartbeat_ms)
{
        g_autofree char *token = issue_token(f, "3600");
        g_autoptr(Event) joined = NULL;

        start_client(f, token, heartbeat_ms);
        sodium_memzero(token, strlen(token));
        joined = wait_event(f, "joined");
        return wait_event(f, "init");
}

static const KilnPortalResource *find_resource(GPtrArray *resources, const char *id)
{
        for (guint i = 0; i < resources->len; i++) {
                const KilnPortalResource *r = g_ptr_array_index(resources, i);

                if (g_str_equal(r->id, id))
                        return r;
        }
        return NULL;
}

static void test_join_init(Fixture *f, gconstpointer data)
{
        g_autoptr(Event) init = connect_alice(f, 0);
        const KilnPortalInit *i = init->message->init;
        const KilnPortalResource *web, *lan;
        const KilnPortalRelay *relay;
        g_autoptr(GInetAddressMask) pool4 = g_inet_address_mask_new_from_string("100.64.0.0/11", NULL);
        g_autoptr(GInetAddressMask) pool6 =
            g_inet_address_mask_new_from_string("fd00:2021:1111::/107", NULL);
        g_autoptr(GInetAddress) v4 = g_inet_address_new_from_string(i->interface->ipv4);
        g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string(i->interface->ipv6);
        g_auto(GStrv) username = NULL;

        g_assert_cmpint(kiln_portal_client_get_state(f->client), ==, KILN_PORTAL_STATE_JOINED);
        g_assert_true(g_inet_address_mask_matches(pool4, v4));
        g_assert_true(g_inet_address_mask_matches(pool6, v6));

        g_assert_cmpuint(i->resources->len, ==, 2);
        web = find_resource(i->resources, R_WEB);
        lan = find_resource(i->resources, R_LAN);
        g_assert_nonnull(web);
        g_assert_nonnull(lan);
        g_assert_cmpint(web->type, ==, KILN_PORTAL_RESOURCE_DNS);
        g_assert_cmpstr(web->name, ==, "web");
        g_assert_cmpstr(web->address, ==, "web.acme.test");
        g_assert_cmpstr(web->address_description, ==, "the web");
        g_assert_cmpuint(web->sites->len, ==, 1);
        g_assert_cmpstr(((KilnPortalSite *)g_ptr_array_index(web->sites, 0))->id, ==, SITE_1);
        g_assert_cmpint(lan->type, ==, KILN_PORTAL_RESOURCE_CIDR);
        g_assert_cmpstr(lan->address, ==, "10.9.0.0/16");

        g_assert_cmpuint(i->relays->len, ==, 1);
        relay = g_ptr_array_index(i->relays, 0);
        g_assert_cmpint(relay->type, ==, KILN_PORTAL_RELAY_TURN);
        g_assert_cmpstr(relay->addr, ==, "127.0.0.1:3478");
        username = g_strsplit(relay->username, ":", 2);
        g_assert_cmpuint(g_strv_length(username), ==, 2);
        g_assert_cmpint(g_ascii_strtoll(username[0], NULL, 10), ==, relay->expires_at);
}

static void test_reload_pushes(Fixture *f, gconstpointer data)
{
        g_autoptr(Event) init = connect_alice(f, 0);
        g_autoptr(Event) deleted = NULL;
        g_autoptr(Event) created = NULL;

        /* lan removed from the file, new added and granted. */
        write_config(f, RES_WEB "," RES_NEW, "\"web\",\"new\"");
        g_subprocess_send_signal(f->portal, SIGHUP);
        deleted = wait_event(f, "resource_deleted");
        g_assert_cmpstr(deleted->message->resource_id, ==, R_LAN);
        created = wait_event(f, "resource_created_or_updated");
        g_assert_cmpstr(created->message->resource->id, ==, R_NEW);
        g_assert_cmpstr(created->message->resource->name, ==, "new");
        g_assert_cmpstr(created->message->resource->address, ==, "10.10.0.0/24");
        /* web did not change: nothing is pushed for it. */
        for (GList *l = f->events.head; l; l = l->next) {
                Event *e = l->data;

                if (g_str_equal(e->name, "resource_created_or_updated"))
                        g_assert_cmpstr(e->message->resource->id, !=, R_WEB);
        }
        g_assert_cmpint(kiln_portal_client_get_state(f->client), ==, KILN_PORTAL_STATE_JOINED);
}

static void test_heartbeat_timeout(Fixture *f, gconstpointer data)
{
        g_autoptr(Event) init = connect_alice(f, HEARTBEAT_MS);
        g_autoptr(Event) hiccup = NULL;
        g_autoptr(Event) joined = NULL;
        g_autoptr(Event) again = NULL;
        gint64 stopped;

        g_subprocess_send_signal(f->portal, SIGSTOP);
        stopped = g_get_monotonic_time();
        hiccup = wait_event(f, "hiccup");
        g_assert_cmpstr(hiccup->text, ==, "the portal stopped answering heartbeats");
        g_test_message("hung portal noticed after %.1f s (heartbeat %u ms); next dial in %u ms",
                       (double)(hiccup->at - stopped) / G_USEC_PER_SEC, HEARTBEAT_MS, hiccup->delay_ms);
        g_subprocess_send_signal(f->portal, SIGCONT);
        joined = wait_event(f, "joined");
        again = wait_event(f, "init");
        g_test_message("rejoined %.1f s after the hiccup",
                       (double)(joined->at - hiccup->at) / G_USEC_PER_SEC);
        g_assert_cmpuint(again->message->init->resources->len, ==, 2);
}

static void test_sign_in_required(Fixture *f, gconstpointer data)
{
        const char *const cases[] = { "expired", "invalid" };

        for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *token =
                    i == 0 ? issue_token(f, "-60") : g_strdup("0123abcd.SFMyNTY.bogus.token");
                g_autoptr(Event) sign_in = NULL;
                g_autoptr(Event) fatal = NULL;

                start_client(f, token, 0);
                sign_in = wait_event(f, "sign-in-required");
                fatal = wait_event(f, "fatal");
                g_test_message("%s token: sign-in required (%s)", cases[i], sign_in->text);
                g_assert_cmpint(fatal->fatal_kind, ==, KILN_PORTAL_FATAL_SIGN_IN_REQUIRED);
                g_assert_cmpint(kiln_portal_client_get_state(f->client), ==, KILN_PORTAL_STATE_FAILED);
                for (GList *l = f->events.head; l; l = l->next)
                        g_assert_cmpstr(((Event *)l->data)->name, !=, "joined");
                kiln_portal_client_stop(f->client);
                g_clear_object(&f->client);
                drop_events(f);
        }
}

static void test_portal_restart(Fixture *f, gconstpointer data)
{
        g_autoptr(Event) init = connect_alice(f, 0);
        g_autoptr(Event) first = NULL;
        g_autoptr(Event) joined = NULL;
        g_autoptr(Event) again = NULL;
        gint64 restarted;
        guint hiccups = 1;

        stop_portal(f);
        first = wait_event(f, "hiccup");
        /* Let the client back off against a closed port for a while. */
        g_usleep(0);
        {
                gint64 until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

                while (g_get_monotonic_time() < until)
                        g_main_context_iteration(NULL, TRUE);
        }
        for (GList *l = f->events.head; l; l = l->next) {
                Event *e = l->data;

                if (!g_str_equal(e->name, "hiccup"))
                        continue;
                hiccups++;
                g_test_message("reconnect attempt %u failed (%s); next dial in %u ms", hiccups, e->text,
                               e->delay_ms);
        }
        g_test_message("first reconnect delay after losing the portal: %u ms (%s)", first->delay_ms,
                       first->text);
        g_assert_cmpuint(hiccups, >=, 2);

        start_portal(f);
        restarted = g_get_monotonic_time();
        joined = wait_event(f, "joined");
        again = wait_event(f, "init");
        g_test_message("rejoined %.2f s after the portal came back, %.2f s after it went away",
                       (double)(joined->at - restarted) / G_USEC_PER_SEC,
                       (double)(joined->at - first->at) / G_USEC_PER_SEC);
        /* Same secret: the same token is still good, and the same device gets its resources. */
        g_assert_cmpuint(again->message->init->resources->len, ==, 2);
}

static void test_authorization_accepted(Fixture *f, gconstpointer data)
{
        g_autoptr(SoupSession) soup = soup_session_new();
        g_autoptr(KilnWsPeer) gw = kiln_ws_peer_connect(soup, f->ws_url, "/gateway/v2/websocket", "gw-one",
                                                        GATEWAY_UA, "gw-external");
        g_autoptr(JsonNode) gw_init = NULL;
        g_autoptr(JsonNode) create = NULL;
        g_autoptr(JsonNode) confirm = NULL;
        g_autoptr(Event) init = NULL;
        g_autoptr(Event) created = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *reply = NULL;
        JsonNode *request;
        const KilnPortalAuthorizationCreated *a;
        const char *ref;
        gint64 reply_ref;

        g_assert_cmpuint(gw->status, ==, 101);
        gw_init = kiln_ws_peer_join(gw, "gateway");
        init = connect_alice(f, 0);

        request = kiln_portal_build_request_authorization(R_WEB, NULL, NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_true(kiln_portal_client_send(f->client, KILN_PORTAL_EVENT_REQUEST_AUTHORIZATION, request));
        json_node_unref(request);
        create = kiln_ws_peer_wait(gw, "create_authorization");
        ref = json_object_get_string_member(kiln_ws_frame_payload(create), "ref");
        g_assert_nonnull(ref);
        reply = g_strdup_printf("{\"ref\":\"%s\"}", ref);
        reply_ref = kiln_ws_peer_send(gw, "gateway", "authorization_created", reply);
        confirm = kiln_ws_peer_wait_ref(gw, "phx_reply", reply_ref);

        /* Reaching this event at all means the client's strict parser accepted the message
         * (keys, and the ingest token with every claim the spec requires). */
        created = wait_event(f, "authorization_created");
        a = created->message->authorization_created;
        g_assert_cmpstr(a->resource_id, ==, R_WEB);
        g_assert_cmpstr(a->gateway_id, ==, GW_1);
        g_assert_cmpstr(a->site_id, ==, SITE_1);
        g_assert_cmpstr(a->ingest_token.role, ==, "initiator");
        g_assert_cmpstr(a->ingest_token.resource_id, ==, R_WEB);
        g_assert_cmpuint(strlen(a->client_ice_credentials.username), ==, 4);
        g_assert_cmpuint(strlen(a->gateway_ice_credentials.password), ==, 22);
        {
                g_autofree char *gw_key = g_base64_encode(a->gateway_public_key, WG_KEY_LEN);

                g_assert_cmpstr(gw_key, ==, gw->public_key);
        }
        for (GList *l = f->events.head; l; l = l->next)
                g_assert_cmpstr(((Event *)l->data)->name, !=, "authorization_creation_failed");
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(kiln_crypto_init(), ==, 0);
#define ADD(name, fn) g_test_add("/portal/client-portal/" name, Fixture, NULL, setup, fn, teardown)
        ADD("join-init", test_join_init);
        ADD("reload-pushes", test_reload_pushes);
        ADD("heartbeat-timeout", test_heartbeat_timeout);
        ADD("sign-in-required", test_sign_in_required);
        ADD("portal-restart", test_portal_restart);
        ADD("authorization-accepted", test_authorization_accepted);
        return g_test_run();
}
