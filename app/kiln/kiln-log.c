#include "app/kiln/kiln-log.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_LOG_BYTES (10 * 1024 * 1024)

static char *log_dir;
static char *log_path;
static int log_fd = -1;
static GMutex log_lock;

static void open_log(void)
{
        log_fd = g_open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void rotate_if_needed(void)
{
        struct stat st;
        if (log_fd < 0 || fstat(log_fd, &st) < 0 || st.st_size < MAX_LOG_BYTES)
                return;
        g_autofree char *old = g_strconcat(log_path, ".1", NULL);
        close(log_fd);
        g_rename(log_path, old);
        open_log();
}

static const char *level_name(GLogLevelFlags level)
{
        if (level & G_LOG_LEVEL_ERROR)
                return "ERROR";
        if (level & G_LOG_LEVEL_CRITICAL)
                return "CRIT";
        if (level & G_LOG_LEVEL_WARNING)
                return "WARN";
        if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
                return "INFO";
        return "DEBUG";
}

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                  gpointer data)
{
        const char *message = NULL, *domain = NULL;

        for (gsize i = 0; i < n_fields; i++) {
                if (strcmp(fields[i].key, "MESSAGE") == 0)
                        message = fields[i].value;
                else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
                        domain = fields[i].value;
        }
        /* Debug lines go to the file only when the user asked for them, as on stderr. */
        if ((level & G_LOG_LEVEL_DEBUG) && g_log_writer_default_would_drop(level, domain))
                return G_LOG_WRITER_HANDLED;
        if (message) {
                g_autoptr(GDateTime) now = g_date_time_new_now_utc();
                g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
                g_autofree char *line = g_strdup_printf("%s %-5s %s: %s\n", stamp, level_name(level),
                                                        domain ? domain : "kiln", message);
                g_mutex_lock(&log_lock);
                rotate_if_needed();
                if (log_fd >= 0 && write(log_fd, line, strlen(line)) < 0) {
                        /* A full disk must not stop the app; stderr still gets the line. */
                }
                g_mutex_unlock(&log_lock);
        }
        return g_log_writer_standard_streams(level, fields, n_fields, data);
}

void kiln_log_init(void)
{
        const char *override = g_getenv("KILN_LOG_DIR");
        log_dir =
            override ? g_strdup(override) : g_build_filename(g_get_user_cache_dir(), "kiln", "logs", NULL);
        log_path = g_build_filename(log_dir, "kiln.log", NULL);
        if (g_mkdir_with_parents(log_dir, 0700) == 0)
                open_log();
        g_log_set_writer_func(write_log, NULL, NULL);
}

const char *kiln_log_dir(void)
{
        return log_dir;
}

void kiln_log_measure(guint *ret_files, guint64 *ret_bytes)
{
        g_autoptr(GDir) dir = g_dir_open(log_dir, 0, NULL);
        const char *name;
        guint files = 0;
        guint64 bytes = 0;

        while (dir && (name = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(log_dir, name, NULL);
                GStatBuf st;
                if (g_stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        files++;
                        bytes += (guint64)st.st_size;
                }
        }
        *ret_files = files;
        *ret_bytes = bytes;
}

gboolean kiln_log_clear(GError **error)
{
        g_autoptr(GDir) dir = g_dir_open(log_dir, 0, error);
        const char *name;

        if (!dir)
                return FALSE;
        g_mutex_lock(&log_lock);
        while ((name = g_dir_read_name(dir))) {
                if (strcmp(name, "kiln.log") == 0)
                        continue;
                if (g_str_has_prefix(name, "kiln.log")) {
                        g_autofree char *path = g_build_filename(log_dir, name, NULL);
                        g_unlink(path);
                }
        }
        if (log_fd >= 0 && ftruncate(log_fd, 0) < 0) {
                int err = errno;
                g_mutex_unlock(&log_lock);
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", log_path,
                            g_strerror(err));
                return FALSE;
        }
        g_mutex_unlock(&log_lock);
        return TRUE;
}
