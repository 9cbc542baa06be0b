/* SPDX-License-Identifier: MIT */
/* backend/log: line format, levels, rotation at the cap, redaction, export, clear, threads. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "backend/log/log.h"

typedef struct {
        char *dir;
        KilnLogger *lg;
} Fixture;

static void open_logger(Fixture *f, uint64_t size, unsigned files, KilnLogLevel level)
{
        KilnLogConfig config = {
                .dir = f->dir,
                .name = "test",
                .group = "kiln",
                .max_file_size = size,
                .max_files = files,
                .level = level,
        };

        g_assert_cmpint(kiln_logger_open(&config, &f->lg), ==, 0);
}

static void setup(Fixture *f, gconstpointer data)
{
        f->dir = g_dir_make_tmp("kiln-log-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        open_logger(f, 1024 * 1024, 2, KILN_LOG_INFO);
}

static void remove_dir(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                g_unlink(p);
        }
        g_rmdir(dir);
}

static void teardown(Fixture *f, gconstpointer data)
{
        kiln_logger_free(f->lg);
        remove_dir(f->dir);
        g_free(f->dir);
}

static char *read_file(Fixture *f, const char *name)
{
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        char *contents = NULL;

        if (!g_file_get_contents(p, &contents, NULL, NULL))
                return NULL;
        return contents;
}

static JsonObject *parse_line(const char *line)
{
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;

        if (!json_parser_load_from_data(parser, line, -1, &error))
                g_error("not JSON: %s: %s", error->message, line);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
        return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* The lines of a file (without the empty one after the last newline). */
static GStrv lines_of(const char *contents)
{
        GStrv lines = g_strsplit(contents ? contents : "", "\n", -1);
        guint n = g_strv_length(lines);

        g_assert_true(n > 0);
        g_assert_cmpstr(lines[n - 1], ==, "");
        g_free(lines[n - 1]);
        lines[n - 1] = NULL;
        return lines;
}

static void test_format(Fixture *f, gconstpointer data)
{
        g_autofree char *contents = NULL;
        g_auto(GStrv) lines = NULL;
        g_autoptr(JsonObject) o = NULL;
        JsonObject *fields;
        g_autoptr(GRegex) rfc3339 =
            g_regex_new("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$", 0, 0, NULL);

        kiln_log(f->lg, KILN_LOG_INFO, "kilnd::test", "hello \"world\"\n\ttab",
                 KILN_LOG_STR("url", "wss://x/"), KILN_LOG_INT("n", -42), KILN_LOG_BOOL("ok", 1),
                 KILN_LOG_SECRET("token"),
                 KILN_LOG_STR("ctl", "a\x01\x7f"
                                     "b"),
                 KILN_LOG_STR("bad_utf8", "x\xff"
                                          "y"));
        kiln_log(f->lg, KILN_LOG_WARN, "t", "no fields");

        contents = read_file(f, "test.log");
        lines = lines_of(contents);
        g_assert_cmpuint(g_strv_length(lines), ==, 2);

        o = parse_line(lines[0]);
        g_assert_true(g_regex_match(rfc3339, json_object_get_string_member(o, "time"), 0, NULL));
        g_assert_cmpstr(json_object_get_string_member(o, "level"), ==, "info");
        g_assert_cmpstr(json_object_get_string_member(o, "target"), ==, "kilnd::test");
        g_assert_cmpstr(json_object_get_string_member(o, "message"), ==, "hello \"world\"\n\ttab");
        fields = json_object_get_object_member(o, "fields");
        g_assert_cmpuint(json_object_get_size(fields), ==, 6);
        g_assert_cmpstr(json_object_get_string_member(fields, "url"), ==, "wss://x/");
        g_assert_cmpint(json_object_get_int_member(fields, "n"), ==, -42);
        g_assert_true(json_object_get_boolean_member(fields, "ok"));
        g_assert_cmpstr(json_object_get_string_member(fields, "token"), ==, "<redacted>");
        g_assert_cmpstr(json_object_get_string_member(fields, "ctl"), ==,
                        "a\x01\x7f"
                        "b");
        g_assert_true(g_utf8_validate(json_object_get_string_member(fields, "bad_utf8"), -1, NULL));
        /* Control characters are escaped in the file itself, one object per physical line. */
        g_assert_nonnull(strstr(lines[0], "a\\u0001\\u007fb"));

        {
                g_autoptr(JsonObject) o2 = parse_line(lines[1]);
                g_assert_cmpstr(json_object_get_string_member(o2, "level"), ==, "warn");
                g_assert_cmpuint(json_object_get_size(json_object_get_object_member(o2, "fields")), ==, 0);
        }
}

