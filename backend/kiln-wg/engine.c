/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard device behind backend/io's event loop.  A TUN packet is copied once, to the
 * place in the output ring where the device encrypts it in place; a datagram is decrypted
 * straight into the TUN ring.  Every output goes through one of two FIFO rings in the order it
 * was made — the device's own queue (handshakes, keepalives, staged data) is moved into the
 * UDP ring right after each call — so nothing overtakes anything on its way to the GSO queue.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/io/ecn.h"
#include "backend/kiln-wg/kiln-wg.h"

/* Headers stay 64-byte aligned so the packet after them is too (AEAD and memcpy like it). */
#define ENTRY_ALIGN 64

struct kwg_ring_entry {
        uint32_t len;  /* packet bytes */
        uint32_t size; /* bytes the entry takes in the ring */
        union io_sockaddr dst;
        uint8_t ecn;
        uint8_t pad[ENTRY_ALIGN - 8 - sizeof(union io_sockaddr) - 1];
        uint8_t data[];
};
_Static_assert(sizeof(struct kwg_ring_entry) == ENTRY_ALIGN, "ring entry header size");

uint64_t kwg_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t kwg_wall_offset(void)
{
        struct timespec mono, real;

        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        return ((int64_t)real.tv_sec - (int64_t)mono.tv_sec) * 1000000000LL +
               ((int64_t)real.tv_nsec - (int64_t)mono.tv_nsec);
}

