/* SPDX-License-Identifier: MIT */
/* The device's configuration, its peers and the tables that find them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/wireguard/device-private.h"

void wg_timing_init_default(struct wg_timing *t)
{
        *t = (struct wg_timing){
                .rekey_after_messages = 1ULL << 60,
                .reject_after_messages = UINT64_MAX - (1ULL << 13),
                .rekey_after_time = 120 * WG_NSEC_PER_SEC,
                .reject_after_time = 180 * WG_NSEC_PER_SEC,
                .rekey_attempt_time = 90 * WG_NSEC_PER_SEC,
                .rekey_timeout = 5 * WG_NSEC_PER_SEC,
                .rekey_timeout_jitter_max = WG_NSEC_PER_SEC / 3,
                .keepalive_timeout = 10 * WG_NSEC_PER_SEC,
                .cookie_secret_max_age = 120 * WG_NSEC_PER_SEC,
                .cookie_secret_latency = 5 * WG_NSEC_PER_SEC,
                .handshakes_per_second = 100,
                .handshakes_per_second_per_source = 20,
                .handshake_burst_per_source = 5,
        };
}

bool wg_endpoint_equal(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
        if (a->sa.sa_family != b->sa.sa_family)
                return false;
        if (a->sa.sa_family == AF_INET)
                return a->in4.sin_port == b->in4.sin_port &&
                       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
        if (a->sa.sa_family == AF_INET6)
                return a->in6.sin6_port == b->in6.sin6_port &&
                       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0 &&
                       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
        return true;
}

struct wg_device *wg_device_new(const struct wg_timing *timing, struct wg_rng *rng)
{
        struct wg_device *dev;
        uint8_t rl_key[16];

        dev = calloc(1, sizeof(*dev));
        if (!dev)
                return NULL;
        if (timing)
                dev->timing = *timing;
        else
                wg_timing_init_default(&dev->timing);
        dev->rng = rng;
        dev->mtu = 1420;
        wg_rng_fill(rng, dev->peer_hash_key, sizeof(dev->peer_hash_key));
        wg_rng_fill(rng, rl_key, sizeof(rl_key));
        wg_ratelimiter_init(&dev->ratelimiter, dev->timing.handshakes_per_second_per_source,
                            dev->timing.handshake_burst_per_source, rl_key);
        wg_allowedips_init(&dev->allowedips);
        return dev;
}

void wg_device_free(struct wg_device *dev)
{
        if (!dev)
                return;
        wg_device_remove_all_peers(dev);
        wg_allowedips_free(&dev->allowedips);
        sodium_memzero(dev, sizeof(*dev));
        free(dev);
}

void wg_device_set_log(struct wg_device *dev, wg_log_fn fn, void *userdata)
{
        dev->log = fn;
        dev->log_userdata = userdata;
}

void wg_device_set_wall_clock_offset(struct wg_device *dev, int64_t offset_ns)
{
        dev->wall_offset = offset_ns;
}

void wg_device_set_mtu(struct wg_device *dev, unsigned mtu)
{
        dev->mtu = mtu;
}

void wg_device_set_source_check(struct wg_device *dev, bool enabled)
{
        dev->skip_source_check = !enabled;
}

int64_t wg_device_wall_time(const struct wg_device *dev, uint64_t now)
{
        return (int64_t)now + dev->wall_offset;
}

uint64_t wg_device_jitter(struct wg_device *dev)
{
        if (dev->timing.rekey_timeout_jitter_max == 0)
                return 0;
        return wg_rng_uniform(dev->rng, dev->timing.rekey_timeout_jitter_max);
}

void wg_device_drop(struct wg_device *dev, enum wg_drop_reason reason)
{
        char msg[128];

        dev->drops[reason]++;
        if (dev->drop_logged[reason] || !dev->log)
                return;
        dev->drop_logged[reason] = true;
        snprintf(msg, sizeof(msg), "dropped a packet: %s (further drops for this reason are only counted)",
                 wg_drop_reason_to_string(reason));
        dev->log(dev->log_userdata, msg);
}

uint64_t wg_device_drop_count(const struct wg_device *dev, enum wg_drop_reason reason)
{
        return (unsigned)reason < WG_DROP__MAX ? dev->drops[reason] : 0;
}

/* Index table: our random 32-bit session indices, chosen by us, so a mask is a fine hash. */

