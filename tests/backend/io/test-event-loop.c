/* SPDX-License-Identifier: MIT */
/*
 * The loop's scheduling with fake sources (no threads) and a fake clock: fairness between
 * sources under flood, per-packet error isolation, the aggregate error set, back-pressure,
 * and the UDP↔TUN forwarding test engine end to end through the fake sinks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "backend/io/event-loop.h"
#include "tests/support/test-support.h"

/* A forwarding engine: a UDP datagram becomes a TUN packet and a TUN packet becomes a UDP
 * datagram to `peer` (what a tunnel does, minus the crypto).  Payloads starting with 'X'
 * fail with -EBADMSG, like a packet that does not decrypt. */
#define RING 8192

struct fwd_engine {
        uint64_t deadline; /* UINT64_MAX: no timer */
        uint64_t timer_period;
        union io_sockaddr peer;
        bool vary_port; /* every transmit to its own port: one GSO batch each */
        unsigned control, timers, datagrams, tun_packets;
        unsigned processed_index[1024]; /* datagrams seen, by first payload byte */
        struct {
                uint8_t data[1500];
                uint16_t len;
        } to_udp[RING], to_tun[RING];
        unsigned udp_head, udp_tail, tun_head, tun_tail;
        struct io_error collected[4096];
        unsigned n_collected, error_reports;
};

static int fwd_datagram(void *e, uint64_t now, const struct io_datagram *dg)
{
        struct fwd_engine *f = e;

        f->datagrams++;
        if (dg->len > 0 && dg->data[0] == 'X')
                return -EBADMSG;
        if (dg->len >= 2)
                f->processed_index[dg->data[1]]++;
        g_assert_cmpuint(f->tun_tail - f->tun_head, <, RING);
        memcpy(f->to_tun[f->tun_tail % RING].data, dg->data, dg->len);
        f->to_tun[f->tun_tail++ % RING].len = dg->len;
        return 0;
}

static int fwd_tun(void *e, uint64_t now, const uint8_t *p, size_t len)
{
        struct fwd_engine *f = e;

        f->tun_packets++;
        if (len > 0 && p[0] == 'X')
                return -EBADMSG;
        g_assert_cmpuint(f->udp_tail - f->udp_head, <, RING);
        memcpy(f->to_udp[f->udp_tail % RING].data, p, len);
        f->to_udp[f->udp_tail++ % RING].len = (uint16_t)len;
        return 0;
}

static void fwd_timeout(void *e, uint64_t now)
{
        struct fwd_engine *f = e;

        f->timers++;
        f->deadline = now + f->timer_period;
}

static int fwd_control(void *e, uint64_t now)
{
        ((struct fwd_engine *)e)->control++;
        return 0;
}

static uint64_t fwd_poll_timeout(void *e)
{
        return ((struct fwd_engine *)e)->deadline;
}

static size_t fwd_transmit(void *e, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        struct fwd_engine *f = e;
        size_t len;

        if (f->udp_head == f->udp_tail)
                return 0;
        len = f->to_udp[f->udp_head % RING].len;
        memcpy(buf, f->to_udp[f->udp_head++ % RING].data, len);
        t->flow.dst = f->peer;
        if (f->vary_port)
                f->peer.in.sin_port = htons((uint16_t)(ntohs(f->peer.in.sin_port) + 1));
        return len;
}

static size_t fwd_tun_packet(void *e, uint8_t *buf, size_t cap)
{
        struct fwd_engine *f = e;
        size_t len;

        if (f->tun_head == f->tun_tail)
                return 0;
        len = f->to_tun[f->tun_head % RING].len;
        memcpy(buf, f->to_tun[f->tun_head++ % RING].data, len);
        return len;
}

static void fwd_errors(void *e, const struct io_error_set *set)
{
        struct fwd_engine *f = e;

        f->error_reports++;
        for (uint32_t i = 0; i < set->count && f->n_collected < G_N_ELEMENTS(f->collected); i++)
                f->collected[f->n_collected++] = set->errors[i];
}

static const struct io_engine_ops fwd_ops = {
        .handle_datagram = fwd_datagram,
        .handle_tun_packet = fwd_tun,
        .handle_timeout = fwd_timeout,
        .handle_control = fwd_control,
        .poll_timeout = fwd_poll_timeout,
        .poll_transmit = fwd_transmit,
        .poll_tun_packet = fwd_tun_packet,
        .handle_errors = fwd_errors,
};

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
        return fake_now;
}

struct fixture {
        struct fwd_engine *eng;
        struct io_loop *loop;
};

