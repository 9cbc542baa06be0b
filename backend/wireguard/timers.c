/* SPDX-License-Identifier: MIT */
/*
 * The five per-peer timers of the whitepaper (§6), as deadlines that wg_device_tick() fires.
 * The event hooks below mirror the kernel's wg_timers_* functions one to one.
 */
#include <stdint.h>

#include "backend/wireguard/device-private.h"

void wg_timers_data_sent(struct wg_peer *peer, uint64_t now)
{
        const struct wg_timing *t = &peer->dev->timing;

        if (!peer->timer_new_handshake)
                peer->timer_new_handshake =
                    now + t->keepalive_timeout + t->rekey_timeout + wg_device_jitter(peer->dev);
}

void wg_timers_data_received(struct wg_peer *peer, uint64_t now)
{
        if (!peer->timer_send_keepalive)
                peer->timer_send_keepalive = now + peer->dev->timing.keepalive_timeout;
        else
                peer->need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
        peer->timer_send_keepalive = 0;
}

void wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
        peer->timer_new_handshake = 0;
}

void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now)
{
        if (peer->persistent_keepalive)
                peer->timer_persistent_keepalive = now + peer->persistent_keepalive * WG_NSEC_PER_SEC;
}

void wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now)
{
        peer->timer_retransmit_handshake =
            now + peer->dev->timing.rekey_timeout + wg_device_jitter(peer->dev);
}

void wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now)
{
        peer->timer_retransmit_handshake = 0;
        peer->handshake_attempts = 0;
        peer->sent_lastminute_handshake = false;
        peer->last_handshake_ns = wg_device_wall_time(peer->dev, now);
}

void wg_timers_session_derived(struct wg_peer *peer, uint64_t now)
{
        peer->timer_zero_key_material = now + 3 * peer->dev->timing.reject_after_time;
}

static void expired_retransmit_handshake(struct wg_peer *peer, uint64_t now)
{
        const struct wg_timing *t = &peer->dev->timing;
        uint64_t max_attempts = t->rekey_timeout ? t->rekey_attempt_time / t->rekey_timeout : 0;

        if (peer->handshake_attempts > max_attempts) {
                /* Give up: drop what waited for this handshake; new data starts a new attempt. */
                peer->timer_send_keepalive = 0;
                wg_peer_purge_staged(peer);
                if (!peer->timer_zero_key_material)
                        peer->timer_zero_key_material = now + 3 * t->reject_after_time;
                return;
        }
        peer->handshake_attempts++;
        wg_peer_send_initiation(peer, now, true);
}

static void expired_send_keepalive(struct wg_peer *peer, uint64_t now)
{
        wg_peer_send_keepalive(peer, now);
        if (peer->need_another_keepalive) {
                peer->need_another_keepalive = false;
                peer->timer_send_keepalive = now + peer->dev->timing.keepalive_timeout;
        }
}

static void expired_zero_key_material(struct wg_peer *peer)
{
        wg_peer_clear_keypairs(peer);
        wg_handshake_clear(peer);
}

static void peer_tick(struct wg_peer *peer, uint64_t now)
{
        if (peer->timer_retransmit_handshake && peer->timer_retransmit_handshake <= now) {
                peer->timer_retransmit_handshake = 0;
                expired_retransmit_handshake(peer, now);
        }
        if (peer->timer_send_keepalive && peer->timer_send_keepalive <= now) {
                peer->timer_send_keepalive = 0;
                expired_send_keepalive(peer, now);
        }
        if (peer->timer_new_handshake && peer->timer_new_handshake <= now) {
                peer->timer_new_handshake = 0;
                /* We sent data and heard nothing back for KEEPALIVE + REKEY_TIMEOUT. */
                wg_peer_send_initiation(peer, now, false);
        }
        if (peer->timer_zero_key_material && peer->timer_zero_key_material <= now) {
                peer->timer_zero_key_material = 0;
                expired_zero_key_material(peer);
        }
        if (peer->timer_persistent_keepalive && peer->timer_persistent_keepalive <= now) {
                peer->timer_persistent_keepalive = 0;
                if (peer->persistent_keepalive)
                        wg_peer_send_keepalive(peer, now);
        }
}

void wg_device_tick(struct wg_device *dev, uint64_t now)
{
        for (struct wg_peer *p = dev->peers_head; p; p = p->list_next)
                peer_tick(p, now);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
        return b && b < a ? b : a;
}

uint64_t wg_device_next_timeout(const struct wg_device *dev)
{
        uint64_t next = UINT64_MAX;

        for (const struct wg_peer *p = dev->peers_head; p; p = p->list_next) {
                next = min_deadline(next, p->timer_retransmit_handshake);
                next = min_deadline(next, p->timer_send_keepalive);
                next = min_deadline(next, p->timer_new_handshake);
                next = min_deadline(next, p->timer_zero_key_material);
                next = min_deadline(next, p->timer_persistent_keepalive);
        }
        return next;
}
