/* SPDX-License-Identifier: MIT */
/*
 * The connection layer under both roles (Firezone's snownet Node, data-plane spec §2, §3):
 * one WireGuard device and, per remote peer (client: one per gateway; gateway: one per
 * client), one ICE link, all on one UDP socket, sans-IO.  It
 *   - demultiplexes every datagram of the socket (§3.4): relay STUN/ChannelData to the
 *     node's TURN clients, peer STUN to the connection whose agent claims it, WireGuard to
 *     the device (which finds the peer by key or session index);
 *   - starts the WireGuard handshake when ICE selects a pair (controlling side, suppressed
 *     for 20 s after the last one) and sends every WireGuard datagram of a peer on its
 *     currently selected pair, direct or relayed, so the endpoint follows path changes;
 *   - keeps WireGuard packets produced before a pair is selected (the responder's answer to
 *     an early initiation) and sends them once one is;
 *   - encapsulates IP packets for a peer (encrypt in place, ChannelData framing on a relayed
 *     path).
 * Relays are a node-wide set (one TURN allocation per relay on the socket, shared by every
 * connection, as a relay keys allocations by our 3-tuple); each connection uses up to two.
 *
 * Drive it like the state machines below it: after any input, drain kiln_node_poll_event()
 * and kiln_node_poll_transmit(); call kiln_node_handle_timeout() at kiln_node_poll_timeout().
 * Times are nanoseconds of one monotonic clock.  GLib-free: it is on the packet path.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/crypto/encoding.h"
#include "backend/ice/link.h"
#include "backend/wireguard/device.h"

#define KILN_NODE_ID_MAX     64
#define KILN_NODE_MAX_RELAYS 16
#define KILN_NODE_MAX_PEERS  1024
#define KILN_NODE_CREDS_MAX  128
/* Firezone: the controlling side re-initiates on (re)nomination at most every 20 s. */
#define KILN_NODE_HANDSHAKE_SUPPRESS ICE_S(20)
/* Firezone's WG_REKEY_ATTEMPT_TIME in ICE mode (must exceed the client ICE timeout). */
#define KILN_NODE_REKEY_ATTEMPT ICE_S(20)
/* Room a caller leaves in front of a packet for the WireGuard and ChannelData headers. */
#define KILN_NODE_HEADROOM (4 + WG_MSG_DATA_HEADER_LEN)

struct kiln_node_relay {
        char id[KILN_NODE_ID_MAX + 1];
        struct ice_addr addr;
        char username[TURN_MAX_TEXT];
        char password[TURN_MAX_TEXT];
};

struct kiln_node_config {
        bool controlling; /* the client; the gateway is controlled and WireGuard responder */
        uint64_t seed;    /* ICE and TURN choices (transaction ids, tie-breakers, channels) */
        /* Tests: WireGuard's keys and indices come from `seed` too.  Otherwise they come from
         * the system RNG (an ephemeral key must never be predictable). */
        bool deterministic;
        /* NULL: a fresh key (from the seed when deterministic). */
        const uint8_t *private_key;
};

struct kiln_node_peer_config {
        const char *peer_id;
        uint8_t public_key[WG_KEY_LEN];
        uint8_t preshared_key[WG_KEY_LEN];
        const char *local_ufrag, *local_pwd;
        const char *remote_ufrag, *remote_pwd;
};

enum kiln_node_event_type {
        KILN_NODE_EVENT_CANDIDATE,             /* signal sdp to peer_id */
        KILN_NODE_EVENT_CANDIDATE_INVALIDATED, /* withdraw sdp */
        KILN_NODE_EVENT_ESTABLISHED,           /* ICE selected a pair and WireGuard has a session */
        KILN_NODE_EVENT_PATH_CHANGED,          /* an established connection moved to another pair */
        KILN_NODE_EVENT_FAILED,                /* the connection is gone (removed from the node) */
};

struct kiln_node_event {
        enum kiln_node_event_type type;
        char peer_id[KILN_NODE_ID_MAX + 1];
        char sdp[ICE_CANDIDATE_SDP_MAX];
        bool via_relay; /* ESTABLISHED, PATH_CHANGED */
        enum ice_candidate_type local_type, remote_type;
        uint64_t time_to_connect; /* ESTABLISHED: connect() → established, ns */
        char reason[96];          /* FAILED */
};

