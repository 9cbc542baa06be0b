/* SPDX-License-Identifier: MIT */
/*
 * One peer's connectivity over one UDP socket: an ICE agent plus the TURN clients of the
 * relays it may use, glued the way Firezone's snownet does (data-plane spec §3.1/§3.3/§3.4).
 * TURN candidates feed the agent; checks from relay candidates and application data on a
 * relayed path go out as ChannelData; received datagrams are demultiplexed into TURN, ICE
 * and application payloads (WireGuard).  The WireGuard connection object sits on top:
 * it hands every datagram of the socket to ice_link_handle_input() and sends through
 * ice_link_send() once ICE_EVENT_SELECTED arrived.
 *
 * The agent runs the configured (active) timing profile and drops to the matching idle one
 * after 20 s without application packets in either direction; any application packet or
 * candidate change makes it active again.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/agent.h"
#include "backend/ice/turn.h"

#define ICE_LINK_MAX_RELAYS 2
/* Firezone's connection_state.rs: idle after 20 s without an application packet. */
#define ICE_LINK_IDLE_AFTER ICE_S(20)

struct ice_link_config {
        struct ice_agent_config agent;
        struct turn_client_config relays[ICE_LINK_MAX_RELAYS];
        size_t n_relays;
};

enum ice_link_event_type {
        ICE_LINK_EVENT_ICE,   /* .ice is an agent event */
        ICE_LINK_EVENT_RELAY, /* .relay is a TURN client event of relay .relay_index */
};

struct ice_link_event {
        enum ice_link_event_type type;
        size_t relay_index;
        struct ice_event ice;
        struct turn_event relay;
};

struct ice_link;

struct ice_link *ice_link_new(const struct ice_link_config *cfg, uint64_t now);
void ice_link_free(struct ice_link *link);

/* Returns 1 when ICE/TURN consumed the datagram, 0 with an application payload in
 * ret_payload/ret_len (pointing into buf) from ret_from, or a negative errno when dropped. */
int ice_link_handle_input(struct ice_link *link, const struct ice_addr *local, const struct ice_addr *from,
                          const uint8_t *buf, size_t len, uint64_t now, struct ice_addr *ret_from,
                          const uint8_t **ret_payload, size_t *ret_len);
/* The hot path for WireGuard: frames `payload` for the selected path straight into `ret`
 * (ChannelData to the relay on a relayed path) without queueing.  `payload` may already sit
 * at ret->data + 4, where the ChannelData header leaves it.  -ENOTCONN before ICE selected
 * a pair, or while the relay channel to the peer is still being bound (packet dropped). */
int ice_link_encode(struct ice_link *link, const uint8_t *payload, size_t len, struct ice_transmit *ret,
                    uint64_t now);
/* ice_link_encode() into the link's own queue (for occasional packets). */
int ice_link_send(struct ice_link *link, const uint8_t *payload, size_t len, uint64_t now);
int ice_link_add_remote_candidate(struct ice_link *link, const char *sdp, uint64_t now);
/* A local candidate not learned from a relay (e.g. a configured host address). */
int ice_link_add_local_candidate(struct ice_link *link, const struct ice_candidate *c, uint64_t now);
int ice_link_remove_remote_candidate(struct ice_link *link, const char *sdp, uint64_t now);
void ice_link_handle_timeout(struct ice_link *link, uint64_t now);
uint64_t ice_link_poll_timeout(const struct ice_link *link);
bool ice_link_poll_transmit(struct ice_link *link, struct ice_transmit *ret);
bool ice_link_poll_event(struct ice_link *link, struct ice_link_event *ret);

bool ice_link_is_idle(const struct ice_link *link);
struct ice_agent *ice_link_agent(struct ice_link *link);
struct turn_client *ice_link_relay(struct ice_link *link, size_t index);
