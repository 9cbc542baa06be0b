/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2 as WireGuard instantiates it (whitepaper §5.4.2–5.4.5).  Every consume function
 * computes into locals and commits to the peer's handshake only once everything verified, so a
 * bad message changes nothing.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/blake2s.h"
#include "backend/crypto/keys.h"
#include "backend/wireguard/device-private.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

static void hash2(uint8_t out[static 32], const void *a, size_t alen, const void *b, size_t blen)
{
        struct blake2s_state s;

        blake2s_init(&s, BLAKE2S_HASH_SIZE);
        blake2s_update(&s, a, alen);
        blake2s_update(&s, b, blen);
        blake2s_final(&s, out);
}

static void mix_hash(uint8_t hash[static 32], const void *data, size_t len)
{
        hash2(hash, hash, 32, data, len);
}

/* The initial chaining key and hash for a handshake whose responder has public key pub. */
static void handshake_init_state(uint8_t ck[static 32], uint8_t hash[static 32],
                                 const uint8_t pub[static 32])
{
        blake2s(ck, 32, CONSTRUCTION, strlen(CONSTRUCTION), NULL, 0);
        hash2(hash, ck, 32, IDENTIFIER, strlen(IDENTIFIER));
        mix_hash(hash, pub, 32);
}

/* (ck, key) = KDF2(ck, DH(priv, pub)); fails on a low-order point. */
static int mix_dh(uint8_t ck[static 32], uint8_t *key, const uint8_t priv[static 32],
                  const uint8_t pub[static 32])
{
        uint8_t shared[32];

        if (curve25519(shared, priv, pub) < 0)
                return -EINVAL;
        wg_kdf(ck, key, NULL, shared, sizeof(shared), ck);
        sodium_memzero(shared, sizeof(shared));
        return 0;
}

static void aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[static 32],
                         const uint8_t hash[static 32])
{
        uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };

        crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, hash, 32, NULL, nonce, key);
}

static int aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[static 32],
                        const uint8_t hash[static 32])
{
        uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };

        if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len, hash, 32, nonce, key) != 0)
                return -EBADMSG;
        return 0;
}

static void tai64n(uint8_t out[static WG_TIMESTAMP_LEN], int64_t wall_ns)
{
        /* Rounding the nanoseconds hides precise timing and matches the responder's rate limit. */
        const uint64_t granularity = 1ULL << 24;
        uint64_t secs, nsec;

        if (wall_ns < 0)
                wall_ns = 0;
        secs = (uint64_t)wall_ns / WG_NSEC_PER_SEC;
        nsec = (uint64_t)wall_ns % WG_NSEC_PER_SEC;
        nsec -= nsec % granularity;
        secs = htobe64(0x400000000000000aULL + secs);
        memcpy(out, &secs, 8);
        uint32_t n = htobe32((uint32_t)nsec);
        memcpy(out + 8, &n, 4);
}

void wg_noise_device_keys_changed(struct wg_device *dev)
{
        static const char label_mac1[] = "mac1----";
        static const char label_cookie[] = "cookie--";

        hash2(dev->mac1_key, label_mac1, 8, dev->static_public, 32);
        hash2(dev->cookie_key, label_cookie, 8, dev->static_public, 32);
        for (struct wg_peer *p = dev->peers_head; p; p = p->list_next)
                wg_noise_peer_keys_changed(p);
}

void wg_noise_peer_keys_changed(struct wg_peer *peer)
{
        static const char label_mac1[] = "mac1----";
        static const char label_cookie[] = "cookie--";
        struct wg_device *dev = peer->dev;

        hash2(peer->mac1_key, label_mac1, 8, peer->public_key, 32);
        hash2(peer->cookie_key, label_cookie, 8, peer->public_key, 32);
        peer->static_static_valid =
            dev->has_identity && curve25519(peer->static_static, dev->static_private, peer->public_key) == 0;
        if (!peer->static_static_valid)
                sodium_memzero(peer->static_static, sizeof(peer->static_static));
        /* A handshake in flight was computed with the old keys. */
        wg_handshake_clear(peer);
}

