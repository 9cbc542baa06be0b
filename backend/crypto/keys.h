/* SPDX-License-Identifier: MIT */
/* Curve25519 keys for WireGuard, through libsodium.  Secrets are plain 32-byte arrays
 * that the owner wipes with sodium_memzero() on every path. */
#pragma once

#include <stdint.h>

#include "backend/crypto/encoding.h"

/* Call once before any other function here (idempotent, thread-safe).  Returns 0 or -EIO. */
int kiln_crypto_init(void);

/* A fresh clamped private key from the system CSPRNG. */
void curve25519_generate_secret(uint8_t secret[static WG_KEY_LEN]);
void curve25519_clamp_secret(uint8_t secret[static WG_KEY_LEN]);
void curve25519_generate_public(uint8_t pub[static WG_KEY_LEN], const uint8_t secret[static WG_KEY_LEN]);

/*
 * shared = X25519(secret, public).  Returns -EINVAL (and writes nothing) when the
 * result is all zeros, i.e. the public key is a low-order point: WireGuard must
 * reject those handshakes.
 */
int curve25519(uint8_t shared[static WG_KEY_LEN], const uint8_t secret[static WG_KEY_LEN],
               const uint8_t public_key[static WG_KEY_LEN]);
