/* SPDX-License-Identifier: MIT */
/*
 * Per-source token buckets for handshake messages that already proved their address with a
 * cookie (valid MAC2) while the device is under load.  A fixed table: a flood from many
 * addresses evicts stale entries but never allocates.  IPv6 sources are bucketed by /64.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

enum {
        WG_RATELIMITER_SLOTS = 4096,
};

struct wg_ratelimiter_entry {
        uint8_t key[9]; /* family byte + 4 or 8 address bytes */
        uint64_t last_ns;
        uint64_t tokens; /* in nanoseconds of credit */
};

struct wg_ratelimiter {
        uint64_t packets_per_second;
        uint64_t burst;
        uint8_t hash_key[16];
        struct wg_ratelimiter_entry slots[WG_RATELIMITER_SLOTS];
};

void wg_ratelimiter_init(struct wg_ratelimiter *rl, uint64_t packets_per_second, uint64_t burst,
                         const uint8_t hash_key[static 16]);
/* True when a packet from addr may be processed now (and takes a token). */
bool wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct sockaddr *addr, uint64_t now);
