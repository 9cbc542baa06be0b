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
        uint64_t jitter; /* each datagram up to this much later (reorders) */
        uint64_t seed;
        bool no_relay;
        bool drop_candidates; /* never signal candidates (candidate timeout) */
        bool unreachable;     /* drop every peer-to-peer and relayed datagram (ICE timeout) */
        const char *password; /* the clients' TURN password, default the right one */
};

/* Two ice_links (client controlling, gateway controlled) with fixed credentials. */
struct sim *sim_new(const struct sim_config *cfg);

/* Anything that owns one UDP socket, driven by the simulation instead of ice_links (the
 * tunnel engines' system test).  `after` runs after every input or timeout of that host,
 * for the caller's own event handling (playing the portal, counting). */
struct sim_host_ops {
        bool (*poll_transmit)(void *ctx, struct ice_transmit *ret, uint64_t now);
        void (*input)(void *ctx, const struct ice_addr *local, const struct ice_addr *from,
                      const uint8_t *buf, size_t len, uint64_t now);
        uint64_t (*poll_timeout)(void *ctx);
        void (*handle_timeout)(void *ctx, uint64_t now);
        void (*after)(void *ctx, uint64_t now);
};

#define SIM_RELAY_USERNAME "2145916800:salt"
#define SIM_RELAY_PASSWORD "relay-password"

/* The same network with the caller's hosts; the config's relay/candidate switches
 * (no_relay, drop_candidates, password) do not apply. */
struct sim *sim_new_hosts(const struct sim_config *cfg, const struct sim_host_ops *ops[2], void *ctx[2]);
const struct ice_addr *sim_relay_address(const struct sim *sim);
/* Wakes the simulation after the caller gave a host input outside sim_run (a packet from
 * its TUN): sends whatever the hosts have queued. */
void sim_flush(struct sim *sim);
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
/* Drops every datagram, relayed or not, while on (a network partition). */
void sim_partition(struct sim *sim, bool on);
/* The host moves to another network: a new socket port, its NAT forgets every mapping and
 * maps from other public ports.  What was in flight to the old address is lost. */
void sim_roam(struct sim *sim, int peer);
const struct sim_peer_stats *sim_stats(const struct sim *sim, int peer);
struct sim_turn_server *sim_relay(struct sim *sim);
struct ice_link *sim_link(struct sim *sim, int peer);
