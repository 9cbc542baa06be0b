/* SPDX-License-Identifier: MIT */
/*
 * kilnd's checks of D-Bus arguments.  The first byte picks the check, the rest is its input:
 * 0 token, 1 URL, 2 SignIn options (serialised a{sv}, untrusted), 3 log level.  Whatever is
 * accepted must satisfy the documented rules; whatever is refused must come with an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/kiln-tunnel-errors.h"
#include "backend/kilnd/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(gboolean ok, GError *error)
{
        if (ok != (error == NULL) || (error && error->domain != KILN_TUNNEL_ERROR))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        gboolean ok;

        if (size < 1)
                return 0;
        text = g_strndup((const char *)data + 1, size - 1);
        switch (data[0] % 4) {
        case 0:
                ok = kiln_validate_token(text, &error);
                check(ok, error);
                if (ok) {
                        size_t len = strlen(text);
                        if (len < 1 || len > KILN_TOKEN_MAX)
                                abort();
                        for (size_t i = 0; i < len; i++) {
                                if (text[i] < 0x21 || text[i] > 0x7e)
                                        abort();
                        }
                }
                break;
        case 1:
                ok = kiln_validate_url(text, &error);
                check(ok, error);
                if (ok) {
                        g_autoptr(GUri) uri = g_uri_parse(text, G_URI_FLAGS_NONE, NULL);
                        const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;

                        if (!uri || !g_strv_contains(
                                        (const char *const[]){ "ws", "wss", "http", "https", NULL }, scheme))
                                abort();
                }
                break;
        case 2: {
                g_autoptr(GBytes) bytes = g_bytes_new(data + 1, size - 1);
                g_autoptr(GVariant) v =
                    g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE("a{sv}"), bytes, FALSE));
                g_autoptr(KilnSessionOptions) opts = NULL;

                ok = kiln_validate_options(v, &opts, &error);
                check(ok, error);
                if (ok && (!opts || !opts->api_url))
                        abort();
                if (!ok && opts)
                        abort();
                break;
        }
        default: {
                KilnLogLevel level = (KilnLogLevel)99;

                ok = kiln_validate_log_level(text, &level, &error);
                check(ok, error);
                if (ok != (level != (KilnLogLevel)99))
                        abort();
                break;
        }
        }
        return 0;
}