static void setup(struct fixture *fx, gconstpointer data)
{
        struct io_loop_config cfg = { .clock = fake_clock, .udp_batches_per_tick = 4, .packet_budget = 512 };

        fake_now = 1000;
        fx->eng = g_new0(struct fwd_engine, 1);
        fx->eng->deadline = UINT64_MAX;
        fx->eng->peer.in.sin_family = AF_INET;
        fx->eng->peer.in.sin_port = htons(51820);
        fx->eng->peer.in.sin_addr.s_addr = htonl(0x0a000002);
        g_assert_cmpint(io_loop_new(&fwd_ops, fx->eng, &cfg, &fx->loop), ==, 0);
        g_assert_cmpint(io_loop_add_udp(fx->loop, NULL, AF_INET), ==, 0);
        g_assert_cmpint(io_loop_add_udp(fx->loop, NULL, AF_INET6), ==, 1);
        g_assert_cmpint(io_loop_set_tun(fx->loop, -1, false, 0), ==, 0);
}

static void teardown(struct fixture *fx, gconstpointer data)
{
        io_loop_free(fx->loop);
        g_free(fx->eng);
}

static void drain_sinks(struct fixture *fx, unsigned *ret_udp, unsigned *ret_tun)
{
        struct gso_batch *g;
        struct io_batch *b;

        while ((g = io_loop_take_udp_out(fx->loop, 0))) {
                if (ret_udp)
                        *ret_udp += g->segments;
                io_loop_release_udp_out(fx->loop, g);
        }
        while ((b = io_loop_take_tun_out(fx->loop))) {
                if (ret_tun)
                        *ret_tun += b->count;
                io_loop_release_tun_out(fx->loop, b);
        }
}

static void feed_udp(struct fixture *fx, unsigned socket, unsigned n, uint8_t first)
{
        struct io_datagram dgs[256];
        uint8_t bufs[256][64];

        g_assert_cmpuint(n, <=, 256);
        for (unsigned i = 0; i < n; i++) {
                memset(bufs[i], 'd', sizeof(bufs[i]));
                bufs[i][0] = first;
                bufs[i][1] = (uint8_t)i;
                dgs[i] = (struct io_datagram){ .data = bufs[i], .len = sizeof(bufs[i]) };
        }
        g_assert_cmpint(io_loop_feed_udp(fx->loop, socket, dgs, n), ==, 0);
}

/* Socket 0 is flooded (its queue refilled to the brim before every tick); socket 1, the TUN,
 * the timer and the control fd each have a little work.  Every one of them is served every
 * tick, and the flood is bounded by the budget. */
static void test_flood_does_not_starve(struct fixture *fx, gconstpointer data)
{
        struct io_stats st;
        const unsigned ticks = 50;

        fx->eng->deadline = fake_now;
        fx->eng->timer_period = 10;
        for (unsigned t = 0; t < ticks; t++) {
                const uint8_t pkt[40] = { 't' };
                const uint8_t *pkts[1] = { pkt };
                size_t lens[1] = { sizeof(pkt) };

                while (io_loop_feed_udp(fx->loop, 0, (struct io_datagram[]){ { .data = pkt, .len = 40 } },
                                        1) == 0) {
                }
                feed_udp(fx, 1, 1, 'q');
                g_assert_cmpint(io_loop_feed_tun(fx->loop, pkts, lens, 1), ==, 0);
                io_wake_signal(io_loop_control_fd(fx->loop));
                fake_now += 10; /* the timer is due every tick */
                g_assert_cmpint(io_loop_tick(fx->loop), >, 0);
                drain_sinks(fx, NULL, NULL);
        }
        io_loop_get_stats(fx->loop, &st);
        g_test_message("service counts over %u ticks: udp0 %" G_GUINT64_FORMAT
                       " batches, udp1 %" G_GUINT64_FORMAT ", tun %" G_GUINT64_FORMAT
                       ", timers %" G_GUINT64_FORMAT ", control %" G_GUINT64_FORMAT,
                       ticks, st.udp_batches[0], st.udp_batches[1], st.tun_batches, st.timers, st.control);
        g_assert_cmpuint(st.udp_batches[1], ==, ticks);
        g_assert_cmpuint(st.tun_batches, ==, ticks);
        g_assert_cmpuint(st.timers, ==, ticks);
        g_assert_cmpuint(st.control, ==, ticks);
        /* The flood got at most its per-tick share, never everything queued. */
        g_assert_cmpuint(st.udp_batches[0], <=, ticks * 4);
        g_assert_cmpuint(st.udp_batches[0], >=, ticks);
}

/* The per-tick packet budget: big batches on both sockets; each tick takes at most about
 * the budget, and both sockets get their turn in the same tick. */
