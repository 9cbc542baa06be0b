/* SPDX-License-Identifier: MIT */
/*
 * Where the engine's randomness comes from: ephemeral keys, session indices, cookie secrets,
 * cookie nonces and timer jitter.  Production uses the system CSPRNG; tests use a seeded,
 * deterministic stream so that two engines over simulated time replay identically.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct wg_rng {
        /* Fills buf with len random bytes; never fails. */
        void (*fill)(struct wg_rng *rng, void *buf, size_t len);
        /* Deterministic streams only. */
        uint8_t seed[32];
        uint64_t counter;
};

/* The system CSPRNG (libsodium's randombytes_buf). */
void wg_rng_init_system(struct wg_rng *rng);
/* A deterministic stream: block i is randombytes_buf_deterministic(seed = BLAKE2s(seed ‖ i)). */
void wg_rng_init_seeded(struct wg_rng *rng, const uint8_t seed[static 32]);

static inline void wg_rng_fill(struct wg_rng *rng, void *buf, size_t len)
{
        rng->fill(rng, buf, len);
}

uint32_t wg_rng_u32(struct wg_rng *rng);
/* Uniform in [0, bound); bound > 0. */
uint64_t wg_rng_uniform(struct wg_rng *rng, uint64_t bound);
