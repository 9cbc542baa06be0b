#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A minimal ZIP (PKWARE APPNOTE 6.3) writer for log export: whole members in memory,
 * deflate (zlib, raw) or stored when deflate does not help, no ZIP64 — members and the
 * archive stay under 4 GiB and 65535 entries, which export enforces. */
typedef struct _KilnZipWriter KilnZipWriter;

KilnZipWriter *kiln_zip_writer_new(GOutputStream *out);
void kiln_zip_writer_free(KilnZipWriter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnZipWriter, kiln_zip_writer_free)

/* Adds one member; @name is a relative path with '/' separators. */
gboolean kiln_zip_writer_add(KilnZipWriter *self, const char *name, const void *data, gsize len,
                             GDateTime *mtime, GError **error);
/* Writes the central directory; the stream is not closed. */
gboolean kiln_zip_writer_finish(KilnZipWriter *self, GError **error);

G_END_DECLS
