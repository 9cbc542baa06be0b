/* SPDX-License-Identifier: MIT */
/*
 * Typed, bounded field readers over json-glib objects, shared by the client and gateway
 * message models: each returns FALSE with a KILN_PORTAL_ERROR naming the field on a bad or
 * missing value and writes *ret only on success.  Strings are capped at
 * KILN_PORTAL_MAX_STRING, UUIDs are lowercased, IPs and CIDRs are normalized.
 */
#pragma once

#include <stdint.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "backend/crypto/encoding.h"

G_BEGIN_DECLS

gboolean kiln_json_fail(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Prefixes the reason with where it happened, e.g. "resources[2]: …". */
void kiln_json_prefix(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

gboolean kiln_json_is_string(JsonNode *node);
gboolean kiln_json_is_null_or_absent(JsonNode *node);
/* Whether every member name and string in the tree is valid UTF-8 (json-glib also takes C
 * escapes such as \\666, one byte). */
gboolean kiln_json_strings_are_utf8(JsonNode *node);
gboolean kiln_json_as_object(JsonNode *node, const char *what, JsonObject **ret, GError **error);

gboolean kiln_json_node_string(JsonNode *node, const char *key, gsize max, char **ret, GError **error);
gboolean kiln_json_get_string(JsonObject *o, const char *key, char **ret, GError **error);
/* Absent or null gives NULL (serde's Option). */
gboolean kiln_json_get_opt_string(JsonObject *o, const char *key, char **ret, GError **error);
gboolean kiln_json_node_uuid(JsonNode *node, const char *key, char **ret, GError **error);
gboolean kiln_json_get_uuid(JsonObject *o, const char *key, char **ret, GError **error);
gboolean kiln_json_get_opt_uuid(JsonObject *o, const char *key, char **ret, GError **error);

/* An IP literal of the family (G_SOCKET_FAMILY_INVALID: either), into its canonical text. */
gboolean kiln_json_parse_ip(const char *text, GSocketFamily family, char **ret);
gboolean kiln_json_node_ip(JsonNode *node, const char *key, GSocketFamily family, char **ret,
                           GError **error);
gboolean kiln_json_get_ip(JsonObject *o, const char *key, GSocketFamily family, char **ret, GError **error);
gboolean kiln_json_get_opt_ip(JsonObject *o, const char *key, GSocketFamily family, char **ret,
                              GError **error);
/* "ip:port" or "[ipv6]:port" (Rust's SocketAddr), normalized. */
gboolean kiln_json_parse_socket_addr(const char *text, char **ret);
gboolean kiln_json_get_socket_addr(JsonObject *o, const char *key, char **ret, GError **error);
/* "addr/prefix" with no host bits set (ip_network rejects those), normalized. */
gboolean kiln_json_parse_cidr(const char *text, GSocketFamily family, char **ret);

gboolean kiln_json_node_u64(JsonNode *node, const char *key, guint64 max, guint64 *ret, GError **error);
gboolean kiln_json_get_u64(JsonObject *o, const char *key, guint64 *ret, GError **error);
/* Absent or null leaves *ret untouched. */
gboolean kiln_json_get_opt_u64(JsonObject *o, const char *key, guint64 *ret, GError **error);
/* serde's #[serde(default)] bool: absent gives FALSE, anything but a boolean is an error. */
gboolean kiln_json_get_bool_default(JsonObject *o, const char *key, gboolean *ret, GError **error);
/* A standard-base64 32-byte key (44 chars). */
gboolean kiln_json_get_key(JsonObject *o, const char *key, uint8_t out[static WG_KEY_LEN], GError **error);
/* required: absent is an error; otherwise absent gives NULL (an empty array, serde default). */
gboolean kiln_json_get_array(JsonObject *o, const char *key, gboolean required, guint max, JsonArray **ret,
                             GError **error);
guint kiln_json_array_len(JsonArray *array);

/* Normalized-output helpers. */
void kiln_json_add_string_or_null(JsonBuilder *b, const char *key, const char *value);
void kiln_json_add_strings(JsonBuilder *b, const char *key, GPtrArray *strings);

G_END_DECLS
