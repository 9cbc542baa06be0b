/* SPDX-License-Identifier: MIT */
/* Small helpers shared by Kiln's GLib-harness tests. */
#pragma once

#include <glib.h>

/* Skips the current test with a clear message unless running as root; returns TRUE when skipped. */
gboolean kiln_test_skip_unless_root(void);

/* Path of a file under the source tree (KILN_SOURCE_ROOT), e.g. "tests/fuzz/corpus". */
char *kiln_test_source_path(const char *relative);
