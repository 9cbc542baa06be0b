/* SPDX-License-Identifier: MIT */
#include "tests/portal/phoenix.h"

#include <gio/gio.h>
#include <string.h>

void tp_frame_clear(TpFrame *frame)
{
        g_clear_pointer(&frame->topic, g_free);
        g_clear_pointer(&frame->event, g_free);
        g_clear_pointer(&frame->payload, json_node_unref);
        frame->has_ref = FALSE;
        frame->ref = 0;
}

static gboolean reject(GError **error, const char *reason)
{
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, reason);
        return FALSE;
}

static gboolean is_string(JsonNode *n)
{
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING;
}

/* json-glib also takes C escapes ("\\666" is the byte 0xb6), so UTF-8 text can parse into
 * strings that are not; the portal is an independent peer, so it checks on its own. */
static gboolean strings_are_utf8(JsonNode *node)
{
        if (JSON_NODE_HOLDS_OBJECT(node)) {
                JsonObjectIter it;
                const char *name;
                JsonNode *member;

                json_object_iter_init(&it, json_node_get_object(node));
                while (json_object_iter_next(&it, &name, &member))
                        if (!g_utf8_validate(name, -1, NULL) || !strings_are_utf8(member))
                                return FALSE;
        } else if (JSON_NODE_HOLDS_ARRAY(node)) {
                for (guint i = 0; i < json_array_get_length(json_node_get_array(node)); i++)
                        if (!strings_are_utf8(json_array_get_element(json_node_get_array(node), i)))
                                return FALSE;
        } else if (is_string(node)) {
                return g_utf8_validate(json_node_get_string(node), -1, NULL);
        }
        return TRUE;
}

gboolean tp_frame_parse(const char *text, gsize len, TpFrame *ret_frame, GError **error)
{
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        JsonObject *o;
        JsonNode *topic, *event, *payload, *ref;

        if (len > TP_FRAME_MAX)
                return reject(error, "frame larger than 1 MiB");
        if (memchr(text, '\0', len))
                return reject(error, "frame holds a NUL byte");
        if (!g_utf8_validate(text, (gssize)len, NULL))
                return reject(error, "frame is not UTF-8");
        if (!json_parser_load_from_data(parser, text, (gssize)len, NULL))
                return reject(error, "frame is not JSON");
        if (!json_parser_get_root(parser) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                return reject(error, "frame is not a JSON object");
        if (!strings_are_utf8(json_parser_get_root(parser)))
                return reject(error, "frame has a string that is not UTF-8 (an escape JSON does not have)");
        o = json_node_get_object(json_parser_get_root(parser));
        topic = json_object_get_member(o, "topic");
        event = json_object_get_member(o, "event");
        payload = json_object_get_member(o, "payload");
        ref = json_object_get_member(o, "ref");
        if (!is_string(topic))
                return reject(error, "\"topic\" is missing or not a string");
        if (!is_string(event))
                return reject(error, "\"event\" is missing or not a string");
        if (ref && !JSON_NODE_HOLDS_NULL(ref) &&
            (!JSON_NODE_HOLDS_VALUE(ref) || json_node_get_value_type(ref) != G_TYPE_INT64 ||
             json_node_get_int(ref) < 0))
                return reject(error, "\"ref\" is not a non-negative integer or null");

        ret_frame->topic = g_strdup(json_node_get_string(topic));
        ret_frame->event = g_strdup(json_node_get_string(event));
        ret_frame->payload = payload ? json_node_copy(payload) : json_node_init_null(json_node_alloc());
        ret_frame->has_ref = ref && !JSON_NODE_HOLDS_NULL(ref);
        ret_frame->ref = ret_frame->has_ref ? json_node_get_int(ref) : 0;
        return TRUE;
}

char *tp_frame_build(const char *topic, const char *event, JsonNode *payload, gboolean has_ref, gint64 ref)
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
                json_builder_add_value(b, json_node_ref(payload));
        else
                json_builder_add_null_value(b);
        json_builder_set_member_name(b, "ref");
        if (has_ref)
                json_builder_add_int_value(b, ref);
        else
                json_builder_add_null_value(b);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        return json_to_string(root, FALSE);
}

char *tp_frame_build_reply(const char *topic, gint64 ref, const char *status, JsonNode *response)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) payload = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b, status);
        json_builder_set_member_name(b, "response");
        if (response) {
                json_builder_add_value(b, json_node_ref(response));
        } else {
                json_builder_begin_object(b);
                json_builder_end_object(b);
        }
        json_builder_end_object(b);
        payload = json_builder_get_root(b);
        return tp_frame_build(topic, "phx_reply", payload, TRUE, ref);
}
