/* SPDX-License-Identifier: MIT */
#include "backend/log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sodium.h>

#define DEFAULT_MAX_FILE_SIZE (4u * 1024 * 1024)
#define EXPORT_STALL_MS       15000
#define REDACTED              "<redacted>"
#define REOPEN_CHECK_EVERY    16

struct KilnLogger {
        GMutex lock;
        gint level; /* atomic */
        char *dir;
        char *path;
        char *name;
        gid_t gid;
        bool have_gid;
        bool to_stderr;
        bool journal;
        uint64_t max_file_size;
        unsigned max_files;
        int fd;
        uint64_t size;
        unsigned writes_since_check;
        GPtrArray *secrets;
};

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

const char *kiln_log_level_to_string(KilnLogLevel level)
{
        if ((unsigned)level >= G_N_ELEMENTS(level_names))
                return "unknown";
        return level_names[level];
}

int kiln_log_level_from_string(const char *name, KilnLogLevel *ret_level)
{
        if (!name)
                return -EINVAL;
        for (unsigned i = 0; i < G_N_ELEMENTS(level_names); i++) {
                if (strcmp(name, level_names[i]) == 0) {
                        *ret_level = (KilnLogLevel)i;
                        return 0;
                }
        }
        return -EINVAL;
}

static void secret_free(gpointer p)
{
        char *s = p;

        sodium_memzero(s, strlen(s));
        g_free(s);
}

static char *rotated_path(KilnLogger *lg, unsigned n)
{
        return g_strdup_printf("%s.%u", lg->path, n);
}

