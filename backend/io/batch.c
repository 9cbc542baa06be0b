/* SPDX-License-Identifier: MIT */
#include "backend/io/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct io_pool {
        pthread_mutex_t lock;
        size_t object_size, count, nfree;
        void **free;
        uint8_t *memory;
};

int io_pool_new(size_t object_size, size_t count, struct io_pool **ret)
{
        struct io_pool *pool;

        if (object_size == 0 || count == 0)
                return -EINVAL;
        pool = calloc(1, sizeof(*pool));
        if (!pool)
                return -ENOMEM;
        /* Objects are cache-line aligned so two threads never share a line. */
        pool->object_size = (object_size + 63) & ~(size_t)63;
        pool->count = count;
        pool->free = calloc(count, sizeof(void *));
        pool->memory = aligned_alloc(64, pool->object_size * count);
        if (!pool->free || !pool->memory) {
                io_pool_free(pool);
                return -ENOMEM;
        }
        for (size_t i = 0; i < count; i++)
                pool->free[i] = pool->memory + i * pool->object_size;
        pool->nfree = count;
        pthread_mutex_init(&pool->lock, NULL);
        *ret = pool;
        return 0;
}

void io_pool_free(struct io_pool *pool)
{
        if (!pool)
                return;
        if (pool->free && pool->memory)
                pthread_mutex_destroy(&pool->lock);
        free(pool->free);
        free(pool->memory);
        free(pool);
}

void *io_pool_get(struct io_pool *pool)
{
        void *object = NULL;

        pthread_mutex_lock(&pool->lock);
        if (pool->nfree > 0)
                object = pool->free[--pool->nfree];
        pthread_mutex_unlock(&pool->lock);
        return object;
}

void io_pool_put(struct io_pool *pool, void *object)
{
        if (!object)
                return;
        pthread_mutex_lock(&pool->lock);
        if (pool->nfree < pool->count)
                pool->free[pool->nfree++] = object;
        pthread_mutex_unlock(&pool->lock);
}

size_t io_pool_available(struct io_pool *pool)
{
        size_t n;

        pthread_mutex_lock(&pool->lock);
        n = pool->nfree;
        pthread_mutex_unlock(&pool->lock);
        return n;
}

size_t io_pool_capacity(const struct io_pool *pool)
{
        return pool->count;
}

int io_queue_init(struct io_queue *q, size_t capacity, int consumer_wake, int producer_wake)
{
        memset(q, 0, sizeof(*q));
        if (capacity == 0)
                return -EINVAL;
        q->ring = calloc(capacity, sizeof(void *));
        if (!q->ring)
                return -ENOMEM;
        q->capacity = capacity;
        q->consumer_wake = consumer_wake;
        q->producer_wake = producer_wake;
        pthread_mutex_init(&q->lock, NULL);
        return 0;
}

void io_queue_destroy(struct io_queue *q)
{
        if (!q->ring)
                return;
        pthread_mutex_destroy(&q->lock);
        free(q->ring);
        q->ring = NULL;
}

/*
 * Wake-ups only on the transitions a peer can be waiting for: a consumer sleeps only after it
 * found the queue empty, a producer only after it found it full.  Both check under the lock,
 * so a push onto an empty queue or a pop from a full one always signals; the others would be
 * a write() syscall each for a thread that is awake anyway.
 */
int io_queue_push(struct io_queue *q, void *item)
{
        bool was_empty;

        pthread_mutex_lock(&q->lock);
        if (q->count == q->capacity) {
                pthread_mutex_unlock(&q->lock);
                return -EAGAIN;
        }
        q->ring[(q->head + q->count) % q->capacity] = item;
        was_empty = q->count++ == 0;
        pthread_mutex_unlock(&q->lock);
        if (was_empty)
                io_wake_signal(q->consumer_wake);
        return 0;
}

void *io_queue_pop(struct io_queue *q)
{
        void *item = NULL;
        bool was_full = false;

        pthread_mutex_lock(&q->lock);
        if (q->count > 0) {
                item = q->ring[q->head];
                q->head = (q->head + 1) % q->capacity;
                was_full = q->count-- == q->capacity;
        }
        pthread_mutex_unlock(&q->lock);
        if (was_full)
                io_wake_signal(q->producer_wake);
        return item;
}

size_t io_queue_count(struct io_queue *q)
{
        size_t n;

        pthread_mutex_lock(&q->lock);
        n = q->count;
        pthread_mutex_unlock(&q->lock);
        return n;
}

size_t io_queue_space(struct io_queue *q)
{
        return q->capacity - io_queue_count(q);
}

void io_wake_signal(int fd)
{
        uint64_t one = 1;

        if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
                /* EAGAIN: the counter is saturated, the reader is woken anyway. */
        }
}

void io_wake_drain(int fd)
{
        uint64_t n;

        if (fd >= 0 && read(fd, &n, sizeof(n)) < 0) {
                /* EAGAIN: nothing was signalled. */
        }
}

int io_batch_append(struct io_batch *b, const uint8_t *data, size_t len, struct io_datagram **ret)
{
        struct io_datagram *d;

        if (len > UINT16_MAX)
                return -EMSGSIZE;
        if (b->count == IO_BATCH_PACKETS || IO_BATCH_BYTES - b->used < len)
                return -ENOSPC;
        d = &b->pkt[b->count++];
        memset(d, 0, sizeof(*d));
        if (len)
                memcpy(b->data + b->used, data, len);
        d->data = b->data + b->used;
        d->len = (uint16_t)len;
        b->used += (uint32_t)len;
        if (ret)
                *ret = d;
        return 0;
}

void io_batch_reset(struct io_batch *b)
{
        b->count = 0;
        b->used = 0;
}
