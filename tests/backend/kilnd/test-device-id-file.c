/* SPDX-License-Identifier: MIT */
/* backend/kilnd/device-id-file: the id kilnd reports, and what it refuses to report. */
#include <errno.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "backend/kilnd/device-id-file.h"

static int read_id(const char *contents, gssize len, char **ret_id)
{
        g_autofree char *dir = g_dir_make_tmp("kilnd-id-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "device-id", NULL);
        int r;

        if (contents)
                g_assert_true(g_file_set_contents(path, contents, len, NULL));
        r = kilnd_read_device_id(dir, ret_id);
        g_unlink(path);
        g_rmdir(dir);
        return r;
}

static void test_device_id(void)
{
        g_autofree char *id = NULL;
        g_autofree char *long_id = g_strnfill(KILND_DEVICE_ID_MAX + 1, 'a');
        char *untouched = NULL;

        g_assert_cmpint(read_id("  3f2a-b_C9\n", -1, &id), ==, 0);
        g_assert_cmpstr(id, ==, "3f2a-b_C9");

        g_assert_cmpint(read_id(NULL, 0, &untouched), ==, -ENOENT);
        g_assert_cmpint(read_id("", -1, &untouched), ==, -EINVAL);
        g_assert_cmpint(read_id("\n", -1, &untouched), ==, -EINVAL);
        g_assert_cmpint(read_id("has space", -1, &untouched), ==, -EINVAL);
        g_assert_cmpint(read_id("{\"id\":\"x\"}", -1, &untouched), ==, -EINVAL);
        g_assert_cmpint(read_id("ab\0cd", 5, &untouched), ==, -EINVAL);
        g_assert_cmpint(read_id(long_id, -1, &untouched), ==, -EINVAL);
        g_assert_null(untouched);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kilnd/device-id-file", test_device_id);
        return g_test_run();
}
