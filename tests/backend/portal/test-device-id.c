/* SPDX-License-Identifier: MIT */
/* The device id file: created once (0644, atomically), reused, never overwritten; external_id hashing. */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "backend/portal/device-id.h"

static void test_create_then_reuse(void)
{
        g_autofree char *dir = g_dir_make_tmp("kiln-device-id-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "sub", "device-id.json", NULL);
        g_autofree char *first = NULL, *second = NULL, *contents = NULL, *expected = NULL;
        g_autoptr(GError) error = NULL;
        struct stat st;
        mode_t old_umask = umask(077);

        g_assert_true(kiln_device_id_load_or_create(path, &first, &error));
        umask(old_umask);
        g_assert_no_error(error);
        g_assert_true(g_uuid_string_is_valid(first));
        g_assert_cmpint(g_stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 07777, ==, 0644);
        g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
        expected = g_strdup_printf("{\"id\":\"%s\"}\n", first);
        g_assert_cmpstr(contents, ==, expected);

        g_assert_true(kiln_device_id_load_or_create(path, &second, &error));
        g_assert_cmpstr(first, ==, second);

        /* No temporary files are left behind. */
        {
                g_autofree char *sub = g_path_get_dirname(path);
                g_autoptr(GDir) d = g_dir_open(sub, 0, NULL);
                guint n = 0;

                while (g_dir_read_name(d))
                        n++;
                g_assert_cmpuint(n, ==, 1);
        }
        g_unlink(path);
        {
                g_autofree char *sub = g_path_get_dirname(path);

                g_rmdir(sub);
        }
        g_rmdir(dir);
}

static void test_existing_ids(void)
{
        g_autofree char *dir = g_dir_make_tmp("kiln-device-id-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "device-id.json", NULL);
        g_autofree char *id = NULL, *after = NULL;
        g_autoptr(GError) error = NULL;

        /* Firezone's own file format, with a non-UUID id, is read as it is. */
        g_assert_true(g_file_set_contents(path, "{\"id\":\"abc123\"}", -1, NULL));
        g_assert_true(kiln_device_id_load_or_create(path, &id, NULL));
        g_assert_cmpstr(id, ==, "abc123");

        /* A corrupt file is an error and stays untouched. */
        g_assert_true(g_file_set_contents(path, "garbage", -1, NULL));
        g_assert_false(kiln_device_id_load_or_create(path, &after, &error));
        g_assert_null(after);
        g_assert_nonnull(strstr(error->message, "left as it is"));
        {
                g_autofree char *contents = NULL;

                g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
                g_assert_cmpstr(contents, ==, "garbage");
        }
        g_unlink(path);
        g_rmdir(dir);
}

static void test_external_id(void)
{
        g_autofree char *hashed = kiln_device_id_external_id("3f7b2a10-97f4-4a3e-8d4c-2b1f1b9d6c11");
        g_autofree char *upper = kiln_device_id_external_id("3F7B2A10-97F4-4A3E-8D4C-2B1F1B9D6C11");
        g_autofree char *raw = kiln_device_id_external_id("abc123");
        g_autofree char *expected =
            g_compute_checksum_for_string(G_CHECKSUM_SHA256, "3f7b2a10-97f4-4a3e-8d4c-2b1f1b9d6c11", -1);

        g_assert_cmpstr(hashed, ==, expected);
        g_assert_cmpuint(strlen(hashed), ==, 64);
        g_assert_cmpstr(upper, ==, expected);
        g_assert_cmpstr(raw, ==, "abc123");
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/device-id/create-then-reuse", test_create_then_reuse);
        g_test_add_func("/portal/device-id/existing-ids", test_existing_ids);
        g_test_add_func("/portal/device-id/external-id", test_external_id);
        return g_test_run();
}
