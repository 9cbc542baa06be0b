/* SPDX-License-Identifier: MIT */
/* The datagram paths: receive, send, staging and the queue of control messages. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/wireguard/device-private.h"

static void make_nonce(uint8_t nonce[static 12], uint64_t counter)
{
        uint64_t le = htole64(counter);

        memset(nonce, 0, 4);
        memcpy(nonce + 4, &le, 8);
}

static size_t padded_len(const struct wg_device *dev, size_t len)
{
        size_t padded = (len + 15) & ~(size_t)15;

        if (len >= dev->mtu)
                return len;
        return padded > dev->mtu ? dev->mtu : padded;
}

/*
 * Encrypts packet (len bytes, may already sit at dst + header) with the current keypair into
 * dst.  Returns the datagram length or 0 when dst is too small.
 */
static size_t encrypt_data(struct wg_peer *peer, struct wg_keypair *kp, uint64_t now, const uint8_t *packet,
                           size_t len, uint8_t *dst, size_t cap)
{
        struct wg_msg_data_header hdr;
        size_t plen = padded_len(peer->dev, len);
        uint8_t nonce[12];

        if (cap < WG_DATA_OVERHEAD || cap - WG_DATA_OVERHEAD < plen)
                return 0;
        if (len)
                memmove(dst + sizeof(hdr), packet, len);
        memset(dst + sizeof(hdr) + len, 0, plen - len);
        hdr.type = htole32(WG_MSG_DATA);
        hdr.receiver_index = htole32(kp->remote_index);
        hdr.counter = htole64(kp->send_counter);
        memcpy(dst, &hdr, sizeof(hdr));
        make_nonce(nonce, kp->send_counter);
        kp->send_counter++;
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst + sizeof(hdr), dst + sizeof(hdr) + plen, NULL,
                                                           dst + sizeof(hdr), plen, NULL, 0, NULL, nonce,
                                                           kp->send_key);
        peer->tx_bytes += sizeof(hdr) + plen + WG_AEAD_TAG_LEN;
        wg_timers_any_authenticated_packet_traversal(peer, now);
        wg_timers_any_authenticated_packet_sent(peer);
        if (len)
                wg_timers_data_sent(peer, now);
        return sizeof(hdr) + plen + WG_AEAD_TAG_LEN;
}

static void keep_key_fresh_send(struct wg_peer *peer, uint64_t now)
{
        const struct wg_timing *t = &peer->dev->timing;
        struct wg_keypair *kp = peer->current;

        if (kp && (kp->send_counter > t->rekey_after_messages ||
                   (kp->i_am_initiator && kp->birth + t->rekey_after_time <= now)))
                wg_peer_send_initiation(peer, now, false);
}

static void keep_key_fresh_receive(struct wg_peer *peer, uint64_t now)
{
        const struct wg_timing *t = &peer->dev->timing;
        struct wg_keypair *kp = peer->current;

        if (!kp || !kp->i_am_initiator || peer->sent_lastminute_handshake)
                return;
        if (kp->birth + t->reject_after_time - t->keepalive_timeout - t->rekey_timeout <= now) {
                peer->sent_lastminute_handshake = true;
                wg_peer_send_initiation(peer, now, false);
        }
}

void wg_peer_request_flush(struct wg_peer *peer)
{
        if (peer->flush_pending || peer->staged_count == 0)
                return;
        peer->flush_pending = true;
        peer->flush_next = peer->dev->flush_head;
        peer->dev->flush_head = peer;
}

void wg_peer_purge_staged(struct wg_peer *peer)
{
        for (unsigned i = 0; i < peer->staged_count; i++) {
                free(peer->staged[(peer->staged_head + i) % WG_MAX_STAGED].data);
                wg_device_drop(peer->dev, WG_DROP_STAGED_PURGED);
        }
        peer->staged_head = peer->staged_count = 0;
}

