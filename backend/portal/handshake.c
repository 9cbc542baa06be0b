/* SPDX-License-Identifier: MIT */
#include "backend/portal/handshake.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <json-glib/json-glib.h>

#include "backend/portal/phoenix.h"

/* application/x-www-form-urlencoded, as Rust's form_urlencoded::byte_serialize writes it. */
static void append_form_encoded(GString *out, const char *value)
{
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if (g_ascii_isalnum(*p) || *p == '*' || *p == '-' || *p == '.' || *p == '_')
                        g_string_append_c(out, (char)*p);
                else if (*p == ' ')
                        g_string_append_c(out, '+');
                else
                        g_string_append_printf(out, "%%%02X", *p);
        }
}

static void append_param(GString *query, const char *key, const char *value)
{
        if (!value)
                return;
        if (query->len)
                g_string_append_c(query, '&');
        g_string_append(query, key);
        g_string_append_c(query, '=');
        append_form_encoded(query, value);
}

char *kiln_portal_login_url(const KilnPortalLoginParams *params, const uint8_t public_key[static WG_KEY_LEN],
                            GError **error)
{
        g_autoptr(GUri) base = NULL;
        g_autoptr(GString) path = NULL;
        g_autoptr(GString) query = g_string_new(NULL);
        g_autoptr(GUri) url = NULL;
        char key[WG_KEY_LEN_BASE64];
        const char *scheme;

        if (!params->external_id || !*params->external_id) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "the portal requires an external_id");
                return NULL;
        }
        base = g_uri_parse(params->api_url, G_URI_FLAGS_NONE, error);
        if (!base)
                return NULL;
        scheme = g_uri_get_scheme(base);
        if (g_ascii_strcasecmp(scheme, "ws") == 0 || g_ascii_strcasecmp(scheme, "http") == 0) {
                scheme = "ws";
        } else if (g_ascii_strcasecmp(scheme, "wss") == 0 || g_ascii_strcasecmp(scheme, "https") == 0) {
                scheme = "wss";
        } else {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                            "portal URL scheme \"%s\" is not ws, wss, http or https", scheme);
                return NULL;
        }
        if (!g_uri_get_host(base) || !*g_uri_get_host(base)) {
                g_set_error_literal(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID,
                                    "portal URL has no host");
                return NULL;
        }

        /* Segments are appended to the base path after dropping a trailing empty segment. */
        path = g_string_new(g_uri_get_path(base));
        if (path->len && path->str[path->len - 1] == '/')
                g_string_truncate(path, path->len - 1);
        g_string_append_printf(path, "/%s/v2/websocket", kiln_portal_role_topic(params->role));

        key_to_base64(key, public_key);
        append_param(query, "external_id", params->external_id);
        append_param(query, "name", params->name);
        if (params->role == KILN_PORTAL_ROLE_CLIENT) {
                if (params->device_serial && !g_str_equal(params->device_serial, "123456789"))
                        append_param(query, "device_serial", params->device_serial);
                append_param(query, "device_uuid", params->device_uuid);
        }
        append_param(query, "public_key", key);

        url =
            g_uri_build(G_URI_FLAGS_ENCODED, scheme, NULL, g_uri_get_host(base),
                        g_uri_get_port(base) > 0 ? g_uri_get_port(base) : 443, path->str, query->str, NULL);
        return g_uri_to_string(url);
}

char *kiln_portal_host_header(const char *login_url)
{
        g_autoptr(GUri) uri = g_uri_parse(login_url, G_URI_FLAGS_NONE, NULL);
        const char *host;

        if (!uri || !(host = g_uri_get_host(uri)))
                return NULL;
        return strchr(host, ':') ? g_strdup_printf("[%s]", host) : g_strdup(host);
}

char *kiln_portal_authorization_header(const char *token)
{
        g_autoptr(GString) header = NULL;

        if (!token)
                return NULL;
        header = g_string_new("Bearer ");
        for (const char *p = token; *p; p++)
                if (!g_ascii_isspace(*p) && *p != '\v')
                        g_string_append_c(header, *p);
        if (header->len == strlen("Bearer "))
                return NULL;
        return g_string_free(g_steal_pointer(&header), FALSE);
}

