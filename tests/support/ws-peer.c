/* SPDX-License-Identifier: MIT */
#include "tests/support/ws-peer.h"

#include <stdint.h>
#include <string.h>

static void on_peer_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
        KilnWsPeer *p = data;
        gsize len;
        const char *text = g_bytes_get_data(message, &len);
        g_autofree char *copy = g_strndup(text, len);
        JsonNode *node = json_from_string(copy, NULL);

        g_assert_nonnull(node);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
        g_queue_push_tail(&p->frames, node);
}

static void on_peer_closed(SoupWebsocketConnection *ws, gpointer data)
{
        ((KilnWsPeer *)data)->closed = TRUE;
}

typedef struct {
        gboolean done;
        SoupWebsocketConnection *ws;
        GError *error;
} ConnectResult;

static void connected(GObject *source, GAsyncResult *res, gpointer data)
{
        ConnectResult *r = data;

        r->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &r->error);
        r->done = TRUE;
}

static char *random_public_key(void)
{
        uint8_t key[32];

        for (size_t i = 0; i < sizeof(key); i++)
                key[i] = (uint8_t)g_random_int_range(0, 256);
        return g_base64_encode(key, sizeof(key));
}

KilnWsPeer *kiln_ws_peer_connect(SoupSession *session, const char *ws_url, const char *path,
                                 const char *token, const char *ua, const char *external_id)
{
        KilnWsPeer *p = g_new0(KilnWsPeer, 1);
        g_autofree char *pk_param = NULL;
        g_autofree char *url = NULL;
        g_autofree char *auth = g_strconcat("Bearer ", token, NULL);
        g_autoptr(SoupMessage) msg = NULL;
        ConnectResult r = { 0 };

        p->public_key = random_public_key();
        pk_param = g_uri_escape_string(p->public_key, NULL, FALSE);
        url = g_strdup_printf("%s%s?external_id=%s&name=test-peer&public_key=%s", ws_url, path, external_id,
                              pk_param);
        msg = soup_message_new("GET", url);
        soup_message_headers_replace(soup_message_get_request_headers(msg), "X-Authorization", auth);
        soup_message_headers_replace(soup_message_get_request_headers(msg), "User-Agent", ua);
        soup_session_websocket_connect_async(session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, connected,
                                             &r);
        while (!r.done)
                g_main_context_iteration(NULL, TRUE);
        p->status = soup_message_get_status(msg);
        if (!r.ws) {
                g_clear_error(&r.error);
                return p;
        }
        p->ws = r.ws;
        g_signal_connect(p->ws, "message", G_CALLBACK(on_peer_message), p);
        g_signal_connect(p->ws, "closed", G_CALLBACK(on_peer_closed), p);
        return p;
}

