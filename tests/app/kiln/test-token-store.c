/* The token in a real Secret Service (gnome-keyring-daemon on a private bus, started by
 * test-token-store.sh), and the plain message when there is none. */
#include <gio/gio.h>
#include <string.h>

#include "app/kiln/kiln-token-store.h"

typedef struct {
        GAsyncResult *result;
} Wait;

static void on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        ((Wait *)user_data)->result = g_object_ref(result);
}

static GAsyncResult *wait_result(Wait *w)
{
        while (!w->result)
                g_main_context_iteration(NULL, TRUE);
        return w->result;
}

static char *load(GError **error)
{
        Wait w = { 0 };
        kiln_token_store_load_async(NULL, on_done, &w);
        g_autoptr(GAsyncResult) r = wait_result(&w);
        return kiln_token_store_load_finish(r, error);
}

static void test_round_trip(void)
{
        g_autoptr(GError) error = NULL;
        Wait w = { 0 };
        const char *token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefFRAGMENT";

        g_autofree char *none = load(&error);
        g_assert_no_error(error);
        g_assert_null(none);

        kiln_token_store_save_async(token, NULL, on_done, &w);
        g_autoptr(GAsyncResult) saved = wait_result(&w);
        g_assert_true(kiln_token_store_save_finish(saved, &error));
        g_assert_no_error(error);

        g_autofree char *back = load(&error);
        g_assert_no_error(error);
        g_assert_cmpstr(back, ==, token);

        Wait c = { 0 };
        kiln_token_store_clear_async(NULL, on_done, &c);
        g_autoptr(GAsyncResult) cleared = wait_result(&c);
        g_assert_true(kiln_token_store_clear_finish(cleared, &error));
        g_autofree char *gone = load(&error);
        g_assert_no_error(error);
        g_assert_null(gone);
}

static void test_no_keyring(void)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *token = load(&error);
        g_assert_null(token);
        g_assert_nonnull(error);
        g_autofree char *text = kiln_token_store_describe_error(error);
        g_test_message("told the user: %s", text);
        g_assert_nonnull(strstr(text, "No keyring is available"));
}

int main(int argc, char **argv)
{
        const char *mode = g_getenv("KILN_TEST_KEYRING");
        g_test_init(&argc, &argv, NULL);
        if (g_strcmp0(mode, "present") == 0)
                g_test_add_func("/token-store/round-trip", test_round_trip);
        else if (g_strcmp0(mode, "absent") == 0)
                g_test_add_func("/token-store/no-keyring", test_no_keyring);
        return g_test_run();
}
