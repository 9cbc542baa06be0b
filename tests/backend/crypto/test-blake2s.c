/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <glib.h>

#include "backend/crypto/blake2s.h"
#include "tests/backend/crypto/blake2s-vectors.h"

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void test_rfc7693_abc(void)
{
        static const uint8_t expected[32] = {
                0x50, 0x8C, 0x5E, 0x8C, 0x32, 0x7C, 0x14, 0xE2, 0xE1, 0xA7, 0x2B,
                0xA3, 0x4E, 0xEB, 0x45, 0x2F, 0x37, 0x45, 0x8B, 0x20, 0x9E, 0xD6,
                0x3A, 0x29, 0x4D, 0x99, 0x9B, 0x4C, 0x86, 0x67, 0x59, 0x82,
        };
        uint8_t out[32];

        blake2s(out, sizeof(out), "abc", 3, NULL, 0);
        g_assert_cmpmem(out, sizeof(out), expected, sizeof(expected));
}

/* RFC 7693 Appendix E: the self-test over all digest and input lengths, keyed and not. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
        uint32_t a = 0xDEAD4BAD * seed, b = 1, t;

        for (size_t i = 0; i < len; i++) {
                t = a + b;
                a = b;
                b = t;
                out[i] = (uint8_t)((t >> 24) & 0xFF);
        }
}

static void test_rfc7693_selftest(void)
{
        static const uint8_t blake2s_res[32] = {
                0x6A, 0x41, 0x1F, 0x08, 0xCE, 0x25, 0xAD, 0xCD, 0xFB, 0x02, 0xAB,
                0xA6, 0x41, 0x45, 0x1C, 0xEC, 0x53, 0xC5, 0x98, 0xB2, 0x4F, 0x4F,
                0xC7, 0x87, 0xFB, 0xDC, 0x88, 0x79, 0x7F, 0x4C, 0x1D, 0xFE,
        };
        static const size_t md_len[4] = { 16, 20, 28, 32 };
        static const size_t in_len[6] = { 0, 3, 64, 65, 255, 1024 };
        uint8_t in[1024], md[32], key[32], result[32];
        struct blake2s_state ctx;

        blake2s_init(&ctx, 32);
        for (size_t i = 0; i < 4; i++) {
                size_t outlen = md_len[i];
                for (size_t j = 0; j < 6; j++) {
                        size_t inlen = in_len[j];

                        selftest_seq(in, inlen, (uint32_t)inlen);
                        blake2s(md, outlen, in, inlen, NULL, 0);
                        blake2s_update(&ctx, md, outlen);

                        selftest_seq(key, outlen, (uint32_t)outlen);
                        blake2s(md, outlen, in, inlen, key, outlen);
                        blake2s_update(&ctx, md, outlen);
                }
        }
        blake2s_final(&ctx, result);
        g_assert_cmpmem(result, sizeof(result), blake2s_res, sizeof(blake2s_res));
}

static void test_reference_kat(void)
{
        uint8_t in[256], key[32], out[32];

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)i;
        for (size_t i = 0; i < sizeof(key); i++)
                key[i] = (uint8_t)i;

        for (size_t n = 0; n < 256; n++) {
                blake2s(out, sizeof(out), in, n, NULL, 0);
                g_assert_cmpmem(out, sizeof(out), blake2s_kat_unkeyed[n], 32);
                blake2s(out, sizeof(out), in, n, key, sizeof(key));
                g_assert_cmpmem(out, sizeof(out), blake2s_kat_keyed[n], 32);
        }
}

/* Feeding the same input in uneven pieces must give the one-shot result. */
static void test_incremental(void)
{
        uint8_t in[256], one_shot[32], pieces[32];
        struct blake2s_state state;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)(i * 7);
        blake2s(one_shot, sizeof(one_shot), in, sizeof(in), NULL, 0);

        for (size_t step = 1; step <= 129; step += 16) {
                blake2s_init(&state, sizeof(pieces));
                for (size_t off = 0; off < sizeof(in); off += step)
                        blake2s_update(&state, in + off, MIN(step, sizeof(in) - off));
                blake2s_final(&state, pieces);
                g_assert_cmpmem(pieces, sizeof(pieces), one_shot, sizeof(one_shot));
        }
}

static void test_hmac(void)
{
        uint8_t out[32];

        for (size_t i = 0; i < G_N_ELEMENTS(hmac_blake2s_vectors); i++) {
                const struct hmac_vector *v = &hmac_blake2s_vectors[i];
                hmac_blake2s(out, v->key, v->keylen, v->in, v->inlen);
                g_assert_cmpmem(out, sizeof(out), v->out, 32);
        }
}

static void test_wg_kdf(void)
{
        uint8_t t1[32], t2[32], t3[32];

        for (size_t i = 0; i < G_N_ELEMENTS(wg_kdf_vectors); i++) {
                const struct kdf_vector *v = &wg_kdf_vectors[i];

                wg_kdf(t1, t2, t3, v->in, v->inlen, (const uint8_t *)v->ck);
                g_assert_cmpmem(t1, 32, v->t1, 32);
                g_assert_cmpmem(t2, 32, v->t2, 32);
                g_assert_cmpmem(t3, 32, v->t3, 32);

                /* KDF1 and KDF2 are prefixes of KDF3. */
                memset(t1, 0, sizeof(t1));
                memset(t2, 0, sizeof(t2));
                wg_kdf(t1, t2, NULL, v->in, v->inlen, (const uint8_t *)v->ck);
                g_assert_cmpmem(t1, 32, v->t1, 32);
                g_assert_cmpmem(t2, 32, v->t2, 32);
                wg_kdf(t1, NULL, NULL, v->in, v->inlen, (const uint8_t *)v->ck);
                g_assert_cmpmem(t1, 32, v->t1, 32);
        }
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/crypto/blake2s/rfc7693-abc", test_rfc7693_abc);
        g_test_add_func("/crypto/blake2s/rfc7693-selftest", test_rfc7693_selftest);
        g_test_add_func("/crypto/blake2s/reference-kat", test_reference_kat);
        g_test_add_func("/crypto/blake2s/incremental", test_incremental);
        g_test_add_func("/crypto/hmac-blake2s/vectors", test_hmac);
        g_test_add_func("/crypto/wg-kdf/vectors", test_wg_kdf);
        return g_test_run();
}
