/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's four message formats (whitepaper §5.4) and the classifier that every received
 * datagram goes through first.  All multi-byte fields are little-endian on the wire.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend/crypto/encoding.h"

enum {
        WG_MSG_INITIATION = 1,
        WG_MSG_RESPONSE = 2,
        WG_MSG_COOKIE = 3,
        WG_MSG_DATA = 4,
};

enum {
        WG_TIMESTAMP_LEN = 12,
        WG_AEAD_TAG_LEN = 16,
        WG_MAC_LEN = 16,
        WG_COOKIE_LEN = 16,
        WG_COOKIE_NONCE_LEN = 24,
        WG_MSG_INITIATION_LEN = 148,
        WG_MSG_RESPONSE_LEN = 92,
        WG_MSG_COOKIE_LEN = 64,
        WG_MSG_DATA_HEADER_LEN = 16,
        WG_MSG_DATA_MIN_LEN = WG_MSG_DATA_HEADER_LEN + WG_AEAD_TAG_LEN,
        /* Type, receiver index, counter and tag: what WireGuard adds to every packet. */
        WG_DATA_OVERHEAD = WG_MSG_DATA_MIN_LEN,
};

struct wg_msg_macs {
        uint8_t mac1[WG_MAC_LEN];
        uint8_t mac2[WG_MAC_LEN];
};

struct wg_msg_initiation {
        uint32_t type;
        uint32_t sender_index;
        uint8_t unencrypted_ephemeral[WG_KEY_LEN];
        uint8_t encrypted_static[WG_KEY_LEN + WG_AEAD_TAG_LEN];
        uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN];
        struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_response {
        uint32_t type;
        uint32_t sender_index;
        uint32_t receiver_index;
        uint8_t unencrypted_ephemeral[WG_KEY_LEN];
        uint8_t encrypted_nothing[WG_AEAD_TAG_LEN];
        struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_cookie {
        uint32_t type;
        uint32_t receiver_index;
        uint8_t nonce[WG_COOKIE_NONCE_LEN];
        uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AEAD_TAG_LEN];
} __attribute__((packed));

struct wg_msg_data_header {
        uint32_t type;
        uint32_t receiver_index;
        uint64_t counter;
} __attribute__((packed));

_Static_assert(sizeof(struct wg_msg_initiation) == WG_MSG_INITIATION_LEN, "initiation size");
_Static_assert(sizeof(struct wg_msg_response) == WG_MSG_RESPONSE_LEN, "response size");
_Static_assert(sizeof(struct wg_msg_cookie) == WG_MSG_COOKIE_LEN, "cookie size");
_Static_assert(sizeof(struct wg_msg_data_header) == WG_MSG_DATA_HEADER_LEN, "data header size");

/*
 * Why a datagram was dropped.  Every drop is counted per reason in the device; the names are
 * stable and appear in logs and in tests.
 */
enum wg_drop_reason {
        WG_DROP_TOO_SHORT = 1, /* non-zero: wg_message_classify() returns -reason */
        WG_DROP_BAD_TYPE,
        WG_DROP_BAD_LENGTH,
        WG_DROP_BAD_MAC1,
        WG_DROP_COOKIE_SENT,
        WG_DROP_RATE_LIMITED,
        WG_DROP_NO_PRIVATE_KEY,
        WG_DROP_BAD_HANDSHAKE,
        WG_DROP_UNKNOWN_PEER,
        WG_DROP_REPLAYED_TIMESTAMP,
        WG_DROP_HANDSHAKE_FLOOD,
        WG_DROP_UNKNOWN_INDEX,
        WG_DROP_BAD_COOKIE,
        WG_DROP_EXPIRED_KEY,
        WG_DROP_BAD_AUTH_TAG,
        WG_DROP_REPLAYED_COUNTER,
        WG_DROP_BAD_INNER_PACKET,
        WG_DROP_ALLOWED_IPS,
        WG_DROP_BUFFER_TOO_SMALL,
        WG_DROP_NO_ROUTE,
        WG_DROP_NO_ENDPOINT,
        WG_DROP_QUEUE_FULL,
        WG_DROP_STAGED_PURGED,
        WG_DROP__MAX,
};

const char *wg_drop_reason_to_string(enum wg_drop_reason reason);

/*
 * The type of a datagram when its length is exactly right for that type (data: at least the
 * header and tag), or -reason (a negative enum wg_drop_reason) otherwise.
 */
int wg_message_classify(const uint8_t *data, size_t len);
