/* SPDX-License-Identifier: MIT */
/*
 * ECN across a tunnel (data-plane spec §4.5, RFC 6040 normal mode): the outer header carries
 * the inner packet's ECN bits on encapsulation; on decapsulation an outer CE mark is copied into
 * an ECN-capable inner packet (ECT(0)/ECT(1) → CE, the IPv4 header checksum fixed).  Never
 * cleared, never ECT(0)↔ECT(1), nothing done to a Not-ECT packet.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
        IO_ECN_NOT_ECT = 0,
        IO_ECN_CE = 3,
};

/* The ECN bits of an IPv4/IPv6 packet; Not-ECT for anything else. */
uint8_t io_ecn_of_packet(const uint8_t *packet, size_t len);
/* Applies the outer ECN of the datagram that carried the packet. */
void io_ecn_decapsulate(uint8_t *packet, size_t len, uint8_t outer);
