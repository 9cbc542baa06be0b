/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/validate.h"

#include <string.h>

#include "ipc/kiln-tunnel-errors.h"

gboolean kiln_validate_token(const char *token, GError **error)
{
        size_t len = strlen(token);

        if (len == 0) {
                g_set_error_literal(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN,
                                    "token is empty");
                return FALSE;
        }
        if (len > KILN_TOKEN_MAX) {
                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN,
                            "token is longer than %d characters", KILN_TOKEN_MAX);
                return FALSE;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)token[i];
                /* The position only: the character itself may be part of a secret. */
                if (c < 0x21 || c > 0x7e) {
                        g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN,
                                    "token has a character that is not printable ASCII or is a space at "
                                    "position %zu",
                                    i);
                        return FALSE;
                }
        }
        return TRUE;
}

gboolean kiln_validate_url(const char *url, GError **error)
{
        g_autoptr(GUri) uri = NULL;
        g_autoptr(GError) parse_error = NULL;
        const char *scheme;

        if (strlen(url) > KILN_URL_MAX) {
                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL,
                            "URL is longer than %d bytes", KILN_URL_MAX);
                return FALSE;
        }
        uri = g_uri_parse(url, G_URI_FLAGS_NONE, &parse_error);
        if (!uri) {
                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL,
                            "URL does not parse: %s", parse_error->message);
                return FALSE;
        }
        scheme = g_uri_get_scheme(uri);
        if (g_strcmp0(scheme, "ws") != 0 && g_strcmp0(scheme, "wss") != 0 &&
            g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) {
                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL,
                            "URL scheme '%s' is not one of ws, wss, http, https", scheme);
                return FALSE;
        }
        if (!g_uri_get_host(uri) || !*g_uri_get_host(uri)) {
                g_set_error_literal(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL,
                                    "URL has no host");
                return FALSE;
        }
        /* Credentials in a URL would end up in logs and in the Resources of other callers. */
        if (g_uri_get_userinfo(uri)) {
                g_set_error_literal(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL,
                                    "URL must not carry user information");
                return FALSE;
        }
        return TRUE;
}

static gboolean valid_slug(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len > KILN_ACCOUNT_SLUG_MAX)
                return FALSE;
        for (size_t i = 0; i < len; i++) {
                if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-')
                        return FALSE;
        }
        return TRUE;
}

static gboolean valid_name(const char *s)
{
        if (strlen(s) > KILN_ACTOR_NAME_MAX || !g_utf8_validate(s, -1, NULL))
                return FALSE;
        for (const char *p = s; *p; p = g_utf8_next_char(p)) {
                if (g_unichar_iscntrl(g_utf8_get_char(p)))
                        return FALSE;
        }
        return TRUE;
}

static gboolean check_type(const char *key, GVariant *value, const GVariantType *type, GError **error)
{
        if (g_variant_is_of_type(value, type))
                return TRUE;
        g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                    "option '%s' must be of type '%.*s', not '%s'", key,
                    (int)g_variant_type_get_string_length(type), g_variant_type_peek_string(type),
                    g_variant_get_type_string(value));
        return FALSE;
}

gboolean kiln_validate_options(GVariant *options, KilnSessionOptions **ret_options, GError **error)
{
        g_autoptr(KilnSessionOptions) out = g_new0(KilnSessionOptions, 1);
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        GVariantIter iter;
        const char *key;
        GVariant *raw;

        if (!g_variant_is_of_type(options, G_VARIANT_TYPE("a{sv}"))) {
                g_set_error_literal(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                                    "options must be of type a{sv}");
                return FALSE;
        }
        g_variant_iter_init(&iter, options);
        while (g_variant_iter_next(&iter, "{&sv}", &key, &raw)) {
                g_autoptr(GVariant) value = raw;

                if (!g_hash_table_add(seen, g_strdup(key))) {
                        g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                                    "option '%s' is given more than once", key);
                        return FALSE;
                }
                if (strcmp(key, "api-url") == 0) {
                        if (!check_type(key, value, G_VARIANT_TYPE_STRING, error))
                                return FALSE;
                        if (!kiln_validate_url(g_variant_get_string(value, NULL), error)) {
                                g_prefix_error(error, "option 'api-url': ");
                                return FALSE;
                        }
                        out->api_url = g_variant_dup_string(value, NULL);
                } else if (strcmp(key, "account-slug") == 0) {
                        if (!check_type(key, value, G_VARIANT_TYPE_STRING, error))
                                return FALSE;
                        if (!valid_slug(g_variant_get_string(value, NULL))) {
                                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                                            "option 'account-slug' must be 1..%d of A-Z a-z 0-9 _ -",
                                            KILN_ACCOUNT_SLUG_MAX);
                                return FALSE;
                        }
                        out->account_slug = g_variant_dup_string(value, NULL);
                } else if (strcmp(key, "actor-name") == 0) {
                        if (!check_type(key, value, G_VARIANT_TYPE_STRING, error))
                                return FALSE;
                        if (!valid_name(g_variant_get_string(value, NULL))) {
                                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                                            "option 'actor-name' must be UTF-8 without control characters, "
                                            "at most %d bytes",
                                            KILN_ACTOR_NAME_MAX);
                                return FALSE;
                        }
                        out->actor_name = g_variant_dup_string(value, NULL);
                } else if (strcmp(key, "internet-resource-enabled") == 0) {
                        if (!check_type(key, value, G_VARIANT_TYPE_BOOLEAN, error))
                                return FALSE;
                        out->internet_resource_enabled = g_variant_get_boolean(value);
                        out->has_internet_resource_enabled = TRUE;
                } else {
                        g_autofree char *shown = g_strescape(key, NULL);
                        if (strlen(shown) > 64)
                                shown[64] = '\0';
                        g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_OPTION,
                                    "unknown option '%s' (known: api-url, account-slug, actor-name, "
                                    "internet-resource-enabled)",
                                    shown);
                        return FALSE;
                }
        }
        if (!out->api_url)
                out->api_url = g_strdup(KILN_DEFAULT_API_URL);
        *ret_options = g_steal_pointer(&out);
        return TRUE;
}

gboolean kiln_validate_log_level(const char *name, KilnLogLevel *ret_level, GError **error)
{
        if (kiln_log_level_from_string(name, ret_level) < 0) {
                g_autofree char *shown = g_strescape(name, NULL);
                if (strlen(shown) > 64)
                        shown[64] = '\0';
                g_set_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_LOG_LEVEL,
                            "log level '%s' is not one of error, warn, info, debug, trace", shown);
                return FALSE;
        }
        return TRUE;
}