struct kiln_node;

/* NULL on ENOMEM. */
struct kiln_node *kiln_node_new(const struct kiln_node_config *cfg, uint64_t now);
void kiln_node_free(struct kiln_node *node);
void kiln_node_public_key(const struct kiln_node *node, uint8_t ret[static WG_KEY_LEN]);
struct wg_device *kiln_node_device(struct kiln_node *node);

/* Adds a relay, or updates its credentials (same id, same address: the allocation stays).
 * Connections made afterwards may use it; a relay id with a new address replaces the old
 * one for new connections.  -ENOSPC beyond KILN_NODE_MAX_RELAYS. */
int kiln_node_upsert_relay(struct kiln_node *node, const struct kiln_node_relay *relay, uint64_t now);
/* New connections stop using it; connections that use it keep it until they end. */
void kiln_node_remove_relay(struct kiln_node *node, const char *id);
size_t kiln_node_n_relays(const struct kiln_node *node);

/* Creates the connection to peer_id, or replaces one whose key, PSK or ICE credentials
 * differ; an identical one is kept (returns 0 either way, 1 when kept). */
int kiln_node_connect(struct kiln_node *node, const struct kiln_node_peer_config *peer, uint64_t now);
void kiln_node_close(struct kiln_node *node, const char *peer_id);
/* Network change (data-plane spec §2, §3.3): drops every connection (no events), restarts
 * the relays' allocations from BINDING (rebind the socket first) and takes a new WireGuard
 * key: `private_key`, or one from the node's RNG when NULL.  Send the new public key to the
 * portal. */
int kiln_node_reset(struct kiln_node *node, const uint8_t *private_key, uint64_t now);
/* The i-th connection's peer id, NULL past the end. */
const char *kiln_node_peer_at(const struct kiln_node *node, size_t i);
bool kiln_node_has_peer(const struct kiln_node *node, const char *peer_id);
/* A connection to peer->peer_id exists with exactly this key, PSK and ICE credentials. */
bool kiln_node_peer_matches(const struct kiln_node *node, const struct kiln_node_peer_config *peer);
bool kiln_node_is_established(const struct kiln_node *node, const char *peer_id);
size_t kiln_node_n_peers(const struct kiln_node *node);
/* Candidates for a peer not connected yet are kept (up to 64) and applied on connect. */
int kiln_node_add_remote_candidate(struct kiln_node *node, const char *peer_id, const char *sdp,
                                   uint64_t now);
int kiln_node_remove_remote_candidate(struct kiln_node *node, const char *peer_id, const char *sdp,
                                      uint64_t now);

/*
 * A datagram that arrived on `local` from `from`.  Returns 1 with a decrypted IP packet in
 * out[0..*ret_len) from *ret_peer_id (valid until the peer is closed), 0 when consumed
 * (ICE, TURN, a handshake, a keepalive), a negative errno when dropped.
 */
int kiln_node_handle_input(struct kiln_node *node, const struct ice_addr *local, const struct ice_addr *from,
                           const uint8_t *buf, size_t len, uint64_t now, uint8_t *out, size_t cap,
                           size_t *ret_len, const char **ret_peer_id);
/*
 * Encrypts the IP packet for peer_id into ret (framed for the selected path).  1 with a
 * datagram in ret; 0 when WireGuard keeps it until its handshake completes (it comes out of
 * poll_transmit); -ENOTCONN before ICE selected a pair; -ENOENT for an unknown peer.
 * `packet` may sit at ret->data + KILN_NODE_HEADROOM, which saves a copy.
 */
int kiln_node_encapsulate(struct kiln_node *node, const char *peer_id, const uint8_t *packet, size_t len,
                          struct ice_transmit *ret, uint64_t now);

bool kiln_node_poll_transmit(struct kiln_node *node, struct ice_transmit *ret, uint64_t now);
bool kiln_node_poll_event(struct kiln_node *node, struct kiln_node_event *ret);
uint64_t kiln_node_poll_timeout(const struct kiln_node *node);
void kiln_node_handle_timeout(struct kiln_node *node, uint64_t now);
