/* SPDX-License-Identifier: MIT */
/*
 * Which layer a datagram on the shared UDP socket belongs to (Firezone's Node::decapsulate,
 * data-plane spec §3.4).  Only datagrams from port 3478 can be relay traffic; a STUN message
 * from 3478 that no allocation claims must still be offered to the ICE agents (a peer's NAT
 * may have mapped it to 3478), and anything else goes to WireGuard, whose type bytes 1–3
 * overlap the STUN range; the port gate plus a full STUN decode tell them apart.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"

#define ICE_RELAY_PORT 3478

enum ice_demux_kind {
        ICE_DEMUX_RELAY_STUN,         /* STUN from port 3478: offer to the allocation of `from` first */
        ICE_DEMUX_RELAY_CHANNEL_DATA, /* ChannelData from port 3478: unwrap with that allocation */
        ICE_DEMUX_PEER_STUN,          /* STUN from a peer: the ICE agent (by ufrag or transaction id) */
        ICE_DEMUX_OTHER,              /* everything else: WireGuard */
};

enum ice_demux_kind ice_demux_classify(const struct ice_addr *from, const uint8_t *buf, size_t len);