static bool stage(struct wg_peer *peer, const uint8_t *packet, size_t len)
{
        struct wg_staged *s;

        if (peer->staged_count == WG_MAX_STAGED) {
                /* Keep the newest packets: the oldest are the most likely to be stale. */
                s = &peer->staged[peer->staged_head];
                free(s->data);
                peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED;
                peer->staged_count--;
                wg_device_drop(peer->dev, WG_DROP_QUEUE_FULL);
        }
        s = &peer->staged[(peer->staged_head + peer->staged_count) % WG_MAX_STAGED];
        s->data = malloc(len ? len : 1);
        if (!s->data) {
                wg_device_drop(peer->dev, WG_DROP_QUEUE_FULL);
                return false;
        }
        if (len)
                memcpy(s->data, packet, len);
        s->len = len;
        peer->staged_count++;
        return true;
}

void wg_peer_send_initiation(struct wg_peer *peer, uint64_t now, bool is_retry)
{
        const struct wg_timing *t = &peer->dev->timing;
        struct wg_msg_initiation msg;

        if (!is_retry)
                peer->handshake_attempts = 0;
        if (peer->sent_handshake && peer->last_sent_handshake + t->rekey_timeout > now)
                return;
        if (wg_noise_create_initiation(peer, now, &msg) < 0)
                return;
        peer->sent_handshake = true;
        peer->last_sent_handshake = now;
        wg_cookie_add_macs(peer, now, &msg, sizeof(msg));
        wg_timers_any_authenticated_packet_traversal(peer, now);
        wg_timers_any_authenticated_packet_sent(peer);
        if (peer->has_endpoint &&
            wg_device_queue_control(peer->dev, &msg, sizeof(msg), &peer->endpoint, peer))
                peer->tx_bytes += sizeof(msg);
        wg_timers_handshake_initiated(peer, now);
}

void wg_peer_initiate_handshake(struct wg_peer *peer, uint64_t now)
{
        wg_peer_send_initiation(peer, now, false);
}

void wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now)
{
        uint8_t buf[WG_DATA_OVERHEAD];
        size_t n;

        if (!peer->has_endpoint)
                return;
        if (!wg_keypair_usable(peer->dev, peer->current, now)) {
                /* Like the kernel: an empty packet waits for the handshake it triggers. */
                if (peer->staged_count == 0)
                        stage(peer, NULL, 0);
                wg_peer_send_initiation(peer, now, false);
                return;
        }
        n = encrypt_data(peer, peer->current, now, NULL, 0, buf, sizeof(buf));
        wg_device_queue_control(peer->dev, buf, n, &peer->endpoint, peer);
        keep_key_fresh_send(peer, now);
}

int wg_peer_send(struct wg_peer *peer, uint64_t now, const uint8_t *packet, size_t len, struct wg_out *out)
{
        struct wg_device *dev = peer->dev;
        size_t n;

        out->len = 0;
        out->peer = peer;
        if (!peer->has_endpoint) {
                wg_device_drop(dev, WG_DROP_NO_ENDPOINT);
                return WG_ACTION_NONE;
        }
        if (!wg_keypair_usable(dev, peer->current, now) || peer->staged_count > 0) {
                /* Staged packets go first so the flow stays in order. */
                stage(peer, packet, len);
                if (wg_keypair_usable(dev, peer->current, now))
                        wg_peer_request_flush(peer);
                else
                        wg_peer_send_initiation(peer, now, false);
                return WG_ACTION_NONE;
        }
        n = encrypt_data(peer, peer->current, now, packet, len, out->buf, out->cap);
        if (n == 0) {
                wg_device_drop(dev, WG_DROP_BUFFER_TOO_SMALL);
                return WG_ACTION_NONE;
        }
        out->len = n;
        out->endpoint = peer->endpoint;
        keep_key_fresh_send(peer, now);
        return WG_ACTION_SEND;
}

