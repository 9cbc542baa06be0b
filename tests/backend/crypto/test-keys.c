/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include <glib.h>

#include "backend/crypto/keys.h"

static void decode(uint8_t out[static WG_KEY_LEN], const char *hex)
{
        g_assert_cmpint(key_from_hex(out, hex), ==, 0);
}

/* RFC 7748 §6.1: Alice and Bob agree on K. */
static void test_rfc7748_agreement(void)
{
        uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], expected[32], pub[32], shared[32];

        decode(a_priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        decode(a_pub, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        decode(b_priv, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        decode(b_pub, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        decode(expected, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

        curve25519_generate_public(pub, a_priv);
        g_assert_cmpmem(pub, 32, a_pub, 32);
        curve25519_generate_public(pub, b_priv);
        g_assert_cmpmem(pub, 32, b_pub, 32);

        g_assert_cmpint(curve25519(shared, a_priv, b_pub), ==, 0);
        g_assert_cmpmem(shared, 32, expected, 32);
        g_assert_cmpint(curve25519(shared, b_priv, a_pub), ==, 0);
        g_assert_cmpmem(shared, 32, expected, 32);
}

/* A low-order public key yields the all-zero secret, which must be refused. */
static void test_low_order_point_rejected(void)
{
        uint8_t secret[32], zero_point[32] = { 0 }, shared[32];

        curve25519_generate_secret(secret);
        for (size_t i = 0; i < sizeof(shared); i++)
                shared[i] = 0x5A;
        g_assert_cmpint(curve25519(shared, secret, zero_point), ==, -EINVAL);
        for (size_t i = 0; i < sizeof(shared); i++)
                g_assert_cmpuint(shared[i], ==, 0x5A);
}

static void test_generated_secret_is_clamped(void)
{
        for (int n = 0; n < 64; n++) {
                uint8_t secret[32], other[32];

                curve25519_generate_secret(secret);
                g_assert_cmpuint(secret[0] & 7, ==, 0);
                g_assert_cmpuint(secret[31] & 128, ==, 0);
                g_assert_cmpuint(secret[31] & 64, ==, 64);
                curve25519_generate_secret(other);
                g_assert_false(key_equal(secret, other));
        }
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(kiln_crypto_init(), ==, 0);
        g_test_add_func("/crypto/keys/rfc7748-agreement", test_rfc7748_agreement);
        g_test_add_func("/crypto/keys/low-order-point", test_low_order_point_rejected);
        g_test_add_func("/crypto/keys/clamped", test_generated_secret_is_clamped);
        return g_test_run();
}