static struct wg_index_entry **index_bucket(struct wg_device *dev, uint32_t index)
{
        return &dev->index_buckets[index % WG_INDEX_BUCKETS];
}

struct wg_index_entry *wg_index_lookup(const struct wg_device *dev, uint32_t index, uint8_t kinds)
{
        for (struct wg_index_entry *e = dev->index_buckets[index % WG_INDEX_BUCKETS]; e; e = e->next)
                if (e->index == index)
                        return (e->kind & kinds) ? e : NULL;
        return NULL;
}

int wg_index_insert(struct wg_device *dev, struct wg_index_entry *entry, struct wg_peer *peer, uint8_t kind)
{
        uint32_t index;
        unsigned tries = 0;

        do {
                if (++tries > 64)
                        return -EBUSY;
                index = wg_rng_u32(dev->rng);
        } while (wg_index_lookup(dev, index, 0xff));
        entry->index = index;
        entry->peer = peer;
        entry->kind = kind;
        entry->next = *index_bucket(dev, index);
        *index_bucket(dev, index) = entry;
        entry->hashed = true;
        return 0;
}

void wg_index_remove(struct wg_device *dev, struct wg_index_entry *entry)
{
        if (!entry->hashed)
                return;
        for (struct wg_index_entry **p = index_bucket(dev, entry->index); *p; p = &(*p)->next) {
                if (*p == entry) {
                        *p = entry->next;
                        break;
                }
        }
        entry->hashed = false;
        entry->next = NULL;
}

void wg_index_replace(struct wg_device *dev, struct wg_index_entry *old, struct wg_index_entry *new_entry,
                      uint8_t kind)
{
        new_entry->index = old->index;
        new_entry->peer = old->peer;
        new_entry->kind = kind;
        new_entry->hashed = old->hashed;
        new_entry->next = NULL;
        if (!old->hashed)
                return;
        for (struct wg_index_entry **p = index_bucket(dev, old->index); *p; p = &(*p)->next) {
                if (*p == old) {
                        new_entry->next = old->next;
                        *p = new_entry;
                        break;
                }
        }
        old->hashed = false;
        old->next = NULL;
}

void wg_keypair_free(struct wg_device *dev, struct wg_keypair *kp)
{
        if (!kp)
                return;
        wg_index_remove(dev, &kp->entry);
        /* sodium_free wipes the memory. */
        sodium_free(kp);
}

void wg_peer_clear_keypairs(struct wg_peer *peer)
{
        wg_keypair_free(peer->dev, peer->previous);
        wg_keypair_free(peer->dev, peer->current);
        wg_keypair_free(peer->dev, peer->next);
        peer->previous = peer->current = peer->next = NULL;
}

void wg_handshake_clear(struct wg_peer *peer)
{
        struct wg_handshake *hs = &peer->handshake;
        uint8_t ts[WG_TIMESTAMP_LEN];

        wg_index_remove(peer->dev, &hs->entry);
        /* The newest timestamp seen must outlive the handshake: it is the replay guard. */
        memcpy(ts, hs->latest_timestamp, sizeof(ts));
        sodium_memzero(hs, sizeof(*hs));
        memcpy(hs->latest_timestamp, ts, sizeof(ts));
        hs->state = WG_HS_ZEROED;
}

/* Peers by public key: SipHash with a per-device key, since the keys come off the network. */

static struct wg_peer **peer_bucket(const struct wg_device *dev, const uint8_t public_key[static WG_KEY_LEN])
{
        uint64_t h;

        crypto_shorthash((uint8_t *)&h, public_key, WG_KEY_LEN, dev->peer_hash_key);
        return (struct wg_peer **)&dev->peer_buckets[h % WG_PEER_BUCKETS];
}

struct wg_peer *wg_device_lookup_peer(const struct wg_device *dev,
                                      const uint8_t public_key[static WG_KEY_LEN])
{
        for (struct wg_peer *p = *peer_bucket(dev, public_key); p; p = p->hash_next)
                if (sodium_memcmp(p->public_key, public_key, WG_KEY_LEN) == 0)
                        return p;
        return NULL;
}

