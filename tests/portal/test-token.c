/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "tests/portal/token.h"

static const uint8_t secret[TP_SECRET_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t other_secret[TP_SECRET_LEN] = { 9 };

static char *issue(const char *nonce, gint64 exp)
{
        g_autofree char *fragment =
            tp_token_issue_fragment(secret, "acme", "alice@example.com", nonce, 100, exp);

        g_assert_true(g_str_has_prefix(fragment, ".SFMyNTY."));
        return g_strconcat(nonce, fragment, NULL);
}

static void test_round_trip(void)
{
        g_autofree char *token = issue("0123abcd", 1000);
        g_auto(TpTokenClaims) claims = { 0 };

        g_assert_cmpint(tp_token_verify(secret, token, 999, &claims), ==, TP_TOKEN_OK);
        g_assert_cmpstr(claims.account_slug, ==, "acme");
        g_assert_cmpstr(claims.email, ==, "alice@example.com");
        g_assert_cmpint(claims.expires_at, ==, 1000);
}

static void test_rejects(void)
{
        g_autofree char *token = issue("0123abcd", 1000);
        g_autofree char *other_nonce = g_strconcat("0123abce", strchr(token, '.'), NULL);
        g_autofree char *tampered = g_strdup(token);
        g_auto(TpTokenClaims) claims = { 0 };
        char *last = tampered + strlen(tampered) - 2;

        g_assert_cmpint(tp_token_verify(secret, token, 1000, &claims), ==, TP_TOKEN_EXPIRED);
        g_assert_cmpint(tp_token_verify(other_secret, token, 10, &claims), ==, TP_TOKEN_BAD_SIGNATURE);
        g_assert_cmpint(tp_token_verify(secret, other_nonce, 10, &claims), ==, TP_TOKEN_NONCE_MISMATCH);
        *last = *last == 'A' ? 'B' : 'A';
        g_assert_cmpint(tp_token_verify(secret, tampered, 10, &claims), ==, TP_TOKEN_BAD_SIGNATURE);
        g_assert_cmpint(tp_token_verify(secret, "no-dot-here", 10, &claims), ==, TP_TOKEN_MALFORMED);
        g_assert_cmpint(tp_token_verify(secret, "abc.XYZ.a.b", 10, &claims), ==, TP_TOKEN_MALFORMED);
        g_assert_cmpint(tp_token_verify(secret, "abc.SFMyNTY.a.b.c", 10, &claims), ==,
                        TP_TOKEN_BAD_SIGNATURE);
        g_assert_cmpint(tp_token_verify(secret, NULL, 10, &claims), ==, TP_TOKEN_MALFORMED);
        g_assert_null(claims.email);
}

static void test_headless(void)
{
        /* The headless flow's token is the bare fragment: an empty nonce. */
        g_autofree char *token = issue("", 1000);
        g_auto(TpTokenClaims) claims = { 0 };

        g_assert_true(token[0] == '.');
        g_assert_cmpint(tp_token_verify(secret, token, 10, &claims), ==, TP_TOKEN_OK);
}

static void test_nonce_rules(void)
{
        g_autofree char *long_nonce = g_strnfill(129, 'a');

        g_assert_true(tp_nonce_is_valid("abc"));
        g_assert_false(tp_nonce_is_valid("a.b"));
        g_assert_false(tp_nonce_is_valid(long_nonce));
        long_nonce[128] = '\0';
        g_assert_true(tp_nonce_is_valid(long_nonce));
}

static void test_sign(void)
{
        g_autofree char *v = tp_sign(secret, "ctx", "{\"a\":1}");
        g_autofree char *back = tp_unsign(secret, "ctx", v);
        g_autofree char *wrong_ctx = tp_unsign(secret, "other", v);

        g_assert_cmpstr(back, ==, "{\"a\":1}");
        g_assert_null(wrong_ctx);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/token/round-trip", test_round_trip);
        g_test_add_func("/portal/token/rejects", test_rejects);
        g_test_add_func("/portal/token/headless", test_headless);
        g_test_add_func("/portal/token/nonce-rules", test_nonce_rules);
        g_test_add_func("/portal/token/sign", test_sign);
        return g_test_run();
}
