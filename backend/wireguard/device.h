/* SPDX-License-Identifier: MIT */
/*
 * A sans-IO WireGuard device: Noise_IKpsk2 handshakes, cookies, transport data, timers and
 * cryptokey routing for many peers.  It never reads a clock or touches a socket: every call takes
 * `now` (monotonic nanoseconds, > 0) and the bytes with their addresses, and everything it wants
 * sent is either written to the caller's buffer (the hot path, no allocation) or queued for
 * wg_device_poll_transmit().  The caller drives it like this:
 *
 *     for each datagram d in the batch:   wg_device_receive(dev, now, &d.src, d.buf, d.len, &out)
 *     for each TUN packet p in the batch: wg_device_send(dev, now, p.buf, p.len, &out)
 *     wg_device_tick(dev, now)                      when wg_device_next_timeout() has passed
 *     while (wg_device_poll_transmit(dev, now, &out)) send out.buf to out.endpoint
 *
 * Not thread-safe: one device belongs to one thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "backend/crypto/encoding.h"
#include "backend/wireguard/allowedips.h"
#include "backend/wireguard/messages.h"
#include "backend/wireguard/rng.h"

struct wg_device;
struct wg_peer;

/* The protocol's constants (whitepaper §6); tests shrink them.  All times in nanoseconds. */
struct wg_timing {
        uint64_t rekey_after_messages;
        uint64_t reject_after_messages;
        uint64_t rekey_after_time;
        uint64_t reject_after_time;
        uint64_t rekey_attempt_time;
        uint64_t rekey_timeout;
        uint64_t rekey_timeout_jitter_max;
        uint64_t keepalive_timeout;
        uint64_t cookie_secret_max_age;
        uint64_t cookie_secret_latency;
        /* Handshake messages per second the whole device takes before it is "under load" and
         * answers handshakes without a valid MAC2 with a cookie reply. */
        uint64_t handshakes_per_second;
        /* Once under load: handshakes per second (and burst) per source address. */
        uint64_t handshakes_per_second_per_source;
        uint64_t handshake_burst_per_source;
};

void wg_timing_init_default(struct wg_timing *t);

struct wg_endpoint {
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        };
};

bool wg_endpoint_equal(const struct wg_endpoint *a, const struct wg_endpoint *b);

enum wg_action {
        WG_ACTION_NONE = 0,      /* consumed or dropped; maybe something queued for poll_transmit */
        WG_ACTION_WRITE_TUN = 1, /* out->buf[0..len) is an IP packet for the TUN, from out->peer */
        WG_ACTION_SEND = 2,      /* out->buf[0..len) is a datagram for out->endpoint */
};

/* Caller-owned output: buf/cap are set by the caller, the rest by the device. */
struct wg_out {
        uint8_t *buf;
        size_t cap;
        size_t len;
        struct wg_endpoint endpoint;
        struct wg_peer *peer;
};

typedef void (*wg_log_fn)(void *userdata, const char *message);

/* timing may be NULL for the defaults; rng must outlive the device.  NULL on ENOMEM. */
struct wg_device *wg_device_new(const struct wg_timing *timing, struct wg_rng *rng);
void wg_device_free(struct wg_device *dev);

void wg_device_set_log(struct wg_device *dev, wg_log_fn fn, void *userdata);
/* Wall-clock time = now + offset; used only for TAI64N timestamps and last-handshake times. */
void wg_device_set_wall_clock_offset(struct wg_device *dev, int64_t offset_ns);
/* The TUN MTU, which bounds the padding of data messages (default 1420). */
void wg_device_set_mtu(struct wg_device *dev, unsigned mtu);
/* Off: decrypted packets are not checked against the sender's allowed IPs; the caller sends
 * with wg_peer_send() and filters per peer itself, as Firezone does (data-plane spec §2). */
void wg_device_set_source_check(struct wg_device *dev, bool enabled);