/* The family and the (source or destination) address of an IP packet; false when malformed. */
static bool ip_packet_parse(const uint8_t *p, size_t len, size_t *ret_len, int *family, const uint8_t **src,
                            const uint8_t **dst)
{
        if (len < 1)
                return false;
        if ((p[0] >> 4) == 4) {
                size_t ihl, total;

                if (len < 20)
                        return false;
                ihl = (size_t)(p[0] & 0x0f) * 4;
                total = ((size_t)p[2] << 8) | p[3];
                if (ihl < 20 || total < ihl || total > len)
                        return false;
                *ret_len = total;
                *family = AF_INET;
                *src = p + 12;
                *dst = p + 16;
                return true;
        }
        if ((p[0] >> 4) == 6) {
                size_t total;

                if (len < 40)
                        return false;
                total = 40 + (((size_t)p[4] << 8) | p[5]);
                if (total > len)
                        return false;
                *ret_len = total;
                *family = AF_INET6;
                *src = p + 8;
                *dst = p + 24;
                return true;
        }
        return false;
}

int wg_device_send(struct wg_device *dev, uint64_t now, const uint8_t *packet, size_t len,
                   struct wg_out *out)
{
        const uint8_t *src, *dst;
        struct wg_peer *peer;
        size_t ip_len;
        int family;

        out->len = 0;
        out->peer = NULL;
        if (!ip_packet_parse(packet, len, &ip_len, &family, &src, &dst)) {
                wg_device_drop(dev, WG_DROP_BAD_INNER_PACKET);
                return WG_ACTION_NONE;
        }
        peer = wg_allowedips_lookup(&dev->allowedips, family, dst);
        if (!peer) {
                wg_device_drop(dev, WG_DROP_NO_ROUTE);
                return WG_ACTION_NONE;
        }
        return wg_peer_send(peer, now, packet, len, out);
}

static void set_endpoint_from(struct wg_peer *peer, const struct wg_endpoint *src)
{
        /* Roaming: the last authenticated source is where replies go. */
        peer->endpoint = *src;
        peer->has_endpoint = true;
}

/* Under load, a handshake needs a valid MAC2 and must pass its source's rate limit. */
static bool handshake_admitted(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                               const uint8_t *data, size_t len, uint32_t sender_index)
{
        struct wg_msg_cookie reply;

        if (now >= dev->load_window_start + WG_NSEC_PER_SEC) {
                dev->load_window_start = now;
                dev->load_count = 0;
        }
        if (++dev->load_count > dev->timing.handshakes_per_second)
                dev->under_load_until = now + WG_NSEC_PER_SEC;
        if (now >= dev->under_load_until)
                return true;
        if (!wg_cookie_check_mac2(dev, now, data, len, src)) {
                wg_cookie_create_reply(dev, now, data, len, sender_index, src, &reply);
                wg_device_queue_control(dev, &reply, sizeof(reply), src, NULL);
                wg_device_drop(dev, WG_DROP_COOKIE_SENT);
                return false;
        }
        if (!wg_ratelimiter_allow(&dev->ratelimiter, &src->sa, now)) {
                wg_device_drop(dev, WG_DROP_RATE_LIMITED);
                return false;
        }
        return true;
}

static int receive_initiation(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                              const uint8_t *data, size_t len)
{
        struct wg_msg_initiation msg;
        struct wg_msg_response resp;
        struct wg_peer *peer;

        memcpy(&msg, data, sizeof(msg));
        if (!handshake_admitted(dev, now, src, data, len, msg.sender_index))
                return WG_ACTION_NONE;
        peer = wg_noise_consume_initiation(dev, now, &msg);
        if (!peer)
                return WG_ACTION_NONE;
        peer->rx_bytes += len;
        set_endpoint_from(peer, src);
        wg_timers_any_authenticated_packet_received(peer);
        wg_timers_any_authenticated_packet_traversal(peer, now);

        if (wg_noise_create_response(peer, &resp) < 0)
                return WG_ACTION_NONE;
        wg_cookie_add_macs(peer, now, &resp, sizeof(resp));
        if (wg_noise_begin_session(peer, now) < 0)
                return WG_ACTION_NONE;
        wg_timers_session_derived(peer, now);
        wg_timers_any_authenticated_packet_traversal(peer, now);
        wg_timers_any_authenticated_packet_sent(peer);
        if (wg_device_queue_control(dev, &resp, sizeof(resp), &peer->endpoint, peer))
                peer->tx_bytes += sizeof(resp);
        return WG_ACTION_NONE;
}

