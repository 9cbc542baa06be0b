/* SPDX-License-Identifier: MIT */
/*
 * MD5 (RFC 1321), only because STUN long-term credentials (RFC 8489 §9.2.2) define the key
 * as MD5(username ":" realm ":" password).  Not for any other use.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16

struct md5_ctx {
        uint32_t h[4];
        uint64_t total;
        uint8_t block[64];
        size_t fill;
};

void md5_init(struct md5_ctx *ctx);
void md5_update(struct md5_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes the context. */
void md5_final(struct md5_ctx *ctx, uint8_t out[static MD5_DIGEST_LEN]);