static void test_long_value(Fixture *f, gconstpointer data)
{
        g_autofree char *big = g_strnfill(3 * KILN_LOG_MAX_VALUE, 'v');
        g_autofree char *contents = NULL;
        g_autoptr(JsonObject) o = NULL;
        const char *v;

        kiln_log(f->lg, KILN_LOG_INFO, "t", "m", KILN_LOG_STR("big", big));
        contents = read_file(f, "test.log");
        o = parse_line(contents);
        v = json_object_get_string_member(json_object_get_object_member(o, "fields"), "big");
        g_assert_true(g_str_has_suffix(v, "…"));
        g_assert_cmpuint(strlen(v), ==, KILN_LOG_MAX_VALUE + strlen("…"));
}

static void test_levels(Fixture *f, gconstpointer data)
{
        g_autofree char *contents = NULL;
        KilnLogLevel level = KILN_LOG_TRACE;

        kiln_log(f->lg, KILN_LOG_DEBUG, "t", "debug-1");
        kiln_log(f->lg, KILN_LOG_ERROR, "t", "error-1");
        kiln_logger_set_level(f->lg, KILN_LOG_DEBUG);
        g_assert_cmpint(kiln_logger_get_level(f->lg), ==, KILN_LOG_DEBUG);
        kiln_log(f->lg, KILN_LOG_DEBUG, "t", "debug-2");
        kiln_log(f->lg, KILN_LOG_TRACE, "t", "trace-1");
        kiln_logger_set_level(f->lg, KILN_LOG_ERROR);
        kiln_log(f->lg, KILN_LOG_WARN, "t", "warn-1");

        contents = read_file(f, "test.log");
        g_assert_null(strstr(contents, "debug-1"));
        g_assert_nonnull(strstr(contents, "error-1"));
        g_assert_nonnull(strstr(contents, "debug-2"));
        g_assert_null(strstr(contents, "trace-1"));
        g_assert_null(strstr(contents, "warn-1"));

        for (int i = KILN_LOG_ERROR; i <= KILN_LOG_TRACE; i++) {
                g_assert_cmpint(kiln_log_level_from_string(kiln_log_level_to_string(i), &level), ==, 0);
                g_assert_cmpint(level, ==, i);
        }
        level = KILN_LOG_INFO;
        g_assert_cmpint(kiln_log_level_from_string("INFO", &level), ==, -EINVAL);
        g_assert_cmpint(kiln_log_level_from_string("", &level), ==, -EINVAL);
        g_assert_cmpint(kiln_log_level_from_string("verbose", &level), ==, -EINVAL);
        g_assert_cmpint(kiln_log_level_from_string(NULL, &level), ==, -EINVAL);
        g_assert_cmpint(level, ==, KILN_LOG_INFO);
}

static gsize file_size(Fixture *f, const char *name)
{
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        struct stat st;

        if (stat(p, &st) < 0)
                return (gsize)-1;
        return (gsize)st.st_size;
}

