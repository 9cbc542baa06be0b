/* SPDX-License-Identifier: MIT */
#include "backend/portal/phoenix.h"

#include "backend/portal/json-fields.h"

#include <string.h>

G_DEFINE_QUARK(kiln - portal - error - quark, kiln_portal_error)

/* json-glib recurses once per nesting level; bound it before the parser sees the text. */
static gboolean check_depth(const char *text, gsize len)
{
        gboolean in_string = FALSE, escaped = FALSE;
        unsigned int depth = 0;

        for (gsize i = 0; i < len; i++) {
                char c = text[i];

                if (in_string) {
                        if (escaped)
                                escaped = FALSE;
                        else if (c == '\\')
                                escaped = TRUE;
                        else if (c == '"')
                                in_string = FALSE;
                        continue;
                }
                if (c == '"') {
                        in_string = TRUE;
                } else if (c == '{' || c == '[') {
                        if (++depth > KILN_PHOENIX_MAX_DEPTH)
                                return FALSE;
                } else if ((c == '}' || c == ']') && depth > 0) {
                        depth--;
                }
        }
        return TRUE;
}

static gboolean name_member(JsonObject *obj, const char *key, char **ret, GError **error)
{
        JsonNode *node = json_object_get_member(obj, key);
        const char *value;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                            "frame \"%s\" is missing or not a string", key);
                return FALSE;
        }
        value = json_node_get_string(node);
        if (strlen(value) > KILN_PHOENIX_MAX_NAME) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE,
                            "frame \"%s\" is longer than %d bytes", key, KILN_PHOENIX_MAX_NAME);
                return FALSE;
        }
        *ret = g_strdup(value);
        return TRUE;
}

gboolean kiln_phoenix_frame_parse(const char *text, gsize len, KilnPhoenixFrame **ret_frame, GError **error)
{
        g_autoptr(JsonParser) parser = NULL;
        g_autoptr(GError) parse_error = NULL;
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        JsonObject *obj;
        JsonNode *root, *ref, *payload;

        if (len > KILN_PHOENIX_MAX_FRAME) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE,
                            "frame of %" G_GSIZE_FORMAT " bytes is over the %d-byte limit", len,
                            KILN_PHOENIX_MAX_FRAME);
                return FALSE;
        }
        if (!g_utf8_validate_len(text, len, NULL)) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "frame is not valid UTF-8");
                return FALSE;
        }
        if (!check_depth(text, len)) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE,
                            "frame nests deeper than %d levels", KILN_PHOENIX_MAX_DEPTH);
                return FALSE;
        }
        parser = json_parser_new_immutable();
        if (!json_parser_load_from_data(parser, text, (gssize)len, &parse_error)) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID, "frame is not JSON: %s",
                            parse_error->message);
                return FALSE;
        }
        root = json_parser_get_root(parser);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "frame is not a JSON object (only the V1 object format is spoken)");
                return FALSE;
        }
        if (!kiln_json_strings_are_utf8(root)) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "frame has a string that is not UTF-8 (an escape JSON does not have)");
                return FALSE;
        }
        obj = json_node_get_object(root);

        frame = g_new0(KilnPhoenixFrame, 1);
        if (!name_member(obj, "topic", &frame->topic, error) ||
            !name_member(obj, "event", &frame->event, error))
                return FALSE;

        payload = json_object_get_member(obj, "payload");
        if (!payload) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "frame has no \"payload\"");
                return FALSE;
        }
        frame->payload = json_node_copy(payload);

        /* A string ref such as "12" fails to deserialize in Firezone: the frame is dropped. */
        ref = json_object_get_member(obj, "ref");
        if (ref && !JSON_NODE_HOLDS_NULL(ref)) {
                gint64 value;

                if (!JSON_NODE_HOLDS_VALUE(ref) || json_node_get_value_type(ref) != G_TYPE_INT64) {
                        g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                            "frame \"ref\" is neither an integer nor null");
                        return FALSE;
                }
                value = json_node_get_int(ref);
                if (value < 0 || (guint64)value > KILN_PHOENIX_MAX_REF) {
                        g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                            "frame \"ref\" is out of range");
                        return FALSE;
                }
                frame->has_ref = TRUE;
                frame->ref = (guint64)value;
        }
        *ret_frame = g_steal_pointer(&frame);
        return TRUE;
}

