#pragma once

#include <gio/gio.h>

#include "app/kiln/kiln-tunnel-state.h"

G_BEGIN_DECLS

/* Longest kilnd log accepted through ExportLogs. */
#define KILN_LOG_EXPORT_MAX_SERVICE_BYTES (256 * 1024 * 1024)

/* "kiln-logs-YYYY_MM_DD-HH-MM" (local time): the zip's default name and its top folder. */
char *kiln_log_export_default_stem(void);

/* Writes a zip to @dest (atomically) with one folder <stem>/ holding app/ (kiln's log
 * files), kilnd/kilnd.jsonl (from ExportLogs over D-Bus) or kilnd/UNAVAILABLE.txt saying
 * why kilnd's logs are missing, and system-info.txt. */
void kiln_log_export_async(KilnTunnelState *tunnel, GFile *dest, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
gboolean kiln_log_export_finish(GAsyncResult *result, GError **error);

G_END_DECLS
