/* SPDX-License-Identifier: MIT */
#include "backend/ice/stun.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/md5.h"
#include "backend/crypto/sha1.h"

static inline uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
        /* Half-byte table: 64 bytes of constants, fast enough for control traffic. */
        static const uint32_t t[16] = {
                0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
                0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
                0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
        };
        uint32_t crc = 0xffffffff;

        for (size_t i = 0; i < len; i++) {
                crc ^= buf[i];
                crc = (crc >> 4) ^ t[crc & 15];
                crc = (crc >> 4) ^ t[crc & 15];
        }
        return crc ^ 0xffffffff;
}

bool stun_looks_like(const uint8_t *buf, size_t len)
{
        return len >= STUN_HEADER_LEN && (buf[0] & 0xc0) == 0 && rd32(buf + 4) == STUN_MAGIC_COOKIE &&
               (rd16(buf + 2) & 3) == 0 && (size_t)rd16(buf + 2) + STUN_HEADER_LEN == len;
}

static int parse_addr(struct ice_addr *ret, const uint8_t *v, size_t len, bool xor, const uint8_t *header)
{
        struct ice_addr a = { 0 };
        size_t alen;

        if (len < 4)
                return -EBADMSG;
        if (v[1] == 0x01) {
                a.family = 4;
                alen = 4;
        } else if (v[1] == 0x02) {
                a.family = 6;
                alen = 16;
        } else {
                return -EAFNOSUPPORT;
        }
        if (len != 4 + alen)
                return -EBADMSG;
        a.port = rd16(v + 2);
        memcpy(a.ip, v + 4, alen);
        if (xor) {
                /* Port and IPv4 are XORed with the cookie; IPv6 with cookie ‖ transaction id. */
                a.port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
                for (size_t i = 0; i < alen; i++)
                        a.ip[i] ^= header[4 + i];
        }
        *ret = a;
        return 0;
}

static int parse_family(uint8_t *ret, const uint8_t *v, size_t len)
{
        if (len != 4)
                return -EBADMSG;
        if (v[0] == 0x01)
                *ret = 4;
        else if (v[0] == 0x02)
                *ret = 6;
        else
                return -EAFNOSUPPORT;
        return 0;
}

static int parse_text(struct stun_text *ret, const uint8_t *v, size_t len)
{
        if (len > STUN_MAX_TEXT_LEN)
                return -EMSGSIZE;
        ret->ptr = (const char *)v;
        ret->len = len;
        return 0;
}

static int parse_u32(uint32_t *ret, const uint8_t *v, size_t len)
{
        if (len != 4)
                return -EBADMSG;
        *ret = rd32(v);
        return 0;
}

static int parse_u64(uint64_t *ret, const uint8_t *v, size_t len)
{
        if (len != 8)
                return -EBADMSG;
        *ret = (uint64_t)rd32(v) << 32 | rd32(v + 4);
        return 0;
}