void kwg_log(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        fputs("kiln-wg: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* ---- the rings ------------------------------------------------------------------------ */

static int ring_init(struct kwg_ring *r, size_t cap)
{
        memset(r, 0, sizeof(*r));
        r->buf = aligned_alloc(ENTRY_ALIGN, cap);
        if (!r->buf)
                return -ENOMEM;
        r->cap = cap;
        r->wrap = SIZE_MAX;
        return 0;
}

static void ring_free(struct kwg_ring *r)
{
        free(r->buf);
        r->buf = NULL;
}

/* Room for a packet of up to `room` bytes at the tail, or NULL when the ring is full.  Only
 * ring_commit() makes it part of the ring. */
static struct kwg_ring_entry *ring_reserve(struct kwg_ring *r, size_t room)
{
        size_t total = (sizeof(struct kwg_ring_entry) + room + ENTRY_ALIGN - 1) & ~(size_t)(ENTRY_ALIGN - 1);

        if (r->count == 0) {
                r->head = r->tail = 0;
                r->wrap = SIZE_MAX;
        }
        r->reserved_wraps = false;
        if (r->count == 0 || r->tail > r->head) {
                /* [head, tail) in use: room after tail, or before head after a wrap. */
                if (r->cap - r->tail >= total) {
                        r->reserved_off = r->tail;
                } else if (r->count > 0 && r->head > total) {
                        r->reserved_off = 0;
                        r->reserved_wraps = true;
                } else {
                        return NULL;
                }
        } else if (r->head - r->tail > total) {
                /* Wrapped: [head, wrap) and [0, tail) in use; the gap in between is free.
                 * Strictly greater, so tail never catches up with head. */
                r->reserved_off = r->tail;
        } else {
                return NULL;
        }
        return (struct kwg_ring_entry *)(r->buf + r->reserved_off);
}

static void ring_commit(struct kwg_ring *r, struct kwg_ring_entry *e, size_t len)
{
        e->len = (uint32_t)len;
        e->size = (uint32_t)((sizeof(*e) + len + ENTRY_ALIGN - 1) & ~(size_t)(ENTRY_ALIGN - 1));
        if (r->reserved_wraps)
                r->wrap = r->tail;
        r->tail = r->reserved_off + e->size;
        r->count++;
}

static struct kwg_ring_entry *ring_peek(struct kwg_ring *r)
{
        if (r->count == 0)
                return NULL;
        if (r->head == r->wrap) {
                r->head = 0;
                r->wrap = SIZE_MAX;
        }
        return (struct kwg_ring_entry *)(r->buf + r->head);
}

static void ring_pop(struct kwg_ring *r, struct kwg_ring_entry *e)
{
        r->head += e->size;
        r->count--;
}

/* ---- outputs -------------------------------------------------------------------------- */

static void queue_datagram(struct kwg *k, const struct wg_endpoint *dst, const uint8_t *data, size_t len,
                           uint8_t ecn)
{
        struct kwg_ring_entry *e = ring_reserve(&k->to_udp, len);

        if (!e) {
                k->ring_full_drops++;
                return;
        }
        memcpy(e->data, data, len);
        memcpy(&e->dst, dst, sizeof(e->dst));
        e->ecn = ecn;
        ring_commit(&k->to_udp, e, len);
}

void kwg_flush_transmits(struct kwg *k, uint64_t now)
{
        for (;;) {
                struct kwg_ring_entry *e = ring_reserve(&k->to_udp, IO_GSO_MAX_BYTES);
                struct wg_out out;

                if (!e)
                        return; /* stays queued in the device until the ring drains */
                out = (struct wg_out){ .buf = e->data, .cap = IO_GSO_MAX_BYTES };
                if (!wg_device_poll_transmit(k->dev, now, &out))
                        return;
                memcpy(&e->dst, &out.endpoint, sizeof(e->dst));
                e->ecn = 0;
                ring_commit(&k->to_udp, e, out.len);
        }
}

/* ---- io_engine_ops ---------------------------------------------------------------------- */

static int engine_tun_packet(void *engine, uint64_t now, const uint8_t *packet, size_t len)
{
        struct kwg *k = engine;
        /* Padding to 16 and the tag: the device encrypts in place after the header. */
        size_t room = WG_MSG_DATA_HEADER_LEN + len + 15 + WG_AEAD_TAG_LEN;
        struct kwg_ring_entry *e = ring_reserve(&k->to_udp, room);
        struct wg_out out;

        if (!e) {
                k->ring_full_drops++;
                return -ENOBUFS;
        }
        out = (struct wg_out){ .buf = e->data, .cap = room };
        memcpy(e->data + WG_MSG_DATA_HEADER_LEN, packet, len);
        e->ecn = io_ecn_of_packet(packet, len);
        if (wg_device_send(k->dev, now, e->data + WG_MSG_DATA_HEADER_LEN, len, &out) == WG_ACTION_SEND) {
                memcpy(&e->dst, &out.endpoint, sizeof(e->dst));
                ring_commit(&k->to_udp, e, out.len);
        }
        /* A packet without a session starts a handshake: its initiation is queued. */
        kwg_flush_transmits(k, now);
        return 0;
}

static int engine_datagram(void *engine, uint64_t now, const struct io_datagram *dg)
{
        struct kwg *k = engine;
        struct kwg_ring_entry *e = ring_reserve(&k->to_tun, dg->len);
        struct wg_endpoint src;
        struct wg_out out;
        int action;

        if (!e) {
                k->ring_full_drops++;
                return -ENOBUFS;
        }
        memcpy(&src, &dg->peer, sizeof(src));
        out = (struct wg_out){ .buf = e->data, .cap = dg->len };
        action = wg_device_receive(k->dev, now, &src, dg->data, dg->len, &out);
        if (action == WG_ACTION_WRITE_TUN) {
                io_ecn_decapsulate(e->data, out.len, dg->ecn);
                ring_commit(&k->to_tun, e, out.len);
        } else if (action == WG_ACTION_SEND) {
                /* A handshake response or cookie reply, written where a TUN packet would be. */
                queue_datagram(k, &out.endpoint, out.buf, out.len, 0);
        }
        kwg_flush_transmits(k, now);
        return 0;
}

static void engine_timeout(void *engine, uint64_t now)
{
        struct kwg *k = engine;

        wg_device_set_wall_clock_offset(k->dev, kwg_wall_offset());
        wg_device_tick(k->dev, now);
        kwg_flush_transmits(k, now);
}

static uint64_t engine_poll_timeout(void *engine)
{
        struct kwg *k = engine;

        return wg_device_next_timeout(k->dev);
}

static size_t engine_poll_transmit(void *engine, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        struct kwg *k = engine;
        struct kwg_ring_entry *e = ring_peek(&k->to_udp);
        size_t len;

        if (!e)
                return 0;
        len = e->len <= cap ? e->len : 0;
        memcpy(buf, e->data, len);
        t->flow.dst = e->dst;
        t->flow.ecn = e->ecn;
        ring_pop(&k->to_udp, e);
        return len;
}

static size_t engine_peek_transmit(void *engine, struct io_transmit *t)
{
        struct kwg *k = engine;
        struct kwg_ring_entry *e = ring_peek(&k->to_udp);

        if (!e)
                return 0;
        t->flow.dst = e->dst;
        t->flow.ecn = e->ecn;
        return e->len;
}

static size_t engine_poll_tun_packet(void *engine, uint8_t *buf, size_t cap)
{
        struct kwg *k = engine;
        struct kwg_ring_entry *e = ring_peek(&k->to_tun);
        size_t len;

        if (!e)
                return 0;
        len = e->len <= cap ? e->len : 0;
        memcpy(buf, e->data, len);
        ring_pop(&k->to_tun, e);
        return len;
}

static void engine_errors(void *engine, const struct io_error_set *set)
{
        /* Say each kind of error once: an unreachable peer fails on every retry. */
        static bool logged[6][256];

        for (uint32_t i = 0; i < set->count; i++) {
                const struct io_error *e = &set->errors[i];
                int err = -e->err;

                if (e->source == IO_SOURCE_WORKER) {
                        kwg_log("IO thread stopped: %s", strerror(err));
                        continue;
                }
                if (e->source < 6 && err > 0 && err < 256 && !logged[e->source][err]) {
                        logged[e->source][err] = true;
                        kwg_log("%s: %s (further errors like this are not logged)",
                                e->source == IO_SOURCE_SEND  ? "send"
                                : e->source == IO_SOURCE_TUN ? "TUN packet"
                                : e->source == IO_SOURCE_UDP ? "datagram"
                                                             : "control",
                                strerror(err));
                }
        }
}

const struct io_engine_ops kwg_engine_ops = {
        .handle_datagram = engine_datagram,
        .handle_tun_packet = engine_tun_packet,
        .handle_timeout = engine_timeout,
        .handle_control = kwg_handle_control,
        .poll_timeout = engine_poll_timeout,
        .poll_transmit = engine_poll_transmit,
        .peek_transmit = engine_peek_transmit,
        .poll_tun_packet = engine_poll_tun_packet,
        .handle_errors = engine_errors,
};

int kwg_engine_init(struct kwg *k)
{
        int r = ring_init(&k->to_udp, KWG_RING_BYTES);

        if (r == 0)
                r = ring_init(&k->to_tun, KWG_RING_BYTES);
        return r;
}

void kwg_engine_free(struct kwg *k)
{
        ring_free(&k->to_udp);
        ring_free(&k->to_tun);
}
