/* SPDX-License-Identifier: MIT */
/*
 * MAC1/MAC2 and cookie replies (whitepaper §5.4.4, §5.4.7): MAC1 proves the sender knows our
 * public key; under load MAC2 proves it can receive at its source address, because it holds
 * a cookie we encrypted to it.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/blake2s.h"
#include "backend/wireguard/device-private.h"

static void mac(uint8_t out[static WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *msg,
                size_t len)
{
        blake2s(out, WG_MAC_LEN, msg, len, key, keylen);
}

static size_t mac1_offset(size_t len)
{
        return len - sizeof(struct wg_msg_macs);
}

static size_t mac2_offset(size_t len)
{
        return len - WG_MAC_LEN;
}

void wg_cookie_add_macs(struct wg_peer *peer, uint64_t now, void *msg, size_t len)
{
        const struct wg_timing *t = &peer->dev->timing;
        struct wg_msg_macs *macs = (struct wg_msg_macs *)((uint8_t *)msg + mac1_offset(len));

        mac(macs->mac1, peer->mac1_key, WG_KEY_LEN, msg, mac1_offset(len));
        memcpy(peer->last_mac1, macs->mac1, WG_MAC_LEN);
        peer->have_sent_mac1 = true;
        if (peer->have_cookie &&
            peer->cookie_birth + t->cookie_secret_max_age - t->cookie_secret_latency > now)
                mac(macs->mac2, peer->cookie, WG_COOKIE_LEN, msg, mac2_offset(len));
        else
                memset(macs->mac2, 0, WG_MAC_LEN);
}

bool wg_cookie_check_mac1(const struct wg_device *dev, const void *msg, size_t len)
{
        uint8_t computed[WG_MAC_LEN];

        mac(computed, dev->mac1_key, WG_KEY_LEN, msg, mac1_offset(len));
        return sodium_memcmp(computed, (const uint8_t *)msg + mac1_offset(len), WG_MAC_LEN) == 0;
}

/* The cookie for a source address: MAC(secret, ip ‖ port), with a secret that rotates. */
static void make_cookie(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                        uint8_t cookie[static WG_COOKIE_LEN])
{
        struct blake2s_state s;

        if (!dev->have_cookie_secret ||
            dev->cookie_secret_birth + dev->timing.cookie_secret_max_age <= now) {
                wg_rng_fill(dev->rng, dev->cookie_secret, sizeof(dev->cookie_secret));
                dev->cookie_secret_birth = now;
                dev->have_cookie_secret = true;
        }
        blake2s_init_key(&s, WG_COOKIE_LEN, dev->cookie_secret, sizeof(dev->cookie_secret));
        if (src->sa.sa_family == AF_INET) {
                blake2s_update(&s, &src->in4.sin_addr, 4);
                blake2s_update(&s, &src->in4.sin_port, 2);
        } else {
                blake2s_update(&s, &src->in6.sin6_addr, 16);
                blake2s_update(&s, &src->in6.sin6_port, 2);
        }
        blake2s_final(&s, cookie);
}

bool wg_cookie_check_mac2(struct wg_device *dev, uint64_t now, const void *msg, size_t len,
                          const struct wg_endpoint *src)
{
        uint8_t cookie[WG_COOKIE_LEN], computed[WG_MAC_LEN];
        bool ok;

        make_cookie(dev, now, src, cookie);
        mac(computed, cookie, WG_COOKIE_LEN, msg, mac2_offset(len));
        ok = sodium_memcmp(computed, (const uint8_t *)msg + mac2_offset(len), WG_MAC_LEN) == 0;
        sodium_memzero(cookie, sizeof(cookie));
        return ok;
}

void wg_cookie_create_reply(struct wg_device *dev, uint64_t now, const void *msg, size_t len,
                            uint32_t sender_index, const struct wg_endpoint *src,
                            struct wg_msg_cookie *reply)
{
        const uint8_t *mac1 = (const uint8_t *)msg + mac1_offset(len);
        uint8_t cookie[WG_COOKIE_LEN];

        reply->type = htole32(WG_MSG_COOKIE);
        reply->receiver_index = sender_index;
        wg_rng_fill(dev->rng, reply->nonce, sizeof(reply->nonce));
        make_cookie(dev, now, src, cookie);
        crypto_aead_xchacha20poly1305_ietf_encrypt(reply->encrypted_cookie, NULL, cookie, sizeof(cookie),
                                                   mac1, WG_MAC_LEN, NULL, reply->nonce, dev->cookie_key);
        sodium_memzero(cookie, sizeof(cookie));
}

int wg_cookie_consume_reply(struct wg_device *dev, uint64_t now, const struct wg_msg_cookie *reply)
{
        struct wg_index_entry *entry;
        struct wg_peer *peer;
        uint8_t cookie[WG_COOKIE_LEN];

        entry = wg_index_lookup(dev, le32toh(reply->receiver_index), WG_INDEX_HANDSHAKE | WG_INDEX_KEYPAIR);
        if (!entry)
                return -WG_DROP_UNKNOWN_INDEX;
        peer = entry->peer;
        if (!peer->have_sent_mac1)
                return -WG_DROP_BAD_COOKIE;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, reply->encrypted_cookie,
                                                       sizeof(reply->encrypted_cookie), peer->last_mac1,
                                                       WG_MAC_LEN, reply->nonce, peer->cookie_key) != 0)
                return -WG_DROP_BAD_COOKIE;
        memcpy(peer->cookie, cookie, sizeof(cookie));
        peer->cookie_birth = now;
        peer->have_cookie = true;
        peer->have_sent_mac1 = false;
        sodium_memzero(cookie, sizeof(cookie));
        return 0;
}
