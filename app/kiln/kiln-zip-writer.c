#include "app/kiln/kiln-zip-writer.h"

#include <string.h>
#include <zlib.h>

#define ZIP_MAX_MEMBER  0xfffffffeu
#define ZIP_MAX_ENTRIES 0xfffeu
#define METHOD_STORED   0
#define METHOD_DEFLATE  8
#define FLAG_UTF8       (1u << 11)

struct _KilnZipWriter {
        GOutputStream *out;
        GByteArray *central;
        guint64 offset;
        guint entries;
};

static void put16(GByteArray *b, guint16 v)
{
        guint8 x[2] = { v & 0xff, v >> 8 };
        g_byte_array_append(b, x, 2);
}

static void put32(GByteArray *b, guint32 v)
{
        guint8 x[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
        g_byte_array_append(b, x, 4);
}

KilnZipWriter *kiln_zip_writer_new(GOutputStream *out)
{
        KilnZipWriter *self = g_new0(KilnZipWriter, 1);
        self->out = g_object_ref(out);
        self->central = g_byte_array_new();
        return self;
}

void kiln_zip_writer_free(KilnZipWriter *self)
{
        if (!self)
                return;
        g_object_unref(self->out);
        g_byte_array_unref(self->central);
        g_free(self);
}

static gboolean write_all(KilnZipWriter *self, const void *data, gsize len, GError **error)
{
        if (!g_output_stream_write_all(self->out, data, len, NULL, NULL, error))
                return FALSE;
        self->offset += len;
        return TRUE;
}

/* MS-DOS date and time, local time as zip readers expect; 1980 is the earliest. */
static void dos_time(GDateTime *t, guint16 *ret_time, guint16 *ret_date)
{
        g_autoptr(GDateTime) local = t ? g_date_time_to_local(t) : g_date_time_new_now_local();
        int year = MAX(g_date_time_get_year(local), 1980);
        *ret_time = (guint16)((g_date_time_get_hour(local) << 11) | (g_date_time_get_minute(local) << 5) |
                              (g_date_time_get_second(local) / 2));
        *ret_date = (guint16)(((year - 1980) << 9) | (g_date_time_get_month(local) << 5) |
                              g_date_time_get_day_of_month(local));
}

/* Raw deflate of @data; NULL when it does not shrink the member. */
static GBytes *deflate_member(const void *data, gsize len)
{
        z_stream z = { 0 };
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return NULL;
        uLong bound = deflateBound(&z, (uLong)len);
        guint8 *buf = g_malloc(bound);
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)len;
        z.next_out = buf;
        z.avail_out = (uInt)bound;
        int rc = deflate(&z, Z_FINISH);
        gsize produced = z.total_out;
        deflateEnd(&z);
        if (rc != Z_STREAM_END || produced >= len) {
                g_free(buf);
                return NULL;
        }
        return g_bytes_new_take(buf, produced);
}

gboolean kiln_zip_writer_add(KilnZipWriter *self, const char *name, const void *data, gsize len,
                             GDateTime *mtime, GError **error)
{
        gsize name_len = strlen(name);
        guint16 t, d;

        if (len > ZIP_MAX_MEMBER || self->entries >= ZIP_MAX_ENTRIES || name_len == 0 || name_len > 0xffff ||
            self->offset > ZIP_MAX_MEMBER) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                            "zip member '%s' exceeds the archive limits", name);
                return FALSE;
        }
        dos_time(mtime, &t, &d);
        guint32 crc = (guint32)crc32(0, data, (uInt)len);
        g_autoptr(GBytes) packed = deflate_member(data, len);
        guint16 method = packed ? METHOD_DEFLATE : METHOD_STORED;
        gsize packed_len = packed ? g_bytes_get_size(packed) : len;
        const void *payload = packed ? g_bytes_get_data(packed, NULL) : data;
        guint32 header_offset = (guint32)self->offset;

        g_autoptr(GByteArray) local = g_byte_array_new();
        put32(local, 0x04034b50);
        put16(local, 20); /* version needed: 2.0 (deflate) */
        put16(local, FLAG_UTF8);
        put16(local, method);
        put16(local, t);
        put16(local, d);
        put32(local, crc);
        put32(local, (guint32)packed_len);
        put32(local, (guint32)len);
        put16(local, (guint16)name_len);
        put16(local, 0);
        g_byte_array_append(local, (const guint8 *)name, (guint)name_len);
        if (!write_all(self, local->data, local->len, error) || !write_all(self, payload, packed_len, error))
                return FALSE;

        GByteArray *c = self->central;
        put32(c, 0x02014b50);
        put16(c, (3 << 8) | 20); /* made by: Unix, 2.0 */
        put16(c, 20);
        put16(c, FLAG_UTF8);
        put16(c, method);
        put16(c, t);
        put16(c, d);
        put32(c, crc);
        put32(c, (guint32)packed_len);
        put32(c, (guint32)len);
        put16(c, (guint16)name_len);
        put16(c, 0);                         /* extra */
        put16(c, 0);                         /* comment */
        put16(c, 0);                         /* disk */
        put16(c, 0);                         /* internal attributes */
        put32(c, (guint32)(0100644u << 16)); /* external: Unix mode rw-r--r-- */
        put32(c, header_offset);
        g_byte_array_append(c, (const guint8 *)name, (guint)name_len);
        self->entries++;
        return TRUE;
}

gboolean kiln_zip_writer_finish(KilnZipWriter *self, GError **error)
{
        guint64 central_offset = self->offset;
        g_autoptr(GByteArray) end = g_byte_array_new();

        if (central_offset + self->central->len > ZIP_MAX_MEMBER) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "zip archive exceeds 4 GiB");
                return FALSE;
        }
        if (!write_all(self, self->central->data, self->central->len, error))
                return FALSE;
        put32(end, 0x06054b50);
        put16(end, 0);
        put16(end, 0);
        put16(end, (guint16)self->entries);
        put16(end, (guint16)self->entries);
        put32(end, self->central->len);
        put32(end, (guint32)central_offset);
        put16(end, 0);
        return write_all(self, end->data, end->len, error);
}
