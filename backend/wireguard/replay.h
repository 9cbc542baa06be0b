/* SPDX-License-Identifier: MIT */
/*
 * The receive counter's sliding window (RFC 6479): a ring of 64-bit words where whole words are
 * cleared as the window advances, so a jump costs at most one pass over the ring.  The window
 * accepts counters up to WG_REPLAY_WINDOW behind the highest one seen.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum {
        WG_REPLAY_BITS_TOTAL = 8192,
        WG_REPLAY_WORDS = WG_REPLAY_BITS_TOTAL / 64,
        /* One word is always being recycled, so it cannot vouch for old counters. */
        WG_REPLAY_WINDOW = WG_REPLAY_BITS_TOTAL - 64,
};

struct wg_replay {
        uint64_t greatest; /* highest counter accepted so far + 1; 0 = none yet */
        uint64_t bitmap[WG_REPLAY_WORDS];
};

void wg_replay_init(struct wg_replay *r);
/*
 * Checks counter against the window and marks it seen.  Returns false (and changes nothing)
 * for a replay, a counter too old for the window, or one at or above reject_after.
 * Call only after the packet authenticated, so forged counters cannot move the window.
 */
bool wg_replay_check_and_update(struct wg_replay *r, uint64_t counter, uint64_t reject_after);
