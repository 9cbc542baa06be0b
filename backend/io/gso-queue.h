/* SPDX-License-Identifier: MIT */
/*
 * The UDP GSO queue (data-plane spec §4.2): outgoing datagrams coalesced into UDP_SEGMENT
 * batches, kept in ONE write-ordered FIFO.
 *
 * Append rule: a datagram may only extend the batch at the TAIL of the queue, and only when
 * that batch is of the same flow (source IP, destination, ECN), still open (every segment so
 * far had exactly segment_size bytes), the datagram is not longer than segment_size, and the
 * batch stays within 64 segments and the kernel's length limit.  A shorter datagram is taken
 * once, as the last segment, and closes the batch.  Otherwise a new batch starts at the tail.
 * Hence batches leave in arrival order and nothing ever overtakes anything: Firezone once
 * sorted batches by size and sent a flow's short tail segment before its full-size segments,
 * reordering the inner TCP (#8912).  A flow interleaved with another starts a new batch each
 * time it reappears — the price of strict arrival order, paid only by interleaved flows.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "backend/io/batch.h"
#include "backend/io/io-types.h"

struct gso_batch {
        struct io_flow flow;
        uint16_t segment_size;
        uint16_t segments;
        uint32_t len;
        bool sealed;
        /* Send progress, owned by whoever sends the batch (udp-socket.c). */
        uint16_t sent;
        uint8_t attempts;
        uint8_t buf[IO_GSO_MAX_BYTES];
};

struct gso_queue {
        struct io_pool *pool; /* of struct gso_batch, shared with the sending threads */
        struct gso_batch **ring;
        size_t capacity, head, count;
        struct gso_batch *reserved; /* the open reservation's batch */
        bool reserved_new;          /* … not yet in the ring */
};

/* The most UDP payload bytes one UDP_SEGMENT send may carry for this destination. */
size_t gso_max_len(const union io_sockaddr *dst, size_t segment_size);

int gso_queue_init(struct gso_queue *q, struct io_pool *pool, size_t max_batches);
void gso_queue_destroy(struct gso_queue *q);
/* 0, -EMSGSIZE (empty or larger than one datagram may be), -ENOBUFS (queue or pool full:
 * flush first; nothing was queued). */
int gso_queue_push(struct gso_queue *q, const struct io_flow *flow, const uint8_t *data, size_t len);
/* The same in two steps, so the datagram can be written straight into the batch: room for up
 * to len bytes (NULL with the errors of gso_queue_push), then commit the bytes actually written
 * (1..len; they are appended by the rules above as a datagram of that length) or cancel. */
uint8_t *gso_queue_reserve(struct gso_queue *q, const struct io_flow *flow, size_t len, int *ret_err);
void gso_queue_commit(struct gso_queue *q, size_t len);
void gso_queue_cancel(struct gso_queue *q);
/* The oldest batch, now owned by the caller (return it with io_pool_put), or NULL. */
struct gso_batch *gso_queue_pop(struct gso_queue *q);
struct gso_batch *gso_queue_peek(const struct gso_queue *q);
size_t gso_queue_count(const struct gso_queue *q);

/* Segment i of a batch. */
static inline size_t gso_batch_segment_len(const struct gso_batch *b, size_t i)
{
        size_t off = i * b->segment_size;

        return b->len - off < b->segment_size ? b->len - off : b->segment_size;
}
