#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The app's own log: every GLib log record goes to stderr as usual and, as one plain-text
 * line ("<UTC time> <LEVEL> <domain>: <message>"), to <cache>/kiln/logs/kiln.log, which
 * rotates to kiln.log.1 beyond 10 MB.  The directory is $KILN_LOG_DIR when set. */
void kiln_log_init(void);
const char *kiln_log_dir(void);
/* Number of files and bytes in the log directory. */
void kiln_log_measure(guint *ret_files, guint64 *ret_bytes);
/* Deletes the log files (the current one is truncated so logging continues). */
gboolean kiln_log_clear(GError **error);

G_END_DECLS