void kiln_phoenix_frame_free(KilnPhoenixFrame *frame)
{
        if (!frame)
                return;
        g_free(frame->topic);
        g_free(frame->event);
        if (frame->payload)
                json_node_unref(frame->payload);
        g_free(frame);
}

char *kiln_json_to_string(JsonNode *node)
{
        g_autoptr(JsonGenerator) gen = json_generator_new();

        json_generator_set_root(gen, node);
        return json_generator_to_data(gen, NULL);
}

char *kiln_phoenix_frame_serialize(const char *topic, const char *event, JsonNode *payload, guint64 ref)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "topic");
        json_builder_add_string_value(b, topic);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, event);
        json_builder_set_member_name(b, "payload");
        if (payload)
                json_builder_add_value(b, json_node_copy(payload));
        else
                json_builder_add_null_value(b);
        json_builder_set_member_name(b, "ref");
        json_builder_add_int_value(b, (gint64)ref);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        return kiln_json_to_string(root);
}

char *kiln_phoenix_join_frame(const char *topic, guint64 ref)
{
        return kiln_phoenix_frame_serialize(topic, KILN_PHOENIX_EVENT_JOIN, NULL, ref);
}

char *kiln_phoenix_heartbeat_frame(guint64 ref)
{
        g_autoptr(JsonNode) empty = json_node_init_object(json_node_alloc(), json_object_new());

        return kiln_phoenix_frame_serialize(KILN_PHOENIX_TOPIC_HEARTBEAT, KILN_PHOENIX_EVENT_HEARTBEAT,
                                            empty, ref);
}

static KilnPhoenixReason classify_reason(const char *reason)
{
        if (g_str_equal(reason, "unmatched topic"))
                return KILN_PHOENIX_REASON_UNMATCHED_TOPIC;
        if (g_str_equal(reason, "invalid_version"))
                return KILN_PHOENIX_REASON_INVALID_VERSION;
        if (g_str_equal(reason, "disabled"))
                return KILN_PHOENIX_REASON_DISABLED;
        return KILN_PHOENIX_REASON_OTHER;
}

gboolean kiln_phoenix_reply_parse(const KilnPhoenixFrame *frame, KilnPhoenixReply *ret_reply, GError **error)
{
        JsonObject *payload, *response_obj;
        JsonNode *response;
        const char *status;

        if (!JSON_NODE_HOLDS_OBJECT(frame->payload))
                goto invalid;
        payload = json_node_get_object(frame->payload);
        status = json_object_get_string_member_with_default(payload, "status", NULL);
        response = json_object_get_member(payload, "response");
        if (!status || !response || !JSON_NODE_HOLDS_OBJECT(response))
                goto invalid;
        response_obj = json_node_get_object(response);

        if (g_str_equal(status, "ok")) {
                if (json_object_get_size(response_obj) != 0) {
                        g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                            "phx_reply ok response is not exactly {}");
                        return FALSE;
                }
                *ret_reply = (KilnPhoenixReply){ KILN_PHOENIX_REPLY_OK, KILN_PHOENIX_REASON_NONE, NULL };
                return TRUE;
        }
        if (g_str_equal(status, "error")) {
                JsonNode *reason = json_object_get_member(response_obj, "reason");
                const char *text;

                if (!reason || !JSON_NODE_HOLDS_VALUE(reason) ||
                    json_node_get_value_type(reason) != G_TYPE_STRING)
                        goto invalid;
                text = json_node_get_string(reason);
                if (strlen(text) > KILN_PHOENIX_MAX_NAME) {
                        g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE,
                                            "phx_reply error reason is too long");
                        return FALSE;
                }
                *ret_reply =
                    (KilnPhoenixReply){ KILN_PHOENIX_REPLY_ERROR, classify_reason(text), g_strdup(text) };
                return TRUE;
        }
invalid:
        g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                            "phx_reply payload is not {\"status\":\"ok\"|\"error\",\"response\":{…}}");
        return FALSE;
}

void kiln_phoenix_reply_clear(KilnPhoenixReply *reply)
{
        g_clear_pointer(&reply->reason_text, g_free);
}
