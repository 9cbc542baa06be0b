/* SPDX-License-Identifier: MIT */
/*
 * The only source of randomness of the ICE/TURN state machines: xoshiro256** seeded from a
 * caller-given 64-bit seed, so that a simulated network replays exactly.  Callers in
 * production seed it from the OS (randombytes_buf); transaction ids only need to be
 * unpredictable to off-path attackers, which a random 256-bit state gives.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ice_rng {
        uint64_t s[4];
};

void ice_rng_seed(struct ice_rng *rng, uint64_t seed);
uint64_t ice_rng_next(struct ice_rng *rng);
void ice_rng_bytes(struct ice_rng *rng, void *buf, size_t len);
