/* SPDX-License-Identifier: MIT */
/*
 * BLAKE2s (RFC 7693), HMAC-BLAKE2s and the HKDF-style KDF that WireGuard's
 * Noise_IKpsk2 uses.  libsodium only ships BLAKE2b, so BLAKE2s lives here.
 * No allocation, no GLib: this runs on the packet path.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        BLAKE2S_BLOCK_SIZE = 64,
        BLAKE2S_HASH_SIZE = 32,
        BLAKE2S_KEY_SIZE = 32,
};

struct blake2s_state {
        uint32_t h[8];
        uint32_t t[2];
        uint32_t f[2];
        uint8_t buf[BLAKE2S_BLOCK_SIZE];
        size_t buflen;
        size_t outlen;
};

/* outlen is 1..32 and keylen 0..32; anything else is a programming error and aborts. */
void blake2s_init(struct blake2s_state *state, size_t outlen);
void blake2s_init_key(struct blake2s_state *state, size_t outlen, const void *key, size_t keylen);
void blake2s_update(struct blake2s_state *state, const void *in, size_t inlen);
/* Writes state->outlen bytes and wipes the state. */
void blake2s_final(struct blake2s_state *state, uint8_t *out);

void blake2s(uint8_t *out, size_t outlen, const void *in, size_t inlen, const void *key, size_t keylen);

/* HMAC (RFC 2104) over BLAKE2s with its 64-byte block; the key may be any length. */
void hmac_blake2s(uint8_t out[static BLAKE2S_HASH_SIZE], const void *key, size_t keylen, const void *in,
                  size_t inlen);

/*
 * WireGuard's KDF_n(key, input): τ0 = HMAC(key, input), τ1 = HMAC(τ0, 0x1),
 * τi = HMAC(τ0, τ(i-1) ‖ i).  Writes each non-NULL output (32 bytes);
 * out2/out3 may be NULL for KDF1/KDF2.  Intermediates are wiped.
 */
void wg_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const void *input, size_t inlen,
            const uint8_t chaining_key[static BLAKE2S_HASH_SIZE]);
