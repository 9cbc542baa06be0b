/* SPDX-License-Identifier: MIT */
#include "backend/wireguard/replay.h"

#include <string.h>

void wg_replay_init(struct wg_replay *r)
{
        memset(r, 0, sizeof(*r));
}

bool wg_replay_check_and_update(struct wg_replay *r, uint64_t counter, uint64_t reject_after)
{
        uint64_t index, index_current, top;

        if (counter >= reject_after)
                return false;
        top = counter + 1;
        if (r->greatest >= WG_REPLAY_WINDOW && counter < r->greatest - WG_REPLAY_WINDOW)
                return false;

        index = counter >> 6;
        if (top > r->greatest) {
                uint64_t diff;

                index_current = r->greatest == 0 ? 0 : (r->greatest - 1) >> 6;
                diff = index - index_current;
                if (r->greatest == 0)
                        diff = WG_REPLAY_WORDS;
                if (diff >= WG_REPLAY_WORDS) {
                        memset(r->bitmap, 0, sizeof(r->bitmap));
                } else {
                        for (uint64_t i = 1; i <= diff; i++)
                                r->bitmap[(index_current + i) % WG_REPLAY_WORDS] = 0;
                }
                r->greatest = top;
        }
        index %= WG_REPLAY_WORDS;
        if (r->bitmap[index] & (1ULL << (counter & 63)))
                return false;
        r->bitmap[index] |= 1ULL << (counter & 63);
        return true;
}