/* Printable ASCII without spaces: the portal splits the User-Agent on spaces. */
static void append_token(GString *out, const char *text)
{
        for (const char *p = text; p && *p; p++)
                if ((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
                        g_string_append_c(out, *p);
}

const char *kiln_portal_role_topic(KilnPortalRole role)
{
        return role == KILN_PORTAL_ROLE_GATEWAY ? "gateway" : "client";
}

char *kiln_portal_user_agent(const char *os_type, const char *os_version, const char *arch,
                             const char *kernel_release)
{
        return kiln_portal_user_agent_for_role(KILN_PORTAL_ROLE_CLIENT, os_type, os_version, arch,
                                               kernel_release);
}

char *kiln_portal_user_agent_for_role(KilnPortalRole role, const char *os_type, const char *os_version,
                                      const char *arch, const char *kernel_release)
{
        g_autoptr(GString) ua = g_string_new(NULL);
        g_auto(GStrv) parts = g_strsplit(os_version ? os_version : "", ".", 4);
        guint64 version[3] = { 0, 0, 0 };

        for (guint i = 0; i < 3 && parts[i]; i++)
                g_ascii_string_to_unsigned(parts[i], 10, 0, G_MAXUINT32, &version[i], NULL);
        append_token(ua, os_type && *os_type ? os_type : "Linux");
        g_string_append_printf(ua, "/%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " ",
                               version[0], version[1], version[2]);
        g_string_append(ua, role == KILN_PORTAL_ROLE_GATEWAY
                                ? KILN_PORTAL_GATEWAY_COMPONENT "/" KILN_PORTAL_GATEWAY_VERSION
                                : KILN_PORTAL_COMPONENT "/" KILN_PORTAL_CLIENT_VERSION);
        if (arch && kernel_release) {
                g_string_append(ua, " (");
                append_token(ua, arch);
                g_string_append(ua, "; ");
                append_token(ua, kernel_release);
                g_string_append_c(ua, ')');
        }
        return g_string_free(g_steal_pointer(&ua), FALSE);
}

static char *os_release_value(const char *contents, const char *key)
{
        g_auto(GStrv) lines = g_strsplit(contents, "\n", 0);
        size_t key_len = strlen(key);

        for (guint i = 0; lines[i]; i++) {
                if (strncmp(lines[i], key, key_len) == 0 && lines[i][key_len] == '=') {
                        char *value = g_shell_unquote(lines[i] + key_len + 1, NULL);

                        if (value)
                                return value;
                }
        }
        return NULL;
}

char *kiln_portal_user_agent_for_host(void)
{
        return kiln_portal_user_agent_for_host_role(KILN_PORTAL_ROLE_CLIENT);
}

char *kiln_portal_user_agent_for_host_role(KilnPortalRole role)
{
        g_autofree char *contents = NULL, *id = NULL, *version = NULL;
        struct utsname u;

        if (!g_file_get_contents("/etc/os-release", &contents, NULL, NULL))
                g_file_get_contents("/usr/lib/os-release", &contents, NULL, NULL);
        if (contents) {
                id = os_release_value(contents, "ID");
                version = os_release_value(contents, "VERSION_ID");
        }
        /* os_info names distributions capitalized: debian → Debian. */
        if (id && *id)
                id[0] = g_ascii_toupper(id[0]);
        if (uname(&u) < 0)
                return kiln_portal_user_agent_for_role(role, id, version, NULL, NULL);
        return kiln_portal_user_agent_for_role(role, id, version, u.machine, u.release);
}

static gboolean is_problem_json(const char *content_type)
{
        g_autofree char *type = NULL;
        const char *semicolon;

        if (!content_type)
                return FALSE;
        semicolon = strchr(content_type, ';');
        type = g_strstrip(
            g_strndup(content_type, semicolon ? (gsize)(semicolon - content_type) : strlen(content_type)));
        return g_ascii_strcasecmp(type, "application/problem+json") == 0;
}

KilnPortalUpgradeVerdict kiln_portal_classify_refused_upgrade(guint status, const char *content_type,
                                                              const char *body, gsize body_len,
                                                              char **ret_detail)
{
        g_autoptr(JsonParser) parser = NULL;
        const char *code = NULL, *detail = NULL;
        JsonNode *root;

        if (status != 401)
                return KILN_PORTAL_UPGRADE_RETRY;
        if (body && body_len <= 65536 && is_problem_json(content_type) &&
            g_utf8_validate_len(body, body_len, NULL)) {
                parser = json_parser_new_immutable();
                if (json_parser_load_from_data(parser, body, (gssize)body_len, NULL) &&
                    (root = json_parser_get_root(parser)) && JSON_NODE_HOLDS_OBJECT(root)) {
                        JsonObject *o = json_node_get_object(root);

                        code = json_object_get_string_member_with_default(o, "code", NULL);
                        detail = json_object_get_string_member_with_default(o, "detail", NULL);
                }
        }
        if (ret_detail)
                *ret_detail = g_strdup(detail ? detail : code ? code : "HTTP 401 Unauthorized");
        if (code && (g_str_equal(code, "invalid_token") || g_str_equal(code, "missing_token")))
                return KILN_PORTAL_UPGRADE_SIGN_IN_REQUIRED;
        return KILN_PORTAL_UPGRADE_AUTH_FAILED;
}

gboolean kiln_portal_parse_retry_after(const char *value, gint64 now_unix, guint64 *ret_seconds)
{
        g_autoptr(GDateTime) date = NULL;
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        char weekday[4], month[4], zone[4];
        int day, year, hour, minute, second, n = 0;
        guint64 seconds;

        if (!value)
                return FALSE;
        if (g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32, &seconds, NULL)) {
                *ret_seconds = seconds;
                return TRUE;
        }
        /* IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
        if (sscanf(value, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", weekday, &day, month, &year, &hour, &minute,
                   &second, zone, &n) != 8 ||
            value[n] != '\0' || value[3] != ',' || !g_str_equal(zone, "GMT"))
                return FALSE;
        for (guint m = 0; m < G_N_ELEMENTS(months); m++) {
                if (!g_str_equal(month, months[m]))
                        continue;
                date = g_date_time_new_utc(year, (int)m + 1, day, hour, minute, second);
                if (!date)
                        return FALSE;
                *ret_seconds = g_date_time_to_unix(date) > now_unix
                                   ? (guint64)(g_date_time_to_unix(date) - now_unix)
                                   : 0;
                return TRUE;
        }
        return FALSE;
}
