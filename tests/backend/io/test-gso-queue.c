/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "backend/io/gso-queue.h"
#include "tests/support/test-support.h"

static struct io_flow flow_to(const char *ip, uint16_t port, uint8_t ecn)
{
        struct io_flow f = { .ecn = ecn };

        f.dst.in.sin_family = AF_INET;
        f.dst.in.sin_port = htons(port);
        inet_pton(AF_INET, ip, &f.dst.in.sin_addr);
        return f;
}

/* A datagram whose bytes say which flow and which sequence number it carries. */
static void push(struct gso_queue *q, const struct io_flow *f, uint8_t tag, uint8_t seq, size_t len)
{
        uint8_t buf[2000];

        memset(buf, seq, len);
        buf[0] = tag;
        g_assert_cmpint(gso_queue_push(q, f, buf, len), ==, 0);
}

struct fixture {
        struct io_pool *pool;
        struct gso_queue q;
};

static void setup(struct fixture *fx, gconstpointer data)
{
        g_assert_cmpint(io_pool_new(sizeof(struct gso_batch), 16, &fx->pool), ==, 0);
        g_assert_cmpint(gso_queue_init(&fx->q, fx->pool, 8), ==, 0);
}

static void teardown(struct fixture *fx, gconstpointer data)
{
        gso_queue_destroy(&fx->q);
        io_pool_free(fx->pool);
}

static void check_segment(const struct gso_batch *b, size_t i, uint8_t tag, uint8_t seq, size_t len)
{
        const uint8_t *p = b->buf + i * b->segment_size;

        g_assert_cmpuint(gso_batch_segment_len(b, i), ==, len);
        g_assert_cmpuint(p[0], ==, tag);
        g_assert_cmpuint(p[len - 1], ==, seq);
}

/* The bug Firezone shipped (#8912): 4500 bytes as 3×1252 + 744 left with the 744 first. */
static void test_short_tail_stays_last(struct fixture *fx, gconstpointer data)
{
        struct io_flow f = flow_to("10.0.0.2", 51820, 0);
        struct gso_batch *b;

        for (uint8_t i = 0; i < 3; i++)
                push(&fx->q, &f, 'A', i, 1252);
        push(&fx->q, &f, 'A', 3, 744);
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 1);
        b = gso_queue_pop(&fx->q);
        g_assert_nonnull(b);
        g_assert_cmpuint(b->segments, ==, 4);
        g_assert_cmpuint(b->segment_size, ==, 1252);
        g_assert_cmpuint(b->len, ==, 4500);
        for (uint8_t i = 0; i < 3; i++)
                check_segment(b, i, 'A', i, 1252);
        check_segment(b, 3, 'A', 3, 744);
        g_assert_true(b->sealed);
        io_pool_put(fx->pool, b);
        g_assert_null(gso_queue_pop(&fx->q));
}

static void test_sealed_batch_starts_new(struct fixture *fx, gconstpointer data)
{
        struct io_flow f = flow_to("10.0.0.2", 51820, 0);
        struct gso_batch *b;

        push(&fx->q, &f, 'A', 0, 1252);
        push(&fx->q, &f, 'A', 1, 744);  /* seals */
        push(&fx->q, &f, 'A', 2, 1252); /* a new batch behind it */
        push(&fx->q, &f, 'A', 3, 1300); /* longer than the segment size: new batch */
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 3);
        b = gso_queue_pop(&fx->q);
        g_assert_cmpuint(b->segments, ==, 2);
        check_segment(b, 1, 'A', 1, 744);
        io_pool_put(fx->pool, b);
        b = gso_queue_pop(&fx->q);
        g_assert_cmpuint(b->segments, ==, 1);
        check_segment(b, 0, 'A', 2, 1252);
        io_pool_put(fx->pool, b);
        b = gso_queue_pop(&fx->q);
        check_segment(b, 0, 'A', 3, 1300);
        io_pool_put(fx->pool, b);
}

/* A B A B …: batches leave in arrival order and every flow's datagrams in its own order. */
static void test_interleaved_flows(struct fixture *fx, gconstpointer data)
{
        struct io_flow a = flow_to("10.0.0.2", 51820, 0), b = flow_to("10.0.0.3", 51820, 0);
        uint8_t next[2] = { 0, 0 };
        struct gso_batch *batch;
        char order[16] = "";

        push(&fx->q, &a, 'A', 0, 1200);
        push(&fx->q, &a, 'A', 1, 1200);
        push(&fx->q, &b, 'B', 0, 1200);
        push(&fx->q, &a, 'A', 2, 1200); /* A reappears after B's batch: a new batch behind B */
        push(&fx->q, &b, 'B', 1, 1200);
        push(&fx->q, &b, 'B', 2, 1200);
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 4);
        while ((batch = gso_queue_pop(&fx->q))) {
                uint8_t tag = batch->buf[0];

                strncat(order, (const char *)&tag, 1);
                for (size_t i = 0; i < batch->segments; i++) {
                        const uint8_t *p = batch->buf + i * batch->segment_size;

                        g_assert_cmpuint(p[0], ==, tag);
                        g_assert_cmpuint(p[1], ==, next[tag - 'A']++);
                }
                io_pool_put(fx->pool, batch);
        }
        g_assert_cmpstr(order, ==, "ABAB");
        g_assert_cmpuint(next[0], ==, 3);
        g_assert_cmpuint(next[1], ==, 3);
}

