/* SPDX-License-Identifier: MIT */
#include "backend/crypto/sha1.h"

#include <string.h>

#include <sodium.h>

static inline uint32_t rol32(uint32_t v, unsigned int n)
{
        return (v << n) | (v >> (32 - n));
}

static void sha1_block(uint32_t h[static 5], const uint8_t block[static SHA1_BLOCK_LEN])
{
        uint32_t w[80];
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
                       (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
        for (int i = 16; i < 80; i++)
                w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

        for (int i = 0; i < 80; i++) {
                uint32_t f, k, t;

                if (i < 20) {
                        f = (b & c) | (~b & d);
                        k = 0x5a827999;
                } else if (i < 40) {
                        f = b ^ c ^ d;
                        k = 0x6ed9eba1;
                } else if (i < 60) {
                        f = (b & c) | (b & d) | (c & d);
                        k = 0x8f1bbcdc;
                } else {
                        f = b ^ c ^ d;
                        k = 0xca62c1d6;
                }
                t = rol32(a, 5) + f + e + k + w[i];
                e = d;
                d = c;
                c = rol32(b, 30);
                b = a;
                a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        sodium_memzero(w, sizeof(w));
}

void sha1_init(struct sha1_ctx *ctx)
{
        static const uint32_t iv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };

        memcpy(ctx->h, iv, sizeof(iv));
        ctx->total = 0;
        ctx->fill = 0;
}

void sha1_update(struct sha1_ctx *ctx, const void *data, size_t len)
{
        const uint8_t *p = data;

        ctx->total += len;
        while (len > 0) {
                size_t take = SHA1_BLOCK_LEN - ctx->fill;

                if (take > len)
                        take = len;
                memcpy(ctx->block + ctx->fill, p, take);
                ctx->fill += take;
                p += take;
                len -= take;
                if (ctx->fill == SHA1_BLOCK_LEN) {
                        sha1_block(ctx->h, ctx->block);
                        ctx->fill = 0;
                }
        }
}

void sha1_final(struct sha1_ctx *ctx, uint8_t out[static SHA1_DIGEST_LEN])
{
        uint64_t bits = ctx->total * 8;
        uint8_t pad = 0x80, zero = 0, len_be[8];

        sha1_update(ctx, &pad, 1);
        while (ctx->fill != SHA1_BLOCK_LEN - 8)
                sha1_update(ctx, &zero, 1);
        for (int i = 0; i < 8; i++)
                len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
        sha1_update(ctx, len_be, 8);
        for (int i = 0; i < 5; i++) {
                out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)ctx->h[i];
        }
        sodium_memzero(ctx, sizeof(*ctx));
}

void sha1(uint8_t out[static SHA1_DIGEST_LEN], const void *data, size_t len)
{
        struct sha1_ctx ctx;

        sha1_init(&ctx);
        sha1_update(&ctx, data, len);
        sha1_final(&ctx, out);
}

void hmac_sha1_init(struct hmac_sha1_ctx *ctx, const uint8_t *key, size_t key_len)
{
        uint8_t k[SHA1_BLOCK_LEN] = { 0 }, pad[SHA1_BLOCK_LEN];

        if (key_len > SHA1_BLOCK_LEN)
                sha1(k, key, key_len);
        else if (key_len > 0)
                memcpy(k, key, key_len);

        for (size_t i = 0; i < SHA1_BLOCK_LEN; i++)
                pad[i] = k[i] ^ 0x36;
        sha1_init(&ctx->inner);
        sha1_update(&ctx->inner, pad, sizeof(pad));
        for (size_t i = 0; i < SHA1_BLOCK_LEN; i++)
                pad[i] = k[i] ^ 0x5c;
        sha1_init(&ctx->outer);
        sha1_update(&ctx->outer, pad, sizeof(pad));
        sodium_memzero(k, sizeof(k));
        sodium_memzero(pad, sizeof(pad));
}

void hmac_sha1_update(struct hmac_sha1_ctx *ctx, const void *data, size_t len)
{
        sha1_update(&ctx->inner, data, len);
}

void hmac_sha1_final(struct hmac_sha1_ctx *ctx, uint8_t out[static SHA1_DIGEST_LEN])
{
        uint8_t inner[SHA1_DIGEST_LEN];

        sha1_final(&ctx->inner, inner);
        sha1_update(&ctx->outer, inner, sizeof(inner));
        sha1_final(&ctx->outer, out);
        sodium_memzero(inner, sizeof(inner));
}

void hmac_sha1(uint8_t out[static SHA1_DIGEST_LEN], const uint8_t *key, size_t key_len, const void *data,
               size_t len)
{
        struct hmac_sha1_ctx ctx;

        hmac_sha1_init(&ctx, key, key_len);
        hmac_sha1_update(&ctx, data, len);
        hmac_sha1_final(&ctx, out);
}
