/* SPDX-License-Identifier: MIT */
#include "backend/crypto/keys.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

int kiln_crypto_init(void)
{
        /* sodium_init() returns 1 when it already ran, which is fine. */
        return sodium_init() < 0 ? -EIO : 0;
}

void curve25519_clamp_secret(uint8_t secret[static WG_KEY_LEN])
{
        secret[0] &= 248;
        secret[31] = (secret[31] & 127) | 64;
}

void curve25519_generate_secret(uint8_t secret[static WG_KEY_LEN])
{
        randombytes_buf(secret, WG_KEY_LEN);
        curve25519_clamp_secret(secret);
}

void curve25519_generate_public(uint8_t pub[static WG_KEY_LEN], const uint8_t secret[static WG_KEY_LEN])
{
        crypto_scalarmult_curve25519_base(pub, secret);
}

int curve25519(uint8_t shared[static WG_KEY_LEN], const uint8_t secret[static WG_KEY_LEN],
               const uint8_t public_key[static WG_KEY_LEN])
{
        uint8_t out[WG_KEY_LEN];

        /* libsodium fails exactly when the result is the all-zero point. */
        if (crypto_scalarmult_curve25519(out, secret, public_key) != 0) {
                sodium_memzero(out, sizeof(out));
                return -EINVAL;
        }
        memcpy(shared, out, WG_KEY_LEN);
        sodium_memzero(out, sizeof(out));
        return 0;
}
