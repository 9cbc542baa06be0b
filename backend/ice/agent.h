/* SPDX-License-Identifier: MIT */
/*
 * ICE agent (RFC 8445, consent freshness RFC 7675) for one peer connection, sans-IO, shaped
 * after what Firezone runs (str0m's agent, data-plane spec §3.1): portal-given ufrag/pwd for
 * both sides, the client controlling and the gateway controlled, role conflicts resolved by
 * tie-breaker (487), all checks paced at once (no Ta), regular nomination by the controlling
 * side, Firezone's timing profiles, trickled and invalidated remote candidates, and
 * peer-reflexive remote candidates learned from checks.
 *
 * Local candidates come from the TURN clients (host, srflx, relay) via
 * ice_agent_add_local_candidate(); host and relay candidates are paired (a srflx candidate
 * only gets signalled, it sends from its host base).  Checks sent from a relay candidate
 * come out of ice_agent_poll_transmit() with src = that relayed address: the caller wraps
 * them in ChannelData to that relay.  Likewise, STUN unwrapped from ChannelData is handed in
 * with local = the relayed address.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/candidate.h"
#include "backend/ice/stun.h"
#include "backend/ice/transmit.h"

#define ICE_MAX_LOCAL          8
#define ICE_MAX_REMOTE         16
#define ICE_CANDIDATE_TIMEOUT  ICE_S(10)
#define ICE_DISCONNECT_TIMEOUT ICE_S(2)
#define ICE_UFRAG_MAX          64
#define ICE_PWD_MAX            128

enum ice_role {
        ICE_CONTROLLING,
        ICE_CONTROLLED
};

enum ice_profile {
        ICE_PROFILE_CLIENT_ACTIVE,
        ICE_PROFILE_CLIENT_IDLE,
        ICE_PROFILE_GATEWAY_ACTIVE,
        ICE_PROFILE_GATEWAY_IDLE,
};

struct ice_timing {
        unsigned int max_retransmits;
        uint64_t initial_rto, max_rto;
};

const struct ice_timing *ice_timing_for(enum ice_profile profile);
/* Resend delay before attempt n+1, n ≥ 1: min(initial_rto·2^(n-1), max_rto). */
uint64_t ice_timing_delay(const struct ice_timing *t, unsigned int n);
/* Σ_{n=2..max} delay(n) + delay(max): how long an unanswered check lives. */
uint64_t ice_timing_timeout(const struct ice_timing *t);

enum ice_state {
        ICE_STATE_CHECKING,
        ICE_STATE_CONNECTED,
        ICE_STATE_DISCONNECTED,
        ICE_STATE_FAILED,
};

enum ice_event_type {
        ICE_EVENT_LOCAL_CANDIDATE,             /* signal `sdp` to the peer */
        ICE_EVENT_LOCAL_CANDIDATE_INVALIDATED, /* withdraw `sdp` */
        ICE_EVENT_SELECTED,                    /* connected, or the path changed: local/remote */
        ICE_EVENT_DISCONNECTED,                /* no usable path; FAILED follows unless one recovers */
        ICE_EVENT_FAILED,
        ICE_EVENT_ROLE_CHANGED,
};

struct ice_event {
        enum ice_event_type type;
        struct ice_candidate local, remote;
        bool via_relay;           /* SELECTED: local is a relayed candidate */
        uint64_t time_to_connect; /* SELECTED: first check sent → this nomination, ns */
        char sdp[ICE_CANDIDATE_SDP_MAX];
        char reason[96];
};

struct ice_agent_config {
        enum ice_role role;
        enum ice_profile profile;
        const char *local_ufrag, *local_pwd;
        const char *remote_ufrag, *remote_pwd;
        uint64_t seed;
};

struct ice_agent;

struct ice_agent *ice_agent_new(const struct ice_agent_config *cfg, uint64_t now);
void ice_agent_free(struct ice_agent *agent);

int ice_agent_add_local_candidate(struct ice_agent *agent, const struct ice_candidate *c, uint64_t now);
int ice_agent_remove_local_candidate(struct ice_agent *agent, const struct ice_addr *addr, uint64_t now);
int ice_agent_add_remote_candidate(struct ice_agent *agent, const struct ice_candidate *c, uint64_t now);
int ice_agent_remove_remote_candidate(struct ice_agent *agent, const struct ice_candidate *c, uint64_t now);

/* Routing (data-plane spec §3.1): requests by the local ufrag in USERNAME, responses by
 * transaction id. */
bool ice_agent_accepts(const struct ice_agent *agent, const struct stun_msg *msg);
/* `local`: the address the datagram arrived on, or the relayed address for STUN that came
 * through a relay channel.  Returns 0 when handled, a negative errno when rejected. */
int ice_agent_handle_stun(struct ice_agent *agent, const struct ice_addr *local, const struct ice_addr *from,
                          const struct stun_msg *msg, uint64_t now);
void ice_agent_handle_timeout(struct ice_agent *agent, uint64_t now);
uint64_t ice_agent_poll_timeout(const struct ice_agent *agent);
bool ice_agent_poll_transmit(struct ice_agent *agent, struct ice_transmit *ret);
bool ice_agent_poll_event(struct ice_agent *agent, struct ice_event *ret);

void ice_agent_set_profile(struct ice_agent *agent, enum ice_profile profile);
enum ice_state ice_agent_state(const struct ice_agent *agent);
enum ice_role ice_agent_role(const struct ice_agent *agent);
/* The nominated pair, if any. */
bool ice_agent_selected(const struct ice_agent *agent, struct ice_candidate *ret_local,
                        struct ice_candidate *ret_remote);
