/* SPDX-License-Identifier: MIT */
#include "backend/wireguard/ratelimiter.h"

#include <string.h>

#include <netinet/in.h>
#include <sodium.h>

enum {
        PROBES = 8,
};

static const uint64_t NSEC_PER_SEC = 1000000000ULL;

void wg_ratelimiter_init(struct wg_ratelimiter *rl, uint64_t packets_per_second, uint64_t burst,
                         const uint8_t hash_key[static 16])
{
        memset(rl, 0, sizeof(*rl));
        rl->packets_per_second = packets_per_second ? packets_per_second : 1;
        rl->burst = burst ? burst : 1;
        memcpy(rl->hash_key, hash_key, sizeof(rl->hash_key));
}

static bool make_key(uint8_t key[static 9], const struct sockaddr *addr)
{
        memset(key, 0, 9);
        if (addr->sa_family == AF_INET) {
                key[0] = 4;
                memcpy(key + 1, &((const struct sockaddr_in *)addr)->sin_addr, 4);
                return true;
        }
        if (addr->sa_family == AF_INET6) {
                key[0] = 6;
                memcpy(key + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 8);
                return true;
        }
        return false;
}

bool wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct sockaddr *addr, uint64_t now)
{
        const uint64_t cost = NSEC_PER_SEC / rl->packets_per_second;
        const uint64_t max_tokens = cost * rl->burst;
        struct wg_ratelimiter_entry *victim = NULL;
        uint8_t key[9];
        uint64_t h;

        if (!make_key(key, addr))
                return false;
        crypto_shorthash((uint8_t *)&h, key, sizeof(key), rl->hash_key);
        for (unsigned i = 0; i < PROBES; i++) {
                struct wg_ratelimiter_entry *e = &rl->slots[(h + i) % WG_RATELIMITER_SLOTS];

                if (e->key[0] && memcmp(e->key, key, sizeof(key)) == 0) {
                        uint64_t elapsed = now > e->last_ns ? now - e->last_ns : 0;

                        e->tokens = e->tokens + elapsed > max_tokens ? max_tokens : e->tokens + elapsed;
                        e->last_ns = now;
                        if (e->tokens < cost)
                                return false;
                        e->tokens -= cost;
                        return true;
                }
                /* An entry idle for a second has a full bucket: forgetting it changes nothing. */
                if (!victim && (!e->key[0] || now >= e->last_ns + NSEC_PER_SEC))
                        victim = e;
        }
        if (!victim)
                return false;
        memcpy(victim->key, key, sizeof(key));
        victim->last_ns = now;
        victim->tokens = max_tokens - cost;
        return true;
}
