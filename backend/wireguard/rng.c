/* SPDX-License-Identifier: MIT */
#include "backend/wireguard/rng.h"

#include <string.h>

#include <sodium.h>

#include "backend/crypto/blake2s.h"

static void fill_system(struct wg_rng *rng, void *buf, size_t len)
{
        randombytes_buf(buf, len);
}

static void fill_seeded(struct wg_rng *rng, void *buf, size_t len)
{
        uint8_t block_seed[randombytes_SEEDBYTES];
        uint8_t input[sizeof(rng->seed) + sizeof(rng->counter)];

        /* A fresh sub-seed per call keeps the stream independent of how callers split it. */
        memcpy(input, rng->seed, sizeof(rng->seed));
        memcpy(input + sizeof(rng->seed), &rng->counter, sizeof(rng->counter));
        rng->counter++;
        blake2s(block_seed, sizeof(block_seed), input, sizeof(input), NULL, 0);
        randombytes_buf_deterministic(buf, len, block_seed);
        sodium_memzero(block_seed, sizeof(block_seed));
        sodium_memzero(input, sizeof(input));
}

void wg_rng_init_system(struct wg_rng *rng)
{
        memset(rng, 0, sizeof(*rng));
        rng->fill = fill_system;
}

void wg_rng_init_seeded(struct wg_rng *rng, const uint8_t seed[static 32])
{
        memset(rng, 0, sizeof(*rng));
        rng->fill = fill_seeded;
        memcpy(rng->seed, seed, sizeof(rng->seed));
}

uint32_t wg_rng_u32(struct wg_rng *rng)
{
        uint32_t v;

        wg_rng_fill(rng, &v, sizeof(v));
        return v;
}

uint64_t wg_rng_uniform(struct wg_rng *rng, uint64_t bound)
{
        uint64_t v, limit = UINT64_MAX - UINT64_MAX % bound;

        do
                wg_rng_fill(rng, &v, sizeof(v));
        while (v >= limit);
        return v % bound;
}