static void test_rotation(Fixture *f, gconstpointer data)
{
        g_autoptr(GString) all = g_string_new(NULL);
        const unsigned n = 200;
        char path[] = "/tmp/kiln-log-export-XXXXXX";
        int fd;
        g_autofree char *exported = NULL;
        g_auto(GStrv) lines = NULL;
        gint64 first;

        kiln_logger_free(f->lg);
        open_logger(f, 1024, 2, KILN_LOG_INFO);
        for (unsigned i = 0; i < n; i++)
                kiln_log(f->lg, KILN_LOG_INFO, "t", "line", KILN_LOG_INT("seq", i));

        /* Three files at most, each within the cap: the total cap is size × (files + 1). */
        g_assert_cmpuint(file_size(f, "test.log"), <=, 1024);
        g_assert_cmpuint(file_size(f, "test.log.1"), <=, 1024);
        g_assert_cmpuint(file_size(f, "test.log.2"), <=, 1024);
        g_assert_cmpuint(file_size(f, "test.log.1"), >, 1024 - 200);
        g_assert_cmpuint(file_size(f, "test.log.3"), ==, (gsize)-1);

        /* Export gives the surviving lines oldest first, contiguous, ending with the last. */
        fd = g_mkstemp(path);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(kiln_logger_export(f->lg, fd), ==, 0);
        close(fd);
        g_assert_true(g_file_get_contents(path, &exported, NULL, NULL));
        g_unlink(path);
        lines = lines_of(exported);
        g_assert_cmpuint(g_strv_length(lines), >, 10);
        {
                g_autoptr(JsonObject) o = parse_line(lines[0]);
                first = json_object_get_int_member(json_object_get_object_member(o, "fields"), "seq");
        }
        g_assert_cmpint(first, >, 0);
        for (guint i = 0; lines[i]; i++) {
                g_autoptr(JsonObject) o = parse_line(lines[i]);
                g_assert_cmpint(
                    json_object_get_int_member(json_object_get_object_member(o, "fields"), "seq"), ==,
                    first + i);
        }
        g_assert_cmpint(first + g_strv_length(lines) - 1, ==, n - 1);
}

static void test_rotation_no_backups(Fixture *f, gconstpointer data)
{
        kiln_logger_free(f->lg);
        open_logger(f, 1024, 0, KILN_LOG_INFO);
        for (unsigned i = 0; i < 100; i++)
                kiln_log(f->lg, KILN_LOG_INFO, "t", "line", KILN_LOG_INT("seq", i));
        g_assert_cmpuint(file_size(f, "test.log"), <=, 1024);
        g_assert_cmpuint(file_size(f, "test.log.1"), ==, (gsize)-1);
}

static void test_redaction(Fixture *f, gconstpointer data)
{
        const char *token = "tok-SECRET-0123456789";
        g_autofree char *contents = NULL;
        g_autofree char *in_message = g_strdup_printf("got %s from the GUI", token);
        g_autofree char *in_url = g_strdup_printf("wss://x/?token=%s", token);

        kiln_logger_add_secret(f->lg, token);
        kiln_logger_add_secret(f->lg, "short");
        kiln_log(f->lg, KILN_LOG_INFO, "t", in_message, KILN_LOG_STR("url", in_url),
                 KILN_LOG_SECRET("token"), KILN_LOG_STR("word", "short"));
        contents = read_file(f, "test.log");
        g_assert_null(strstr(contents, token));
        g_assert_nonnull(strstr(contents, "got <redacted> from the GUI"));
        g_assert_nonnull(strstr(contents, "wss://x/?token=<redacted>"));
        g_assert_nonnull(strstr(contents, "\"token\":\"<redacted>\""));
        /* Too short to scrub without mangling ordinary words. */
        g_assert_nonnull(strstr(contents, "\"word\":\"short\""));

        kiln_logger_clear_secrets(f->lg);
        kiln_log(f->lg, KILN_LOG_INFO, "t", in_message);
        g_free(contents);
        contents = read_file(f, "test.log");
        g_assert_nonnull(strstr(contents, token));
}

typedef struct {
        int fd;
        GString *got;
} Reader;

static gpointer reader_thread(gpointer data)
{
        Reader *r = data;
        char buf[512];
        ssize_t n;

        /* Slow on purpose: the exporter must wait for room, not fail or drop. */
        while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
                g_string_append_len(r->got, buf, n);
                g_usleep(200);
        }
        return NULL;
}

