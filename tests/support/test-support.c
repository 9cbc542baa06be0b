/* SPDX-License-Identifier: MIT */
#include "tests/support/test-support.h"

#include <unistd.h>

gboolean kiln_test_skip_unless_root(void)
{
        if (geteuid() == 0)
                return FALSE;
        g_test_skip("needs root (network namespaces, TUN devices); run the suite with sudo");
        return TRUE;
}

char *kiln_test_source_path(const char *relative)
{
        const char *root = g_getenv("KILN_SOURCE_ROOT");

        return g_build_filename(root ? root : ".", relative, NULL);
}
