/* SPDX-License-Identifier: MIT */
/* ICE candidate strings as the portal relays them from a peer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ice/candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ice_candidate c, again;
        char sdp[ICE_CANDIDATE_SDP_MAX];
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        /* Whatever parses prints back to a string that parses to the same candidate. */
        if (ice_candidate_from_sdp(&c, text) == 0) {
                if (ice_candidate_to_sdp(&c, sdp) < 0)
                        abort();
                if (ice_candidate_from_sdp(&again, sdp) != 0)
                        abort();
                if (!ice_candidate_same(&c, &again) || c.priority != again.priority ||
                    strcmp(c.foundation, again.foundation) != 0)
                        abort();
        }
        free(text);
        return 0;
}