static void test_export_pipe(Fixture *f, gconstpointer data)
{
        g_autofree char *expected = NULL;
        Reader r = { .got = g_string_new(NULL) };
        GThread *t;
        int p[2];

        for (unsigned i = 0; i < 2000; i++)
                kiln_log(f->lg, KILN_LOG_INFO, "t", "export me", KILN_LOG_INT("seq", i));
        expected = read_file(f, "test.log");
        g_assert_cmpuint(strlen(expected), >, 65536 * 2);

        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        r.fd = p[0];
        t = g_thread_new("reader", reader_thread, &r);
        g_assert_cmpint(kiln_logger_export(f->lg, p[1]), ==, 0);
        close(p[1]);
        g_thread_join(t);
        close(p[0]);
        g_assert_cmpstr(r.got->str, ==, expected);
        g_string_free(r.got, TRUE);

        /* A descriptor open for reading only is refused. */
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(kiln_logger_export(f->lg, p[0]), ==, -EBADF);
        close(p[0]);
        close(p[1]);
}

static void test_clear(Fixture *f, gconstpointer data)
{
        g_autofree char *contents = NULL;
        g_auto(GStrv) lines = NULL;

        kiln_logger_free(f->lg);
        open_logger(f, 1024, 2, KILN_LOG_INFO);
        for (unsigned i = 0; i < 100; i++)
                kiln_log(f->lg, KILN_LOG_INFO, "t", "before clear", KILN_LOG_INT("seq", i));
        g_assert_cmpuint(file_size(f, "test.log.2"), !=, (gsize)-1);

        g_assert_cmpint(kiln_logger_clear(f->lg), ==, 0);
        g_assert_cmpuint(file_size(f, "test.log"), ==, 0);
        g_assert_cmpuint(file_size(f, "test.log.1"), ==, (gsize)-1);
        g_assert_cmpuint(file_size(f, "test.log.2"), ==, (gsize)-1);

        /* The file stays open and is written from its start again, not after a hole. */
        kiln_log(f->lg, KILN_LOG_INFO, "t", "after clear");
        contents = read_file(f, "test.log");
        lines = lines_of(contents);
        g_assert_cmpuint(g_strv_length(lines), ==, 1);
        g_assert_nonnull(strstr(lines[0], "after clear"));
}

