/* SPDX-License-Identifier: MIT */
/*
 * SHA-1 (RFC 3174) and HMAC-SHA1 (RFC 2104), for STUN MESSAGE-INTEGRITY only.  SHA-1 is
 * broken for collision resistance but HMAC-SHA1 is what RFC 8489 short- and long-term
 * credentials require; nothing else in Kiln may use it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_BLOCK_LEN  64

struct sha1_ctx {
        uint32_t h[5];
        uint64_t total;
        uint8_t block[SHA1_BLOCK_LEN];
        size_t fill;
};

void sha1_init(struct sha1_ctx *ctx);
void sha1_update(struct sha1_ctx *ctx, const void *data, size_t len);
void sha1_final(struct sha1_ctx *ctx, uint8_t out[static SHA1_DIGEST_LEN]);
void sha1(uint8_t out[static SHA1_DIGEST_LEN], const void *data, size_t len);

struct hmac_sha1_ctx {
        struct sha1_ctx inner;
        struct sha1_ctx outer;
};

void hmac_sha1_init(struct hmac_sha1_ctx *ctx, const uint8_t *key, size_t key_len);
void hmac_sha1_update(struct hmac_sha1_ctx *ctx, const void *data, size_t len);
/* Writes the MAC and wipes the context. */
void hmac_sha1_final(struct hmac_sha1_ctx *ctx, uint8_t out[static SHA1_DIGEST_LEN]);
void hmac_sha1(uint8_t out[static SHA1_DIGEST_LEN], const uint8_t *key, size_t key_len, const void *data,
               size_t len);
