/* SPDX-License-Identifier: MIT */
/*
 * Two WireGuard devices, A and B, on a simulated wire with simulated time: fixed keys and
 * seeds, so every run (and every fuzz replay of a recorded transcript) is identical.
 * A is 10.10.0.1 inside the tunnel and 192.0.2.1:51820 outside; B is 10.10.0.2 and
 * 192.0.2.2:51821.  No GLib: the fuzz target links it too.
 */
#pragma once

#include <stdio.h>

#include "backend/wireguard/device.h"

enum {
        WG_SIM_MAX_PACKET = 2048,
        WG_SIM_MAX_TUN = 256,
};

struct wg_sim_datagram {
        uint8_t data[WG_SIM_MAX_PACKET];
        size_t len;
        struct wg_endpoint src, dst;
};

struct wg_sim_node {
        struct wg_device *dev;
        struct wg_rng rng;
        struct wg_peer *peer; /* the other node */
        struct wg_endpoint addr;
        uint8_t private_key[32], public_key[32];
        uint8_t tun[WG_SIM_MAX_TUN][WG_SIM_MAX_PACKET];
        size_t tun_len[WG_SIM_MAX_TUN];
        size_t n_tun;
};

struct wg_sim {
        struct wg_sim_node a, b;
        uint64_t now;
        struct wg_sim_datagram *wire;
        size_t n_wire, cap_wire;
        /* Transcript for the fuzz corpus (see fuzz-wireguard.c for the format). */
        FILE *transcript;
        uint64_t transcript_time;
};

/* Transcript operations: the low two bits of each record's first byte. */
enum {
        WG_SIM_OP_DATAGRAM_TO_A = 0,
        WG_SIM_OP_DATAGRAM_TO_B = 1,
        WG_SIM_OP_TUN_TO_A = 2,
        WG_SIM_OP_TUN_TO_B = 3,
        WG_SIM_TIME_UNIT_NS = 50000000, /* the upper six bits count these */
};

/* timing may be NULL.  psk_b may differ from psk_a to test mismatches (NULL = none). */
void wg_sim_init(struct wg_sim *s, const struct wg_timing *timing, const uint8_t *psk_a,
                 const uint8_t *psk_b);
void wg_sim_free(struct wg_sim *s);

/* Moves everything both devices want to send onto the wire. */
void wg_sim_collect(struct wg_sim *s);
/* Delivers the wire's datagrams in order (and whatever they cause) until the wire is empty
 * or max rounds passed; returns the number delivered. */
size_t wg_sim_run(struct wg_sim *s, unsigned max_rounds);
/* Delivers one datagram now (from the caller's copy). */
void wg_sim_deliver(struct wg_sim *s, const struct wg_sim_datagram *d);
/* An IP packet from node's TUN. */
int wg_sim_tun_send(struct wg_sim *s, struct wg_sim_node *node, const uint8_t *packet, size_t len);
void wg_sim_advance(struct wg_sim *s, uint64_t ns);
/* Takes the wire's datagrams out for the caller to drop, reorder or replay. */
size_t wg_sim_take_wire(struct wg_sim *s, struct wg_sim_datagram **ret);

/* A minimal IPv4/UDP packet from src to dst (last octets of 10.10.0.x) carrying tag. */
size_t wg_sim_make_packet(uint8_t *buf, uint8_t src, uint8_t dst, uint32_t tag, size_t payload_len);
uint32_t wg_sim_packet_tag(const uint8_t *packet);

/* Timing profiles a transcript can name: 0 = the protocol's defaults, 1 = short timers with a
 * handshake budget of one per second (cookie path). */
void wg_sim_timing_profile(unsigned profile, struct wg_timing *t);
/* Starts recording to path (KILN_WRITE_CORPUS/name) when KILN_WRITE_CORPUS is set. */
void wg_sim_record_if_asked(struct wg_sim *s, const char *name, unsigned profile);

/* Runs a transcript (profile byte, then records) through a fresh pair through a fresh pair (the fuzz target's body). */
/* Returns how many packets reached either TUN. */
size_t wg_sim_replay_transcript(const uint8_t *data, size_t size);
