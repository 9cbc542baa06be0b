/* SPDX-License-Identifier: MIT */
#include "tests/portal/token.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "tests/portal/credentials.h"

/* Phoenix.Token's prefix (base64 of "HS256"), so the fragment looks like the real portal's. */
#define FRAGMENT_PREFIX  "SFMyNTY"
#define FRAGMENT_CONTEXT "client-token"

void tp_token_claims_clear(TpTokenClaims *claims)
{
        g_clear_pointer(&claims->account_slug, g_free);
        g_clear_pointer(&claims->email, g_free);
        claims->expires_at = 0;
}

gboolean tp_nonce_is_valid(const char *nonce)
{
        return nonce && strlen(nonce) <= TP_NONCE_MAX && !strchr(nonce, '.');
}

static char *signature_of(const uint8_t secret[static TP_SECRET_LEN], const char *context,
                          const char *encoded)
{
        g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, secret, TP_SECRET_LEN);
        uint8_t digest[32];
        gsize digest_len = sizeof(digest);

        g_hmac_update(hmac, (const guchar *)context, -1);
        g_hmac_update(hmac, (const guchar *)"|", 1);
        g_hmac_update(hmac, (const guchar *)encoded, -1);
        g_hmac_get_digest(hmac, digest, &digest_len);
        return tp_base64url_encode(digest, sizeof(digest));
}

char *tp_sign(const uint8_t secret[static TP_SECRET_LEN], const char *context, const char *data)
{
        g_autofree char *encoded = tp_base64url_encode((const uint8_t *)data, strlen(data));
        g_autofree char *signature = signature_of(secret, context, encoded);

        return g_strdup_printf("%s.%s", encoded, signature);
}

char *tp_unsign(const uint8_t secret[static TP_SECRET_LEN], const char *context, const char *signed_value)
{
        const char *dot = strchr(signed_value, '.');
        g_autofree char *encoded = NULL;
        g_autofree char *expected = NULL;
        g_autoptr(GBytes) raw = NULL;
        const char *data;
        gsize len;

        if (!dot || strchr(dot + 1, '.'))
                return NULL;
        encoded = g_strndup(signed_value, dot - signed_value);
        expected = signature_of(secret, context, encoded);
        if (strlen(expected) != strlen(dot + 1) || sodium_memcmp(expected, dot + 1, strlen(expected)) != 0)
                return NULL;
        raw = tp_base64url_decode(encoded);
        if (!raw)
                return NULL;
        data = g_bytes_get_data(raw, &len);
        if (memchr(data, '\0', len) || !g_utf8_validate(data, len, NULL))
                return NULL;
        return g_strndup(data, len);
}

static char *nonce_hash(const char *nonce)
{
        return g_compute_checksum_for_string(G_CHECKSUM_SHA256, nonce, -1);
}

char *tp_token_issue_fragment(const uint8_t secret[static TP_SECRET_LEN], const char *account_slug,
                              const char *email, const char *nonce, gint64 issued_at, gint64 expires_at)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *payload = NULL;
        g_autofree char *signed_value = NULL;
        g_autofree char *nh = nonce_hash(nonce);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "acct");
        json_builder_add_string_value(b, account_slug);
        json_builder_set_member_name(b, "sub");
        json_builder_add_string_value(b, email);
        json_builder_set_member_name(b, "nh");
        json_builder_add_string_value(b, nh);
        json_builder_set_member_name(b, "iat");
        json_builder_add_int_value(b, issued_at);
        json_builder_set_member_name(b, "exp");
        json_builder_add_int_value(b, expires_at);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        payload = json_to_string(root, FALSE);
        signed_value = tp_sign(secret, FRAGMENT_CONTEXT, payload);
        return g_strdup_printf("." FRAGMENT_PREFIX ".%s", signed_value);
}

TpTokenResult tp_token_verify(const uint8_t secret[static TP_SECRET_LEN], const char *token, gint64 now,
                              TpTokenClaims *ret_claims)
{
        const char *dot = token ? strchr(token, '.') : NULL;
        g_autofree char *nonce = NULL;
        g_autofree char *payload = NULL;
        g_autofree char *nh = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonObject *claims;
        JsonNode *acct, *sub, *hash, *exp;

        if (!dot)
                return TP_TOKEN_MALFORMED;
        nonce = g_strndup(token, dot - token);
        if (!tp_nonce_is_valid(nonce) || !g_str_has_prefix(dot + 1, FRAGMENT_PREFIX "."))
                return TP_TOKEN_MALFORMED;
        payload = tp_unsign(secret, FRAGMENT_CONTEXT, dot + 1 + strlen(FRAGMENT_PREFIX "."));
        if (!payload)
                return TP_TOKEN_BAD_SIGNATURE;
        /* Signed by us, so well-formed unless the secret leaked; checked all the same. */
        if (!json_parser_load_from_data(parser, payload, -1, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                return TP_TOKEN_MALFORMED;
        claims = json_node_get_object(json_parser_get_root(parser));
        acct = json_object_get_member(claims, "acct");
        sub = json_object_get_member(claims, "sub");
        hash = json_object_get_member(claims, "nh");
        exp = json_object_get_member(claims, "exp");
        if (!acct || !sub || !hash || !exp || json_node_get_value_type(acct) != G_TYPE_STRING ||
            json_node_get_value_type(sub) != G_TYPE_STRING ||
            json_node_get_value_type(hash) != G_TYPE_STRING || json_node_get_value_type(exp) != G_TYPE_INT64)
                return TP_TOKEN_MALFORMED;
        nh = nonce_hash(nonce);
        if (strlen(nh) != strlen(json_node_get_string(hash)) ||
            sodium_memcmp(nh, json_node_get_string(hash), strlen(nh)) != 0)
                return TP_TOKEN_NONCE_MISMATCH;
        if (json_node_get_int(exp) <= now)
                return TP_TOKEN_EXPIRED;
        ret_claims->account_slug = g_strdup(json_node_get_string(acct));
        ret_claims->email = g_strdup(json_node_get_string(sub));
        ret_claims->expires_at = json_node_get_int(exp);
        return TP_TOKEN_OK;
}

const char *tp_token_result_to_string(TpTokenResult result)
{
        switch (result) {
        case TP_TOKEN_OK:
                return "valid";
        case TP_TOKEN_MALFORMED:
                return "malformed token";
        case TP_TOKEN_BAD_SIGNATURE:
                return "bad signature";
        case TP_TOKEN_NONCE_MISMATCH:
                return "nonce does not match the fragment";
        case TP_TOKEN_EXPIRED:
                return "token expired";
        }
        return "unknown";
}
