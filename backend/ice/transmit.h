/* SPDX-License-Identifier: MIT */
/* Datagrams the ICE/TURN state machines want sent, queued until the IO shell polls them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"

/* Firezone never sends a UDP payload above 1316 bytes (+4 relayed); STUN stays far below. */
#define ICE_MAX_DATAGRAM 1600
#define ICE_TXQ_LEN      64

#define ICE_MS(x)        ((uint64_t)(x)*1000000ULL)
#define ICE_S(x)         ((uint64_t)(x)*1000000000ULL)
#define ICE_NEVER        UINT64_MAX

struct ice_transmit {
        struct ice_addr src; /* family 0: whichever local address the socket picks */
        struct ice_addr dst;
        size_t len;
        uint8_t data[ICE_MAX_DATAGRAM];
};

/* A ring of datagrams sized per owner: every connection has three of them, so their size
 * is what a connection costs in memory. */
struct ice_txq {
        struct ice_transmit *items;
        size_t cap, head, count;
        uint64_t dropped;
};

int ice_txq_init(struct ice_txq *q, size_t cap);
void ice_txq_release(struct ice_txq *q);
/* Returns the slot to fill (len 0), or NULL when the queue is full (the datagram is counted
 * as dropped: these are control messages, retransmission recovers them). */
struct ice_transmit *ice_txq_push(struct ice_txq *q);
bool ice_txq_pop(struct ice_txq *q, struct ice_transmit *ret);
size_t ice_txq_space(const struct ice_txq *q);
