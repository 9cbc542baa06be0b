/* SPDX-License-Identifier: MIT */
/*
 * Structured logs for Kiln's daemons: one JSON object per line
 *   {"time":"2026-11-23T17:50:01.234Z","level":"info","target":"kilnd::dbus",
 *    "message":"signed in","fields":{"api_url":"wss://…","token":"<redacted>"}}
 * in DIR/NAME.log, rotated to NAME.log.1 … NAME.log.N when a file would pass its size cap,
 * mode 0640 and group "kiln" (when that group exists), optionally mirrored to stderr (journald
 * reads the "<N>" priority prefix when JOURNAL_STREAM is set).  Every function is thread-safe.
 *
 * Secrets: messages are plain strings (no printf), values go into typed fields, and a secret
 * field takes no value at all — KILN_LOG_SECRET("token") is written as "<redacted>".  As a
 * second line of defence, strings registered with kiln_logger_add_secret() are replaced by
 * "<redacted>" wherever they appear in a line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum {
        KILN_LOG_ERROR = 0,
        KILN_LOG_WARN,
        KILN_LOG_INFO,
        KILN_LOG_DEBUG,
        KILN_LOG_TRACE,
} KilnLogLevel;

typedef enum {
        KILN_LOG_FIELD_END = 0,
        KILN_LOG_FIELD_STR,
        KILN_LOG_FIELD_INT,
        KILN_LOG_FIELD_BOOL,
        KILN_LOG_FIELD_SECRET,
} KilnLogFieldType;

typedef struct {
        const char *key;
        KilnLogFieldType type;
        const char *str;
        int64_t num;
} KilnLogField;

#define KILN_LOG_STR(k, v)                                                                                  \
        {                                                                                                   \
                .key = (k), .type = KILN_LOG_FIELD_STR, .str = (v)                                          \
        }
#define KILN_LOG_INT(k, v)                                                                                  \
        {                                                                                                   \
                .key = (k), .type = KILN_LOG_FIELD_INT, .num = (int64_t)(v)                                 \
        }
#define KILN_LOG_BOOL(k, v)                                                                                 \
        {                                                                                                   \
                .key = (k), .type = KILN_LOG_FIELD_BOOL, .num = !!(v)                                       \
        }
/* Names a secret without taking its value, so the value cannot reach a log through it. */
#define KILN_LOG_SECRET(k)                                                                                  \
        {                                                                                                   \
                .key = (k), .type = KILN_LOG_FIELD_SECRET                                                   \
        }

/* Longest string value (and message) written; longer ones are cut and end in "…". */
#define KILN_LOG_MAX_VALUE 4096
/* Secrets shorter than this are not scrubbed: replacing short strings would mangle lines. */
#define KILN_LOG_MIN_SCRUB 8

typedef struct {
        const char *dir;        /* NULL: no file, only stderr */
        const char *name;       /* file stem, e.g. "kilnd" → kilnd.log */
        const char *group;      /* group owning the files (if it exists), e.g. "kiln"; NULL: none */
        uint64_t max_file_size; /* bytes per file before rotating; 0 → 4 MiB */
        unsigned max_files;     /* rotated files kept (NAME.log.1 … .N); total cap = size × (N + 1) */
        bool to_stderr;         /* mirror lines to stderr in a short human form */
        KilnLogLevel level;
} KilnLogConfig;

typedef struct KilnLogger KilnLogger;

/* Opens (appends to) DIR/NAME.log, creating DIR (0750) if needed.  Returns 0 or -errno. */
int kiln_logger_open(const KilnLogConfig *config, KilnLogger **ret_logger);
void kiln_logger_free(KilnLogger *logger);

void kiln_logger_set_level(KilnLogger *logger, KilnLogLevel level);
KilnLogLevel kiln_logger_get_level(KilnLogger *logger);
bool kiln_logger_enabled(KilnLogger *logger, KilnLogLevel level);

/* "error" "warn" "info" "debug" "trace".  Returns 0 or -EINVAL. */
int kiln_log_level_from_string(const char *name, KilnLogLevel *ret_level);
const char *kiln_log_level_to_string(KilnLogLevel level);

/* Registers a string to scrub from every later line (a copy is kept and wiped when cleared). */
void kiln_logger_add_secret(KilnLogger *logger, const char *secret);
void kiln_logger_clear_secrets(KilnLogger *logger);

/* Writes one line; fields end with an entry of type KILN_LOG_FIELD_END (or fields is NULL). */
void kiln_logger_write(KilnLogger *logger, KilnLogLevel level, const char *target, const char *message,
                       const KilnLogField *fields);

#define kiln_log(logger, level, target, message, ...)                                                       \
        kiln_logger_write(                                                                                  \
            (logger), (level), (target), (message),                                                         \
            (const KilnLogField[]){ __VA_ARGS__ __VA_OPT__(, ){ .type = KILN_LOG_FIELD_END } })

/* Writes every log file, oldest first, into fd (which may be a pipe read slowly: the logger is
 * not locked while copying; a reader that stalls for 15 s fails the export).  0 or -errno. */
int kiln_logger_export(KilnLogger *logger, int fd);
/* Deletes the rotated files and empties the current one (which stays open).  0 or -errno. */
int kiln_logger_clear(KilnLogger *logger);

/* Path of the current file (owned by the logger), or NULL without a directory. */
const char *kiln_logger_get_path(KilnLogger *logger);
