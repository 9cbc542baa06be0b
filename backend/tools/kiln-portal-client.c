/* SPDX-License-Identifier: MIT */
/*
 * kiln-portal-client: connects to a portal as Kiln's client does and prints every event as
 * one JSON object per line on stdout (portal events in kiln-portal-decode's normalized form,
 * plus {"event":"joined"}, {"event":"hiccup",…}, {"event":"fatal",…}).  Each line read on
 * stdin, {"event":"…","payload":…}, is sent to the portal.  For tests and debugging.
 *
 *   KILN_PORTAL_TOKEN=… kiln-portal-client --url ws://127.0.0.1:8081 --device-id-file /tmp/id.json
 *
 * Exit status: 0 after the first init with --exit-on-init, 4 when sign-in is required,
 * 3 on any other fatal error, 1 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/portal/client.h"
#include "backend/portal/device-id.h"

typedef struct {
        GMainLoop *loop;
        KilnPortalClient *client;
        gboolean exit_on_init;
        int status;
} Tool;

static void print_node(JsonNode *node)
{
        g_autofree char *text = kiln_json_to_string(node);

        printf("%s\n", text);
        fflush(stdout);
}

static void print_event(const char *event, const char *key, const char *value, const char *key2,
                        gint64 value2)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) node = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, event);
        if (key) {
                json_builder_set_member_name(b, key);
                json_builder_add_string_value(b, value);
        }
        if (key2) {
                json_builder_set_member_name(b, key2);
                json_builder_add_int_value(b, value2);
        }
        json_builder_end_object(b);
        node = json_builder_get_root(b);
        print_node(node);
}

static void on_message(KilnPortalClient *client, KilnPortalMessage *message, Tool *tool)
{
        g_autoptr(JsonNode) node = kiln_portal_message_to_json(message);

        print_node(node);
        if (tool->exit_on_init && message->kind == KILN_PORTAL_MESSAGE_INIT) {
                tool->status = 0;
                g_main_loop_quit(tool->loop);
        }
}

static void on_joined(KilnPortalClient *client, Tool *tool)
{
        print_event("joined", NULL, NULL, NULL, 0);
}

static void on_hiccup(KilnPortalClient *client, const char *reason, guint delay_ms, Tool *tool)
{
        print_event("hiccup", "reason", reason, "delay_ms", delay_ms);
}

static void on_fatal(KilnPortalClient *client, int kind, const char *detail, Tool *tool)
{
        print_event(kind == KILN_PORTAL_FATAL_SIGN_IN_REQUIRED ? "sign_in_required" : "fatal", "detail",
                    detail, "kind", kind);
        tool->status = kind == KILN_PORTAL_FATAL_SIGN_IN_REQUIRED ? 4 : 3;
        g_main_loop_quit(tool->loop);
}

static void on_line(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Tool *tool = user_data;
        g_autoptr(GError) error = NULL;
        g_autofree char *line =
            g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), result, NULL, &error);
        g_autoptr(JsonNode) node = NULL;

        if (!line)
                return;
        node = json_from_string(line, &error);
        if (node && JSON_NODE_HOLDS_OBJECT(node) &&
            json_object_get_string_member_with_default(json_node_get_object(node), "event", NULL) &&
            json_object_has_member(json_node_get_object(node), "payload")) {
                JsonObject *o = json_node_get_object(node);

                if (!kiln_portal_client_send(tool->client, json_object_get_string_member(o, "event"),
                                             json_object_get_member(o, "payload")))
                        fprintf(stderr, "kiln-portal-client: not connected, message dropped\n");
        } else {
                fprintf(stderr, "kiln-portal-client: stdin lines must be {\"event\":…,\"payload\":…}\n");
        }
        g_data_input_stream_read_line_async(G_DATA_INPUT_STREAM(source), G_PRIORITY_DEFAULT, NULL, on_line,
                                            tool);
}

int main(int argc, char *argv[])
{
        g_autofree char *url = NULL, *device_id_file = NULL, *name = NULL, *token_file = NULL;
        g_autofree char *id = NULL, *external_id = NULL, *token = NULL;
        gboolean exit_on_init = FALSE;
        int heartbeat_ms = 0;
        GOptionEntry entries[] = {
                { "url", 0, 0, G_OPTION_ARG_STRING, &url, "Portal API URL (ws://host:port or wss://…)",
                  "URL" },
                { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
                  "File holding the token (else $KILN_PORTAL_TOKEN)", "PATH" },
                { "device-id-file", 0, 0, G_OPTION_ARG_FILENAME, &device_id_file,
                  "Device id file (default " KILN_DEVICE_ID_DEFAULT_PATH ")", "PATH" },
                { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Device name (default: the hostname)", "NAME" },
                { "heartbeat-interval", 0, 0, G_OPTION_ARG_INT, &heartbeat_ms,
                  "Heartbeat interval in ms (default 10000; a hung portal is noticed after ~4)", "MS" },
                { "exit-on-init", 0, 0, G_OPTION_ARG_NONE, &exit_on_init, "Exit 0 after the first init",
                  NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) context =
            g_option_context_new("- connect to a Firezone-compatible portal");
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnPortalClient) client = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        g_autoptr(GInputStream) stdin_stream = NULL;
        g_autoptr(GDataInputStream) lines = NULL;
        uint8_t secret[WG_KEY_LEN], public_key[WG_KEY_LEN];
        Tool tool = { .status = 3 };

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error) || !url) {
                fprintf(stderr, "kiln-portal-client: %s\n", error ? error->message : "--url is required");
                return 1;
        }
        if (token_file) {
                if (!g_file_get_contents(token_file, &token, NULL, &error)) {
                        fprintf(stderr, "kiln-portal-client: %s\n", error->message);
                        return 1;
                }
        } else {
                token = g_strdup(g_getenv("KILN_PORTAL_TOKEN"));
        }
        if (!kiln_device_id_load_or_create(device_id_file ? device_id_file : KILN_DEVICE_ID_DEFAULT_PATH,
                                           &id, &error)) {
                fprintf(stderr, "kiln-portal-client: %s\n", error->message);
                return 1;
        }
        external_id = kiln_device_id_external_id(id);
        if (!name)
                name = g_strdup(g_get_host_name());

        if (kiln_crypto_init() < 0) {
                fprintf(stderr, "kiln-portal-client: libsodium failed to initialize\n");
                return 1;
        }
        /* A WireGuard key for this session only, as Firezone's client makes one per session. */
        curve25519_generate_secret(secret);
        curve25519_generate_public(public_key, secret);
        sodium_memzero(secret, sizeof(secret));

        KilnPortalLoginParams params = { .api_url = url, .external_id = external_id, .name = name };
        client = kiln_portal_client_new(&params, token, public_key, &error);
        if (token)
                sodium_memzero(token, strlen(token));
        if (!client) {
                fprintf(stderr, "kiln-portal-client: %s\n", error->message);
                return 1;
        }
        if (heartbeat_ms > 0)
                kiln_portal_client_set_heartbeat_interval(client, (guint)heartbeat_ms);
        loop = g_main_loop_new(NULL, FALSE);
        tool.loop = loop;
        tool.client = client;
        tool.exit_on_init = exit_on_init;
        g_signal_connect(client, "message", G_CALLBACK(on_message), &tool);
        g_signal_connect(client, "joined", G_CALLBACK(on_joined), &tool);
        g_signal_connect(client, "hiccup", G_CALLBACK(on_hiccup), &tool);
        g_signal_connect(client, "fatal-error", G_CALLBACK(on_fatal), &tool);

        stdin_stream = g_unix_input_stream_new(0, FALSE);
        lines = g_data_input_stream_new(stdin_stream);
        g_data_input_stream_read_line_async(lines, G_PRIORITY_DEFAULT, NULL, on_line, &tool);

        kiln_portal_client_start(client);
        g_main_loop_run(loop);
        kiln_portal_client_stop(client);
        return tool.status;
}