static int handshake_new_index(struct wg_peer *peer)
{
        wg_index_remove(peer->dev, &peer->handshake.entry);
        return wg_index_insert(peer->dev, &peer->handshake.entry, peer, WG_INDEX_HANDSHAKE);
}

int wg_noise_create_initiation(struct wg_peer *peer, uint64_t now, struct wg_msg_initiation *msg)
{
        struct wg_device *dev = peer->dev;
        struct wg_handshake *hs = &peer->handshake;
        uint8_t key[32], ts[WG_TIMESTAMP_LEN];
        int r = -EINVAL;

        if (!dev->has_identity || !peer->static_static_valid)
                return -ENOKEY;
        handshake_init_state(hs->chaining_key, hs->hash, peer->public_key);
        wg_rng_fill(dev->rng, hs->ephemeral_private, 32);
        curve25519_clamp_secret(hs->ephemeral_private);

        msg->type = htole32(WG_MSG_INITIATION);
        curve25519_generate_public(msg->unencrypted_ephemeral, hs->ephemeral_private);
        wg_kdf(hs->chaining_key, NULL, NULL, msg->unencrypted_ephemeral, 32, hs->chaining_key);
        mix_hash(hs->hash, msg->unencrypted_ephemeral, 32);

        if (mix_dh(hs->chaining_key, key, hs->ephemeral_private, peer->public_key) < 0)
                goto out;
        aead_encrypt(msg->encrypted_static, dev->static_public, 32, key, hs->hash);
        mix_hash(hs->hash, msg->encrypted_static, sizeof(msg->encrypted_static));

        wg_kdf(hs->chaining_key, key, NULL, peer->static_static, 32, hs->chaining_key);
        tai64n(ts, wg_device_wall_time(dev, now));
        aead_encrypt(msg->encrypted_timestamp, ts, sizeof(ts), key, hs->hash);
        mix_hash(hs->hash, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

        r = handshake_new_index(peer);
        if (r < 0)
                goto out;
        msg->sender_index = htole32(hs->entry.index);
        hs->state = WG_HS_CREATED_INITIATION;
        r = 0;
out:
        if (r < 0)
                wg_handshake_clear(peer);
        sodium_memzero(key, sizeof(key));
        return r;
}

struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev, uint64_t now,
                                            const struct wg_msg_initiation *msg)
{
        uint8_t ck[32], hash[32], key[32], s[32], ts[WG_TIMESTAMP_LEN];
        struct wg_peer *peer = NULL;
        enum wg_drop_reason reason = WG_DROP_BAD_HANDSHAKE;

        if (!dev->has_identity) {
                wg_device_drop(dev, WG_DROP_NO_PRIVATE_KEY);
                return NULL;
        }
        handshake_init_state(ck, hash, dev->static_public);
        wg_kdf(ck, NULL, NULL, msg->unencrypted_ephemeral, 32, ck);
        mix_hash(hash, msg->unencrypted_ephemeral, 32);
        if (mix_dh(ck, key, dev->static_private, msg->unencrypted_ephemeral) < 0)
                goto fail;
        if (aead_decrypt(s, msg->encrypted_static, sizeof(msg->encrypted_static), key, hash) < 0)
                goto fail;
        mix_hash(hash, msg->encrypted_static, sizeof(msg->encrypted_static));

        peer = wg_device_lookup_peer(dev, s);
        if (!peer || !peer->static_static_valid) {
                reason = WG_DROP_UNKNOWN_PEER;
                peer = NULL;
                goto fail;
        }
        wg_kdf(ck, key, NULL, peer->static_static, 32, ck);
        if (aead_decrypt(ts, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), key, hash) < 0) {
                peer = NULL;
                goto fail;
        }
        mix_hash(hash, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

        if (memcmp(ts, peer->handshake.latest_timestamp, WG_TIMESTAMP_LEN) <= 0) {
                reason = WG_DROP_REPLAYED_TIMESTAMP;
                peer = NULL;
                goto fail;
        }
        if (peer->consumed_initiation &&
            peer->last_initiation_consumption + WG_NSEC_PER_SEC / WG_INITIATIONS_PER_SECOND > now) {
                reason = WG_DROP_HANDSHAKE_FLOOD;
                peer = NULL;
                goto fail;
        }

        /* Everything verified: commit. */
        memcpy(peer->handshake.latest_timestamp, ts, WG_TIMESTAMP_LEN);
        memcpy(peer->handshake.remote_ephemeral, msg->unencrypted_ephemeral, 32);
        memcpy(peer->handshake.chaining_key, ck, 32);
        memcpy(peer->handshake.hash, hash, 32);
        peer->handshake.remote_index = le32toh(msg->sender_index);
        peer->handshake.state = WG_HS_CONSUMED_INITIATION;
        peer->consumed_initiation = true;
        peer->last_initiation_consumption = now;
        goto out;
fail:
        wg_device_drop(dev, reason);
out:
        sodium_memzero(ck, sizeof(ck));
        sodium_memzero(hash, sizeof(hash));
        sodium_memzero(key, sizeof(key));
        sodium_memzero(s, sizeof(s));
        return peer;
}

