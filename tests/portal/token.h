/* SPDX-License-Identifier: MIT */
/* Client tokens of the test portal (specs/firezone-control-plane.md §6): the browser flow hands
 * the app a fragment ".SFMyNTY.<payload>.<signature>" and the app sends nonce ‖ fragment.  The
 * payload (base64url JSON) names the account, the user, SHA-256 of the nonce and the expiry; the
 * signature is HMAC-SHA256 under the portal's secret, so tokens are verified without storage and
 * survive a portal restart when the secret is configured. */
#pragma once

#include <glib.h>
#include <stdint.h>

enum {
        TP_SECRET_LEN = 32,
        TP_NONCE_MAX = 128,
};

typedef enum {
        TP_TOKEN_OK = 0,
        TP_TOKEN_MALFORMED,
        TP_TOKEN_BAD_SIGNATURE,
        TP_TOKEN_NONCE_MISMATCH,
        TP_TOKEN_EXPIRED,
} TpTokenResult;

typedef struct {
        char *account_slug;
        char *email;
        gint64 expires_at;
} TpTokenClaims;

void tp_token_claims_clear(TpTokenClaims *claims);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TpTokenClaims, tp_token_claims_clear)

/* A nonce is at most 128 characters without '.' (Firezone's secret_nonce rule); the headless
 * flow uses an empty one, its token being the bare fragment. */
gboolean tp_nonce_is_valid(const char *nonce);

/* The fragment, starting with '.'. */
char *tp_token_issue_fragment(const uint8_t secret[static TP_SECRET_LEN], const char *account_slug,
                              const char *email, const char *nonce, gint64 issued_at, gint64 expires_at);

TpTokenResult tp_token_verify(const uint8_t secret[static TP_SECRET_LEN], const char *token, gint64 now,
                              TpTokenClaims *ret_claims);

const char *tp_token_result_to_string(TpTokenResult result);

/* "<base64url(data)>.<base64url(HMAC-SHA256(secret, context ‖ '|' ‖ base64url(data)))>" and its check,
 * for values the portal hands out and reads back (the fragment, the sign-in cookie). */
char *tp_sign(const uint8_t secret[static TP_SECRET_LEN], const char *context, const char *data);
char *tp_unsign(const uint8_t secret[static TP_SECRET_LEN], const char *context, const char *signed_value);
