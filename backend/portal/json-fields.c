/* SPDX-License-Identifier: MIT */
#include "backend/portal/json-fields.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backend/portal/messages.h"

gboolean kiln_json_fail(GError **error, const char *format, ...)
{
        va_list args;

        va_start(args, format);
        if (error)
                *error = g_error_new_valist(KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID, format, args);
        va_end(args);
        return FALSE;
}

void kiln_json_prefix(GError **error, const char *format, ...)
{
        va_list args;
        g_autofree char *where = NULL;

        if (!error || !*error)
                return;
        va_start(args, format);
        where = g_strdup_vprintf(format, args);
        va_end(args);
        g_prefix_error(error, "%s: ", where);
}

gboolean kiln_json_is_string(JsonNode *node)
{
        return node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

gboolean kiln_json_is_null_or_absent(JsonNode *node)
{
        return !node || JSON_NODE_HOLDS_NULL(node);
}

gboolean kiln_json_as_object(JsonNode *node, const char *what, JsonObject **ret, GError **error)
{
        if (!node || !JSON_NODE_HOLDS_OBJECT(node))
                return kiln_json_fail(error, "%s is not an object", what);
        *ret = json_node_get_object(node);
        return TRUE;
}

gboolean kiln_json_node_string(JsonNode *node, const char *key, gsize max, char **ret, GError **error)
{
        const char *value;

        if (!node)
                return kiln_json_fail(error, "\"%s\" is missing", key);
        if (!kiln_json_is_string(node))
                return kiln_json_fail(error, "\"%s\" is not a string", key);
        value = json_node_get_string(node);
        if (strlen(value) > max)
                return kiln_json_fail(error, "\"%s\" is longer than %" G_GSIZE_FORMAT " bytes", key, max);
        *ret = g_strdup(value);
        return TRUE;
}

gboolean kiln_json_get_string(JsonObject *o, const char *key, char **ret, GError **error)
{
        return kiln_json_node_string(json_object_get_member(o, key), key, KILN_PORTAL_MAX_STRING, ret,
                                     error);
}

gboolean kiln_json_get_opt_string(JsonObject *o, const char *key, char **ret, GError **error)
{
        JsonNode *node = json_object_get_member(o, key);

        if (kiln_json_is_null_or_absent(node)) {
                *ret = NULL;
                return TRUE;
        }
        return kiln_json_node_string(node, key, KILN_PORTAL_MAX_STRING, ret, error);
}

gboolean kiln_portal_is_uuid(const char *text)
{
        return text && strlen(text) == 36 && g_uuid_string_is_valid(text);
}

gboolean kiln_json_node_uuid(JsonNode *node, const char *key, char **ret, GError **error)
{
        g_autofree char *text = NULL;

        if (!kiln_json_node_string(node, key, 64, &text, error))
                return FALSE;
        if (!kiln_portal_is_uuid(text))
                return kiln_json_fail(error, "\"%s\" is not a UUID", key);
        *ret = g_ascii_strdown(text, -1);
        return TRUE;
}

gboolean kiln_json_get_uuid(JsonObject *o, const char *key, char **ret, GError **error)
{
        return kiln_json_node_uuid(json_object_get_member(o, key), key, ret, error);
}

gboolean kiln_json_parse_ip(const char *text, GSocketFamily family, char **ret)
{
        g_autoptr(GInetAddress) addr = NULL;

        if (!text || strlen(text) > 45)
                return FALSE;
        addr = g_inet_address_new_from_string(text);
        if (!addr || (family != G_SOCKET_FAMILY_INVALID && g_inet_address_get_family(addr) != family))
                return FALSE;
        /* inet_pton() takes "1.2.3.4" only, but accepts IPv4-mapped and scoped forms we never want. */
        if (strchr(text, '%'))
                return FALSE;
        *ret = g_inet_address_to_string(addr);
        return TRUE;
}

static const char *family_name(GSocketFamily family)
{
        return family == G_SOCKET_FAMILY_IPV4   ? "an IPv4 address"
               : family == G_SOCKET_FAMILY_IPV6 ? "an IPv6 address"
                                                : "an IP address";
}

gboolean kiln_json_node_ip(JsonNode *node, const char *key, GSocketFamily family, char **ret, GError **error)
{
        g_autofree char *text = NULL;

        if (!kiln_json_node_string(node, key, 64, &text, error))
                return FALSE;
        if (!kiln_json_parse_ip(text, family, ret))
                return kiln_json_fail(error, "\"%s\" is not %s", key, family_name(family));
        return TRUE;
}

gboolean kiln_json_get_ip(JsonObject *o, const char *key, GSocketFamily family, char **ret, GError **error)
{
        return kiln_json_node_ip(json_object_get_member(o, key), key, family, ret, error);
}

gboolean kiln_json_parse_socket_addr(const char *text, char **ret)
{
        g_autofree char *host = NULL, *ip = NULL;
        const char *colon;
        char *end;
        unsigned long port;

        if (strlen(text) > 64)
                return FALSE;
        if (text[0] == '[') {
                const char *close = strchr(text, ']');

                if (!close || close[1] != ':')
                        return FALSE;
                host = g_strndup(text + 1, (gsize)(close - text - 1));
                colon = close + 1;
                if (!kiln_json_parse_ip(host, G_SOCKET_FAMILY_IPV6, &ip))
                        return FALSE;
        } else {
                colon = strrchr(text, ':');
                if (!colon)
                        return FALSE;
                host = g_strndup(text, (gsize)(colon - text));
                if (!kiln_json_parse_ip(host, G_SOCKET_FAMILY_IPV4, &ip))
                        return FALSE;
        }
        if (!g_ascii_isdigit(colon[1]))
                return FALSE;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || port > 65535)
                return FALSE;
        *ret = strchr(ip, ':') ? g_strdup_printf("[%s]:%lu", ip, port) : g_strdup_printf("%s:%lu", ip, port);
        return TRUE;
}

