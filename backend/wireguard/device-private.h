/* SPDX-License-Identifier: MIT */
/* The device's internals, shared by device.c, noise.c, cookie.c, packet.c and timers.c. */
#pragma once

#include "backend/wireguard/device.h"
#include "backend/wireguard/ratelimiter.h"
#include "backend/wireguard/replay.h"

enum {
        WG_INDEX_BUCKETS = 4096,
        WG_PEER_BUCKETS = 1024,
        WG_MAX_STAGED = 128,
        WG_CONTROL_SLOTS = 256,
        WG_CONTROL_MAX_LEN = WG_MSG_INITIATION_LEN,
};

#define WG_NSEC_PER_SEC 1000000000ULL
/* Initiations per second and peer a responder accepts; timestamps are rounded to match. */
#define WG_INITIATIONS_PER_SECOND 50

enum wg_index_kind {
        WG_INDEX_HANDSHAKE = 1,
        WG_INDEX_KEYPAIR = 2,
};

struct wg_index_entry {
        struct wg_index_entry *next;
        struct wg_peer *peer;
        uint32_t index;
        uint8_t kind;
        bool hashed;
};

struct wg_keypair {
        struct wg_index_entry entry; /* our index: what the peer puts in data messages to us */
        uint32_t remote_index;
        bool i_am_initiator;
        uint64_t birth;
        uint64_t send_counter;
        uint8_t send_key[WG_KEY_LEN];
        uint8_t recv_key[WG_KEY_LEN];
        struct wg_replay replay;
};

enum wg_handshake_state {
        WG_HS_ZEROED,
        WG_HS_CREATED_INITIATION,
        WG_HS_CONSUMED_INITIATION,
        WG_HS_CREATED_RESPONSE,
        WG_HS_CONSUMED_RESPONSE,
};

struct wg_handshake {
        struct wg_index_entry entry;
        enum wg_handshake_state state;
        uint32_t remote_index;
        uint8_t ephemeral_private[WG_KEY_LEN];
        uint8_t remote_ephemeral[WG_KEY_LEN];
        uint8_t hash[WG_KEY_LEN];
        uint8_t chaining_key[WG_KEY_LEN];
        uint8_t latest_timestamp[WG_TIMESTAMP_LEN];
};

struct wg_staged {
        uint8_t *data;
        size_t len;
};

struct wg_peer {
        struct wg_device *dev;
        struct wg_peer *list_prev, *list_next, *hash_next;

        uint8_t public_key[WG_KEY_LEN];
        uint8_t preshared_key[WG_KEY_LEN];
        uint8_t static_static[WG_KEY_LEN]; /* DH(our static, their static) */
        bool static_static_valid;

        struct wg_handshake handshake;
        struct wg_keypair *current, *previous, *next;

        struct wg_endpoint endpoint;
        bool has_endpoint;
        uint16_t persistent_keepalive;

        /* Cookie maker (whitepaper §5.4.4). */
        uint8_t mac1_key[WG_KEY_LEN];
        uint8_t cookie_key[WG_KEY_LEN];
        uint8_t cookie[WG_COOKIE_LEN];
        uint64_t cookie_birth;
        bool have_cookie;
        uint8_t last_mac1[WG_MAC_LEN];
        bool have_sent_mac1;

        /* Timer deadlines, 0 = not armed. */
        uint64_t timer_retransmit_handshake;
        uint64_t timer_send_keepalive;
        uint64_t timer_new_handshake;
        uint64_t timer_zero_key_material;
        uint64_t timer_persistent_keepalive;
        unsigned handshake_attempts;
        bool need_another_keepalive;
        bool sent_lastminute_handshake;
        bool sent_handshake;
        uint64_t last_sent_handshake;
        bool consumed_initiation;
        uint64_t last_initiation_consumption;

        uint64_t rx_bytes, tx_bytes;
        int64_t last_handshake_ns;

        struct wg_staged staged[WG_MAX_STAGED];
        unsigned staged_head, staged_count;
        bool flush_pending;
        struct wg_peer *flush_next;
};

struct wg_control {
        uint8_t data[WG_CONTROL_MAX_LEN];
        size_t len;
        struct wg_endpoint endpoint;
        struct wg_peer *peer;
};

struct wg_device {
        struct wg_timing timing;
        struct wg_rng *rng;
        wg_log_fn log;
        void *log_userdata;
        int64_t wall_offset;
        unsigned mtu;

