#pragma once

#include <gio/gio.h>

/* Removes a test's temporary directory tree (the tests run as root on a shared machine;
 * nothing may pile up in /tmp). */
static inline void test_tmpdir_remove(const char *path)
{
        g_autoptr(GFile) dir = g_file_new_for_path(path);
        g_autoptr(GFileEnumerator) children =
            g_file_enumerate_children(dir, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                      G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
        GFileInfo *info;

        while (children && (info = g_file_enumerator_next_file(children, NULL, NULL))) {
                g_autoptr(GFile) child = g_file_get_child(dir, g_file_info_get_name(info));
                g_autofree char *child_path = g_file_get_path(child);
                if (g_file_info_get_file_type(info) == G_FILE_TYPE_DIRECTORY)
                        test_tmpdir_remove(child_path);
                else
                        g_file_delete(child, NULL, NULL);
                g_object_unref(info);
        }
        g_file_delete(dir, NULL, NULL);
}
