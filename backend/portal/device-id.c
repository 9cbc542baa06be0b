/* SPDX-License-Identifier: MIT */
#include "backend/portal/device-id.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

enum {
        MAX_FILE = 4096,
        MAX_ID = 256
};

static gboolean parse_id_file(const char *path, const char *contents, gsize len, char **ret_id,
                              GError **error)
{
        g_autoptr(JsonParser) parser = json_parser_new_immutable();
        JsonNode *root, *id;

        if (len > MAX_FILE || !g_utf8_validate_len(contents, len, NULL) ||
            !json_parser_load_from_data(parser, contents, (gssize)len, NULL) ||
            !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root))
                goto bad;
        id = json_object_get_member(json_node_get_object(root), "id");
        if (!id || !JSON_NODE_HOLDS_VALUE(id) || json_node_get_value_type(id) != G_TYPE_STRING ||
            !*json_node_get_string(id) || strlen(json_node_get_string(id)) > MAX_ID)
                goto bad;
        *ret_id = g_strdup(json_node_get_string(id));
        return TRUE;
bad:
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s does not hold a device id ({\"id\":\"…\"}); it is left as it is", path);
        return FALSE;
}

static gboolean read_id(const char *path, char **ret_id, GError **error)
{
        g_autofree char *contents = NULL;
        gsize len;

        if (!g_file_get_contents(path, &contents, &len, error))
                return FALSE;
        return parse_id_file(path, contents, len, ret_id, error);
}

static gboolean write_all(int fd, const char *data, gsize len)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return FALSE;
                data += n;
                len -= (gsize)n;
        }
        return TRUE;
}

/* Writes a temporary file, then link()s it into place: link() never replaces an existing file. */
static int create_id_file(const char *path, const char *id)
{
        g_autofree char *dir = g_path_get_dirname(path);
        g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
        g_autofree char *contents = g_strdup_printf("{\"id\":\"%s\"}\n", id);
        int fd, r = 0;

        if (g_mkdir_with_parents(dir, 0755) < 0)
                return -errno;
        fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        /* mkstemp honours the umask; the id is not secret and other users' tools may read it. */
        if (fchmod(fd, 0644) < 0 || !write_all(fd, contents, strlen(contents)) || fsync(fd) < 0)
                r = errno ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && link(tmp, path) < 0)
                r = -errno;
        unlink(tmp);
        return r;
}

gboolean kiln_device_id_load_or_create(const char *path, char **ret_id, GError **error)
{
        g_autoptr(GError) read_error = NULL;
        g_autofree char *id = NULL;
        int r;

        if (read_id(path, ret_id, &read_error))
                return TRUE;
        if (!g_error_matches(read_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                g_propagate_error(error, g_steal_pointer(&read_error));
                return FALSE;
        }
        id = g_uuid_string_random();
        r = create_id_file(path, id);
        if (r == -EEXIST) /* another process created it first: use its id */
                return read_id(path, ret_id, error);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "cannot create %s: %s", path,
                            g_strerror(-r));
                return FALSE;
        }
        *ret_id = g_steal_pointer(&id);
        return TRUE;
}

char *kiln_device_id_external_id(const char *id)
{
        g_autofree char *lower = NULL;

        if (strlen(id) != 36 || !g_uuid_string_is_valid(id))
                return g_strdup(id);
        /* Rust's Uuid parses any case and prints lowercase hyphenated; hash that form. */
        lower = g_ascii_strdown(id, -1);
        return g_compute_checksum_for_string(G_CHECKSUM_SHA256, lower, -1);
}