/* The current file: appended to, group-readable whatever the process umask. */
static int open_current(KilnLogger *lg)
{
        struct stat st;
        int fd = open(lg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        (void)fchmod(fd, 0640);
        /* Without CAP_CHOWN (a developer's foreground run) the file simply keeps its group. */
        if (lg->have_gid && fchown(fd, (uid_t)-1, lg->gid) < 0 && errno != EPERM)
                g_debug("log: fchown %s: %s", lg->path, g_strerror(errno));
        lg->fd = fd;
        lg->size = (uint64_t)st.st_size;
        return 0;
}

/* Someone deleted the file (or the directory, or an earlier open failed): start a new one
 * instead of writing into an unlinked inode until the next restart.  Checked every few lines
 * to keep a syscall off most writes. */
static void ensure_file_locked(KilnLogger *lg)
{
        struct stat st;

        if (lg->fd >= 0 && ++lg->writes_since_check < REOPEN_CHECK_EVERY)
                return;
        lg->writes_since_check = 0;
        if (lg->fd >= 0 && fstat(lg->fd, &st) == 0 && st.st_nlink > 0)
                return;
        if (lg->fd >= 0)
                close(lg->fd);
        lg->fd = -1;
        (void)g_mkdir_with_parents(lg->dir, 0750);
        (void)open_current(lg);
}

static void rotate_locked(KilnLogger *lg)
{
        if (lg->max_files == 0) {
                if (ftruncate(lg->fd, 0) == 0)
                        lg->size = 0;
                return;
        }
        close(lg->fd);
        lg->fd = -1;
        for (unsigned i = lg->max_files; i >= 1; i--) {
                g_autofree char *from = i == 1 ? g_strdup(lg->path) : rotated_path(lg, i - 1);
                g_autofree char *to = rotated_path(lg, i);
                /* Renaming onto the oldest replaces it: that is where the total cap is kept. */
                (void)rename(from, to);
        }
        (void)open_current(lg);
}

int kiln_logger_open(const KilnLogConfig *config, KilnLogger **ret_logger)
{
        g_autofree char *stem = NULL;
        KilnLogger *lg;

        if (!config || !config->name || !*config->name || strchr(config->name, '/'))
                return -EINVAL;

        lg = g_new0(KilnLogger, 1);
        g_mutex_init(&lg->lock);
        lg->level = config->level;
        lg->name = g_strdup(config->name);
        lg->to_stderr = config->to_stderr;
        lg->journal = g_getenv("JOURNAL_STREAM") != NULL;
        lg->max_file_size = config->max_file_size ? config->max_file_size : DEFAULT_MAX_FILE_SIZE;
        lg->max_files = config->max_files;
        lg->fd = -1;
        lg->secrets = g_ptr_array_new_with_free_func(secret_free);

        if (config->group) {
                struct group grp, *found = NULL;
                char buf[4096];

                if (getgrnam_r(config->group, &grp, buf, sizeof(buf), &found) == 0 && found) {
                        lg->gid = found->gr_gid;
                        lg->have_gid = true;
                }
        }

        if (config->dir) {
                int r;

                lg->dir = g_strdup(config->dir);
                if (g_mkdir_with_parents(lg->dir, 0750) < 0) {
                        r = -errno;
                        kiln_logger_free(lg);
                        return r;
                }
                stem = g_strconcat(lg->name, ".log", NULL);
                lg->path = g_build_filename(lg->dir, stem, NULL);
                r = open_current(lg);
                if (r < 0) {
                        kiln_logger_free(lg);
                        return r;
                }
        }
        *ret_logger = lg;
        return 0;
}

void kiln_logger_free(KilnLogger *lg)
{
        if (!lg)
                return;
        if (lg->fd >= 0)
                close(lg->fd);
        g_ptr_array_unref(lg->secrets);
        g_free(lg->dir);
        g_free(lg->path);
        g_free(lg->name);
        g_mutex_clear(&lg->lock);
        g_free(lg);
}

void kiln_logger_set_level(KilnLogger *lg, KilnLogLevel level)
{
        g_atomic_int_set(&lg->level, (gint)level);
}

KilnLogLevel kiln_logger_get_level(KilnLogger *lg)
{
        return (KilnLogLevel)g_atomic_int_get(&lg->level);
}

bool kiln_logger_enabled(KilnLogger *lg, KilnLogLevel level)
{
        return lg && (gint)level <= g_atomic_int_get(&lg->level);
}

void kiln_logger_add_secret(KilnLogger *lg, const char *secret)
{
        if (!secret || strlen(secret) < KILN_LOG_MIN_SCRUB)
                return;
        g_mutex_lock(&lg->lock);
        g_ptr_array_add(lg->secrets, g_strdup(secret));
        g_mutex_unlock(&lg->lock);
}

void kiln_logger_clear_secrets(KilnLogger *lg)
{
        g_mutex_lock(&lg->lock);
        g_ptr_array_set_size(lg->secrets, 0);
        g_mutex_unlock(&lg->lock);
}

/* A copy of s that is valid UTF-8, at most KILN_LOG_MAX_VALUE bytes, with secrets replaced. */
static char *clean_value(KilnLogger *lg, const char *s)
{
        g_autofree char *valid = g_utf8_make_valid(s ? s : "", -1);
        GString *out;

        for (guint i = 0; i < lg->secrets->len; i++) {
                const char *secret = lg->secrets->pdata[i];
                if (strstr(valid, secret)) {
                        GString *g = g_string_new(valid);
                        g_string_replace(g, secret, REDACTED, 0);
                        sodium_memzero(valid, strlen(valid));
                        g_free(valid);
                        valid = g_string_free(g, FALSE);
                }
        }
        out = g_string_new(valid);
        if (out->len > KILN_LOG_MAX_VALUE) {
                gsize end = KILN_LOG_MAX_VALUE;
                /* Cut before a character, never inside one. */
                while (end > 0 && ((unsigned char)out->str[end] & 0xc0) == 0x80)
                        end--;
                g_string_truncate(out, end);
                g_string_append(out, "…");
        }
        return g_string_free(out, FALSE);
}

static void append_json_string(GString *out, const char *s)
{
        g_string_append_c(out, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':
                        g_string_append(out, "\\\"");
                        break;
                case '\\':
                        g_string_append(out, "\\\\");
                        break;
                case '\n':
                        g_string_append(out, "\\n");
                        break;
                case '\r':
                        g_string_append(out, "\\r");
                        break;
                case '\t':
                        g_string_append(out, "\\t");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                g_string_append_printf(out, "\\u%04x", *p);
                        else
                                g_string_append_c(out, (char)*p);
                }
        }
        g_string_append_c(out, '"');
}

static void format_time(char buf[static 32])
{
        gint64 now = g_get_real_time();
        time_t secs = (time_t)(now / G_USEC_PER_SEC);
        struct tm tm;
        size_t n;

        gmtime_r(&secs, &tm);
        n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
        g_snprintf(buf + n, 32 - n, ".%03dZ", (int)((now % G_USEC_PER_SEC) / 1000));
}

static void write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                buf += n;
                len -= (size_t)n;
        }
}

static const int journal_priority[] = { 3, 4, 6, 7, 7 };