/* An all-zero key removes the identity.  Peers whose public key equals ours are removed, as in wg(8). */
void wg_device_set_private_key(struct wg_device *dev, const uint8_t key[static WG_KEY_LEN]);
/* false when no key is set. */
bool wg_device_get_private_key(const struct wg_device *dev, uint8_t key[static WG_KEY_LEN]);
bool wg_device_get_public_key(const struct wg_device *dev, uint8_t key[static WG_KEY_LEN]);

/* 0, -EEXIST (ret_peer = the existing one) or -ENOMEM. */
int wg_device_add_peer(struct wg_device *dev, const uint8_t public_key[static WG_KEY_LEN],
                       struct wg_peer **ret_peer);
struct wg_peer *wg_device_find_peer(const struct wg_device *dev,
                                    const uint8_t public_key[static WG_KEY_LEN]);
void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer);
void wg_device_remove_all_peers(struct wg_device *dev);
/* Peers in the order they were added. */
struct wg_peer *wg_device_first_peer(const struct wg_device *dev);
struct wg_peer *wg_peer_next(const struct wg_peer *peer);
size_t wg_device_peer_count(const struct wg_device *dev);

const uint8_t *wg_peer_public_key(const struct wg_peer *peer);
void wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[static WG_KEY_LEN]);
void wg_peer_get_preshared_key(const struct wg_peer *peer, uint8_t psk[static WG_KEY_LEN]);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *endpoint);
/* NULL when the peer has none. */
const struct wg_endpoint *wg_peer_endpoint(const struct wg_peer *peer);
/* 0 turns it off.  Turning it on sends a keepalive right away (queued), as the kernel does. */
void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint64_t now, uint16_t seconds);
uint16_t wg_peer_persistent_keepalive(const struct wg_peer *peer);
int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct wg_allowed_ip *ip);
void wg_peer_clear_allowed_ips(struct wg_peer *peer);
int wg_peer_foreach_allowed_ip(const struct wg_peer *peer,
                               int (*fn)(const struct wg_allowed_ip *ip, void *userdata), void *userdata);

struct wg_peer_stats {
        uint64_t rx_bytes;
        uint64_t tx_bytes;
        int64_t last_handshake_ns; /* wall clock, 0 = never */
        bool has_session;          /* a current keypair exists */
};
void wg_peer_get_stats(const struct wg_peer *peer, struct wg_peer_stats *stats);

/* Input: a datagram from src.  Returns enum wg_action (never negative); drops are counted. */
int wg_device_receive(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                      const uint8_t *data, size_t len, struct wg_out *out);
/*
 * Input: an IP packet from the TUN, routed by its destination through the allowed IPs.  Returns
 * WG_ACTION_SEND with the encrypted datagram, or WG_ACTION_NONE (staged until a handshake
 * completes, or dropped and counted).  packet may point at out->buf + WG_MSG_DATA_HEADER_LEN,
 * which saves a copy.  out->cap must hold len + padding + WG_DATA_OVERHEAD.
 */
int wg_device_send(struct wg_device *dev, uint64_t now, const uint8_t *packet, size_t len,
                   struct wg_out *out);
/* The same for a packet whose peer the caller chose. */
int wg_peer_send(struct wg_peer *peer, uint64_t now, const uint8_t *packet, size_t len, struct wg_out *out);
/* Start a handshake now (unless one was sent less than REKEY_TIMEOUT ago). */
void wg_peer_initiate_handshake(struct wg_peer *peer, uint64_t now);

/* Output: the next queued datagram (handshakes, cookies, keepalives, staged data); false when none. */
bool wg_device_poll_transmit(struct wg_device *dev, uint64_t now, struct wg_out *out);
/* Runs every timer that is due. */
void wg_device_tick(struct wg_device *dev, uint64_t now);
/* When wg_device_tick() next has work; UINT64_MAX when never. */
uint64_t wg_device_next_timeout(const struct wg_device *dev);

uint64_t wg_device_drop_count(const struct wg_device *dev, enum wg_drop_reason reason);
