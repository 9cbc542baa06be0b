/* SPDX-License-Identifier: MIT */
/*
 * A deterministic simulated network in one process: two peers (ice_link), each optionally
 * behind a NAT (endpoint-independent or symmetric mapping, port-restricted filtering), a
 * TURN relay model on the public side, per-host one-way latency, random loss from a seed,
 * and a switch that cuts the direct path between the two NATs.  Time is simulated.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend/ice/link.h"
#include "tests/backend/ice/sim-turn-server.h"

enum sim_nat_type {
        SIM_NO_NAT,
        SIM_NAT_EIM,
        SIM_NAT_SYMMETRIC
};

struct sim_peer_stats {
        uint64_t app_received;
        uint64_t transmits;
        uint64_t selected_count;
        bool selected_via_relay;
        enum ice_candidate_type selected_local_type, selected_remote_type;
        uint64_t time_to_connect;
        bool failed;
        char last_error[128];
};

struct sim;

struct sim_config {
        enum sim_nat_type nat[2];
        uint64_t latency[2]; /* one-way, host ↔ Internet */
        uint64_t relay_latency;
        unsigned int loss_percent;
        uint64_t seed;
        bool no_relay;
        bool drop_candidates; /* never signal candidates (candidate timeout) */
        bool unreachable;     /* drop every peer-to-peer and relayed datagram (ICE timeout) */
        const char *password; /* the clients' TURN password, default the right one */
};

struct sim *sim_new(const struct sim_config *cfg);
void sim_free(struct sim *sim);
/* Runs until `until` (simulated ns since start). */
void sim_run(struct sim *sim, uint64_t until);
/* Simulated ns since start */
uint64_t sim_now(const struct sim *sim);
/* The `now` the state machines see */
uint64_t sim_clock(const struct sim *sim);
/* Each peer sends one app datagram on its selected path. */
void sim_send_app(struct sim *sim, int peer);
void sim_cut_direct(struct sim *sim, bool cut);
const struct sim_peer_stats *sim_stats(const struct sim *sim, int peer);
struct sim_turn_server *sim_relay(struct sim *sim);
struct ice_link *sim_link(struct sim *sim, int peer);