void kiln_logger_write(KilnLogger *lg, KilnLogLevel level, const char *target, const char *message,
                       const KilnLogField *fields)
{
        g_autoptr(GString) line = NULL;
        g_autoptr(GString) human = NULL;
        g_autofree char *msg = NULL;
        char stamp[32];

        if ((unsigned)level > KILN_LOG_TRACE || !kiln_logger_enabled(lg, level))
                return;

        format_time(stamp);
        line = g_string_sized_new(256);
        human = g_string_sized_new(128);

        g_mutex_lock(&lg->lock);
        msg = clean_value(lg, message);
        g_string_append_printf(line, "{\"time\":\"%s\",\"level\":\"%s\",\"target\":", stamp,
                               kiln_log_level_to_string(level));
        append_json_string(line, target ? target : "");
        g_string_append(line, ",\"message\":");
        append_json_string(line, msg);
        g_string_append(line, ",\"fields\":{");
        if (lg->journal)
                g_string_append_printf(human, "<%d>%s: %s", journal_priority[level], target ? target : "",
                                       msg);
        else
                g_string_append_printf(human, "%s %5s %s: %s", stamp, kiln_log_level_to_string(level),
                                       target ? target : "", msg);

        for (const KilnLogField *f = fields; f && f->type != KILN_LOG_FIELD_END; f++) {
                g_autofree char *key = clean_value(lg, f->key);
                g_autofree char *value = NULL;

                if (f != fields)
                        g_string_append_c(line, ',');
                append_json_string(line, key);
                g_string_append_c(line, ':');
                switch (f->type) {
                case KILN_LOG_FIELD_STR:
                        value = clean_value(lg, f->str);
                        append_json_string(line, value);
                        break;
                case KILN_LOG_FIELD_INT:
                        value = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)f->num);
                        g_string_append(line, value);
                        break;
                case KILN_LOG_FIELD_BOOL:
                        value = g_strdup(f->num ? "true" : "false");
                        g_string_append(line, value);
                        break;
                case KILN_LOG_FIELD_SECRET:
                case KILN_LOG_FIELD_END:
                default:
                        value = g_strdup(REDACTED);
                        append_json_string(line, value);
                        break;
                }
                g_string_append_printf(human, " %s=%s", key, value);
        }
        g_string_append(line, "}}\n");
        g_string_append_c(human, '\n');

        if (lg->path) {
                ensure_file_locked(lg);
                if (lg->fd >= 0 && lg->size > 0 && lg->size + line->len > lg->max_file_size)
                        rotate_locked(lg);
                if (lg->fd >= 0) {
                        write_all(lg->fd, line->str, line->len);
                        lg->size += line->len;
                }
        }
        if (lg->to_stderr)
                write_all(STDERR_FILENO, human->str, human->len);
        g_mutex_unlock(&lg->lock);
}

const char *kiln_logger_get_path(KilnLogger *lg)
{
        return lg->path;
}

static int copy_with_deadline(int in, uint64_t limit, int out)
{
        char buf[4096];
        uint64_t done = 0;

        while (done < limit) {
                size_t want = (size_t)MIN((uint64_t)sizeof(buf), limit - done);
                ssize_t n = read(in, buf, want);
                size_t off = 0;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break; /* truncated meanwhile by a clear */
                while (off < (size_t)n) {
                        struct pollfd p = { .fd = out, .events = POLLOUT };
                        ssize_t w;
                        int r = poll(&p, 1, EXPORT_STALL_MS);

                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r < 0)
                                return -errno;
                        if (r == 0)
                                return -ETIMEDOUT;
                        if (p.revents & (POLLERR | POLLNVAL))
                                return -EPIPE;
                        w = write(out, buf + off, (size_t)n - off);
                        if (w < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                return -errno;
                        }
                        off += (size_t)w;
                }
                done += (uint64_t)n;
        }
        return 0;
}

int kiln_logger_export(KilnLogger *lg, int fd)
{
        g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
        g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        int flags, r = 0;

        if (fd < 0)
                return -EBADF;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;
        if ((flags & O_ACCMODE) == O_RDONLY)
                return -EBADF;
        /* Non-blocking so that a stalled reader is noticed by poll() instead of hanging us. */
        (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);

        /* Open every file under the lock, copy without it: rotation renames do not affect
         * descriptors that are already open, and logging goes on while a slow reader drains. */
        g_mutex_lock(&lg->lock);
        for (int i = (int)lg->max_files; lg->path && i >= 0; i--) {
                g_autofree char *p = i == 0 ? g_strdup(lg->path) : rotated_path(lg, (unsigned)i);
                struct stat st;
                int in = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

                if (in >= 0 && fstat(in, &st) == 0) {
                        uint64_t size = (uint64_t)st.st_size;
                        g_array_append_val(fds, in);
                        g_array_append_val(sizes, size);
                } else if (in >= 0) {
                        close(in);
                }
        }
        g_mutex_unlock(&lg->lock);

        for (guint i = 0; i < fds->len; i++) {
                if (r == 0)
                        r = copy_with_deadline(g_array_index(fds, int, i), g_array_index(sizes, uint64_t, i),
                                               fd);
                close(g_array_index(fds, int, i));
        }
        return r;
}

int kiln_logger_clear(KilnLogger *lg)
{
        int r = 0;

        if (!lg->path)
                return 0;
        g_mutex_lock(&lg->lock);
        for (unsigned i = 1; i <= lg->max_files; i++) {
                g_autofree char *p = rotated_path(lg, i);
                if (unlink(p) < 0 && errno != ENOENT && r == 0)
                        r = -errno;
        }
        if (lg->fd >= 0) {
                if (ftruncate(lg->fd, 0) < 0 && r == 0)
                        r = -errno;
                else
                        lg->size = 0;
        }
        g_mutex_unlock(&lg->lock);
        return r;
}