struct wg_peer *wg_device_find_peer(const struct wg_device *dev, const uint8_t public_key[static WG_KEY_LEN])
{
        return wg_device_lookup_peer(dev, public_key);
}

void wg_device_set_private_key(struct wg_device *dev, const uint8_t key[static WG_KEY_LEN])
{
        struct wg_peer *self;
        uint8_t clamped[WG_KEY_LEN];

        memcpy(clamped, key, WG_KEY_LEN);
        curve25519_clamp_secret(clamped);
        /* Setting the same key again (wg setconf does) must not tear down the sessions. */
        if (dev->has_identity && sodium_memcmp(clamped, dev->static_private, WG_KEY_LEN) == 0) {
                sodium_memzero(clamped, sizeof(clamped));
                return;
        }
        sodium_memzero(clamped, sizeof(clamped));
        if (key_is_zero(key)) {
                sodium_memzero(dev->static_private, WG_KEY_LEN);
                memset(dev->static_public, 0, WG_KEY_LEN);
                dev->has_identity = false;
        } else {
                memcpy(dev->static_private, key, WG_KEY_LEN);
                curve25519_clamp_secret(dev->static_private);
                curve25519_generate_public(dev->static_public, dev->static_private);
                dev->has_identity = true;
                /* A peer with our own public key makes no sense (the kernel removes it too). */
                self = wg_device_lookup_peer(dev, dev->static_public);
                if (self)
                        wg_device_remove_peer(dev, self);
        }
        wg_noise_device_keys_changed(dev);
        for (struct wg_peer *p = dev->peers_head; p; p = p->list_next)
                wg_peer_clear_keypairs(p);
}

bool wg_device_get_private_key(const struct wg_device *dev, uint8_t key[static WG_KEY_LEN])
{
        if (!dev->has_identity)
                return false;
        memcpy(key, dev->static_private, WG_KEY_LEN);
        return true;
}

bool wg_device_get_public_key(const struct wg_device *dev, uint8_t key[static WG_KEY_LEN])
{
        if (!dev->has_identity)
                return false;
        memcpy(key, dev->static_public, WG_KEY_LEN);
        return true;
}

int wg_device_add_peer(struct wg_device *dev, const uint8_t public_key[static WG_KEY_LEN],
                       struct wg_peer **ret_peer)
{
        struct wg_peer *peer, **bucket;

        peer = wg_device_lookup_peer(dev, public_key);
        if (peer) {
                if (ret_peer)
                        *ret_peer = peer;
                return -EEXIST;
        }
        peer = sodium_malloc(sizeof(*peer));
        if (!peer)
                return -ENOMEM;
        memset(peer, 0, sizeof(*peer));
        peer->dev = dev;
        memcpy(peer->public_key, public_key, WG_KEY_LEN);
        wg_noise_peer_keys_changed(peer);

        bucket = peer_bucket(dev, public_key);
        peer->hash_next = *bucket;
        *bucket = peer;
        peer->list_prev = dev->peers_tail;
        if (dev->peers_tail)
                dev->peers_tail->list_next = peer;
        else
                dev->peers_head = peer;
        dev->peers_tail = peer;
        dev->n_peers++;
        if (ret_peer)
                *ret_peer = peer;
        return 0;
}

void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer)
{
        if (!peer)
                return;
        for (struct wg_peer **p = peer_bucket(dev, peer->public_key); *p; p = &(*p)->hash_next) {
                if (*p == peer) {
                        *p = peer->hash_next;
                        break;
                }
        }
        if (peer->list_prev)
                peer->list_prev->list_next = peer->list_next;
        else
                dev->peers_head = peer->list_next;
        if (peer->list_next)
                peer->list_next->list_prev = peer->list_prev;
        else
                dev->peers_tail = peer->list_prev;
        dev->n_peers--;
        for (struct wg_peer **p = &dev->flush_head; *p; p = &(*p)->flush_next) {
                if (*p == peer) {
                        *p = peer->flush_next;
                        break;
                }
        }
        /* Queued control messages keep their bytes but lose the pointer. */
        for (unsigned i = 0; i < WG_CONTROL_SLOTS; i++)
                if (dev->control[i].peer == peer)
                        dev->control[i].peer = NULL;
        wg_allowedips_remove_peer(&dev->allowedips, peer);
        wg_peer_clear_keypairs(peer);
        wg_handshake_clear(peer);
        for (unsigned i = 0; i < peer->staged_count; i++)
                free(peer->staged[(peer->staged_head + i) % WG_MAX_STAGED].data);
        sodium_free(peer);
}

