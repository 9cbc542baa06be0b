/* SPDX-License-Identifier: MIT */
/* Vectors computed independently with Python's hmac/hashlib (see the comments). */
#include <string.h>

#include "tests/portal/credentials.h"

static void test_turn(void)
{
        g_autofree char *salt = tp_turn_salt("S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=");
        g_autofree char *username = NULL;
        g_autofree char *password = NULL;

        /* base64(sha256(pk)) without padding */
        g_assert_cmpstr(salt, ==, "NWLp4ctz7rLLgXpcpv2ZaZkqDbnPeMw4snvraPYvhwQ");
        tp_turn_credentials("kiln-demo-coturn-secret", 1700000000, salt, &username, &password);
        g_assert_cmpstr(username, ==, "1700000000:NWLp4ctz7rLLgXpcpv2ZaZkqDbnPeMw4snvraPYvhwQ");
        /* base64(hmac.new(secret, username, sha1)), padded as coturn computes it */
        g_assert_cmpstr(password, ==, "9AYylIHXXZMIPCmvd9cJ7+U1SJY=");
}

static void test_ice(void)
{
        TpIceCredentials ice;

        /* base32(sha256("c-id:c-pk:g-id:g-pk")).lower() = uiqln5yr6xrgzplmketncxh7de7bpmw3tew5op7ujkpbirpodb3a */
        tp_ice_credentials(&ice, "c-id", "c-pk", "g-id", "g-pk");
        g_assert_cmpstr(ice.initiator_username, ==, "uiql");
        g_assert_cmpstr(ice.initiator_password, ==, "n5yr6xrgzplmketncxh7de");
        g_assert_cmpstr(ice.receiver_username, ==, "7bpm");
        g_assert_cmpstr(ice.receiver_password, ==, "w3tew5op7ujkpbirpodb3a");
}

static void test_psk(void)
{
        uint8_t client_base[32], gateway_base[32];
        g_autofree char *psk = NULL;

        for (int i = 0; i < 32; i++) {
                client_base[i] = (uint8_t)i;
                gateway_base[i] = (uint8_t)(32 + i);
        }
        /* hashlib.pbkdf2_hmac('sha256', cb + gb, b"WG_PSK|C_ID:c-id|G_ID:g-id|C_PK:c-pk|G_PK:g-pk", 1, 32) */
        psk = tp_psk(client_base, gateway_base, "c-id", "g-id", "c-pk", "g-pk");
        g_assert_cmpstr(psk, ==, "oV0zUbzoG6NQZ7mDCkjTqAT+BC7x+P/qW46E7qZrOkE=");
}

static void test_base32(void)
{
        /* RFC 4648 §10, lowercased and unpadded */
        static const struct {
                const char *in, *out;
        } v[] = { { "", "" },
                  { "f", "my" },
                  { "fo", "mzxq" },
                  { "foo", "mzxw6" },
                  { "foob", "mzxw6yq" },
                  { "fooba", "mzxw6ytb" },
                  { "foobar", "mzxw6ytboi" } };

        for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
                g_autofree char *out = tp_base32_lower((const uint8_t *)v[i].in, strlen(v[i].in));

                g_assert_cmpstr(out, ==, v[i].out);
        }
}

static void test_uuid(void)
{
        g_autofree char *a = tp_uuid_from_name("resource", "Intranet");
        g_autofree char *b = tp_uuid_from_name("resource", "Intranet");
        g_autofree char *c = tp_uuid_from_name("site", "Intranet");

        g_assert_cmpstr(a, ==, b);
        g_assert_cmpstr(a, !=, c);
        g_assert_cmpuint(strlen(a), ==, 36);
        g_assert_cmpint(a[8], ==, '-');
        g_assert_cmpint(a[14], ==, '8');
}

static void test_base64url(void)
{
        static const uint8_t raw[] = { 0xfb, 0xff, 0xfe, 0x00, 0x41 };
        g_autofree char *enc = tp_base64url_encode(raw, sizeof(raw));
        g_autoptr(GBytes) dec = tp_base64url_decode(enc);
        g_autoptr(GBytes) bad = tp_base64url_decode("ab+c");
        g_autoptr(GBytes) bad_len = tp_base64url_decode("abcde");

        g_assert_cmpstr(enc, ==, "-__-AEE");
        g_assert_nonnull(dec);
        g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), raw, sizeof(raw));
        g_assert_null(bad);
        g_assert_null(bad_len);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/credentials/turn-coturn-rest", test_turn);
        g_test_add_func("/portal/credentials/ice", test_ice);
        g_test_add_func("/portal/credentials/psk", test_psk);
        g_test_add_func("/portal/credentials/base32", test_base32);
        g_test_add_func("/portal/credentials/uuid", test_uuid);
        g_test_add_func("/portal/credentials/base64url", test_base64url);
        return g_test_run();
}