int wg_noise_create_response(struct wg_peer *peer, struct wg_msg_response *msg)
{
        struct wg_device *dev = peer->dev;
        struct wg_handshake *hs = &peer->handshake;
        uint8_t tau[32], key[32];
        int r = -EINVAL;

        if (hs->state != WG_HS_CONSUMED_INITIATION)
                return -EINVAL;
        wg_rng_fill(dev->rng, hs->ephemeral_private, 32);
        curve25519_clamp_secret(hs->ephemeral_private);

        msg->type = htole32(WG_MSG_RESPONSE);
        msg->receiver_index = htole32(hs->remote_index);
        curve25519_generate_public(msg->unencrypted_ephemeral, hs->ephemeral_private);
        wg_kdf(hs->chaining_key, NULL, NULL, msg->unencrypted_ephemeral, 32, hs->chaining_key);
        mix_hash(hs->hash, msg->unencrypted_ephemeral, 32);

        if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_ephemeral) < 0)
                goto out;
        if (mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, peer->public_key) < 0)
                goto out;
        wg_kdf(hs->chaining_key, tau, key, peer->preshared_key, 32, hs->chaining_key);
        mix_hash(hs->hash, tau, 32);
        aead_encrypt(msg->encrypted_nothing, NULL, 0, key, hs->hash);
        mix_hash(hs->hash, msg->encrypted_nothing, sizeof(msg->encrypted_nothing));

        r = handshake_new_index(peer);
        if (r < 0)
                goto out;
        msg->sender_index = htole32(hs->entry.index);
        hs->state = WG_HS_CREATED_RESPONSE;
        r = 0;
out:
        if (r < 0)
                wg_handshake_clear(peer);
        sodium_memzero(tau, sizeof(tau));
        sodium_memzero(key, sizeof(key));
        return r;
}

struct wg_peer *wg_noise_consume_response(struct wg_device *dev, const struct wg_msg_response *msg)
{
        uint8_t ck[32], hash[32], tau[32], key[32];
        struct wg_index_entry *entry;
        struct wg_peer *peer = NULL;
        struct wg_handshake *hs;
        enum wg_drop_reason reason = WG_DROP_BAD_HANDSHAKE;