static void test_flow_key(struct fixture *fx, gconstpointer data)
{
        struct io_flow f = flow_to("10.0.0.2", 51820, 0), ce = flow_to("10.0.0.2", 51820, 2),
                       port = flow_to("10.0.0.2", 51821, 0), src = f;

        src.src.family = AF_INET;
        inet_pton(AF_INET, "10.0.0.9", &src.src.v4);
        push(&fx->q, &f, 'A', 0, 1000);
        push(&fx->q, &ce, 'A', 1, 1000);   /* ECN differs */
        push(&fx->q, &port, 'A', 2, 1000); /* destination port differs */
        push(&fx->q, &src, 'A', 3, 1000);  /* source address differs */
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 4);
}

static void test_limits(struct fixture *fx, gconstpointer data)
{
        struct io_flow f = flow_to("10.0.0.2", 51820, 0);
        struct gso_batch *b;
        uint8_t big[IO_GSO_MAX_BYTES] = { 0 };

        /* 64 segments at most */
        for (int i = 0; i < 65; i++)
                push(&fx->q, &f, 'A', (uint8_t)i, 100);
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 2);
        b = gso_queue_pop(&fx->q);
        g_assert_cmpuint(b->segments, ==, 64);
        io_pool_put(fx->pool, b);
        b = gso_queue_pop(&fx->q);
        check_segment(b, 0, 'A', 64, 100);
        io_pool_put(fx->pool, b);

        /* the IPv4 length limit: 49 × 1312 bytes fit, the 50th starts a new batch */
        for (int i = 0; i < 50; i++)
                push(&fx->q, &f, 'A', (uint8_t)i, 1312);
        b = gso_queue_pop(&fx->q);
        g_assert_cmpuint(b->segments, ==, 49);
        g_assert_cmpuint(b->len, <=, 65535 - 68);
        io_pool_put(fx->pool, b);
        io_pool_put(fx->pool, gso_queue_pop(&fx->q));

        g_assert_cmpint(gso_queue_push(&fx->q, &f, big, 0), ==, -EMSGSIZE);
        g_assert_cmpint(gso_queue_push(&fx->q, &f, big, sizeof(big)), ==, -EMSGSIZE);
}

static void test_full_queue(struct fixture *fx, gconstpointer data)
{
        uint8_t buf[100] = { 0 };

        for (uint16_t i = 0; i < 8; i++) {
                struct io_flow f = flow_to("10.0.0.2", (uint16_t)(1000 + i), 0);

                g_assert_cmpint(gso_queue_push(&fx->q, &f, buf, sizeof(buf)), ==, 0);
        }
        struct io_flow f = flow_to("10.0.0.3", 1, 0);
        /* Refused, not dropped: the caller keeps the datagram and flushes first. */
        g_assert_cmpint(gso_queue_push(&fx->q, &f, buf, sizeof(buf)), ==, -ENOBUFS);
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 8);
}

/* Writing in place: a committed reservation is appended by the same rules as a push, with the
 * length actually written; a cancelled one leaves the queue and the pool as they were. */
static void test_reserve_in_place(struct fixture *fx, gconstpointer data)
{
        struct io_flow f = flow_to("10.0.0.2", 51820, 0), g = flow_to("10.0.0.3", 51820, 0);
        size_t free_before = io_pool_available(fx->pool);
        struct gso_batch *b;
        uint8_t *p;
        int r = 0;

        p = gso_queue_reserve(&fx->q, &f, 1252, &r);
        g_assert_nonnull(p);
        memset(p, 1, 1252);
        p[0] = 'f';
        gso_queue_commit(&fx->q, 1252);
        p = gso_queue_reserve(&fx->q, &f, 1252, &r);
        g_assert_nonnull(p);
        memset(p, 2, 744);
        p[0] = 'f';
        gso_queue_commit(&fx->q, 744); /* shorter than reserved: the batch's tail */
        g_assert_nonnull(gso_queue_reserve(&fx->q, &g, 100, &r));
        gso_queue_cancel(&fx->q); /* a new batch, given back */
        g_assert_nonnull(gso_queue_reserve(&fx->q, &f, 1252, &r));
        gso_queue_cancel(&fx->q); /* would start a batch after the sealed one */
        g_assert_cmpuint(gso_queue_count(&fx->q), ==, 1);
        g_assert_cmpuint(io_pool_available(fx->pool), ==, free_before - 1);
        g_assert_null(gso_queue_reserve(&fx->q, &f, 0, &r));
        g_assert_cmpint(r, ==, -EMSGSIZE);

        b = gso_queue_pop(&fx->q);
        g_assert_cmpuint(b->segments, ==, 2);
        g_assert_true(b->sealed);
        check_segment(b, 0, 'f', 1, 1252);
        check_segment(b, 1, 'f', 2, 744);
        io_pool_put(fx->pool, b);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
        ADD("/io/gso-queue/short-tail-stays-last", test_short_tail_stays_last);
        ADD("/io/gso-queue/reserve-in-place", test_reserve_in_place);
        ADD("/io/gso-queue/sealed-batch", test_sealed_batch_starts_new);
        ADD("/io/gso-queue/interleaved-flows", test_interleaved_flows);
        ADD("/io/gso-queue/flow-key", test_flow_key);
        ADD("/io/gso-queue/limits", test_limits);
        ADD("/io/gso-queue/full", test_full_queue);
        return g_test_run();
}