static void test_budget_round_robin(struct fixture *fx, gconstpointer data)
{
        struct io_stats st;

        for (int i = 0; i < 8; i++) {
                feed_udp(fx, 0, 200, 'a');
                feed_udp(fx, 1, 200, 'b');
        }
        g_assert_cmpint(io_loop_tick(fx->loop), >, 0);
        io_loop_get_stats(fx->loop, &st);
        g_assert_cmpuint(st.udp_batches[0], ==, 2);
        g_assert_cmpuint(st.udp_batches[1], ==, 1);
        g_assert_cmpuint(st.udp_datagrams[0] + st.udp_datagrams[1], <=, 512 + 200);
        drain_sinks(fx, NULL, NULL);
        /* What the budget left is still queued and comes in later ticks, in order. */
        for (int t = 0; t < 20; t++) {
                io_loop_tick(fx->loop);
                drain_sinks(fx, NULL, NULL);
        }
        io_loop_get_stats(fx->loop, &st);
        g_assert_cmpuint(st.udp_datagrams[0], ==, 1600);
        g_assert_cmpuint(st.udp_datagrams[1], ==, 1600);
}

/* An error at packet k: k+1..n are still processed; the aggregate has every error with its
 * source and index, and is handed over once, after the batch. */
static void test_errors_aggregate(struct fixture *fx, gconstpointer data)
{
        struct io_datagram dgs[10];
        uint8_t bufs[10][8];
        const uint8_t tun_bad[4] = { 'X' }, tun_good[4] = { 'g' };
        const uint8_t *tun_pkts[3] = { tun_good, tun_bad, tun_good };
        size_t tun_lens[3] = { 4, 4, 4 };
        unsigned to_tun = 0, to_udp = 0;

        for (unsigned i = 0; i < 10; i++) {
                memset(bufs[i], 'd', sizeof(bufs[i]));
                bufs[i][1] = (uint8_t)i;
                if (i == 3 || i == 7)
                        bufs[i][0] = 'X';
                dgs[i] = (struct io_datagram){ .data = bufs[i], .len = sizeof(bufs[i]) };
        }
        g_assert_cmpint(io_loop_feed_udp(fx->loop, 0, dgs, 10), ==, 0);
        g_assert_cmpint(io_loop_feed_tun(fx->loop, tun_pkts, tun_lens, 3), ==, 0);
        g_assert_cmpint(io_loop_tick(fx->loop), >, 0);

        g_assert_cmpuint(fx->eng->datagrams, ==, 10);
        for (unsigned i = 0; i < 10; i++)
                g_assert_cmpuint(fx->eng->processed_index[i], ==, i == 3 || i == 7 ? 0 : 1);
        g_assert_cmpuint(fx->eng->error_reports, ==, 1);
        g_assert_cmpuint(fx->eng->n_collected, ==, 3);
        /* TUN is processed first within a tick */
        g_assert_cmpuint(fx->eng->collected[0].source, ==, IO_SOURCE_TUN);
        g_assert_cmpuint(fx->eng->collected[0].index, ==, 1);
        g_assert_cmpuint(fx->eng->collected[1].source, ==, IO_SOURCE_UDP);
        g_assert_cmpuint(fx->eng->collected[1].index, ==, 3);
        g_assert_cmpuint(fx->eng->collected[2].index, ==, 7);
        g_assert_cmpint(fx->eng->collected[2].err, ==, -EBADMSG);
        drain_sinks(fx, &to_udp, &to_tun);
        g_assert_cmpuint(to_tun, ==, 8);
        g_assert_cmpuint(to_udp, ==, 2);
}

/* Every error of a tick is reported, even hundreds. */
static void test_errors_all_reported(struct fixture *fx, gconstpointer data)
{
        feed_udp(fx, 0, 256, 'X');
        feed_udp(fx, 1, 200, 'X');
        g_assert_cmpint(io_loop_tick(fx->loop), >, 0);
        g_assert_cmpuint(fx->eng->n_collected, ==, 456);
        g_assert_cmpuint(fx->eng->error_reports, ==, 1);
}

/* Nobody drains the UDP sink: the GSO path fills up, the loop stops pulling transmits and
 * stops reading input, but keeps serving timers and control; nothing is lost, and once the
 * sink drains everything flows in order. */
