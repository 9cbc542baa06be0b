/* SPDX-License-Identifier: MIT */
#include "backend/io/gso-queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t gso_max_len(const union io_sockaddr *dst, size_t segment_size)
{
        /* IP header with worst-case options plus the UDP header must fit in 16 bits. */
        size_t headers = dst->sa.sa_family == AF_INET6 ? 40 + 8 : 60 + 8;
        size_t segments = (IO_GSO_MAX_BYTES - headers) / segment_size;

        if (segments > IO_GSO_MAX_SEGMENTS)
                segments = IO_GSO_MAX_SEGMENTS;
        return segments * segment_size;
}

int gso_queue_init(struct gso_queue *q, struct io_pool *pool, size_t max_batches)
{
        memset(q, 0, sizeof(*q));
        if (!pool || max_batches == 0)
                return -EINVAL;
        q->ring = calloc(max_batches, sizeof(*q->ring));
        if (!q->ring)
                return -ENOMEM;
        q->pool = pool;
        q->capacity = max_batches;
        return 0;
}

void gso_queue_destroy(struct gso_queue *q)
{
        struct gso_batch *b;

        if (!q->ring)
                return;
        while ((b = gso_queue_pop(q)))
                io_pool_put(q->pool, b);
        free(q->ring);
        q->ring = NULL;
}

static bool can_append(const struct gso_batch *b, const struct io_flow *flow, size_t len)
{
        return !b->sealed && len <= b->segment_size && b->segments < IO_GSO_MAX_SEGMENTS &&
               b->len + len <= gso_max_len(&b->flow.dst, b->segment_size) && io_flow_equal(&b->flow, flow);
}

uint8_t *gso_queue_reserve(struct gso_queue *q, const struct io_flow *flow, size_t len, int *ret_err)
{
        struct gso_batch *tail = q->count ? q->ring[(q->head + q->count - 1) % q->capacity] : NULL;
        struct gso_batch *b;

        if (len == 0 || len > gso_max_len(&flow->dst, len)) {
                *ret_err = -EMSGSIZE;
                return NULL;
        }
        if (tail && can_append(tail, flow, len)) {
                q->reserved = tail;
                q->reserved_new = false;
                return tail->buf + tail->len;
        }
        b = q->count == q->capacity ? NULL : io_pool_get(q->pool);
        if (!b) {
                *ret_err = -ENOBUFS;
                return NULL;
        }
        b->flow = *flow;
        q->reserved = b;
        q->reserved_new = true;
        return b->buf;
}

void gso_queue_commit(struct gso_queue *q, size_t len)
{
        struct gso_batch *b = q->reserved;

        q->reserved = NULL;
        if (!q->reserved_new) {
                b->len += (uint32_t)len;
                b->segments++;
                /* A shorter datagram ends the batch: nothing may follow it in one send. */
                if (len < b->segment_size)
                        b->sealed = true;
                return;
        }
        b->segment_size = (uint16_t)len;
        b->segments = 1;
        b->len = (uint32_t)len;
        b->sealed = false;
        b->sent = 0;
        b->attempts = 0;
        q->ring[(q->head + q->count) % q->capacity] = b;
        q->count++;
}

void gso_queue_cancel(struct gso_queue *q)
{
        if (q->reserved && q->reserved_new)
                io_pool_put(q->pool, q->reserved);
        q->reserved = NULL;
}

int gso_queue_push(struct gso_queue *q, const struct io_flow *flow, const uint8_t *data, size_t len)
{
        int r = 0;
        uint8_t *dst = gso_queue_reserve(q, flow, len, &r);

        if (!dst)
                return r;
        memcpy(dst, data, len);
        gso_queue_commit(q, len);
        return 0;
}

struct gso_batch *gso_queue_peek(const struct gso_queue *q)
{
        return q->count ? q->ring[q->head] : NULL;
}

struct gso_batch *gso_queue_pop(struct gso_queue *q)
{
        struct gso_batch *b = gso_queue_peek(q);

        if (b) {
                q->head = (q->head + 1) % q->capacity;
                q->count--;
        }
        return b;
}

size_t gso_queue_count(const struct gso_queue *q)
{
        return q->count;
}