static int parse_attr(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t len, size_t offset)
{
        const uint8_t *h = m->raw;
        uint32_t u;

        switch (type) {
        case STUN_ATTR_MAPPED_ADDRESS:
                m->present |= STUN_HAS_MAPPED;
                return parse_addr(&m->mapped, v, len, false, h);
        case STUN_ATTR_XOR_MAPPED_ADDRESS:
                m->present |= STUN_HAS_XOR_MAPPED;
                return parse_addr(&m->xor_mapped, v, len, true, h);
        case STUN_ATTR_XOR_PEER_ADDRESS:
                /* Only the first counts (RFC 8656 lets CreatePermission carry several; we never
                 * send those and a peer's extra ones must not overwrite the first). */
                if (m->present & STUN_HAS_XOR_PEER)
                        return 0;
                m->present |= STUN_HAS_XOR_PEER;
                return parse_addr(&m->xor_peer, v, len, true, h);
        case STUN_ATTR_XOR_RELAYED_ADDRESS:
                if (m->n_relayed == 2)
                        return -EBADMSG;
                return parse_addr(&m->xor_relayed[m->n_relayed++], v, len, true, h);
        case STUN_ATTR_USERNAME:
                m->present |= STUN_HAS_USERNAME;
                return parse_text(&m->username, v, len);
        case STUN_ATTR_REALM:
                m->present |= STUN_HAS_REALM;
                return parse_text(&m->realm, v, len);
        case STUN_ATTR_NONCE:
                m->present |= STUN_HAS_NONCE;
                return parse_text(&m->nonce, v, len);
        case STUN_ATTR_SOFTWARE:
                m->present |= STUN_HAS_SOFTWARE;
                return parse_text(&m->software, v, len);
        case STUN_ATTR_ERROR_CODE:
                if (len < 4 || (v[2] & 0xf8) || v[2] < 3 || v[2] > 6 || v[3] > 99)
                        return -EBADMSG;
                m->present |= STUN_HAS_ERROR;
                m->error_code = (uint16_t)(v[2] * 100 + v[3]);
                return parse_text(&m->error_reason, v + 4, len - 4);
        case STUN_ATTR_LIFETIME:
                m->present |= STUN_HAS_LIFETIME;
                return parse_u32(&m->lifetime, v, len);
        case STUN_ATTR_PRIORITY:
                m->present |= STUN_HAS_PRIORITY;
                return parse_u32(&m->priority, v, len);
        case STUN_ATTR_REQUESTED_TRANSPORT:
                if (parse_u32(&u, v, len) < 0)
                        return -EBADMSG;
                m->present |= STUN_HAS_REQUESTED_TRANSPORT;
                m->requested_transport = (uint8_t)(u >> 24);
                return 0;
        case STUN_ATTR_CHANNEL_NUMBER:
                if (parse_u32(&u, v, len) < 0)
                        return -EBADMSG;
                m->present |= STUN_HAS_CHANNEL;
                m->channel = (uint16_t)(u >> 16);
                return 0;
        case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY:
                m->present |= STUN_HAS_ADDITIONAL_FAMILY;
                return parse_family(&m->additional_family, v, len);
        case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
                m->present |= STUN_HAS_REQUESTED_FAMILY;
                return parse_family(&m->requested_family, v, len);
        case STUN_ATTR_USE_CANDIDATE:
                if (len != 0)
                        return -EBADMSG;
                m->present |= STUN_HAS_USE_CANDIDATE;
                return 0;
        case STUN_ATTR_ICE_CONTROLLING:
                m->present |= STUN_HAS_ICE_CONTROLLING;
                return parse_u64(&m->ice_controlling, v, len);
        case STUN_ATTR_ICE_CONTROLLED:
                m->present |= STUN_HAS_ICE_CONTROLLED;
                return parse_u64(&m->ice_controlled, v, len);
        case STUN_ATTR_DATA:
                m->present |= STUN_HAS_DATA;
                m->data = v;
                m->data_len = len;
                return 0;
        case STUN_ATTR_MESSAGE_INTEGRITY:
                if (len != STUN_MI_LEN)
                        return -EBADMSG;
                m->present |= STUN_HAS_MI;
                m->mi_offset = offset;
                return 0;
        case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
                /* RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4. */
                if (len < 16 || len > STUN_MI256_MAX_LEN || len % 4)
                        return -EBADMSG;
                m->present |= STUN_HAS_MI256;
                m->mi256_offset = offset;
                m->mi256_len = len;
                return 0;
        default:
                /* 0x0000–0x7FFF are comprehension-required. */
                if (type < 0x8000 && m->n_unknown < STUN_MAX_UNKNOWN)
                        m->unknown[m->n_unknown++] = type;
                return 0;
        }
}