        bool has_identity;
        uint8_t static_private[WG_KEY_LEN];
        uint8_t static_public[WG_KEY_LEN];
        uint8_t mac1_key[WG_KEY_LEN];   /* HASH(LABEL_MAC1 ‖ our public key) */
        uint8_t cookie_key[WG_KEY_LEN]; /* HASH(LABEL_COOKIE ‖ our public key) */

        /* Cookie checker. */
        uint8_t cookie_secret[WG_KEY_LEN];
        uint64_t cookie_secret_birth;
        bool have_cookie_secret;

        /* Load detection: handshake messages counted per one-second window. */
        uint64_t load_window_start;
        uint64_t load_count;
        uint64_t under_load_until;
        struct wg_ratelimiter ratelimiter;

        struct wg_index_entry *index_buckets[WG_INDEX_BUCKETS];
        struct wg_peer *peer_buckets[WG_PEER_BUCKETS];
        uint8_t peer_hash_key[16];
        struct wg_peer *peers_head, *peers_tail;
        size_t n_peers;
        struct wg_allowedips allowedips;
        bool skip_source_check;

        struct wg_control control[WG_CONTROL_SLOTS];
        unsigned control_head, control_count;
        struct wg_peer *flush_head;

        uint64_t drops[WG_DROP__MAX];
        bool drop_logged[WG_DROP__MAX];
};

/* device.c */
void wg_device_drop(struct wg_device *dev, enum wg_drop_reason reason);
int wg_index_insert(struct wg_device *dev, struct wg_index_entry *entry, struct wg_peer *peer, uint8_t kind);
/* new takes over old's index and place in the table. */
void wg_index_replace(struct wg_device *dev, struct wg_index_entry *old, struct wg_index_entry *new_entry,
                      uint8_t kind);
void wg_index_remove(struct wg_device *dev, struct wg_index_entry *entry);
struct wg_index_entry *wg_index_lookup(const struct wg_device *dev, uint32_t index, uint8_t kinds);
struct wg_peer *wg_device_lookup_peer(const struct wg_device *dev,
                                      const uint8_t public_key[static WG_KEY_LEN]);
void wg_keypair_free(struct wg_device *dev, struct wg_keypair *kp);
void wg_peer_clear_keypairs(struct wg_peer *peer);
void wg_handshake_clear(struct wg_peer *peer);
uint64_t wg_device_jitter(struct wg_device *dev);
int64_t wg_device_wall_time(const struct wg_device *dev, uint64_t now);
bool wg_device_queue_control(struct wg_device *dev, const void *data, size_t len,
                             const struct wg_endpoint *endpoint, struct wg_peer *peer);

/* noise.c */
void wg_noise_device_keys_changed(struct wg_device *dev);
void wg_noise_peer_keys_changed(struct wg_peer *peer);
int wg_noise_create_initiation(struct wg_peer *peer, uint64_t now, struct wg_msg_initiation *msg);
struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev, uint64_t now,
                                            const struct wg_msg_initiation *msg);
int wg_noise_create_response(struct wg_peer *peer, struct wg_msg_response *msg);
struct wg_peer *wg_noise_consume_response(struct wg_device *dev, const struct wg_msg_response *msg);
/* Derives the transport keys from a completed handshake and installs them (rotation rules). */
int wg_noise_begin_session(struct wg_peer *peer, uint64_t now);
bool wg_keypair_usable(const struct wg_device *dev, const struct wg_keypair *kp, uint64_t now);

/* cookie.c */
void wg_cookie_add_macs(struct wg_peer *peer, uint64_t now, void *msg, size_t len);
bool wg_cookie_check_mac1(const struct wg_device *dev, const void *msg, size_t len);
bool wg_cookie_check_mac2(struct wg_device *dev, uint64_t now, const void *msg, size_t len,
                          const struct wg_endpoint *src);
void wg_cookie_create_reply(struct wg_device *dev, uint64_t now, const void *msg, size_t len,
                            uint32_t sender_index, const struct wg_endpoint *src,
                            struct wg_msg_cookie *reply);
int wg_cookie_consume_reply(struct wg_device *dev, uint64_t now, const struct wg_msg_cookie *reply);

/* packet.c */
void wg_peer_send_initiation(struct wg_peer *peer, uint64_t now, bool is_retry);
void wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now);
void wg_peer_request_flush(struct wg_peer *peer);
void wg_peer_purge_staged(struct wg_peer *peer);

/* timers.c */
void wg_timers_data_sent(struct wg_peer *peer, uint64_t now);
void wg_timers_data_received(struct wg_peer *peer, uint64_t now);
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer);
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now);
void wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now);
void wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now);
void wg_timers_session_derived(struct wg_peer *peer, uint64_t now);
