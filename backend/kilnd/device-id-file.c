/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/device-id-file.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

int kilnd_read_device_id(const char *state_dir, char **ret_id)
{
        g_autofree char *path = g_build_filename(state_dir, "device-id", NULL);
        g_autofree char *contents = NULL;
        g_autoptr(GError) error = NULL;
        size_t len;

        if (!g_file_get_contents(path, &contents, &len, &error))
                return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? -ENOENT : -EIO;
        if (len > KILND_DEVICE_ID_MAX + 2 || memchr(contents, '\0', len))
                return -EINVAL;
        g_strstrip(contents);
        len = strlen(contents);
        if (len == 0 || len > KILND_DEVICE_ID_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (!g_ascii_isalnum(contents[i]) && contents[i] != '-' && contents[i] != '_')
                        return -EINVAL;
        }
        *ret_id = g_steal_pointer(&contents);
        return 0;
}
