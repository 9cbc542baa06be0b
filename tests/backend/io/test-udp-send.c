/* SPDX-License-Identifier: MIT */
/*
 * The send path's errno handling, with errors injected through the sendmmsg seam and real
 * datagrams on 127.0.0.1 otherwise: what is promised kept is really delivered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "backend/io/event-loop.h"
#include "backend/io/udp-socket.h"
#include "tests/support/test-support.h"

#define N_LOOP 120

/* The injection script: the next `inject_count` sends fail with `inject_errno`
 * (-1: forever); then real sendmsg(). */
static atomic_int inject_errno;
static atomic_int inject_count;
static atomic_int send_calls;

static int fake_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
        atomic_fetch_add(&send_calls, 1);
        if (atomic_load(&inject_count) != 0) {
                if (atomic_load(&inject_count) > 0)
                        atomic_fetch_sub(&inject_count, 1);
                errno = atomic_load(&inject_errno);
                return -1;
        }
        return sendmmsg(fd, msgs, n, flags);
}

static void inject(int err, int count)
{
        atomic_store(&inject_errno, err);
        atomic_store(&inject_count, count);
        atomic_store(&send_calls, 0);
}

struct pair {
        struct udp_socket tx;
        int rx; /* a plain socket: it sees each datagram as the wire carried it */
        union io_sockaddr rx_addr;
};

static void pair_open(struct pair *p, bool flag)
{
        struct udp_socket_config cfg = { .policy.enobufs_would_block = flag };
        socklen_t len = sizeof(p->rx_addr);

        cfg.bind.in.sin_family = AF_INET;
        cfg.bind.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(udp_socket_open(&cfg, &p->tx), ==, 0);
        p->tx.sendmmsg_fn = fake_sendmmsg;
        p->rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        g_assert_cmpint(p->rx, >=, 0);
        g_assert_cmpint(bind(p->rx, &cfg.bind.sa, sizeof(cfg.bind.in)), ==, 0);
        /* Room for a whole test's burst, so the receiver never drops what was sent. */
        int size = 4 << 20;
        if (setsockopt(p->rx, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                setsockopt(p->rx, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        g_assert_cmpint(getsockname(p->rx, &p->rx_addr.sa, &len), ==, 0);
}

static void pair_close(struct pair *p)
{
        udp_socket_close(&p->tx);
        close(p->rx);
}

static struct gso_batch *make_batch(const struct pair *p, unsigned segments, size_t seg, size_t last)
{
        struct gso_batch *b = g_malloc0(sizeof(*b));

        b->flow.dst = p->rx_addr;
        b->segment_size = (uint16_t)seg;
        for (unsigned i = 0; i < segments; i++) {
                size_t len = i + 1 == segments ? last : seg;

                memset(b->buf + b->len, (int)i, len);
                b->len += (uint32_t)len;
        }
        b->segments = (uint16_t)segments;
        return b;
}

/* Reads what arrived; checks every segment in order with its size. */
static unsigned drain_rx(const struct pair *p, size_t seg, size_t last, unsigned expect)
{
        uint8_t buf[2048];
        unsigned n = 0;
        ssize_t r;

        while ((r = recv(p->rx, buf, sizeof(buf), 0)) >= 0) {
                g_assert_cmpint(r, ==, n + 1 == expect ? (ssize_t)last : (ssize_t)seg);
                g_assert_cmpuint(buf[0], ==, n);
                n++;
        }
        return n;
}

static void test_would_block_keeps_batch(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0;

        pair_open(&p, false);
        b = make_batch(&p, 4, 1252, 744);
        inject(EAGAIN, 1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_BLOCKED);
        g_assert_cmpuint(b->sent, ==, 0);
        /* POLLOUT is how the worker learns to call again; on a real socket it comes at once. */
        struct pollfd pfd = { .fd = p.tx.fd, .events = POLLOUT };
        g_assert_cmpint(poll(&pfd, 1, 1000), ==, 1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpuint(drain_rx(&p, 1252, 744, 4), ==, 4);
        g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 0);
        g_free(b);
        pair_close(&p);
}

/* Flag on: a transient ENOBUFS loses nothing; every wait has a deadline, so a missing POLLOUT
 * edge cannot hang the sender. */
static void test_enobufs_flag_on_transient(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0, last = 0;

        pair_open(&p, true);
        b = make_batch(&p, 4, 1252, 744);
        inject(ENOBUFS, 3);
        for (int i = 0; i < 3; i++) {
                g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_BACKOFF);
                g_assert_cmpuint(backoff, >, last);
                g_assert_cmpuint(backoff, <=, IO_ENOBUFS_BACKOFF_MAX_NS);
                last = backoff;
        }
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpuint(drain_rx(&p, 1252, 744, 4), ==, 4);
        g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 0);
        g_assert_cmpuint(p.tx.counters.sent_datagrams, ==, 4);
        g_free(b);
        pair_close(&p);
}

/* Flag on, ENOBUFS forever: bounded — gives up after IO_ENOBUFS_MAX_RETRIES waits whose sum
 * is finite, drops and counts. */
static void test_enobufs_flag_on_persistent(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0, total = 0;
        int calls = 0;

        pair_open(&p, true);
        b = make_batch(&p, 3, 1000, 1000);
        inject(ENOBUFS, -1);
        while (udp_socket_send(&p.tx, b, &backoff) == UDP_SEND_BACKOFF) {
                total += backoff;
                g_assert_cmpint(++calls, <=, IO_ENOBUFS_MAX_RETRIES);
        }
        g_assert_cmpint(calls, ==, IO_ENOBUFS_MAX_RETRIES);
        g_assert_cmpuint(total, <, 200 * 1000 * 1000ull);
        g_assert_cmpuint(p.tx.counters.enobufs_giveups, ==, 1);
        g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 3);
        g_assert_cmpint(p.tx.counters.last_errno, ==, ENOBUFS);
        g_free(b);
        pair_close(&p);
}

