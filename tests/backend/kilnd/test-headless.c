/* SPDX-License-Identifier: MIT */
/* backend/kilnd/headless: the token file rules (Firezone's headless client: owner only). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include "backend/kilnd/headless.h"
#include "backend/kilnd/validate.h"

static char *write_file(const char *dir, const char *name, const char *contents, mode_t mode)
{
        char *path = g_build_filename(dir, name, NULL);

        g_assert_true(g_file_set_contents(path, contents, -1, NULL));
        g_assert_cmpint(chmod(path, mode), ==, 0);
        return path;
}

static void test_token_file(void)
{
        g_autofree char *dir = g_dir_make_tmp("kilnd-token-XXXXXX", NULL);
        g_autofree char *good = write_file(dir, "good", "  abc123.SFMyNTY.x.y \n", 0600);
        g_autofree char *readonly = write_file(dir, "readonly", "tok", 0400);
        g_autofree char *world = write_file(dir, "world", "tok", 0644);
        g_autofree char *group = write_file(dir, "group", "tok", 0640);
        g_autofree char *link = g_build_filename(dir, "link", NULL);
        g_autofree char *missing = g_build_filename(dir, "missing", NULL);
        g_autofree char *big = NULL;
        g_autofree char *long_text = g_strnfill(KILN_TOKEN_MAX + 1, 'a');
        g_autoptr(GError) error = NULL;
        char *token;

        token = kilnd_read_token_file(good, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(token, ==, "abc123.SFMyNTY.x.y");
        kilnd_token_free(token);
        token = kilnd_read_token_file(readonly, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(token, ==, "tok");
        kilnd_token_free(token);

        g_assert_null(kilnd_read_token_file(world, &error));
        g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM);
        g_assert_nonnull(strstr(error->message, "mode 0644"));
        g_clear_error(&error);
        g_assert_null(kilnd_read_token_file(group, &error));
        g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM);
        g_clear_error(&error);

        /* A symlink is not followed (O_NOFOLLOW), a directory is not a token, nor is a missing file. */
        g_assert_cmpint(symlink(good, link), ==, 0);
        g_assert_null(kilnd_read_token_file(link, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_assert_null(kilnd_read_token_file(dir, &error));
        g_assert_nonnull(error);
        g_clear_error(&error);
        g_assert_null(kilnd_read_token_file(missing, &error));
        g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
        g_clear_error(&error);

        big = write_file(dir, "big", long_text, 0600);
        g_assert_null(kilnd_read_token_file(big, &error));
        g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
        g_clear_error(&error);

        for (const char *const *p = (const char *const[]){ good, readonly, world, group, link, big, NULL };
             *p; p++)
                g_unlink(*p);
        g_rmdir(dir);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sodium_init(), >=, 0);
        g_test_add_func("/kilnd/headless/token-file", test_token_file);
        return g_test_run();
}