gboolean kiln_json_get_socket_addr(JsonObject *o, const char *key, char **ret, GError **error)
{
        g_autofree char *text = NULL;

        if (!kiln_json_get_string(o, key, &text, error))
                return FALSE;
        if (!kiln_json_parse_socket_addr(text, ret))
                return kiln_json_fail(error, "\"%s\" is not an ip:port socket address", key);
        return TRUE;
}

gboolean kiln_json_parse_cidr(const char *text, GSocketFamily family, char **ret)
{
        g_autofree char *host = NULL, *ip = NULL;
        g_autoptr(GInetAddress) addr = NULL;
        const char *slash = strchr(text, '/');
        const guint8 *bytes;
        gsize size;
        char *end;
        unsigned long prefix_len;

        if (!slash || !g_ascii_isdigit(slash[1]) || strlen(slash) > 4)
                return FALSE;
        host = g_strndup(text, (gsize)(slash - text));
        if (!kiln_json_parse_ip(host, family, &ip))
                return FALSE;
        prefix_len = strtoul(slash + 1, &end, 10);
        addr = g_inet_address_new_from_string(ip);
        size = g_inet_address_get_native_size(addr);
        if (*end || prefix_len > size * 8)
                return FALSE;
        bytes = g_inet_address_to_bytes(addr);
        for (gsize bit = prefix_len; bit < size * 8; bit++)
                if (bytes[bit / 8] & (0x80 >> (bit % 8)))
                        return FALSE;
        *ret = g_strdup_printf("%s/%lu", ip, prefix_len);
        return TRUE;
}

gboolean kiln_json_node_u64(JsonNode *node, const char *key, guint64 max, guint64 *ret, GError **error)
{
        gint64 value;

        if (!node)
                return kiln_json_fail(error, "\"%s\" is missing", key);
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                return kiln_json_fail(error, "\"%s\" is not an integer", key);
        value = json_node_get_int(node);
        if (value < 0 || (guint64)value > max)
                return kiln_json_fail(error, "\"%s\" is out of range", key);
        *ret = (guint64)value;
        return TRUE;
}

gboolean kiln_json_get_u64(JsonObject *o, const char *key, guint64 *ret, GError **error)
{
        return kiln_json_node_u64(json_object_get_member(o, key), key, G_MAXINT64, ret, error);
}

gboolean kiln_json_get_opt_u64(JsonObject *o, const char *key, guint64 *ret, GError **error)
{
        if (kiln_json_is_null_or_absent(json_object_get_member(o, key)))
                return TRUE;
        return kiln_json_get_u64(o, key, ret, error);
}

