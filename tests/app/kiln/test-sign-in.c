/* Browser sign-in: URL shape, fresh secrets, state checked in constant time, no replays. */
#include <gio/gio.h>
#include <string.h>

#include "app/kiln/kiln-sign-in.h"

static char *query_value(const char *url, const char *key)
{
        g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
        g_autoptr(GHashTable) params =
            g_uri_parse_params(g_uri_get_query(uri), -1, "&", G_URI_PARAMS_NONE, NULL);
        return g_strdup(g_hash_table_lookup(params, key));
}

static gboolean is_hex64(const char *s)
{
        if (!s || strlen(s) != 64)
                return FALSE;
        for (; *s; s++)
                if (!g_ascii_isxdigit(*s))
                        return FALSE;
        return TRUE;
}

static KilnDeepLink *callback(const char *state, const char *fragment)
{
        KilnDeepLink *link = g_new0(KilnDeepLink, 1);
        link->account_slug = g_strdup("acme");
        link->actor_name = g_strdup("Ada");
        link->fragment = g_strdup(fragment);
        link->state = g_strdup(state);
        return link;
}

static void test_url(void)
{
        g_autoptr(KilnSignIn) sign_in = kiln_sign_in_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *url =
            kiln_sign_in_begin(sign_in, "https://auth.example:8443/ignored/path", "acme", &error);

        g_assert_no_error(error);
        g_assert_true(g_str_has_prefix(url, "https://auth.example:8443/acme?as=gui-client&nonce="));
        g_autofree char *nonce = query_value(url, "nonce");
        g_autofree char *state = query_value(url, "state");
        g_assert_true(is_hex64(nonce));
        g_assert_true(is_hex64(state));
        g_assert_cmpstr(nonce, !=, state);
        g_assert_true(kiln_sign_in_is_pending(sign_in));

        g_autofree char *again = kiln_sign_in_begin(sign_in, "http://localhost:4000", "", &error);
        g_assert_true(g_str_has_prefix(again, "http://localhost:4000/?as=gui-client&nonce="));
        g_autofree char *nonce2 = query_value(again, "nonce");
        g_assert_cmpstr(nonce2, !=, nonce);
}

static void test_rejects_bad_auth_url(void)
{
        g_autoptr(KilnSignIn) sign_in = kiln_sign_in_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *url = kiln_sign_in_begin(sign_in, "file:///etc/passwd", "acme", &error);
        g_assert_null(url);
        g_assert_nonnull(error);
        g_assert_false(kiln_sign_in_is_pending(sign_in));
}

static void test_complete_and_replay(void)
{
        g_autoptr(KilnSignIn) sign_in = kiln_sign_in_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *url = kiln_sign_in_begin(sign_in, "https://auth.example", "acme", &error);
        g_autofree char *nonce = query_value(url, "nonce");
        g_autofree char *state = query_value(url, "state");
        g_autoptr(KilnDeepLink) good = callback(state, "FRAGMENT");
        char *token = NULL;

        g_assert_true(kiln_sign_in_complete(sign_in, good, &token, &error));
        g_assert_no_error(error);
        g_autofree char *expected = g_strconcat(nonce, "FRAGMENT", NULL);
        g_assert_cmpstr(token, ==, expected);
        kiln_sign_in_free_token(token);
        g_assert_false(kiln_sign_in_is_pending(sign_in));

        token = NULL;
        g_assert_false(kiln_sign_in_complete(sign_in, good, &token, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
        g_assert_null(token);
}

static void test_wrong_state_keeps_request(void)
{
        g_autoptr(KilnSignIn) sign_in = kiln_sign_in_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *url = kiln_sign_in_begin(sign_in, "https://auth.example", "", &error);
        g_autofree char *state = query_value(url, "state");
        g_autofree char *wrong = g_strdup(state);
        char *token = NULL;

        wrong[63] = wrong[63] == '0' ? '1' : '0';
        g_autoptr(KilnDeepLink) bad = callback(wrong, "F");
        g_assert_false(kiln_sign_in_complete(sign_in, bad, &token, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_null(token);
        g_assert_true(kiln_sign_in_is_pending(sign_in));
        g_clear_error(&error);

        /* The real callback still works after an attacker's guess. */
        g_autofree char *upper = g_ascii_strup(state, -1);
        g_autoptr(KilnDeepLink) good = callback(upper, "F");
        g_assert_true(kiln_sign_in_complete(sign_in, good, &token, &error));
        kiln_sign_in_free_token(token);
}

static void test_cancel(void)
{
        g_autoptr(KilnSignIn) sign_in = kiln_sign_in_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *url = kiln_sign_in_begin(sign_in, "https://auth.example", "", &error);
        g_autofree char *state = query_value(url, "state");
        g_autoptr(KilnDeepLink) link = callback(state, "F");
        char *token = NULL;

        kiln_sign_in_cancel(sign_in);
        g_assert_false(kiln_sign_in_complete(sign_in, link, &token, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sign-in/url", test_url);
        g_test_add_func("/sign-in/rejects-bad-auth-url", test_rejects_bad_auth_url);
        g_test_add_func("/sign-in/complete-and-replay", test_complete_and_replay);
        g_test_add_func("/sign-in/wrong-state-keeps-request", test_wrong_state_keeps_request);
        g_test_add_func("/sign-in/cancel", test_cancel);
        return g_test_run();
}
