#include "app/kiln/kiln-deep-link.h"

#include <gio/gio.h>
#include <string.h>

/* More parameters than this is not a portal callback. */
#define MAX_PARAMS 16

void kiln_deep_link_free(KilnDeepLink *link)
{
        if (!link)
                return;
        g_free(link->account_slug);
        g_free(link->actor_name);
        if (link->fragment)
                explicit_bzero(link->fragment, strlen(link->fragment));
        g_free(link->fragment);
        g_free(link->state);
        g_free(link);
}

static gboolean reject(GError **error, const char *reason)
{
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "invalid sign-in callback: %s", reason);
        return FALSE;
}

/* Decodes one query component ('+' is a space, %XX escapes); NULL on a bad escape, an
 * escaped NUL, invalid UTF-8 or a control character. */
static char *decode_component(const char *start, size_t len)
{
        g_autofree char *plus = g_strndup(start, len);
        for (char *p = plus; *p; p++)
                if (*p == '+')
                        *p = ' ';
        g_autofree char *out = g_uri_unescape_string(plus, NULL);
        if (!out || !g_utf8_validate(out, -1, NULL))
                return NULL;
        for (const char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return NULL;
        return g_steal_pointer(&out);
}

static gboolean is_hex64(const char *s)
{
        size_t n = 0;
        for (; s[n]; n++)
                if (!g_ascii_isxdigit(s[n]))
                        return FALSE;
        return n == 64;
}

static gboolean is_printable_ascii(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
                        return FALSE;
        return TRUE;
}

static gboolean take_param(char **slot, char *value, const char *name, GError **error)
{
        if (*slot) {
                g_free(value);
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                            "invalid sign-in callback: parameter '%s' given more than once", name);
                return FALSE;
        }
        *slot = value;
        return TRUE;
}

static gboolean parse_query(KilnDeepLink *link, const char *query, GError **error)
{
        unsigned count = 0;
        const char *p = query;

        for (;;) {
                const char *end = strchr(p, '&');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                const char *eq = memchr(p, '=', len);

                if (len == 0)
                        return reject(error, "empty query parameter");
                if (++count > MAX_PARAMS)
                        return reject(error, "too many query parameters");
                if (!eq)
                        return reject(error, "query parameter without '='");

                g_autofree char *key = decode_component(p, (size_t)(eq - p));
                char *value = decode_component(eq + 1, len - (size_t)(eq - p) - 1);
                if (!key || !value) {
                        g_free(value);
                        return reject(error, "malformed percent-encoding or control character");
                }

                char **slot = NULL;
                if (strcmp(key, "account_slug") == 0)
                        slot = &link->account_slug;
                else if (strcmp(key, "actor_name") == 0)
                        slot = &link->actor_name;
                else if (strcmp(key, "fragment") == 0)
                        slot = &link->fragment;
                else if (strcmp(key, "state") == 0)
                        slot = &link->state;

                if (slot) {
                        if (!take_param(slot, value, key, error))
                                return FALSE;
                } else {
                        g_free(value);
                }
                if (!end)
                        break;
                p = end + 1;
        }

        if (!link->account_slug)
                return reject(error, "missing account_slug");
        if (!link->actor_name)
                return reject(error, "missing actor_name");
        if (!link->fragment)
                return reject(error, "missing fragment");
        if (!link->state)
                return reject(error, "missing state");
        if (!is_hex64(link->state))
                return reject(error, "state is not 64 hex digits");
        if (!is_printable_ascii(link->fragment))
                return reject(error, "fragment is not printable ASCII");
        return TRUE;
}

KilnDeepLink *kiln_deep_link_parse(const char *uri, GError **error)
{
        static const char prefix[] = KILN_DEEP_LINK_SCHEME "://";
        static const char host[] = KILN_DEEP_LINK_HOST;
        size_t len;

        g_return_val_if_fail(uri != NULL, NULL);

        len = strlen(uri);
        if (len > KILN_DEEP_LINK_MAX_LEN) {
                reject(error, "too long");
                return NULL;
        }
        if (g_ascii_strncasecmp(uri, prefix, sizeof(prefix) - 1) != 0) {
                reject(error, "wrong scheme");
                return NULL;
        }
        if (strchr(uri, '#')) {
                reject(error, "unexpected '#' fragment part");
                return NULL;
        }
        const char *p = uri + sizeof(prefix) - 1;
        if (g_ascii_strncasecmp(p, host, sizeof(host) - 1) != 0) {
                reject(error, "wrong host");
                return NULL;
        }
        p += sizeof(host) - 1;
        if (*p == '/')
                p++;
        if (*p != '?') {
                reject(error, *p ? "unexpected path or port" : "no query");
                return NULL;
        }

        g_autoptr(KilnDeepLink) link = g_new0(KilnDeepLink, 1);
        if (!parse_query(link, p + 1, error))
                return NULL;
        return g_steal_pointer(&link);
}
