/* SPDX-License-Identifier: MIT */
#include "backend/ice/rng.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

void ice_rng_seed(struct ice_rng *rng, uint64_t seed)
{
        for (int i = 0; i < 4; i++)
                rng->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

uint64_t ice_rng_next(struct ice_rng *rng)
{
        uint64_t *s = rng->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

void ice_rng_bytes(struct ice_rng *rng, void *buf, size_t len)
{
        uint8_t *p = buf;

        while (len > 0) {
                uint64_t v = ice_rng_next(rng);
                size_t take = len < sizeof(v) ? len : sizeof(v);

                memcpy(p, &v, take);
                p += take;
                len -= take;
        }
}
