/* SPDX-License-Identifier: MIT */
#include "tests/portal/credentials.h"

#include <sodium.h>
#include <string.h>

static void sha256(uint8_t out[static 32], const void *data, size_t len)
{
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        gsize out_len = 32;

        g_checksum_update(sum, data, len);
        g_checksum_get_digest(sum, out, &out_len);
}

static char *base64_nopad(const uint8_t *data, size_t len)
{
        char *b64 = g_base64_encode(data, len);
        char *eq = strchr(b64, '=');

        if (eq)
                *eq = '\0';
        return b64;
}

char *tp_turn_salt(const char *public_key_b64)
{
        uint8_t digest[32];

        sha256(digest, public_key_b64, strlen(public_key_b64));
        return base64_nopad(digest, sizeof(digest));
}

void tp_turn_credentials(const char *static_auth_secret, gint64 expires, const char *salt,
                         char **ret_username, char **ret_password)
{
        g_autofree char *username = g_strdup_printf("%" G_GINT64_FORMAT ":%s", expires, salt);
        g_autoptr(GHmac) hmac =
            g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)static_auth_secret, strlen(static_auth_secret));
        uint8_t digest[20];
        gsize digest_len = sizeof(digest);

        g_hmac_update(hmac, (const guchar *)username, -1);
        g_hmac_get_digest(hmac, digest, &digest_len);
        *ret_password = g_base64_encode(digest, digest_len);
        *ret_username = g_steal_pointer(&username);
}

char *tp_psk(const uint8_t client_base[static TP_PSK_BASE_LEN],
             const uint8_t gateway_base[static TP_PSK_BASE_LEN], const char *client_id,
             const char *gateway_id, const char *client_public_key, const char *gateway_public_key)
{
        uint8_t password[2 * TP_PSK_BASE_LEN];
        uint8_t psk[32];
        gsize psk_len = sizeof(psk);
        static const uint8_t block_index[4] = { 0, 0, 0, 1 };
        g_autofree char *salt = g_strdup_printf("WG_PSK|C_ID:%s|G_ID:%s|C_PK:%s|G_PK:%s", client_id,
                                                gateway_id, client_public_key, gateway_public_key);
        g_autoptr(GHmac) hmac = NULL;
        char *out;

        /* PBKDF2 with one iteration and one 32-byte block is HMAC(password, salt ‖ INT(1)). */
        memcpy(password, client_base, TP_PSK_BASE_LEN);
        memcpy(password + TP_PSK_BASE_LEN, gateway_base, TP_PSK_BASE_LEN);
        hmac = g_hmac_new(G_CHECKSUM_SHA256, password, sizeof(password));
        g_hmac_update(hmac, (const guchar *)salt, -1);
        g_hmac_update(hmac, block_index, sizeof(block_index));
        g_hmac_get_digest(hmac, psk, &psk_len);
        out = g_base64_encode(psk, sizeof(psk));
        sodium_memzero(password, sizeof(password));
        sodium_memzero(psk, sizeof(psk));
        return out;
}

char *tp_base32_lower(const uint8_t *data, size_t len)
{
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
        GString *out = g_string_sized_new((len * 8 + 4) / 5 + 1);
        uint32_t buffer = 0;
        int bits = 0;

        for (size_t i = 0; i < len; i++) {
                buffer = (buffer << 8) | data[i];
                bits += 8;
                while (bits >= 5) {
                        g_string_append_c(out, alphabet[(buffer >> (bits - 5)) & 31]);
                        bits -= 5;
                }
        }
        if (bits > 0)
                g_string_append_c(out, alphabet[(buffer << (5 - bits)) & 31]);
        return g_string_free(out, FALSE);
}

void tp_ice_credentials(TpIceCredentials *ret, const char *initiator_id, const char *initiator_public_key,
                        const char *receiver_id, const char *receiver_public_key)
{
        g_autofree char *seed = g_strdup_printf("%s:%s:%s:%s", initiator_id, initiator_public_key,
                                                receiver_id, receiver_public_key);
        uint8_t digest[32];
        g_autofree char *h = NULL;

        sha256(digest, seed, strlen(seed));
        h = tp_base32_lower(digest, sizeof(digest));
        g_assert(strlen(h) == 52);
        memcpy(ret->initiator_username, h, 4);
        ret->initiator_username[4] = '\0';
        memcpy(ret->initiator_password, h + 4, 22);
        ret->initiator_password[22] = '\0';
        memcpy(ret->receiver_username, h + 26, 4);
        ret->receiver_username[4] = '\0';
        memcpy(ret->receiver_password, h + 30, 22);
        ret->receiver_password[22] = '\0';
}

char *tp_uuid_from_name(const char *kind, const char *name)
{
        g_autofree char *seed = g_strdup_printf("%s:%s", kind, name);
        uint8_t d[32];

        sha256(d, seed, strlen(seed));
        d[6] = (d[6] & 0x0f) | 0x80; /* version 8: custom, name-based */
        d[8] = (d[8] & 0x3f) | 0x80; /* RFC 9562 variant */
        return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
                               d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
                               d[13], d[14], d[15]);
}

char *tp_base64url_encode(const uint8_t *data, size_t len)
{
        char *b64 = base64_nopad(data, len);

        for (char *p = b64; *p; p++) {
                if (*p == '+')
                        *p = '-';
                else if (*p == '/')
                        *p = '_';
        }
        return b64;
}

GBytes *tp_base64url_decode(const char *text)
{
        size_t len = strlen(text);
        g_autoptr(GString) std = NULL;
        g_autofree guchar *raw = NULL;
        gsize raw_len = 0;

        if (len % 4 == 1)
                return NULL;
        std = g_string_sized_new(len + 3);
        for (size_t i = 0; i < len; i++) {
                char c = text[i];

                if (c == '-')
                        c = '+';
                else if (c == '_')
                        c = '/';
                else if (!g_ascii_isalnum(c))
                        return NULL;
                g_string_append_c(std, c);
        }
        while (std->len % 4)
                g_string_append_c(std, '=');
        raw = g_base64_decode(std->str, &raw_len);
        return g_bytes_new_take(g_steal_pointer(&raw), raw_len);
}