void wg_device_remove_all_peers(struct wg_device *dev)
{
        while (dev->peers_head)
                wg_device_remove_peer(dev, dev->peers_head);
}

struct wg_peer *wg_device_first_peer(const struct wg_device *dev)
{
        return dev->peers_head;
}

struct wg_peer *wg_peer_next(const struct wg_peer *peer)
{
        return peer->list_next;
}

size_t wg_device_peer_count(const struct wg_device *dev)
{
        return dev->n_peers;
}

const uint8_t *wg_peer_public_key(const struct wg_peer *peer)
{
        return peer->public_key;
}

void wg_peer_set_preshared_key(struct wg_peer *peer, const uint8_t psk[static WG_KEY_LEN])
{
        memcpy(peer->preshared_key, psk, WG_KEY_LEN);
}

void wg_peer_get_preshared_key(const struct wg_peer *peer, uint8_t psk[static WG_KEY_LEN])
{
        memcpy(psk, peer->preshared_key, WG_KEY_LEN);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *endpoint)
{
        if (!endpoint) {
                peer->has_endpoint = false;
                memset(&peer->endpoint, 0, sizeof(peer->endpoint));
                return;
        }
        peer->endpoint = *endpoint;
        peer->has_endpoint = true;
}

const struct wg_endpoint *wg_peer_endpoint(const struct wg_peer *peer)
{
        return peer->has_endpoint ? &peer->endpoint : NULL;
}

void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint64_t now, uint16_t seconds)
{
        bool was_off = peer->persistent_keepalive == 0;

        peer->persistent_keepalive = seconds;
        if (seconds == 0) {
                peer->timer_persistent_keepalive = 0;
                return;
        }
        if (was_off && peer->dev->has_identity)
                wg_peer_send_keepalive(peer, now);
}

uint16_t wg_peer_persistent_keepalive(const struct wg_peer *peer)
{
        return peer->persistent_keepalive;
}

int wg_peer_add_allowed_ip(struct wg_peer *peer, const struct wg_allowed_ip *ip)
{
        return wg_allowedips_insert(&peer->dev->allowedips, ip, peer);
}

void wg_peer_clear_allowed_ips(struct wg_peer *peer)
{
        wg_allowedips_remove_peer(&peer->dev->allowedips, peer);
}

int wg_peer_foreach_allowed_ip(const struct wg_peer *peer,
                               int (*fn)(const struct wg_allowed_ip *ip, void *userdata), void *userdata)
{
        return wg_allowedips_foreach_peer(&peer->dev->allowedips, peer, fn, userdata);
}

void wg_peer_get_stats(const struct wg_peer *peer, struct wg_peer_stats *stats)
{
        stats->rx_bytes = peer->rx_bytes;
        stats->tx_bytes = peer->tx_bytes;
        stats->last_handshake_ns = peer->last_handshake_ns;
        stats->has_session = peer->current != NULL;
}

bool wg_device_queue_control(struct wg_device *dev, const void *data, size_t len,
                             const struct wg_endpoint *endpoint, struct wg_peer *peer)
{
        struct wg_control *c;

        if (dev->control_count == WG_CONTROL_SLOTS || len > WG_CONTROL_MAX_LEN) {
                wg_device_drop(dev, WG_DROP_QUEUE_FULL);
                return false;
        }
        c = &dev->control[(dev->control_head + dev->control_count) % WG_CONTROL_SLOTS];
        memcpy(c->data, data, len);
        c->len = len;
        c->endpoint = *endpoint;
        c->peer = peer;
        dev->control_count++;
        return true;
}