static void test_file_mode(Fixture *f, gconstpointer data)
{
        g_autofree char *p = g_build_filename(f->dir, "test.log", NULL);
        struct group *grp = getgrnam("kiln");
        struct stat st;
        mode_t old = umask(077);

        /* Even under the unit's UMask=077 the log is group-readable. */
        kiln_logger_free(f->lg);
        g_unlink(p);
        open_logger(f, 1024, 1, KILN_LOG_INFO);
        umask(old);
        g_assert_cmpint(stat(p, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
        if (grp && geteuid() == 0)
                g_assert_cmpint(st.st_gid, ==, grp->gr_gid);
}

#define N_THREADS  4
#define PER_THREAD 400

static gpointer writer_thread(gpointer data)
{
        KilnLogger *lg = data;

        for (int i = 0; i < PER_THREAD; i++)
                kiln_log(lg, KILN_LOG_INFO, "thread", "concurrent line with some padding to rotate sooner",
                         KILN_LOG_INT("seq", i));
        return NULL;
}

static void test_threads(Fixture *f, gconstpointer data)
{
        GThread *threads[N_THREADS];
        char path[] = "/tmp/kiln-log-threads-XXXXXX";
        g_autofree char *all = NULL;
        g_auto(GStrv) lines = NULL;
        int fd;

        kiln_logger_free(f->lg);
        open_logger(f, 64 * 1024, 8, KILN_LOG_INFO);
        for (int i = 0; i < N_THREADS; i++)
                threads[i] = g_thread_new("writer", writer_thread, f->lg);
        for (int i = 0; i < N_THREADS; i++)
                g_thread_join(threads[i]);

        fd = g_mkstemp(path);
        g_assert_cmpint(kiln_logger_export(f->lg, fd), ==, 0);
        close(fd);
        g_assert_true(g_file_get_contents(path, &all, NULL, NULL));
        g_unlink(path);
        lines = lines_of(all);
        /* The cap (64 KiB × 9) holds them all; none is torn or interleaved. */
        g_assert_cmpuint(g_strv_length(lines), ==, N_THREADS * PER_THREAD);
        for (guint i = 0; lines[i]; i++) {
                g_autoptr(JsonObject) o = parse_line(lines[i]);
                g_assert_cmpstr(json_object_get_string_member(o, "target"), ==, "thread");
        }
}

static void test_reopen_after_delete(Fixture *f, gconstpointer data)
{
        g_autofree char *p = g_build_filename(f->dir, "test.log", NULL);
        g_autofree char *contents = NULL;

        kiln_log(f->lg, KILN_LOG_INFO, "t", "before delete");
        g_assert_cmpint(g_unlink(p), ==, 0);
        for (int i = 0; i < 40; i++)
                kiln_log(f->lg, KILN_LOG_INFO, "t", "after delete", KILN_LOG_INT("seq", i));
        contents = read_file(f, "test.log");
        g_assert_nonnull(contents);
        g_assert_null(strstr(contents, "before delete"));
        g_assert_nonnull(strstr(contents, "\"seq\":39}"));
}

/* What a stderr-only logger writes to FD 2 (pointed at a file meanwhile). */
static char *capture_stderr(Fixture *f, gboolean journal)
{
        KilnLogConfig config = { .name = "stderr-only", .to_stderr = true, .level = KILN_LOG_INFO };
        char path[] = "/tmp/kiln-log-stderr-XXXXXX";
        int fd = g_mkstemp(path);
        int saved = dup(STDERR_FILENO);
        KilnLogger *lg = NULL;
        char *out = NULL;

        if (journal)
                g_setenv("JOURNAL_STREAM", "8:1234", TRUE);
        else
                g_unsetenv("JOURNAL_STREAM");
        g_assert_cmpint(kiln_logger_open(&config, &lg), ==, 0);
        g_unsetenv("JOURNAL_STREAM");
        g_assert_null(kiln_logger_get_path(lg));
        g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
        kiln_log(lg, KILN_LOG_WARN, "kilnd::x", "disk is full", KILN_LOG_STR("path", "/var"),
                 KILN_LOG_SECRET("token"));
        g_assert_cmpint(dup2(saved, STDERR_FILENO), ==, STDERR_FILENO);
        close(saved);
        close(fd);
        kiln_logger_free(lg);
        g_assert_true(g_file_get_contents(path, &out, NULL, NULL));
        g_unlink(path);
        return out;
}

static void test_stderr(Fixture *f, gconstpointer data)
{
        g_autofree char *journal = capture_stderr(f, TRUE);
        g_autofree char *terminal = capture_stderr(f, FALSE);

        /* journald reads the <N> syslog priority: 4 = warning. */
        g_assert_cmpstr(journal, ==, "<4>kilnd::x: disk is full path=/var token=<redacted>\n");
        g_assert_true(
            g_str_has_suffix(terminal, "Z  warn kilnd::x: disk is full path=/var token=<redacted>\n"));
        g_assert_true(g_str_has_prefix(terminal, "20"));
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/log/" name, Fixture, NULL, setup, fn, teardown)
        ADD("format", test_format);
        ADD("long-value", test_long_value);
        ADD("levels", test_levels);
        ADD("rotation", test_rotation);
        ADD("rotation-no-backups", test_rotation_no_backups);
        ADD("redaction", test_redaction);
        ADD("export-pipe", test_export_pipe);
        ADD("clear", test_clear);
        ADD("file-mode", test_file_mode);
        ADD("threads", test_threads);
        ADD("reopen-after-delete", test_reopen_after_delete);
        ADD("stderr", test_stderr);
        return g_test_run();
}
