/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <glib.h>

#include "backend/crypto/md5.h"
#include "backend/crypto/sha1.h"

static void assert_hex(const uint8_t *out, size_t len, const char *hex)
{
        g_autofree char *got = g_malloc(2 * len + 1);

        for (size_t i = 0; i < len; i++)
                g_snprintf(got + 2 * i, 3, "%02x", out[i]);
        g_assert_cmpstr(got, ==, hex);
}

/* RFC 3174 §7.3 test cases 1–4 (case 4 repeats its 64-byte string 10 times). */
static void test_sha1_rfc3174(void)
{
        uint8_t out[SHA1_DIGEST_LEN];
        struct sha1_ctx ctx;

        sha1(out, "abc", 3);
        assert_hex(out, sizeof(out), "a9993e364706816aba3e25717850c26c9cd0d89d");

        sha1(out, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
        assert_hex(out, sizeof(out), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");

        sha1_init(&ctx);
        for (int i = 0; i < 1000000; i++)
                sha1_update(&ctx, "a", 1);
        sha1_final(&ctx, out);
        assert_hex(out, sizeof(out), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");

        sha1_init(&ctx);
        for (int i = 0; i < 10; i++)
                sha1_update(&ctx, "0123456701234567012345670123456701234567012345670123456701234567", 64);
        sha1_final(&ctx, out);
        assert_hex(out, sizeof(out), "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

/* RFC 2202 §3 test cases 1, 2 and 6 (key longer than the block). */
static void test_hmac_sha1_rfc2202(void)
{
        uint8_t out[SHA1_DIGEST_LEN], key[80];

        memset(key, 0x0b, 20);
        hmac_sha1(out, key, 20, "Hi There", 8);
        assert_hex(out, sizeof(out), "b617318655057264e28bc0b6fb378c8ef146be00");

        hmac_sha1(out, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28);
        assert_hex(out, sizeof(out), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");

        memset(key, 0xaa, 80);
        hmac_sha1(out, key, 80, "Test Using Larger Than Block-Size Key - Hash Key First", 54);
        assert_hex(out, sizeof(out), "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* RFC 1321 §A.5 test suite. */
static void test_md5_rfc1321(void)
{
        static const struct {
                const char *in, *hex;
        } cases[] = {
                { "", "d41d8cd98f00b204e9800998ecf8427e" },
                { "abc", "900150983cd24fb0d6963f7d28e17f72" },
                { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
                { "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                  "57edf4a22be3c955ac49da2e2107b67a" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                uint8_t out[MD5_DIGEST_LEN];
                struct md5_ctx ctx;

                md5_init(&ctx);
                md5_update(&ctx, cases[i].in, strlen(cases[i].in));
                md5_final(&ctx, out);
                assert_hex(out, sizeof(out), cases[i].hex);
        }
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/sha1/rfc3174", test_sha1_rfc3174);
        g_test_add_func("/hmac-sha1/rfc2202", test_hmac_sha1_rfc2202);
        g_test_add_func("/md5/rfc1321", test_md5_rfc1321);
        return g_test_run();
}
