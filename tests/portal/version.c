/* SPDX-License-Identifier: MIT */
#include "tests/portal/version.h"

#include <string.h>

gboolean tp_version_parse(const char *text, guint ret_version[3])
{
        g_auto(GStrv) parts = text ? g_strsplit(text, ".", -1) : NULL;
        guint v[3];

        if (!parts || g_strv_length(parts) != 3)
                return FALSE;
        for (int i = 0; i < 3; i++) {
                if (parts[i][0] == '\0' || strlen(parts[i]) > 9)
                        return FALSE;
                for (const char *p = parts[i]; *p; p++)
                        if (!g_ascii_isdigit(*p))
                                return FALSE;
                v[i] = (guint)g_ascii_strtoull(parts[i], NULL, 10);
        }
        memcpy(ret_version, v, sizeof(v));
        return TRUE;
}

static int compare(const guint a[3], guint major, guint minor, guint patch)
{
        const guint b[3] = { major, minor, patch };

        for (int i = 0; i < 3; i++)
                if (a[i] != b[i])
                        return a[i] < b[i] ? -1 : 1;
        return 0;
}

gboolean tp_client_uses_sites(const char *component, const char *version)
{
        static const struct {
                const char *component;
                guint patch;
        } since[] = { { "gui-client", 10 },
                      { "headless-client", 6 },
                      { "apple-client", 11 },
                      { "android-client", 8 } };
        guint v[3];

        if (!tp_version_parse(version, v))
                return FALSE;
        for (size_t i = 0; i < G_N_ELEMENTS(since); i++)
                if (g_strcmp0(component, since[i].component) == 0)
                        return compare(v, 1, 5, since[i].patch) >= 0;
        return FALSE;
}

gboolean tp_gateway_compatible(const char *client_version, const char *gateway_version)
{
        guint c[3], g[3];

        if (!tp_version_parse(client_version, c) || !tp_version_parse(gateway_version, g))
                return FALSE;
        if (compare(g, c[0], c[1] > 0 ? c[1] - 1 : 0, 0) < 0)
                return FALSE;
        return compare(g, c[0], c[1] + 2, 0) < 0;
}