static int receive_response(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                            const uint8_t *data, size_t len)
{
        struct wg_msg_response msg;
        struct wg_peer *peer;

        memcpy(&msg, data, sizeof(msg));
        if (!handshake_admitted(dev, now, src, data, len, msg.sender_index))
                return WG_ACTION_NONE;
        peer = wg_noise_consume_response(dev, &msg);
        if (!peer)
                return WG_ACTION_NONE;
        peer->rx_bytes += len;
        set_endpoint_from(peer, src);
        if (wg_noise_begin_session(peer, now) < 0)
                return WG_ACTION_NONE;
        wg_timers_session_derived(peer, now);
        wg_timers_handshake_complete(peer, now);
        wg_timers_any_authenticated_packet_received(peer);
        wg_timers_any_authenticated_packet_traversal(peer, now);
        /* Confirm the session to the responder: staged data if any, else a keepalive. */
        if (peer->staged_count == 0)
                stage(peer, NULL, 0);
        wg_peer_request_flush(peer);
        return WG_ACTION_NONE;
}

static int receive_data(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                        const uint8_t *data, size_t len, struct wg_out *out)
{
        struct wg_msg_data_header hdr;
        struct wg_index_entry *entry;
        struct wg_keypair *kp;
        struct wg_peer *peer;
        const uint8_t *isrc, *idst;
        size_t plen = len - WG_MSG_DATA_MIN_LEN, ip_len;
        uint8_t nonce[12];
        int family;

        memcpy(&hdr, data, sizeof(hdr));
        entry = wg_index_lookup(dev, le32toh(hdr.receiver_index), WG_INDEX_KEYPAIR);
        if (!entry) {
                wg_device_drop(dev, WG_DROP_UNKNOWN_INDEX);
                return WG_ACTION_NONE;
        }
        kp = (struct wg_keypair *)entry;
        peer = entry->peer;
        if (kp->birth + dev->timing.reject_after_time <= now) {
                wg_device_drop(dev, WG_DROP_EXPIRED_KEY);
                return WG_ACTION_NONE;
        }
        if (out->cap < plen) {
                wg_device_drop(dev, WG_DROP_BUFFER_TOO_SMALL);
                return WG_ACTION_NONE;
        }
        make_nonce(nonce, le64toh(hdr.counter));
        if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out->buf, NULL, data + sizeof(hdr), plen,
                                                               data + sizeof(hdr) + plen, NULL, 0, nonce,
                                                               kp->recv_key) != 0) {
                wg_device_drop(dev, WG_DROP_BAD_AUTH_TAG);
                return WG_ACTION_NONE;
        }
        if (!wg_replay_check_and_update(&kp->replay, le64toh(hdr.counter),
                                        dev->timing.reject_after_messages)) {
                wg_device_drop(dev, WG_DROP_REPLAYED_COUNTER);
                return WG_ACTION_NONE;
        }

        peer->rx_bytes += len;
        set_endpoint_from(peer, src);
        if (kp == peer->next) {
                /* The initiator used the new session: it is confirmed. */
                wg_keypair_free(dev, peer->previous);
                peer->previous = peer->current;
                peer->current = kp;
                peer->next = NULL;
                wg_timers_handshake_complete(peer, now);
                wg_peer_request_flush(peer);
        }
        keep_key_fresh_receive(peer, now);
        wg_timers_any_authenticated_packet_received(peer);
        wg_timers_any_authenticated_packet_traversal(peer, now);
        if (plen == 0)
                return WG_ACTION_NONE;
        wg_timers_data_received(peer, now);

        if (!ip_packet_parse(out->buf, plen, &ip_len, &family, &isrc, &idst)) {
                wg_device_drop(dev, WG_DROP_BAD_INNER_PACKET);
                return WG_ACTION_NONE;
        }
        if (!dev->skip_source_check && wg_allowedips_lookup(&dev->allowedips, family, isrc) != peer) {
                wg_device_drop(dev, WG_DROP_ALLOWED_IPS);
                return WG_ACTION_NONE;
        }
        out->len = ip_len;
        out->peer = peer;
        return WG_ACTION_WRITE_TUN;
}

