/* SPDX-License-Identifier: MIT */
/* The sign-in callback URL arrives from the browser: anything a web page can make a browser
 * open reaches kiln_deep_link_parse(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "app/kiln/kiln-deep-link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* URLs reach the app as C strings: an embedded NUL ends them. */
        char *text = g_strndup((const char *)data, size);
        GError *error = NULL;
        KilnDeepLink *link = kiln_deep_link_parse(text, &error);

        /* Exactly one of a result and an error, and an accepted link honours its contract. */
        if (!link == !error)
                abort();
        if (link) {
                if (strlen(link->state) != 64 || !g_utf8_validate(link->actor_name, -1, NULL) ||
                    !g_utf8_validate(link->account_slug, -1, NULL))
                        abort();
                for (const char *p = link->fragment; *p; p++)
                        if (*p < 0x21 || *p > 0x7e)
                                abort();
        }
        kiln_deep_link_free(link);
        g_clear_error(&error);
        g_free(text);
        return 0;
}
