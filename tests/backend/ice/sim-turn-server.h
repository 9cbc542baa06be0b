/* SPDX-License-Identifier: MIT */
/*
 * A small sans-IO TURN server (RFC 8656 subset) for the simulated network only: BINDING,
 * ALLOCATE with long-term credentials (401 + NONCE, 438 after a nonce rotation, 437 for a
 * second ALLOCATE), REFRESH, CHANNEL-BIND and ChannelData in both directions.  The real-peer
 * tests use coturn; this model exists so that one process can run client, gateway and relay.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"
#include "backend/ice/transmit.h"

struct sim_turn_server;

struct sim_turn_server *sim_turn_server_new(const struct ice_addr *listen, const char *username,
                                            const char *password, const char *realm);
void sim_turn_server_free(struct sim_turn_server *s);
/* `dst` tells whether the datagram reached the listening port or a relayed address. */
void sim_turn_server_input(struct sim_turn_server *s, const struct ice_addr *dst,
                           const struct ice_addr *from, const uint8_t *buf, size_t len);
bool sim_turn_server_poll_transmit(struct sim_turn_server *s, struct ice_transmit *ret);
/* True when `addr` is the server's listen or one of its relayed addresses. */
bool sim_turn_server_owns(const struct sim_turn_server *s, const struct ice_addr *addr);
/* Forgets every allocation and rotates the nonce, like a restarted relay. */
void sim_turn_server_restart(struct sim_turn_server *s);
void sim_turn_server_rotate_nonce(struct sim_turn_server *s);
size_t sim_turn_server_allocations(const struct sim_turn_server *s);