        if (!dev->has_identity) {
                wg_device_drop(dev, WG_DROP_NO_PRIVATE_KEY);
                return NULL;
        }
        entry = wg_index_lookup(dev, le32toh(msg->receiver_index), WG_INDEX_HANDSHAKE);
        if (!entry || entry->peer->handshake.state != WG_HS_CREATED_INITIATION) {
                wg_device_drop(dev, WG_DROP_UNKNOWN_INDEX);
                return NULL;
        }
        hs = &entry->peer->handshake;
        memcpy(ck, hs->chaining_key, 32);
        memcpy(hash, hs->hash, 32);
        wg_kdf(ck, NULL, NULL, msg->unencrypted_ephemeral, 32, ck);
        mix_hash(hash, msg->unencrypted_ephemeral, 32);
        if (mix_dh(ck, NULL, hs->ephemeral_private, msg->unencrypted_ephemeral) < 0)
                goto fail;
        if (mix_dh(ck, NULL, dev->static_private, msg->unencrypted_ephemeral) < 0)
                goto fail;
        wg_kdf(ck, tau, key, entry->peer->preshared_key, 32, ck);
        mix_hash(hash, tau, 32);
        if (aead_decrypt(NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), key, hash) < 0)
                goto fail;
        mix_hash(hash, msg->encrypted_nothing, sizeof(msg->encrypted_nothing));

        peer = entry->peer;
        memcpy(hs->chaining_key, ck, 32);
        memcpy(hs->hash, hash, 32);
        memcpy(hs->remote_ephemeral, msg->unencrypted_ephemeral, 32);
        hs->remote_index = le32toh(msg->sender_index);
        hs->state = WG_HS_CONSUMED_RESPONSE;
        goto out;
fail:
        wg_device_drop(dev, reason);
out:
        sodium_memzero(ck, sizeof(ck));
        sodium_memzero(hash, sizeof(hash));
        sodium_memzero(tau, sizeof(tau));
        sodium_memzero(key, sizeof(key));
        return peer;
}

bool wg_keypair_usable(const struct wg_device *dev, const struct wg_keypair *kp, uint64_t now)
{
        return kp && kp->birth + dev->timing.reject_after_time > now &&
               kp->send_counter < dev->timing.reject_after_messages;
}

int wg_noise_begin_session(struct wg_peer *peer, uint64_t now)
{
        struct wg_device *dev = peer->dev;
        struct wg_handshake *hs = &peer->handshake;
        struct wg_keypair *kp;
        uint8_t first[32], second[32];
        bool initiator;

        if (hs->state == WG_HS_CONSUMED_RESPONSE)
                initiator = true;
        else if (hs->state == WG_HS_CREATED_RESPONSE)
                initiator = false;
        else
                return -EINVAL;

        kp = sodium_malloc(sizeof(*kp));
        if (!kp)
                return -ENOMEM;
        memset(kp, 0, sizeof(*kp));
        wg_kdf(first, second, NULL, NULL, 0, hs->chaining_key);
        memcpy(kp->send_key, initiator ? first : second, 32);
        memcpy(kp->recv_key, initiator ? second : first, 32);
        sodium_memzero(first, sizeof(first));
        sodium_memzero(second, sizeof(second));
        kp->i_am_initiator = initiator;
        kp->birth = now;
        kp->remote_index = hs->remote_index;
        wg_replay_init(&kp->replay);

        /* The keypair takes over the handshake's index: that is what the peer now addresses. */
        wg_index_replace(dev, &hs->entry, &kp->entry, WG_INDEX_KEYPAIR);
        wg_handshake_clear(peer);

        if (initiator) {
                /* Confirmed by the response: use it at once.  An unconfirmed "next" from our
                 * responder role becomes "previous" so its late data still decrypts. */
                if (peer->next) {
                        wg_keypair_free(dev, peer->previous);
                        peer->previous = peer->next;
                        peer->next = NULL;
                        wg_keypair_free(dev, peer->current);
                } else {
                        wg_keypair_free(dev, peer->previous);
                        peer->previous = peer->current;
                }
                peer->current = kp;
        } else {
                /* Unconfirmed until the initiator's first data message arrives with it. */
                wg_keypair_free(dev, peer->next);
                peer->next = kp;
        }
        return 0;
}
