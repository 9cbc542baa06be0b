/* SPDX-License-Identifier: MIT */
/*
 * ICE candidates and their SDP attribute form as the portal relays them in `ice_candidates`
 * (RFC 8839 §5.1 grammar without the "a=" prefix), e.g.
 *   "candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay"
 * Component 1 and UDP only (the only kind Firezone uses); the parser ignores the optional
 * extension pairs (raddr/rport/generation/ufrag/…) after "typ", rejects everything malformed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"

#define ICE_FOUNDATION_MAX 32
/* "candidate:" + foundation + fields + two addresses: 160 is ample. */
#define ICE_CANDIDATE_SDP_MAX 192

enum ice_candidate_type {
        ICE_CANDIDATE_HOST,
        ICE_CANDIDATE_SRFLX,
        ICE_CANDIDATE_PRFLX,
        ICE_CANDIDATE_RELAY,
};

struct ice_candidate {
        enum ice_candidate_type type;
        struct ice_addr addr;
        struct ice_addr base; /* host: itself; srflx: the host it maps; relay: itself */
        uint32_t priority;
        char foundation[ICE_FOUNDATION_MAX + 1];
};

/* RFC 8445 §5.1.2.1 with the recommended type preferences and component 1. */
uint32_t ice_candidate_priority(enum ice_candidate_type type, uint8_t family);
/* Fills priority and foundation for a local candidate. */
void ice_candidate_init(struct ice_candidate *c, enum ice_candidate_type type, const struct ice_addr *addr,
                        const struct ice_addr *base);
int ice_candidate_to_sdp(const struct ice_candidate *c, char buf[static ICE_CANDIDATE_SDP_MAX]);
int ice_candidate_from_sdp(struct ice_candidate *ret, const char *sdp);
const char *ice_candidate_type_name(enum ice_candidate_type type);
bool ice_candidate_same(const struct ice_candidate *a, const struct ice_candidate *b);