int wg_device_receive(struct wg_device *dev, uint64_t now, const struct wg_endpoint *src,
                      const uint8_t *data, size_t len, struct wg_out *out)
{
        int type;

        out->len = 0;
        out->peer = NULL;
        type = wg_message_classify(data, len);
        if (type < 0) {
                wg_device_drop(dev, (enum wg_drop_reason) - type);
                return WG_ACTION_NONE;
        }
        if (src->sa.sa_family != AF_INET && src->sa.sa_family != AF_INET6) {
                wg_device_drop(dev, WG_DROP_BAD_TYPE);
                return WG_ACTION_NONE;
        }
        switch (type) {
        case WG_MSG_INITIATION:
        case WG_MSG_RESPONSE:
                if (!dev->has_identity) {
                        wg_device_drop(dev, WG_DROP_NO_PRIVATE_KEY);
                        return WG_ACTION_NONE;
                }
                if (!wg_cookie_check_mac1(dev, data, len)) {
                        wg_device_drop(dev, WG_DROP_BAD_MAC1);
                        return WG_ACTION_NONE;
                }
                if (type == WG_MSG_INITIATION)
                        return receive_initiation(dev, now, src, data, len);
                return receive_response(dev, now, src, data, len);
        case WG_MSG_COOKIE: {
                struct wg_msg_cookie msg;
                int r;

                memcpy(&msg, data, sizeof(msg));
                r = wg_cookie_consume_reply(dev, now, &msg);
                if (r < 0)
                        wg_device_drop(dev, (enum wg_drop_reason) - r);
                return WG_ACTION_NONE;
        }
        default:
                return receive_data(dev, now, src, data, len, out);
        }
}

bool wg_device_poll_transmit(struct wg_device *dev, uint64_t now, struct wg_out *out)
{
        out->len = 0;
        out->peer = NULL;
        while (dev->control_count > 0) {
                struct wg_control *c = &dev->control[dev->control_head];

                dev->control_head = (dev->control_head + 1) % WG_CONTROL_SLOTS;
                dev->control_count--;
                if (out->cap < c->len) {
                        wg_device_drop(dev, WG_DROP_BUFFER_TOO_SMALL);
                        continue;
                }
                memcpy(out->buf, c->data, c->len);
                out->len = c->len;
                out->endpoint = c->endpoint;
                out->peer = c->peer;
                return true;
        }
        while (dev->flush_head) {
                struct wg_peer *peer = dev->flush_head;

                if (peer->staged_count == 0 || !peer->has_endpoint ||
                    !wg_keypair_usable(dev, peer->current, now)) {
                        dev->flush_head = peer->flush_next;
                        peer->flush_pending = false;
                        peer->flush_next = NULL;
                        continue;
                }
                struct wg_staged *s = &peer->staged[peer->staged_head];
                size_t n = encrypt_data(peer, peer->current, now, s->data, s->len, out->buf, out->cap);

                if (n == 0)
                        wg_device_drop(dev, WG_DROP_BUFFER_TOO_SMALL);
                free(s->data);
                s->data = NULL;
                peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED;
                peer->staged_count--;
                if (n == 0)
                        continue;
                out->len = n;
                out->endpoint = peer->endpoint;
                out->peer = peer;
                keep_key_fresh_send(peer, now);
                return true;
        }
        return false;
}
