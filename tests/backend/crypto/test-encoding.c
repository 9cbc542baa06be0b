/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/crypto/encoding.h"

struct key_vector {
        const char *hex;
        const char *base64;
};

/* RFC 7748 §6.1's X25519 keys and the two extremes, base64 as wg(8) prints them. */
static const struct key_vector key_vectors[] = {
        { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
          "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=" },
        { "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
          "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" },
        { "0000000000000000000000000000000000000000000000000000000000000000",
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
        { "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
          "//////////////////////////////////////////8=" },
};

static void test_round_trip(void)
{
        for (size_t i = 0; i < G_N_ELEMENTS(key_vectors); i++) {
                uint8_t from_hex[WG_KEY_LEN], from_b64[WG_KEY_LEN];
                char b64[WG_KEY_LEN_BASE64], hex[WG_KEY_LEN_HEX];

                g_assert_cmpint(key_from_hex(from_hex, key_vectors[i].hex), ==, 0);
                g_assert_cmpint(key_from_base64(from_b64, key_vectors[i].base64), ==, 0);
                g_assert_cmpmem(from_hex, WG_KEY_LEN, from_b64, WG_KEY_LEN);

                key_to_base64(b64, from_hex);
                g_assert_cmpstr(b64, ==, key_vectors[i].base64);
                key_to_hex(hex, from_b64);
                g_assert_cmpstr(hex, ==, key_vectors[i].hex);
        }
}

static void test_hex_uppercase_accepted(void)
{
        uint8_t lower[WG_KEY_LEN], upper[WG_KEY_LEN];
        g_autofree char *up = g_ascii_strup(key_vectors[0].hex, -1);

        g_assert_cmpint(key_from_hex(lower, key_vectors[0].hex), ==, 0);
        g_assert_cmpint(key_from_hex(upper, up), ==, 0);
        g_assert_cmpmem(lower, WG_KEY_LEN, upper, WG_KEY_LEN);
}

/* Every byte value round-trips through both encodings. */
static void test_all_byte_values(void)
{
        for (unsigned int start = 0; start < 256; start += WG_KEY_LEN) {
                uint8_t key[WG_KEY_LEN], back[WG_KEY_LEN];
                char b64[WG_KEY_LEN_BASE64], hex[WG_KEY_LEN_HEX];

                for (unsigned int i = 0; i < WG_KEY_LEN; i++)
                        key[i] = (uint8_t)(start + i);
                key_to_base64(b64, key);
                g_assert_cmpint(key_from_base64(back, b64), ==, 0);
                g_assert_cmpmem(back, WG_KEY_LEN, key, WG_KEY_LEN);
                key_to_hex(hex, key);
                g_assert_cmpint(key_from_hex(back, hex), ==, 0);
                g_assert_cmpmem(back, WG_KEY_LEN, key, WG_KEY_LEN);
        }
}

struct reject {
        const char *text;
        int error;
};

static void test_base64_rejects(void)
{
        static const struct reject rejects[] = {
                { "", -EINVAL },
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo", -EINVAL },   /* no padding */
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==", -EINVAL }, /* too long */
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA", -EINVAL },  /* no '=' at the end */
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC!=", -EILSEQ },  /* bad character */
                { "dwdtCnMYpX08FsFy bJmRd9ML4frwJkqsXf7pR25LCo=", -EILSEQ },  /* space */
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=", -EILSEQ },  /* non-zero pad bits */
                { "=wdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", -EILSEQ },
                { "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC\x80=", -EILSEQ },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(rejects); i++) {
                uint8_t key[WG_KEY_LEN];

                /* A rejected decode must leave the caller's buffer alone. */
                memset(key, 0xA5, sizeof(key));
                g_assert_cmpint(key_from_base64(key, rejects[i].text), ==, rejects[i].error);
                for (size_t j = 0; j < sizeof(key); j++)
                        g_assert_cmpuint(key[j], ==, 0xA5);
        }
        g_assert_cmpint(key_from_base64((uint8_t[WG_KEY_LEN]){ 0 }, NULL), ==, -EINVAL);
}

static void test_hex_rejects(void)
{
        static const struct reject rejects[] = {
                { "", -EINVAL },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2", -EINVAL },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a0", -EINVAL },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2g", -EILSEQ },
                { "g7076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", -EILSEQ },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c:a", -EILSEQ },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c@a", -EILSEQ },
                { "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c a", -EILSEQ },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(rejects); i++) {
                uint8_t key[WG_KEY_LEN];

                memset(key, 0xA5, sizeof(key));
                g_assert_cmpint(key_from_hex(key, rejects[i].text), ==, rejects[i].error);
                for (size_t j = 0; j < sizeof(key); j++)
                        g_assert_cmpuint(key[j], ==, 0xA5);
        }
}

/* Every single-character substitution outside the alphabet is caught, at every position. */
static void test_every_bad_character(void)
{
        char b64[WG_KEY_LEN_BASE64], hex[WG_KEY_LEN_HEX];
        uint8_t key[WG_KEY_LEN];

        for (int c = 1; c < 256; c++) {
                bool b64_ok = g_ascii_isalnum(c) || c == '+' || c == '/';
                bool hex_ok = g_ascii_isxdigit(c);

                for (size_t pos = 0; pos < WG_KEY_LEN_BASE64 - 3; pos++) {
                        memcpy(b64, key_vectors[0].base64, sizeof(b64));
                        b64[pos] = (char)c;
                        if (!b64_ok)
                                g_assert_cmpint(key_from_base64(key, b64), ==, -EILSEQ);
                }
                for (size_t pos = 0; pos < WG_KEY_LEN_HEX - 1; pos++) {
                        memcpy(hex, key_vectors[0].hex, sizeof(hex));
                        hex[pos] = (char)c;
                        g_assert_cmpint(key_from_hex(key, hex), ==, hex_ok ? 0 : -EILSEQ);
                }
        }
}

static void test_compare(void)
{
        uint8_t a[WG_KEY_LEN] = { 0 }, b[WG_KEY_LEN] = { 0 };

        g_assert_true(key_is_zero(a));
        g_assert_true(key_equal(a, b));
        b[31] = 1;
        g_assert_false(key_is_zero(b));
        g_assert_false(key_equal(a, b));
        g_assert_cmpstr(key_decode_strerror(-EILSEQ), ==, "invalid character in key");
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/crypto/encoding/round-trip", test_round_trip);
        g_test_add_func("/crypto/encoding/hex-uppercase", test_hex_uppercase_accepted);
        g_test_add_func("/crypto/encoding/all-byte-values", test_all_byte_values);
        g_test_add_func("/crypto/encoding/base64-rejects", test_base64_rejects);
        g_test_add_func("/crypto/encoding/hex-rejects", test_hex_rejects);
        g_test_add_func("/crypto/encoding/every-bad-character", test_every_bad_character);
        g_test_add_func("/crypto/encoding/compare", test_compare);
        return g_test_run();
}