int stun_parse(struct stun_msg *ret, const uint8_t *buf, size_t len)
{
        struct stun_msg m = { 0 };
        size_t off = STUN_HEADER_LEN;
        uint16_t type;
        int r;

        if (!stun_looks_like(buf, len))
                return -EBADMSG;
        type = rd16(buf);
        m.cls = type & 0x0110;
        m.method = (uint16_t)((type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2));
        memcpy(m.tid, buf + 8, STUN_TID_LEN);
        m.raw = buf;
        m.len = len;

        while (off < len) {
                uint16_t at, alen;

                if (len - off < 4)
                        return -EBADMSG;
                at = rd16(buf + off);
                alen = rd16(buf + off + 2);
                if ((size_t)alen > len - off - 4)
                        return -EBADMSG;
                /* RFC 8489 §14.5/§14.7: nothing but MI-SHA256 and FINGERPRINT may follow
                 * MESSAGE-INTEGRITY, and nothing at all may follow FINGERPRINT. */
                if (m.present & STUN_HAS_FINGERPRINT)
                        return -EBADMSG;
                if ((m.present & STUN_HAS_MI256) && at != STUN_ATTR_FINGERPRINT)
                        return -EBADMSG;
                if ((m.present & STUN_HAS_MI) && at != STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
                    at != STUN_ATTR_FINGERPRINT)
                        return -EBADMSG;
                if (at == STUN_ATTR_FINGERPRINT) {
                        uint8_t hdr[4];
                        uint32_t crc;

                        if (alen != 4 || off + 8 != len)
                                return -EBADMSG;
                        /* The CRC covers the message up to this attribute, with the header's
                         * length already counting the FINGERPRINT, which it does here. */
                        crc = stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR;
                        memcpy(hdr, buf + off + 4, 4);
                        if (rd32(hdr) != crc)
                                return -EBADMSG;
                        m.present |= STUN_HAS_FINGERPRINT;
                } else {
                        r = parse_attr(&m, at, buf + off + 4, alen, off);
                        if (r < 0)
                                return r;
                }
                off += 4 + (((size_t)alen + 3) & ~(size_t)3);
        }
        if (off != len)
                return -EBADMSG;
        *ret = m;
        return 0;
}

bool stun_check_integrity(const struct stun_msg *msg, const uint8_t *key, size_t key_len)
{
        struct hmac_sha1_ctx ctx;
        uint8_t hdr[4], mac[SHA1_DIGEST_LEN];
        bool ok;

        if (!(msg->present & STUN_HAS_MI))
                return false;
        /* The HMAC covers the message up to MESSAGE-INTEGRITY, with the header's length
         * adjusted to end right after it (RFC 8489 §14.5). */
        memcpy(hdr, msg->raw, 2);
        wr16(hdr + 2, (uint16_t)(msg->mi_offset + 4 + STUN_MI_LEN - STUN_HEADER_LEN));
        hmac_sha1_init(&ctx, key, key_len);
        hmac_sha1_update(&ctx, hdr, 4);
        hmac_sha1_update(&ctx, msg->raw + 4, msg->mi_offset - 4);
        hmac_sha1_final(&ctx, mac);
        ok = sodium_memcmp(mac, msg->raw + msg->mi_offset + 4, STUN_MI_LEN) == 0;
        sodium_memzero(mac, sizeof(mac));
        return ok;
}

void stun_long_term_key(uint8_t key[static 16], const char *username, const char *realm,
                        const char *password)
{
        struct md5_ctx ctx;

        md5_init(&ctx);
        md5_update(&ctx, username, strlen(username));
        md5_update(&ctx, ":", 1);
        md5_update(&ctx, realm, strlen(realm));
        md5_update(&ctx, ":", 1);
        md5_update(&ctx, password, strlen(password));
        md5_final(&ctx, key);
}

