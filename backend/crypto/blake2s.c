/* SPDX-License-Identifier: MIT */
#include "backend/crypto/blake2s.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static const uint32_t blake2s_iv[8] = {
        0x6A09E667UL, 0xBB67AE85UL, 0x3C6EF372UL, 0xA54FF53AUL,
        0x510E527FUL, 0x9B05688CUL, 0x1F83D9ABUL, 0x5BE0CD19UL,
};

static const uint8_t blake2s_sigma[10][16] = {
        { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
        { 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
        { 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
        { 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
        { 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
        { 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
        { 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
        { 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
        { 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
        { 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

static inline uint32_t ror32(uint32_t w, unsigned c)
{
        return (w >> c) | (w << (32 - c));
}

static inline uint32_t load_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

static void blake2s_compress(struct blake2s_state *state, const uint8_t block[static BLAKE2S_BLOCK_SIZE],
                             uint32_t inc)
{
        uint32_t m[16], v[16];

        state->t[0] += inc;
        state->t[1] += state->t[0] < inc;

        for (int i = 0; i < 16; i++)
                m[i] = load_le32(block + i * 4);
        memcpy(v, state->h, sizeof(state->h));
        memcpy(v + 8, blake2s_iv, sizeof(blake2s_iv));
        v[12] ^= state->t[0];
        v[13] ^= state->t[1];
        v[14] ^= state->f[0];
        v[15] ^= state->f[1];

#define G(r, i, a, b, c, d)                                                                                 \
        do {                                                                                                \
                a += b + m[blake2s_sigma[r][2 * i]];                                                        \
                d = ror32(d ^ a, 16);                                                                       \
                c += d;                                                                                     \
                b = ror32(b ^ c, 12);                                                                       \
                a += b + m[blake2s_sigma[r][2 * i + 1]];                                                    \
                d = ror32(d ^ a, 8);                                                                        \
                c += d;                                                                                     \
                b = ror32(b ^ c, 7);                                                                        \
        } while (0)

        for (int r = 0; r < 10; r++) {
                G(r, 0, v[0], v[4], v[8], v[12]);
                G(r, 1, v[1], v[5], v[9], v[13]);
                G(r, 2, v[2], v[6], v[10], v[14]);
                G(r, 3, v[3], v[7], v[11], v[15]);
                G(r, 4, v[0], v[5], v[10], v[15]);
                G(r, 5, v[1], v[6], v[11], v[12]);
                G(r, 6, v[2], v[7], v[8], v[13]);
                G(r, 7, v[3], v[4], v[9], v[14]);
        }
#undef G

        for (int i = 0; i < 8; i++)
                state->h[i] ^= v[i] ^ v[i + 8];

        sodium_memzero(m, sizeof(m));
        sodium_memzero(v, sizeof(v));
}

void blake2s_init_key(struct blake2s_state *state, size_t outlen, const void *key, size_t keylen)
{
        if (outlen == 0 || outlen > BLAKE2S_HASH_SIZE || keylen > BLAKE2S_KEY_SIZE || (keylen && !key))
                abort();

        memset(state, 0, sizeof(*state));
        memcpy(state->h, blake2s_iv, sizeof(blake2s_iv));
        /* Parameter block: digest length, key length, fanout 1, depth 1. */
        state->h[0] ^= 0x01010000UL ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
        state->outlen = outlen;

        if (keylen > 0) {
                /* The key is processed as a full zero-padded first block. */
                memcpy(state->buf, key, keylen);
                state->buflen = BLAKE2S_BLOCK_SIZE;
        }
}

void blake2s_init(struct blake2s_state *state, size_t outlen)
{
        blake2s_init_key(state, outlen, NULL, 0);
}

void blake2s_update(struct blake2s_state *state, const void *in, size_t inlen)
{
        const uint8_t *p = in;

        if (inlen == 0)
                return;

        /* The last block must be compressed by final() with the finalization flag,
         * so a full buffer is only flushed once more input is known to follow. */
        size_t fill = BLAKE2S_BLOCK_SIZE - state->buflen;
        if (inlen > fill) {
                memcpy(state->buf + state->buflen, p, fill);
                blake2s_compress(state, state->buf, BLAKE2S_BLOCK_SIZE);
                state->buflen = 0;
                p += fill;
                inlen -= fill;
                while (inlen > BLAKE2S_BLOCK_SIZE) {
                        blake2s_compress(state, p, BLAKE2S_BLOCK_SIZE);
                        p += BLAKE2S_BLOCK_SIZE;
                        inlen -= BLAKE2S_BLOCK_SIZE;
                }
        }
        memcpy(state->buf + state->buflen, p, inlen);
        state->buflen += inlen;
}

void blake2s_final(struct blake2s_state *state, uint8_t *out)
{
        uint8_t full[BLAKE2S_HASH_SIZE];

        state->f[0] = UINT32_MAX;
        memset(state->buf + state->buflen, 0, BLAKE2S_BLOCK_SIZE - state->buflen);
        blake2s_compress(state, state->buf, (uint32_t)state->buflen);

        for (int i = 0; i < 8; i++)
                store_le32(full + i * 4, state->h[i]);
        memcpy(out, full, state->outlen);

        sodium_memzero(full, sizeof(full));
        sodium_memzero(state, sizeof(*state));
}

void blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen, const void *key, size_t keylen)
{
        struct blake2s_state state;

        blake2s_init_key(&state, outlen, key, keylen);
        blake2s_update(&state, in, inlen);
        blake2s_final(&state, out);
}

void hmac_blake2s(uint8_t out[static BLAKE2S_HASH_SIZE], const void *key, size_t keylen, const void *in,
                  size_t inlen)
{
        struct blake2s_state state;
        uint8_t x_key[BLAKE2S_BLOCK_SIZE] = { 0 };
        uint8_t i_hash[BLAKE2S_HASH_SIZE];

        if (keylen > BLAKE2S_BLOCK_SIZE)
                blake2s(x_key, BLAKE2S_HASH_SIZE, key, keylen, NULL, 0);
        else if (keylen > 0)
                memcpy(x_key, key, keylen);

        for (size_t i = 0; i < sizeof(x_key); i++)
                x_key[i] ^= 0x36;
        blake2s_init(&state, BLAKE2S_HASH_SIZE);
        blake2s_update(&state, x_key, sizeof(x_key));
        blake2s_update(&state, in, inlen);
        blake2s_final(&state, i_hash);

        for (size_t i = 0; i < sizeof(x_key); i++)
                x_key[i] ^= 0x5c ^ 0x36;
        blake2s_init(&state, BLAKE2S_HASH_SIZE);
        blake2s_update(&state, x_key, sizeof(x_key));
        blake2s_update(&state, i_hash, sizeof(i_hash));
        blake2s_final(&state, out);

        sodium_memzero(x_key, sizeof(x_key));
        sodium_memzero(i_hash, sizeof(i_hash));
}

void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const void *input, size_t inlen,
            const uint8_t chaining_key[static BLAKE2S_HASH_SIZE])
{
        uint8_t secret[BLAKE2S_HASH_SIZE];
        uint8_t block[BLAKE2S_HASH_SIZE + 1];
        uint8_t *outs[3] = { out1, out2, out3 };

        hmac_blake2s(secret, chaining_key, BLAKE2S_HASH_SIZE, input, inlen);

        /* τ1 = HMAC(τ0, 0x1); τi = HMAC(τ0, τ(i-1) ‖ i).  block carries τ(i-1) forward. */
        size_t prev_len = 0;
        for (uint8_t i = 0; i < 3 && outs[i]; i++) {
                block[prev_len] = (uint8_t)(i + 1);
                /* hmac_blake2s() consumes its input before writing its output, so in-place is fine. */
                hmac_blake2s(block, secret, sizeof(secret), block, prev_len + 1);
                memcpy(outs[i], block, BLAKE2S_HASH_SIZE);
                prev_len = BLAKE2S_HASH_SIZE;
        }

        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(block, sizeof(block));
}
