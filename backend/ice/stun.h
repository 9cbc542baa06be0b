/* SPDX-License-Identifier: MIT */
/*
 * STUN messages (RFC 8489) with the attributes ICE (RFC 8445) and TURN (RFC 8656) use.
 * The parser never allocates: string and byte attributes point into the caller's buffer.
 * It rejects, with a negative errno and no partial result, anything that is not a well-formed
 * STUN message: bad header, lengths that overrun, attributes after FINGERPRINT, anything but
 * MESSAGE-INTEGRITY-SHA256/FINGERPRINT after MESSAGE-INTEGRITY, a wrong FINGERPRINT.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/ice/addr.h"

#define STUN_HEADER_LEN      20
#define STUN_MAGIC_COOKIE    0x2112A442u
#define STUN_TID_LEN         12
#define STUN_FINGERPRINT_XOR 0x5354554Eu
#define STUN_MI_LEN          20
#define STUN_MI256_MAX_LEN   32
/* Limits on what a peer may send us: RFC 8489 §14 caps these at 763 (USERNAME/REALM/NONCE
 * value bytes) and 763 SOFTWARE bytes; DATA is bounded by the datagram. */
#define STUN_MAX_TEXT_LEN 763
#define STUN_MAX_UNKNOWN  8

/* Classes are encoded in bits 4 and 8 of the type. */
enum stun_class {
        STUN_REQUEST = 0x0000,
        STUN_INDICATION = 0x0010,
        STUN_SUCCESS = 0x0100,
        STUN_ERROR = 0x0110,
};

enum stun_method {
        STUN_BINDING = 0x001,
        STUN_ALLOCATE = 0x003,
        STUN_REFRESH = 0x004,
        STUN_SEND = 0x006,
        STUN_DATA = 0x007,
        STUN_CREATE_PERMISSION = 0x008,
        STUN_CHANNEL_BIND = 0x009,
};

enum stun_attr_type {
        STUN_ATTR_MAPPED_ADDRESS = 0x0001,
        STUN_ATTR_USERNAME = 0x0006,
        STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
        STUN_ATTR_ERROR_CODE = 0x0009,
        STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
        STUN_ATTR_CHANNEL_NUMBER = 0x000C,
        STUN_ATTR_LIFETIME = 0x000D,
        STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
        STUN_ATTR_DATA = 0x0013,
        STUN_ATTR_REALM = 0x0014,
        STUN_ATTR_NONCE = 0x0015,
        STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
        STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
        STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
        STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
        STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
        STUN_ATTR_PRIORITY = 0x0024,
        STUN_ATTR_USE_CANDIDATE = 0x0025,
        STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
        STUN_ATTR_SOFTWARE = 0x8022,
        STUN_ATTR_FINGERPRINT = 0x8028,
        STUN_ATTR_ICE_CONTROLLED = 0x8029,
        STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* Bits of stun_msg.present */
enum {
        STUN_HAS_MAPPED = 1u << 0,
        STUN_HAS_XOR_MAPPED = 1u << 1,
        STUN_HAS_USERNAME = 1u << 2,
        STUN_HAS_MI = 1u << 3,
        STUN_HAS_MI256 = 1u << 4,
        STUN_HAS_FINGERPRINT = 1u << 5,
        STUN_HAS_ERROR = 1u << 6,
        STUN_HAS_REALM = 1u << 7,
        STUN_HAS_NONCE = 1u << 8,
        STUN_HAS_LIFETIME = 1u << 9,
        STUN_HAS_REQUESTED_TRANSPORT = 1u << 10,
        STUN_HAS_XOR_PEER = 1u << 11,
        STUN_HAS_CHANNEL = 1u << 12,
        STUN_HAS_PRIORITY = 1u << 13,
        STUN_HAS_USE_CANDIDATE = 1u << 14,
        STUN_HAS_ICE_CONTROLLING = 1u << 15,
        STUN_HAS_ICE_CONTROLLED = 1u << 16,
        STUN_HAS_SOFTWARE = 1u << 17,
        STUN_HAS_DATA = 1u << 18,
        STUN_HAS_ADDITIONAL_FAMILY = 1u << 19,
        STUN_HAS_REQUESTED_FAMILY = 1u << 20,
};

struct stun_text {
        const char *ptr; /* into the message, not NUL-terminated */
        size_t len;
};

struct stun_msg {
        uint16_t method;
        uint16_t cls;
        uint8_t tid[STUN_TID_LEN];
        const uint8_t *raw; /* the whole message */
        size_t len;
        uint32_t present;

        struct ice_addr mapped, xor_mapped, xor_peer;
        struct ice_addr xor_relayed[2];
        size_t n_relayed;
        struct stun_text username, realm, nonce, software, error_reason;
        uint16_t error_code; /* 300..699 */
        uint32_t lifetime, priority;
        uint8_t requested_transport, additional_family, requested_family; /* family: 4 or 6 */
        uint16_t channel;
        uint64_t ice_controlling, ice_controlled;
        const uint8_t *data;
        size_t data_len;

        size_t mi_offset; /* offset of the MESSAGE-INTEGRITY attribute header */
        size_t mi256_offset, mi256_len;
        /* comprehension-required attributes we do not understand (for a 420 answer) */
        uint16_t unknown[STUN_MAX_UNKNOWN];
        size_t n_unknown;
};

/* Cheap first test (RFC 8489 §6/§7): top bits zero, length multiple of 4, magic cookie. */
bool stun_looks_like(const uint8_t *buf, size_t len);
int stun_parse(struct stun_msg *ret, const uint8_t *buf, size_t len);
/* Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key`; false when absent or wrong. */
bool stun_check_integrity(const struct stun_msg *msg, const uint8_t *key, size_t key_len);
/* The long-term credential key MD5(username ":" realm ":" password) (RFC 8489 §9.2.2). */
void stun_long_term_key(uint8_t key[static 16], const char *username, const char *realm,
                        const char *password);
uint32_t stun_crc32(const uint8_t *buf, size_t len);
bool stun_text_eq(const struct stun_text *t, const char *s);

/* Builder: attributes are appended in call order; errors stick until stun_build_finish(). */
struct stun_builder {
        uint8_t *buf;
        size_t cap;
        size_t len;
        int err;
};

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint16_t cls,
                     const uint8_t tid[static STUN_TID_LEN]);
void stun_add_bytes(struct stun_builder *b, uint16_t type, const void *data, size_t len);
void stun_add_string(struct stun_builder *b, uint16_t type, const char *s);
void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_add_u64(struct stun_builder *b, uint16_t type, uint64_t v);
void stun_add_flag(struct stun_builder *b, uint16_t type);
/* XOR-* attributes when `type` is one of the XOR types, plain MAPPED-ADDRESS otherwise. */
void stun_add_addr(struct stun_builder *b, uint16_t type, const struct ice_addr *addr);
void stun_add_error(struct stun_builder *b, uint16_t code, const char *reason);
/* REQUESTED-TRANSPORT / ADDITIONAL-ADDRESS-FAMILY / REQUESTED-ADDRESS-FAMILY carry one byte. */
void stun_add_u8_rfu(struct stun_builder *b, uint16_t type, uint8_t v);
void stun_add_channel(struct stun_builder *b, uint16_t channel);
void stun_add_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len);
void stun_add_fingerprint(struct stun_builder *b);
/* Returns the message length or the first error (-ENOBUFS, -EINVAL). */
int stun_build_finish(struct stun_builder *b);