static void test_enobufs_flag_off(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0;

        pair_open(&p, false);
        b = make_batch(&p, 3, 1000, 500);
        inject(ENOBUFS, 1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 3);
        g_assert_cmpuint(drain_rx(&p, 1000, 500, 3), ==, 0);
        g_free(b);
        pair_close(&p);
}

static void test_drop_errnos(void)
{
        static const int errs[] = { ENETUNREACH,  EHOSTUNREACH, EADDRNOTAVAIL, EMSGSIZE,
                                    EAFNOSUPPORT, EPERM,        ECONNREFUSED };
        struct pair p;
        uint64_t backoff = 0;

        pair_open(&p, true);
        for (size_t i = 0; i < G_N_ELEMENTS(errs); i++) {
                struct gso_batch *b = make_batch(&p, 2, 800, 800);

                inject(errs[i], 1);
                g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
                g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 2 * (i + 1));
                g_assert_cmpint(p.tx.counters.last_errno, ==, errs[i]);
                g_assert_cmpint(atomic_load(&send_calls), ==, 1);
                g_free(b);
        }
        /* The socket still works after all of them. */
        struct gso_batch *ok = make_batch(&p, 2, 800, 300);
        inject(0, 0);
        g_assert_cmpint(udp_socket_send(&p.tx, ok, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpuint(drain_rx(&p, 800, 300, 2), ==, 2);
        g_free(ok);
        pair_close(&p);
}

/* EIO on a GSO send: GSO goes off on that socket and the batch is resent one by one. */
static void test_eio_disables_gso(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0;

        pair_open(&p, false);
        if (!p.tx.gso) {
                g_test_skip("no UDP_SEGMENT on this kernel");
                pair_close(&p);
                return;
        }
        b = make_batch(&p, 4, 1252, 744);
        inject(EIO, 1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_false(p.tx.gso);
        g_assert_cmpuint(p.tx.counters.gso_disabled, ==, 1);
        /* the refused GSO send, then all four datagrams in one sendmmsg() */
        g_assert_cmpint(atomic_load(&send_calls), ==, 2);
        g_assert_cmpuint(p.tx.counters.sent_datagrams, ==, 4);
        g_assert_cmpuint(drain_rx(&p, 1252, 744, 4), ==, 4);
        g_free(b);
        pair_close(&p);
}

static void test_eintr_bounded(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0;

        pair_open(&p, false);
        b = make_batch(&p, 2, 500, 500);
        inject(EINTR, 2);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpuint(drain_rx(&p, 500, 500, 2), ==, 2);
        g_free(b);

        b = make_batch(&p, 2, 500, 500);
        inject(EINTR, -1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_DONE);
        g_assert_cmpint(atomic_load(&send_calls), ==, IO_EINTR_MAX_RETRIES + 1);
        g_assert_cmpuint(p.tx.counters.dropped_datagrams, ==, 2);
        g_free(b);
        pair_close(&p);
}

static void test_fatal(void)
{
        struct pair p;
        struct gso_batch *b;
        uint64_t backoff = 0;

        pair_open(&p, false);
        b = make_batch(&p, 2, 500, 500);
        inject(EBADF, 1);
        g_assert_cmpint(udp_socket_send(&p.tx, b, &backoff), ==, UDP_SEND_FATAL);
        g_assert_cmpint(p.tx.counters.last_errno, ==, EBADF);
        g_free(b);
        pair_close(&p);
}

/* ---- through the whole loop: engine → GSO queue → UDP thread → socket ---------------- */

struct sender_engine {
        union io_sockaddr dst;
        unsigned to_send, queued;
        unsigned errors;
        uint64_t send_drops; /* reported through the aggregate */
        int send_err;
};

static int eng_datagram(void *e, uint64_t now, const struct io_datagram *dg)
{
        return 0;
}

static int eng_tun(void *e, uint64_t now, const uint8_t *p, size_t len)
{
        return 0;
}

static void eng_timeout(void *e, uint64_t now)
{
}

static uint64_t eng_poll_timeout(void *e)
{
        return UINT64_MAX;
}

static size_t eng_transmit(void *e, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        struct sender_engine *s = e;
        uint32_t seq;

        if (s->queued == s->to_send)
                return 0;
        seq = s->queued++;
        t->flow.dst = s->dst;
        memset(buf, 0, 1000);
        memcpy(buf, &seq, sizeof(seq));
        return 1000;
}

static void eng_errors(void *e, const struct io_error_set *set)
{
        struct sender_engine *s = e;

        s->errors += set->count;
        for (uint32_t i = 0; i < set->count; i++)
                if (set->errors[i].source == IO_SOURCE_SEND) {
                        s->send_drops += set->errors[i].index;
                        s->send_err = set->errors[i].err;
                }
}

static const struct io_engine_ops sender_ops = {
        .handle_datagram = eng_datagram,
        .handle_tun_packet = eng_tun,
        .handle_timeout = eng_timeout,
        .poll_timeout = eng_poll_timeout,
        .poll_transmit = eng_transmit,
        .handle_errors = eng_errors,
};

/* Runs the loop until the worker has either sent or dropped every datagram. */
static struct sender_engine eng;

static void run_loop_send(bool flag, int err, int count, unsigned *ret_received, struct udp_counters *ret_c)
{
        struct io_loop_config cfg = { 0 };
        struct io_loop *loop;
        struct pair p;
        unsigned received = 0;
        gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        uint8_t buf[2048];
        bool seen[N_LOOP] = { false };

        pair_open(&p, flag);
        memset(&eng, 0, sizeof(eng));
        eng.to_send = N_LOOP;
        eng.dst = p.rx_addr;
        g_assert_cmpint(io_loop_new(&sender_ops, &eng, &cfg, &loop), ==, 0);
        g_assert_cmpint(io_loop_add_udp(loop, &p.tx, AF_INET), ==, 0);
        inject(err, count);
        g_assert_cmpint(io_loop_start(loop), ==, 0);
        for (;;) {
                struct udp_counters c;
                ssize_t r;

                g_assert_cmpint(io_loop_tick(loop), >=, 0);
                while ((r = recv(p.rx, buf, sizeof(buf), 0)) > 0) {
                        uint32_t seq;

                        memcpy(&seq, buf, sizeof(seq));
                        g_assert_cmpuint(seq, <, N_LOOP);
                        g_assert_false(seen[seq]);
                        seen[seq] = true;
                        received++;
                }
                io_loop_get_udp_counters(loop, 0, &c);
                if (eng.queued == eng.to_send && c.sent_datagrams + c.dropped_datagrams == eng.to_send) {
                        *ret_c = c;
                        break;
                }
                /* A hang here (a lost wake-up) fails the test instead of blocking CI. */
                g_assert_cmpint(g_get_monotonic_time(), <, deadline);
                g_usleep(1000);
        }
        while (recv(p.rx, buf, sizeof(buf), 0) > 0)
                received++;
        io_loop_tick(loop); /* collects drops published after the last tick */
        *ret_received = received;
        io_loop_free(loop);
        pair_close(&p);
}

static void test_loop_enobufs_flag_on(void)
{
        struct udp_counters c;
        unsigned received;

        /* Five ENOBUFS in a row: the worker backs off, wakes up again, and loses nothing. */
        run_loop_send(true, ENOBUFS, 5, &received, &c);
        g_assert_cmpuint(c.dropped_datagrams, ==, 0);
        g_assert_cmpuint(eng.send_drops, ==, 0);
        g_assert_cmpuint(c.sent_datagrams, ==, N_LOOP);
        g_assert_cmpuint(received, ==, N_LOOP);
}

static void test_loop_enobufs_flag_off(void)
{
        struct udp_counters c;
        unsigned received;

        run_loop_send(false, ENOBUFS, 1, &received, &c);
        g_assert_cmpuint(c.dropped_datagrams, >, 0);
        g_assert_cmpuint(c.dropped_datagrams + c.sent_datagrams, ==, N_LOOP);
        g_assert_cmpuint(received, ==, c.sent_datagrams);
        g_assert_cmpint(c.last_errno, ==, ENOBUFS);
        /* …and the drop reached the engine in a tick's aggregate. */
        g_assert_cmpuint(eng.send_drops, ==, c.dropped_datagrams);
        g_assert_cmpint(eng.send_err, ==, -ENOBUFS);
}

static void test_loop_would_block(void)
{
        struct udp_counters c;
        unsigned received;

        run_loop_send(false, EAGAIN, 3, &received, &c);
        g_assert_cmpuint(c.dropped_datagrams, ==, 0);
        g_assert_cmpuint(received, ==, N_LOOP);
}

/* SO_MARK (routing-loop prevention) is applied or the open fails: never silently without. */
static void test_open_options(void)
{
        struct udp_socket_config cfg = { .mark = 0xfd002021 };
        struct udp_socket s;
        uint32_t mark = 0;
        socklen_t len = sizeof(mark);
        int r;

        cfg.bind.in6.sin6_family = AF_INET6;
        cfg.bind.in6.sin6_addr = in6addr_loopback;
        r = udp_socket_open(&cfg, &s);
        if (geteuid() != 0) {
                g_assert_cmpint(r, ==, -EPERM);
                return;
        }
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpint(getsockopt(s.fd, SOL_SOCKET, SO_MARK, &mark, &len), ==, 0);
        g_assert_cmphex(mark, ==, 0xfd002021);
        g_assert_cmpuint(s.port, >, 0);
        /* as root the *FORCE options grant the full sizes whatever net.core.*mem_max says */
        g_assert_cmpint(s.send_buffer, ==, UDP_DEFAULT_SEND_BUFFER);
        g_assert_cmpint(s.recv_buffer, ==, UDP_DEFAULT_RECV_BUFFER);
        udp_socket_close(&s);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/io/udp-send/open-options", test_open_options);
        g_test_add_func("/io/udp-send/would-block-keeps-batch", test_would_block_keeps_batch);
        g_test_add_func("/io/udp-send/enobufs-flag-on-transient", test_enobufs_flag_on_transient);
        g_test_add_func("/io/udp-send/enobufs-flag-on-persistent", test_enobufs_flag_on_persistent);
        g_test_add_func("/io/udp-send/enobufs-flag-off", test_enobufs_flag_off);
        g_test_add_func("/io/udp-send/drop-errnos", test_drop_errnos);
        g_test_add_func("/io/udp-send/eio-disables-gso", test_eio_disables_gso);
        g_test_add_func("/io/udp-send/eintr-bounded", test_eintr_bounded);
        g_test_add_func("/io/udp-send/fatal", test_fatal);
        g_test_add_func("/io/udp-send/loop-enobufs-flag-on", test_loop_enobufs_flag_on);
        g_test_add_func("/io/udp-send/loop-enobufs-flag-off", test_loop_enobufs_flag_off);
        g_test_add_func("/io/udp-send/loop-would-block", test_loop_would_block);
        return g_test_run();
}