static void test_backpressure(struct fixture *fx, gconstpointer data)
{
        struct io_stats st;
        unsigned sent = 0, fed = 0;
        uint32_t expect = 0;

        /* Distinct flows so every datagram is its own GSO batch: the path fills quickly. */
        fx->eng->vary_port = true;
        for (unsigned round = 0; round < 100; round++) {
                uint8_t pkt[4][32];
                const uint8_t *pkts[4] = { pkt[0], pkt[1], pkt[2], pkt[3] };
                size_t lens[4] = { 32, 32, 32, 32 };

                for (uint32_t i = 0; i < 4; i++) {
                        uint32_t seq = fed + i;

                        memset(pkt[i], 'p', 32);
                        memcpy(pkt[i] + 4, &seq, sizeof(seq));
                }
                if (io_loop_feed_tun(fx->loop, pkts, lens, 4) == 0)
                        fed += 4;
                io_wake_signal(io_loop_control_fd(fx->loop));
                io_loop_tick(fx->loop);
        }
        io_loop_get_stats(fx->loop, &st);
        g_assert_cmpuint(st.backpressure_ticks, >, 0);
        g_assert_cmpuint(st.control, ==, 100); /* control work never starved */
        /* The loop stopped reading the TUN: input waits in its queue, not dropped. */
        g_assert_cmpuint(st.tun_packets, <, fed);
        g_assert_cmpuint(fed, >, 0);

        for (int t = 0; t < 1000 && sent < fed; t++) {
                struct gso_batch *g;

                io_loop_tick(fx->loop);
                while ((g = io_loop_take_udp_out(fx->loop, 0))) {
                        for (unsigned i = 0; i < g->segments; i++) {
                                uint32_t seq;

                                memcpy(&seq, g->buf + i * g->segment_size + 4, sizeof(seq));
                                g_assert_cmpuint(seq, ==, expect++);
                                sent++;
                        }
                        io_loop_release_udp_out(fx->loop, g);
                }
        }
        g_assert_cmpuint(sent, ==, fed);
}

/* io_loop_run() on the real clock: it sleeps until the engine's deadline, and a signal on
 * the control eventfd from another thread wakes it while idle. */
struct run_engine {
        struct io_loop *loop;
        uint64_t deadline;
        unsigned timers, control;
};

static uint64_t run_poll_timeout(void *e)
{
        return ((struct run_engine *)e)->deadline;
}

static void run_timeout(void *e, uint64_t now)
{
        struct run_engine *r = e;

        r->timers++;
        r->deadline = r->timers < 3 ? now + 20 * 1000 * 1000 : UINT64_MAX;
}

static int run_control(void *e, uint64_t now)
{
        struct run_engine *r = e;

        if (++r->control == 1)
                io_loop_stop(r->loop);
        return 0;
}

static size_t run_transmit(void *e, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        return 0;
}

static gpointer signal_control_later(gpointer data)
{
        struct run_engine *r = data;

        /* after the three timers (60 ms), while the loop sleeps without a deadline */
        g_usleep(300 * 1000);
        io_wake_signal(io_loop_control_fd(r->loop));
        return NULL;
}

static void test_run_sleeps_and_wakes(void)
{
        static const struct io_engine_ops ops = {
                .handle_datagram = fwd_datagram,
                .handle_tun_packet = fwd_tun,
                .handle_timeout = run_timeout,
                .handle_control = run_control,
                .poll_timeout = run_poll_timeout,
                .poll_transmit = run_transmit,
        };
        struct io_loop_config cfg = { 0 };
        struct run_engine r = { 0 };
        struct io_stats st;
        GThread *t;

        g_assert_cmpint(io_loop_new(&ops, &r, &cfg, &r.loop), ==, 0);
        r.deadline = 0; /* due at once */
        g_assert_cmpint(io_loop_start(r.loop), ==, 0);
        t = g_thread_new("control", signal_control_later, &r);
        g_assert_cmpint(io_loop_run(r.loop), ==, 0);
        g_thread_join(t);
        io_loop_get_stats(r.loop, &st);
        g_assert_cmpuint(r.timers, ==, 3);
        g_assert_cmpuint(r.control, ==, 1);
        /* It slept: a handful of ticks, not thousands of empty spins. */
        g_assert_cmpuint(st.ticks, <, 50);
        io_loop_free(r.loop);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
        ADD("/io/event-loop/flood-does-not-starve", test_flood_does_not_starve);
        ADD("/io/event-loop/budget-round-robin", test_budget_round_robin);
        ADD("/io/event-loop/errors-aggregate", test_errors_aggregate);
        ADD("/io/event-loop/errors-all-reported", test_errors_all_reported);
        ADD("/io/event-loop/backpressure", test_backpressure);
        g_test_add_func("/io/event-loop/run-sleeps-and-wakes", test_run_sleeps_and_wakes);
        return g_test_run();
}