gboolean kiln_json_get_bool_default(JsonObject *o, const char *key, gboolean *ret, GError **error)
{
        JsonNode *node = json_object_get_member(o, key);

        if (!node) {
                *ret = FALSE;
                return TRUE;
        }
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
                return kiln_json_fail(error, "\"%s\" is not a boolean", key);
        *ret = json_node_get_boolean(node);
        return TRUE;
}

gboolean kiln_json_get_key(JsonObject *o, const char *key, uint8_t out[static WG_KEY_LEN], GError **error)
{
        g_autofree char *text = NULL;
        int r;

        if (!kiln_json_get_string(o, key, &text, error))
                return FALSE;
        r = key_from_base64(out, text);
        if (r < 0)
                return kiln_json_fail(error, "\"%s\" is not a base64 32-byte key: %s", key,
                                      key_decode_strerror(r));
        return TRUE;
}

gboolean kiln_json_get_array(JsonObject *o, const char *key, gboolean required, guint max, JsonArray **ret,
                             GError **error)
{
        JsonNode *node = json_object_get_member(o, key);

        if (!node) {
                if (required)
                        return kiln_json_fail(error, "\"%s\" is missing", key);
                *ret = NULL;
                return TRUE;
        }
        if (!JSON_NODE_HOLDS_ARRAY(node))
                return kiln_json_fail(error, "\"%s\" is not an array", key);
        if (json_array_get_length(json_node_get_array(node)) > max)
                return g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_TOO_LARGE,
                                   "\"%s\" has more than %u entries", key, max),
                       FALSE;
        *ret = json_node_get_array(node);
        return TRUE;
}

guint kiln_json_array_len(JsonArray *array)
{
        return array ? json_array_get_length(array) : 0;
}

gboolean kiln_json_get_opt_uuid(JsonObject *o, const char *key, char **ret, GError **error)
{
        if (kiln_json_is_null_or_absent(json_object_get_member(o, key))) {
                *ret = NULL;
                return TRUE;
        }
        return kiln_json_get_uuid(o, key, ret, error);
}

gboolean kiln_json_get_opt_ip(JsonObject *o, const char *key, GSocketFamily family, char **ret,
                              GError **error)
{
        if (kiln_json_is_null_or_absent(json_object_get_member(o, key))) {
                *ret = NULL;
                return TRUE;
        }
        return kiln_json_get_ip(o, key, family, ret, error);
}

void kiln_json_add_string_or_null(JsonBuilder *b, const char *key, const char *value)
{
        json_builder_set_member_name(b, key);
        if (value)
                json_builder_add_string_value(b, value);
        else
                json_builder_add_null_value(b);
}

void kiln_json_add_strings(JsonBuilder *b, const char *key, GPtrArray *strings)
{
        json_builder_set_member_name(b, key);
        json_builder_begin_array(b);
        for (guint i = 0; strings && i < strings->len; i++)
                json_builder_add_string_value(b, g_ptr_array_index(strings, i));
        json_builder_end_array(b);
}

/* json-glib's scanner also takes C escapes that JSON does not have: "\\666" is one byte, 0xb6,
 * so valid UTF-8 text could parse into strings that are not (and would reach D-Bus, logs and
 * the UI).  Every member name and string in the tree must be UTF-8 (recursive: call it on
 * trees whose depth is bounded). */
gboolean kiln_json_strings_are_utf8(JsonNode *node)
{
        if (JSON_NODE_HOLDS_OBJECT(node)) {
                JsonObjectIter it;
                const char *name;
                JsonNode *member;

                json_object_iter_init(&it, json_node_get_object(node));
                while (json_object_iter_next(&it, &name, &member))
                        if (!g_utf8_validate(name, -1, NULL) || !kiln_json_strings_are_utf8(member))
                                return FALSE;
                return TRUE;
        }
        if (JSON_NODE_HOLDS_ARRAY(node)) {
                JsonArray *a = json_node_get_array(node);

                for (guint i = 0; i < json_array_get_length(a); i++)
                        if (!kiln_json_strings_are_utf8(json_array_get_element(a, i)))
                                return FALSE;
                return TRUE;
        }
        if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
                return g_utf8_validate(json_node_get_string(node), -1, NULL);
        return TRUE;
}
