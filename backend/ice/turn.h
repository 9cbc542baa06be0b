/* SPDX-License-Identifier: MIT */
/*
 * TURN client for one relay address (RFC 8656), sans-IO, as Firezone's snownet allocation
 * (data-plane spec §3.3): BINDING for the host and server-reflexive candidates, ALLOCATE
 * (dual-stack via ADDITIONAL-ADDRESS-FAMILY) with long-term credentials used exactly as the
 * portal gives them, REFRESH at half the lifetime, keep-alive BINDING every 25 s,
 * CHANNEL-BIND for permissions and ChannelData, retransmission 1 s ×1.5 for up to 8 s.
 *
 * Inputs: turn_client_handle_input() for every datagram from the relay, handle_timeout().
 * Outputs: poll_transmit(), poll_event(), poll_timeout().  All times are nanoseconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"
#include "backend/ice/transmit.h"

#define TURN_REALM_FIREZONE      "firezone"
#define TURN_BINDING_INTERVAL    ICE_S(25)
#define TURN_BACKOFF_INITIAL     ICE_S(1)
#define TURN_BACKOFF_MAX_ELAPSED ICE_S(8)
/* A relay at capacity or quota (508, 486) is asked again this much later. */
#define TURN_CAPACITY_RETRY   ICE_S(30)
#define TURN_CHANNEL_FIRST    0x4000
#define TURN_CHANNEL_LAST     0x4FFF
#define TURN_CHANNEL_LIFETIME ICE_S(600)
#define TURN_CHANNEL_REFRESH  ICE_S(300)
#define TURN_CHANNEL_REUSE    ICE_S(900)
#define TURN_MAX_CHANNELS     128
#define TURN_MAX_TEXT         256

enum turn_event_type {
        TURN_EVENT_HOST_CANDIDATE,  /* addr: our local address the BINDING answer arrived on */
        TURN_EVENT_SRFLX_CANDIDATE, /* addr: XOR-MAPPED-ADDRESS, base: the host address */
        TURN_EVENT_RELAY_CANDIDATE, /* addr: XOR-RELAYED-ADDRESS (one event per family) */
        TURN_EVENT_RELAY_INVALIDATED,
        TURN_EVENT_CHANNEL_BOUND, /* addr: peer, channel */
        TURN_EVENT_ERROR,         /* code (STUN error or 0 for timeouts) and message */
};

struct turn_event {
        enum turn_event_type type;
        struct ice_addr addr, base;
        uint16_t channel;
        uint16_t code;
        char message[128];
};

struct turn_client;

struct turn_client_config {
        struct ice_addr server;
        const char *username;
        const char *password;
        const char *realm;    /* NULL: "firezone" */
        const char *software; /* NULL: "snownet", as Firezone sends */
        bool dual_stack;      /* ask for the other family too (ADDITIONAL-ADDRESS-FAMILY) */
        bool allocate;        /* false: only BINDING (STUN server use) */
        uint64_t seed;
};

/* Receive outcomes */
enum {
        TURN_NOT_OURS = 0,
        TURN_CONSUMED = 1,
        TURN_DATA = 2, /* a ChannelData payload from `peer` */
};

struct turn_client *turn_client_new(const struct turn_client_config *cfg, uint64_t now);
void turn_client_free(struct turn_client *tc);

/* `local` is the address the datagram arrived on (IP_PKTINFO); family 0 when unknown. */
int turn_client_handle_input(struct turn_client *tc, const struct ice_addr *local,
                             const struct ice_addr *from, const uint8_t *buf, size_t len, uint64_t now,
                             struct ice_addr *ret_peer, const uint8_t **ret_payload, size_t *ret_len);
void turn_client_handle_timeout(struct turn_client *tc, uint64_t now);
uint64_t turn_client_poll_timeout(const struct turn_client *tc);
bool turn_client_poll_transmit(struct turn_client *tc, struct ice_transmit *ret);
bool turn_client_poll_event(struct turn_client *tc, struct turn_event *ret);

/* Binds a channel to `peer` (idempotent); the permission comes with it. */
int turn_client_bind_channel(struct turn_client *tc, const struct ice_addr *peer, uint64_t now);
/* Frames `payload` as ChannelData to the relay in `ret` (optimistically on an in-flight
 * channel); -ENOTCONN when no channel exists yet (one is then requested and the caller drops
 * the packet), -ENETDOWN without an allocation. */
int turn_client_encode(struct turn_client *tc, const struct ice_addr *peer, const uint8_t *payload,
                       size_t len, struct ice_transmit *ret, uint64_t now);
/* New credentials for the same relay (the portal rotates them): later requests use them and
 * the allocation stays.  -EINVAL when too long (nothing changes). */
int turn_client_set_credentials(struct turn_client *tc, const char *username, const char *password);
/* Sends a REFRESH now; a lost allocation is then re-created. */
void turn_client_refresh_now(struct turn_client *tc, uint64_t now);
/* After a network change (socket rebound): starts over from BINDING, keeping the
 * credentials, also after a failure; the relay keys allocations by our 3-tuple, so the old
 * one is abandoned. */
void turn_client_reset(struct turn_client *tc, uint64_t now);

bool turn_client_is_allocated(const struct turn_client *tc);
const struct ice_addr *turn_client_server(const struct turn_client *tc);
/* The relayed address of that family, or NULL. */
const struct ice_addr *turn_client_relayed(const struct turn_client *tc, uint8_t family);