void kiln_ws_peer_free(KilnWsPeer *p)
{
        if (!p)
                return;
        if (p->ws) {
                g_signal_handlers_disconnect_by_data(p->ws, p);
                if (soup_websocket_connection_get_state(p->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                        soup_websocket_connection_close(p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
                g_object_unref(p->ws);
        }
        g_queue_clear_full(&p->frames, (GDestroyNotify)json_node_unref);
        g_free(p->public_key);
        g_free(p);
}

/* Sends {"topic","event","payload","ref"} with the next ref; returns the ref. */
gint64 kiln_ws_peer_send(KilnWsPeer *p, const char *topic, const char *event, const char *payload_json)
{
        gint64 ref = p->next_ref++;
        g_autofree char *text = g_strdup_printf(
            "{\"topic\":\"%s\",\"event\":\"%s\",\"payload\":%s,\"ref\":%" G_GINT64_FORMAT "}", topic, event,
            payload_json, ref);

        soup_websocket_connection_send_text(p->ws, text);
        return ref;
}

const char *kiln_ws_frame_event(JsonNode *frame)
{
        return json_object_get_string_member(json_node_get_object(frame), "event");
}

JsonObject *kiln_ws_frame_payload(JsonNode *frame)
{
        return json_object_get_object_member(json_node_get_object(frame), "payload");
}

/* The first queued frame with this event (and, for replies, this ref), waiting up to KILN_WS_PEER_WAIT_SECS. */
JsonNode *kiln_ws_peer_wait_ref(KilnWsPeer *p, const char *event, gint64 ref)
{
        gint64 deadline = g_get_monotonic_time() + KILN_WS_PEER_WAIT_SECS * G_USEC_PER_SEC;

        for (;;) {
                for (GList *l = p->frames.head; l; l = l->next) {
                        JsonObject *o = json_node_get_object(l->data);
                        JsonNode *ref_node = json_object_get_member(o, "ref");

                        if (!g_str_equal(json_object_get_string_member(o, "event"), event))
                                continue;
                        if (ref >= 0 && (!ref_node || JSON_NODE_HOLDS_NULL(ref_node) ||
                                         json_node_get_int(ref_node) != ref))
                                continue;
                        g_queue_unlink(&p->frames, l);
                        {
                                JsonNode *frame = l->data;

                                g_list_free_1(l);
                                return frame;
                        }
                }
                if (g_get_monotonic_time() > deadline)
                        g_error("no \"%s\" frame within %d s", event, KILN_WS_PEER_WAIT_SECS);
                g_main_context_iteration(NULL, TRUE);
        }
}

JsonNode *kiln_ws_peer_wait(KilnWsPeer *p, const char *event)
{
        return kiln_ws_peer_wait_ref(p, event, -1);
}

void kiln_ws_peer_wait_closed(KilnWsPeer *p)
{
        gint64 deadline = g_get_monotonic_time() + KILN_WS_PEER_WAIT_SECS * G_USEC_PER_SEC;

        while (!p->closed) {
                if (g_get_monotonic_time() > deadline)
                        g_error("the portal did not close the socket within %d s", KILN_WS_PEER_WAIT_SECS);
                g_main_context_iteration(NULL, TRUE);
        }
}

JsonNode *kiln_ws_peer_join(KilnWsPeer *p, const char *topic)
{
        gint64 ref = kiln_ws_peer_send(p, topic, "phx_join", "null");
        g_autoptr(JsonNode) reply = kiln_ws_peer_wait_ref(p, "phx_reply", ref);
        JsonObject *o = json_node_get_object(reply);
        JsonObject *payload = kiln_ws_frame_payload(reply);

        g_assert_cmpstr(json_object_get_string_member(o, "topic"), ==, topic);
        g_assert_cmpstr(json_object_get_string_member(payload, "status"), ==, "ok");
        g_assert_cmpuint(json_object_get_size(json_object_get_object_member(payload, "response")), ==, 0);
        return kiln_ws_peer_wait(p, "init");
}

GSubprocess *kiln_test_portal_spawn(const char *netns, const char *const *args, const char *log_path,
                                    char **ret_ws_url)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
        const char *build_root = g_getenv("KILN_BUILD_ROOT");
        g_autofree char *exe =
            g_build_filename(build_root ? build_root : ".", "tests", "portal", "kiln-test-portal", NULL);
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        g_autoptr(GDataInputStream) out = NULL;
        g_autofree char *line = NULL;
        GSubprocess *portal;

        if (netns) {
                g_ptr_array_add(argv, (char *)"ip");
                g_ptr_array_add(argv, (char *)"netns");
                g_ptr_array_add(argv, (char *)"exec");
                g_ptr_array_add(argv, (char *)netns);
        }
        g_ptr_array_add(argv, exe);
        for (guint i = 0; args[i]; i++)
                g_ptr_array_add(argv, (char *)args[i]);
        g_ptr_array_add(argv, NULL);
        g_subprocess_launcher_set_stderr_file_path(launcher, log_path);
        portal = g_subprocess_launcher_spawnv(launcher, (const char *const *)argv->pdata, &error);
        g_assert_no_error(error);
        out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(portal));
        line = g_data_input_stream_read_line(out, NULL, NULL, &error);
        g_assert_no_error(error);
        g_assert_nonnull(line);
        g_assert_true(g_str_has_prefix(line, "listening on http://"));
        *ret_ws_url = g_strconcat("ws://", line + strlen("listening on http://"), NULL);
        return portal;
}
