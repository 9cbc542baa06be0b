/* The in-tree zip writer checked by an independent reader (Python's zipfile), and log export
 * while kilnd is unreachable: the zip must say so instead of silently missing its logs. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tests/app/kiln/test-tmpdir.h"
#include "app/kiln/kiln-log-export.h"
#include "app/kiln/kiln-log.h"
#include "app/kiln/kiln-zip-writer.h"

/* "name sha256" per member, from Python's zipfile after its CRC check of every member. */
static char *read_zip(const char *path)
{
        static const char script[] = "import hashlib, sys, zipfile\n"
                                     "z = zipfile.ZipFile(sys.argv[1])\n"
                                     "bad = z.testzip()\n"
                                     "assert bad is None, bad\n"
                                     "for i in z.infolist():\n"
                                     "    print(i.filename, hashlib.sha256(z.read(i)).hexdigest())\n";
        const char *argv[] = { "python3", "-c", script, path, NULL };
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        g_autoptr(GError) error = NULL;
        int status = 0;

        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                          &error))
                g_error("python3: %s", error->message);
        if (!g_spawn_check_wait_status(status, NULL))
                g_error("zipfile rejected %s: %s", path, err);
        return g_steal_pointer(&out);
}

static char *sha(const void *data, gsize len)
{
        return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
}

static void test_zip_writer(void)
{
        g_autofree char *dir = g_dir_make_tmp("kiln-zip-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "t.zip", NULL);
        g_autoptr(GFile) file = g_file_new_for_path(path);
        g_autoptr(GError) error = NULL;
        g_autoptr(GFileOutputStream) out = g_file_replace(file, NULL, FALSE, 0, NULL, &error);
        GString *big = g_string_new(NULL);

        for (int i = 0; i < 5000; i++)
                g_string_append_printf(big, "2026-11-23T10:11:12.345Z INFO kiln: line %d\n", i);
        g_autoptr(KilnZipWriter) zip = kiln_zip_writer_new(G_OUTPUT_STREAM(out));
        g_assert_true(kiln_zip_writer_add(zip, "top/app/big.log", big->str, big->len, NULL, &error));
        g_assert_true(kiln_zip_writer_add(zip, "top/tiny.txt", "ab", 2, NULL, &error));
        g_assert_true(kiln_zip_writer_add(zip, "top/empty", "", 0, NULL, &error));
        g_assert_true(kiln_zip_writer_add(zip, "top/ünïcode.txt", "x", 1, NULL, &error));
        g_assert_true(kiln_zip_writer_finish(zip, &error));
        g_assert_true(g_output_stream_close(G_OUTPUT_STREAM(out), NULL, &error));
        g_assert_no_error(error);

        g_autofree char *h_big = sha(big->str, big->len);
        g_autofree char *h_ab = sha("ab", 2);
        g_autofree char *h_empty = sha("", 0);
        g_autofree char *h_x = sha("x", 1);
        g_autofree char *expected = g_strdup_printf("top/app/big.log %s\ntop/tiny.txt %s\ntop/empty %s\n"
                                                    "top/ünïcode.txt %s\n",
                                                    h_big, h_ab, h_empty, h_x);
        g_autofree char *got = read_zip(path);
        g_assert_cmpstr(got, ==, expected);

        /* Deflate really happened: the archive is far smaller than the log. */
        g_autoptr(GFileInfo) info = g_file_query_info(file, G_FILE_ATTRIBUTE_STANDARD_SIZE, 0, NULL, &error);
        g_assert_cmpint(g_file_info_get_size(info), <, (goffset)big->len / 4);
        g_string_free(big, TRUE);
        g_unlink(path);
        g_rmdir(dir);
}

typedef struct {
        GError *error;
        gboolean done;
} Export;

static void on_exported(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Export *e = user_data;
        kiln_log_export_finish(result, &e->error);
        e->done = TRUE;
}

static mode_t file_mode(const char *path)
{
        struct stat st;

        g_assert_cmpint(g_stat(path, &st), ==, 0);
        return st.st_mode & 07777;
}

static void test_export_without_kilnd(void)
{
        g_autofree char *dir = g_dir_make_tmp("kiln-export-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "logs.zip", NULL);
        g_autoptr(GFile) dest = g_file_new_for_path(path);
        g_autoptr(KilnTunnelState) tunnel = kiln_tunnel_state_new();
        g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
        Export e = { 0 };

        kiln_tunnel_state_apply(tunnel, FALSE, empty);
        g_message("a line that must reach the exported app log");
        /* Logs name resources and addresses: the archive is the user's alone, also when it
         * replaces a file others could read. */
        g_assert_true(g_file_set_contents(path, "old", -1, NULL));
        g_assert_cmpint(g_chmod(path, 0644), ==, 0);
        kiln_log_export_async(tunnel, dest, NULL, on_exported, &e);
        while (!e.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_no_error(e.error);
        g_assert_cmpuint(file_mode(path), ==, 0600);
        {
                g_autofree char *app_log = g_build_filename(kiln_log_dir(), "kiln.log", NULL);

                g_assert_cmpuint(file_mode(app_log), ==, 0600);
        }

        g_autofree char *listing = read_zip(path);
        g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 4);
        g_assert_true(g_str_has_prefix(lines[0], "kiln-logs-"));
        g_assert_nonnull(strstr(lines[0], "/app/kiln.log "));
        g_assert_nonnull(strstr(lines[1], "/kilnd/UNAVAILABLE.txt "));
        g_assert_nonnull(strstr(lines[2], "/system-info.txt "));
        g_assert_cmpstr(lines[3], ==, "");

        g_autofree char *note = NULL;
        const char *argv[] = { "python3", "-c",
                               "import sys, zipfile\n"
                               "z = zipfile.ZipFile(sys.argv[1])\n"
                               "n = [i for i in z.namelist() if i.endswith('UNAVAILABLE.txt')][0]\n"
                               "a = [i for i in z.namelist() if i.endswith('kiln.log')][0]\n"
                               "sys.stdout.write(z.read(n).decode() + z.read(a).decode())\n",
                               path, NULL };
        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &note, NULL,
                                   NULL, NULL));
        g_assert_nonnull(strstr(note, "kilnd) was unreachable over D-Bus"));
        g_assert_nonnull(strstr(note, "a line that must reach the exported app log"));
        g_unlink(path);
        g_rmdir(dir);
}

int main(int argc, char **argv)
{
        /* A private config and cache (G_TEST_OPTION_ISOLATE_DIRS leaks in GLib 2.74). */
        g_autofree char *home = g_dir_make_tmp("kiln-test-XXXXXX", NULL);
        g_autofree char *config = g_build_filename(home, "config", NULL);
        g_autofree char *cache = g_build_filename(home, "cache", NULL);
        g_setenv("XDG_CONFIG_HOME", config, TRUE);
        g_setenv("XDG_CACHE_HOME", cache, TRUE);
        g_test_init(&argc, &argv, NULL);
        g_autofree char *logs = g_dir_make_tmp("kiln-logs-XXXXXX", NULL);
        g_setenv("KILN_LOG_DIR", logs, TRUE);
        kiln_log_init();
        g_test_add_func("/zip-writer/read-back", test_zip_writer);
        g_test_add_func("/log-export/without-kilnd", test_export_without_kilnd);
        int rc = g_test_run();
        test_tmpdir_remove(logs);
        test_tmpdir_remove(home);
        return rc;
}
