/* SPDX-License-Identifier: MIT */
/*
 * Preallocated buffers and the bounded queues that carry them between threads.
 *
 * io_pool: a fixed number of equal-size objects allocated once; get/put never allocate, so
 * the hot path has no per-packet malloc.  io_queue: a bounded FIFO of pointers; a full queue
 * refuses (-EAGAIN) instead of growing, which is what turns a slow consumer into back-pressure.
 * Each side may name an eventfd that is signalled when the other side makes progress
 * (an item arrived / a slot freed), so blocked threads sleep in poll() instead of spinning.
 */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/io/io-types.h"

struct io_pool;

int io_pool_new(size_t object_size, size_t count, struct io_pool **ret);
void io_pool_free(struct io_pool *pool);
/* NULL when every object is in use. */
void *io_pool_get(struct io_pool *pool);
void io_pool_put(struct io_pool *pool, void *object);
size_t io_pool_available(struct io_pool *pool);
size_t io_pool_capacity(const struct io_pool *pool);

struct io_queue {
        pthread_mutex_t lock;
        void **ring;
        size_t capacity, head, count;
        int consumer_wake; /* eventfd signalled on push, or -1 */
        int producer_wake; /* eventfd signalled on pop, or -1 */
};

int io_queue_init(struct io_queue *q, size_t capacity, int consumer_wake, int producer_wake);
void io_queue_destroy(struct io_queue *q);
/* -EAGAIN when full: the caller keeps the item and waits for producer_wake. */
int io_queue_push(struct io_queue *q, void *item);
void *io_queue_pop(struct io_queue *q);
size_t io_queue_count(struct io_queue *q);
size_t io_queue_space(struct io_queue *q);

/* eventfd helpers: signal adds one, drain reads the counter (non-blocking). */
void io_wake_signal(int fd);
void io_wake_drain(int fd);

/*
 * A batch of packets or datagrams travelling between a worker thread and the engine thread:
 * the views in pkt[] point into data[].  One type for UDP receive batches and TUN batches.
 */
#define IO_BATCH_PACKETS 256
#define IO_BATCH_BYTES   (256 * 1024)

struct io_batch {
        uint32_t count;
        uint32_t used; /* bytes of data[] in use */
        struct io_datagram pkt[IO_BATCH_PACKETS];
        uint8_t data[IO_BATCH_BYTES];
};

/* Append a copy of one packet; -ENOSPC when it does not fit (the caller starts a new batch). */
int io_batch_append(struct io_batch *b, const uint8_t *data, size_t len, struct io_datagram **ret);
void io_batch_reset(struct io_batch *b);