bool stun_text_eq(const struct stun_text *t, const char *s)
{
        size_t n = strlen(s);

        return t->len == n && memcmp(t->ptr, s, n) == 0;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method, uint16_t cls,
                     const uint8_t tid[static STUN_TID_LEN])
{
        uint16_t type =
            (uint16_t)((method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | cls);

        b->buf = buf;
        b->cap = cap;
        b->len = 0;
        b->err = 0;
        if (cap < STUN_HEADER_LEN) {
                b->err = -ENOBUFS;
                return;
        }
        wr16(buf, type);
        wr16(buf + 2, 0);
        wr32(buf + 4, STUN_MAGIC_COOKIE);
        memcpy(buf + 8, tid, STUN_TID_LEN);
        b->len = STUN_HEADER_LEN;
}

/* Reserves an attribute of `len` value bytes (zero padding included) and returns its value. */
static uint8_t *reserve(struct stun_builder *b, uint16_t type, size_t len)
{
        size_t padded = (len + 3) & ~(size_t)3;
        uint8_t *p;

        if (b->err)
                return NULL;
        if (len > 0xffff || b->cap - b->len < 4 + padded || b->len + 4 + padded - STUN_HEADER_LEN > 0xffff) {
                b->err = -ENOBUFS;
                return NULL;
        }
        p = b->buf + b->len;
        wr16(p, type);
        wr16(p + 2, (uint16_t)len);
        memset(p + 4 + len, 0, padded - len);
        b->len += 4 + padded;
        wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
        return p + 4;
}

void stun_add_bytes(struct stun_builder *b, uint16_t type, const void *data, size_t len)
{
        uint8_t *p = reserve(b, type, len);

        if (p && len)
                memcpy(p, data, len);
}

void stun_add_string(struct stun_builder *b, uint16_t type, const char *s)
{
        size_t n = strlen(s);

        if (n > STUN_MAX_TEXT_LEN) {
                if (!b->err)
                        b->err = -EINVAL;
                return;
        }
        stun_add_bytes(b, type, s, n);
}

void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
        uint8_t *p = reserve(b, type, 4);

        if (p)
                wr32(p, v);
}

void stun_add_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
        uint8_t *p = reserve(b, type, 8);

        if (p) {
                wr32(p, (uint32_t)(v >> 32));
                wr32(p + 4, (uint32_t)v);
        }
}

void stun_add_flag(struct stun_builder *b, uint16_t type)
{
        reserve(b, type, 0);
}

void stun_add_u8_rfu(struct stun_builder *b, uint16_t type, uint8_t v)
{
        uint8_t *p = reserve(b, type, 4);

        if (p) {
                if (type == STUN_ATTR_REQUESTED_TRANSPORT)
                        p[0] = v;
                else
                        p[0] = v == 6 ? 0x02 : 0x01;
                p[1] = p[2] = p[3] = 0;
        }
}

void stun_add_channel(struct stun_builder *b, uint16_t channel)
{
        stun_add_u32(b, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
}

void stun_add_addr(struct stun_builder *b, uint16_t type, const struct ice_addr *addr)
{
        size_t alen = addr->family == 6 ? 16 : 4;
        bool xor = type == STUN_ATTR_XOR_MAPPED_ADDRESS || type == STUN_ATTR_XOR_PEER_ADDRESS ||
                   type == STUN_ATTR_XOR_RELAYED_ADDRESS;
        uint8_t *p;

        if (addr->family != 4 && addr->family != 6) {
                if (!b->err)
                        b->err = -EINVAL;
                return;
        }
        p = reserve(b, type, 4 + alen);
        if (!p)
                return;
        p[0] = 0;
        p[1] = addr->family == 6 ? 0x02 : 0x01;
        wr16(p + 2, xor? addr->port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16) : addr->port);
        for (size_t i = 0; i < alen; i++)
                p[4 + i] = xor? addr->ip[i] ^ b->buf[4 + i] : addr->ip[i];
}

void stun_add_error(struct stun_builder *b, uint16_t code, const char *reason)
{
        size_t n = strlen(reason);
        uint8_t *p;

        if (code < 300 || code > 699 || n > STUN_MAX_TEXT_LEN) {
                if (!b->err)
                        b->err = -EINVAL;
                return;
        }
        p = reserve(b, STUN_ATTR_ERROR_CODE, 4 + n);
        if (!p)
                return;
        p[0] = p[1] = 0;
        p[2] = (uint8_t)(code / 100);
        p[3] = (uint8_t)(code % 100);
        memcpy(p + 4, reason, n);
}

void stun_add_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
        size_t start = b->len;
        uint8_t *p = reserve(b, STUN_ATTR_MESSAGE_INTEGRITY, STUN_MI_LEN);

        if (p)
                hmac_sha1(p, key, key_len, b->buf, start);
}

void stun_add_fingerprint(struct stun_builder *b)
{
        size_t start = b->len;
        uint8_t *p = reserve(b, STUN_ATTR_FINGERPRINT, 4);

        if (p)
                wr32(p, stun_crc32(b->buf, start) ^ STUN_FINGERPRINT_XOR);
}

int stun_build_finish(struct stun_builder *b)
{
        return b->err ? b->err : (int)b->len;
}
