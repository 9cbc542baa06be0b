/* SPDX-License-Identifier: MIT */
/*
 * Replays a libFuzzer corpus without libFuzzer: every file in the directories (or files)
 * named on the command line goes through LLVMFuzzerTestOneInput() once, one TAP line each.
 * Built with every compiler, so the corpus runs under ASan/UBSan in the ordinary test suite.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, unsigned int *n)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *contents = NULL;
        gsize len;

        if (!g_file_get_contents(path, &contents, &len, &error)) {
                printf("not ok %u - %s # %s\n", ++*n, path, error->message);
                return 1;
        }
        /* Copy into an exact-size buffer so ASan catches any read past the input; like
         * libFuzzer, pass a valid pointer even for an empty input. */
        g_autofree uint8_t *exact = g_malloc(MAX(len, 1));
        memcpy(exact, contents, len);
        LLVMFuzzerTestOneInput(exact, len);
        printf("ok %u - %s\n", ++*n, path);
        return 0;
}

static int compare_paths(gconstpointer a, gconstpointer b)
{
        return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char *argv[])
{
        g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
        unsigned int n = 0;
        int failed = 0;

        for (int i = 1; i < argc; i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GDir) dir = NULL;
                const char *entry;

                if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
                        g_ptr_array_add(paths, g_strdup(argv[i]));
                        continue;
                }
                dir = g_dir_open(argv[i], 0, &error);
                if (!dir) {
                        fprintf(stderr, "%s\n", error->message);
                        return 1;
                }
                while ((entry = g_dir_read_name(dir)))
                        g_ptr_array_add(paths, g_build_filename(argv[i], entry, NULL));
        }
        if (paths->len == 0) {
                fprintf(stderr, "no corpus files given: an empty corpus tests nothing\n");
                return 1;
        }
        g_ptr_array_sort(paths, compare_paths);

        printf("1..%u\n", paths->len);
        for (guint i = 0; i < paths->len; i++)
                failed |= replay_file(g_ptr_array_index(paths, i), &n);
        return failed;
}
