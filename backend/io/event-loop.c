/* SPDX-License-Identifier: MIT */
#include "backend/io/event-loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backend/io/tun-offload.h"

#define PACKET_MAX 65535

struct udp_source {
        struct io_loop *loop;
        unsigned index;
        sa_family_t family;
        struct udp_socket *socket; /* NULL: fake source */
        struct io_queue in, out;   /* io_batch* in, gso_batch* out */
        struct io_pool *rx_pool;
        int wake; /* the worker's eventfd */
        pthread_t thread;
        bool running;
        pthread_mutex_t counters_lock;
        struct udp_counters counters; /* a copy published by the worker */
        uint64_t reported_drops;      /* engine thread: drops already in an aggregate */
};

struct io_loop {
        const struct io_engine_ops *ops;
        void *engine;
        struct io_loop_config cfg;
        int wake;    /* the engine thread's eventfd: queues signal it */
        int control; /* the control eventfd */
        atomic_bool stop;
        atomic_int fatal; /* negative errno of a stopped worker */

        struct udp_source udp[IO_LOOP_MAX_UDP];
        unsigned n_udp;
        struct io_pool *gso_pool;
        struct gso_queue gso;
        struct gso_batch *gso_pending; /* popped, but its socket's queue was full */
        bool gso_pool_ample;           /* holds every batch the queues can hold: never empty */

        /* TUN */
        bool has_tun;
        int tun_fd;
        bool tun_vnet;
        unsigned tun_offloads; /* cleared when the kernel refuses a GSO write */
        struct io_pool *tun_pool;
        struct io_queue tun_in, tun_out;
        struct io_batch *tun_out_cur; /* being filled by poll_tun_packet */
        int tun_wake;
        pthread_t tun_thread;
        bool tun_running;
        atomic_uint_fast64_t tun_malformed, tun_write_dropped;

        /* Per tick */
        struct io_batch **gathered;
        int *gathered_src; /* -1: TUN, else the UDP socket */
        size_t gathered_cap;
        struct io_error_set errors;
        uint32_t errors_cap;
        uint8_t *scratch; /* poll_transmit's buffer */
        struct io_stats stats;
        bool started;
};

static uint64_t monotonic_ns(void *ctx)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t loop_now(struct io_loop *loop)
{
        return loop->cfg.clock(loop->cfg.clock_ctx);
}

static void record_error(struct io_loop *loop, enum io_source source, unsigned socket, uint32_t index,
                         int err)
{
        loop->stats.errors++;
        if (loop->errors.count < loop->errors_cap)
                loop->errors.errors[loop->errors.count++] = (struct io_error){
                        .source = (uint8_t)source, .socket = (uint8_t)socket, .index = index, .err = err
                };
}

int io_loop_new(const struct io_engine_ops *ops, void *engine, const struct io_loop_config *cfg,
                struct io_loop **ret)
{
        struct io_loop *loop;
        int r;

        loop = calloc(1, sizeof(*loop));
        if (!loop)
                return -ENOMEM;
        loop->ops = ops;
        loop->engine = engine;
        loop->cfg = *cfg;
        loop->wake = loop->control = loop->tun_fd = loop->tun_wake = -1;
        if (!loop->cfg.clock)
                loop->cfg.clock = monotonic_ns;
        if (!loop->cfg.udp_batches_per_tick)
                loop->cfg.udp_batches_per_tick = 8;
        if (!loop->cfg.tun_batches_per_tick)
                loop->cfg.tun_batches_per_tick = 1;
        if (!loop->cfg.packet_budget)
                loop->cfg.packet_budget = 4096;
        if (!loop->cfg.tun_queue_batches)
                loop->cfg.tun_queue_batches = 16;
        if (!loop->cfg.gso_batches)
                loop->cfg.gso_batches = 64;

        loop->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        loop->control = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        loop->tun_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        loop->gathered_cap =
            IO_LOOP_MAX_UDP * loop->cfg.udp_batches_per_tick + loop->cfg.tun_batches_per_tick;
        loop->gathered = calloc(loop->gathered_cap, sizeof(*loop->gathered));
        loop->gathered_src = calloc(loop->gathered_cap, sizeof(*loop->gathered_src));
        /* One entry per packet a tick can take, plus the timer and control: every error fits. */
        loop->errors_cap = (uint32_t)loop->gathered_cap * IO_BATCH_PACKETS + 8;
        loop->errors.errors = calloc(loop->errors_cap, sizeof(struct io_error));
        loop->scratch = malloc(PACKET_MAX);
        if (loop->wake < 0 || loop->control < 0 || loop->tun_wake < 0 || !loop->gathered ||
            !loop->gathered_src || !loop->errors.errors || !loop->scratch) {
                r = -ENOMEM;
                goto fail;
        }
        /* The GSO pool also covers batches sitting in the per-socket send queues. */
        r = io_pool_new(sizeof(struct gso_batch), loop->cfg.gso_batches + IO_LOOP_MAX_UDP * 66,
                        &loop->gso_pool);
        if (r < 0)
                goto fail;
        r = gso_queue_init(&loop->gso, loop->gso_pool, loop->cfg.gso_batches);
        if (r < 0)
                goto fail;
        *ret = loop;
        return 0;
fail:
        io_loop_free(loop);
        return r;
}

int io_loop_add_udp(struct io_loop *loop, struct udp_socket *socket, sa_family_t family)
{
        struct udp_source *src;
        unsigned in = loop->cfg.udp_queue_batches ? loop->cfg.udp_queue_batches : 8;
        unsigned out = loop->cfg.udp_queue_batches ? loop->cfg.udp_queue_batches : 64;
        int r;

        if (loop->n_udp == IO_LOOP_MAX_UDP || loop->started)
                return -EBUSY;
        src = &loop->udp[loop->n_udp];
        memset(src, 0, sizeof(*src));
        src->loop = loop;
        src->index = loop->n_udp;
        src->socket = socket;
        src->family = socket ? socket->family : family;
        src->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (src->wake < 0)
                return -errno;
        /* in: the engine is woken by pushes, the worker by pops; out: the reverse. */
        r = io_queue_init(&src->in, in, loop->wake, src->wake);
        if (r == 0)
                r = io_queue_init(&src->out, out, src->wake, loop->wake);
        /* Two spare batches: one being filled by the worker, one being processed. */
        if (r == 0)
                r = io_pool_new(sizeof(struct io_batch), in + loop->cfg.udp_batches_per_tick + 1,
                                &src->rx_pool);
        if (r < 0) {
                io_queue_destroy(&src->in);
                io_queue_destroy(&src->out);
                close(src->wake);
                return r;
        }
        pthread_mutex_init(&src->counters_lock, NULL);
        return (int)loop->n_udp++;
}

int io_loop_replace_udp(struct io_loop *loop, unsigned index, struct udp_socket *s)
{
        struct udp_source *src;

        if (index >= loop->n_udp || !loop->udp[index].socket)
                return -EINVAL;
        src = &loop->udp[index];
        if (s->family != src->family)
                return -EAFNOSUPPORT;
        if (dup3(s->fd, src->socket->fd, O_CLOEXEC) < 0)
                return -errno;
        close(s->fd);
        s->fd = -1;
        io_wake_signal(src->wake);
        return 0;
}

int io_loop_set_tun(struct io_loop *loop, int fd, bool vnet_hdr, unsigned offloads)
{
        int r;

        if (loop->has_tun || loop->started)
                return -EBUSY;
        r = io_queue_init(&loop->tun_in, loop->cfg.tun_queue_batches, loop->wake, loop->tun_wake);
        if (r == 0)
                r = io_queue_init(&loop->tun_out, loop->cfg.tun_queue_batches, loop->tun_wake, loop->wake);
        /* Both queues full, plus the batches in the hands of the two threads. */
        if (r == 0)
                r = io_pool_new(sizeof(struct io_batch),
                                2 * loop->cfg.tun_queue_batches + loop->cfg.tun_batches_per_tick + 3,
                                &loop->tun_pool);
        if (r < 0) {
                io_queue_destroy(&loop->tun_in);
                io_queue_destroy(&loop->tun_out);
                return r;
        }
        loop->has_tun = true;
        loop->tun_fd = fd;
        loop->tun_vnet = vnet_hdr;
        loop->tun_offloads = vnet_hdr ? offloads : 0;
        return 0;
}

int io_loop_control_fd(struct io_loop *loop)
{
        return loop->control;
}

/* ---- the UDP worker ---------------------------------------------------------------- */

static void publish_counters(struct udp_source *src)
{
        pthread_mutex_lock(&src->counters_lock);
        src->counters = src->socket->counters;
        pthread_mutex_unlock(&src->counters_lock);
}

static void *udp_worker(void *arg)
{
        struct udp_source *src = arg;
        struct io_loop *loop = src->loop;
        struct gso_batch *sending = NULL;
        struct io_batch *rx = NULL;
        uint64_t retry_at = 0;

        while (!atomic_load(&loop->stop)) {
                struct pollfd fds[2] = { { .fd = src->socket->fd }, { .fd = src->wake, .events = POLLIN } };
                int timeout = -1;
                bool progress = false;
                uint64_t now = monotonic_ns(NULL);

                /* Send first: a batch waiting for the socket keeps its place at the head.
                 * After ENOBUFS the retry waits for its deadline alone: POLLOUT is usually
                 * still set then and would turn the backoff into a spin. */
                if (sending && now < retry_at) {
                        timeout = (int)((retry_at - now + 999999) / 1000000);
                } else {
                        while (sending || (sending = io_queue_pop(&src->out))) {
                                uint64_t backoff = 0;
                                enum udp_send_status st = udp_socket_send(src->socket, sending, &backoff);

                                if (st == UDP_SEND_DONE) {
                                        io_pool_put(loop->gso_pool, sending);
                                        sending = NULL;
                                        progress = true;
                                        continue;
                                }
                                if (st == UDP_SEND_FATAL) {
                                        atomic_store(&loop->fatal, -src->socket->counters.last_errno);
                                        publish_counters(src);
                                        io_wake_signal(loop->wake);
                                        goto out;
                                }
                                if (st == UDP_SEND_BACKOFF) {
                                        retry_at = now + backoff;
                                        timeout = (int)((backoff + 999999) / 1000000);
                                } else {
                                        fds[0].events |= POLLOUT;
                                }
                                break;
                        }
                }

                /* Receive only while there is room to hand the batch over: a full queue
                 * leaves the datagrams in the socket buffer (back-pressure). */
                if (!rx && io_queue_space(&src->in) > 0)
                        rx = io_pool_get(src->rx_pool);
                if (rx) {
                        int n = udp_socket_recv(src->socket, rx, (uint8_t)src->index);

                        if (n > 0) {
                                io_queue_push(&src->in, rx); /* cannot fail: space was checked */
                                rx = NULL;
                                progress = true;
                        } else if (n == -EAGAIN) {
                                fds[0].events |= POLLIN;
                        } else if (n < 0) {
                                src->socket->counters.last_errno = -n; /* ICMP errors etc.: carry on */
                                progress = true;
                        }
                }
                publish_counters(src);
                if (progress)
                        continue;
                if (poll(fds, 2, timeout) < 0 && errno != EINTR)
                        break;
                if (fds[1].revents & POLLIN)
                        io_wake_drain(src->wake);
        }
out:
        if (sending)
                io_pool_put(loop->gso_pool, sending);
        io_pool_put(src->rx_pool, rx);
        return NULL;
}

/* ---- the TUN worker ---------------------------------------------------------------- */

struct tun_writer {
        struct io_batch *batch;
        size_t next;
        uint8_t *buf;
};

/* Writes what is left of the batch; false when the device is full (wait for POLLOUT). */
static bool tun_write_batch(struct io_loop *loop, struct tun_writer *w)
{
        const uint8_t *pkts[64];
        size_t lens[64];

        while (w->next < w->batch->count) {
                size_t n = w->batch->count - w->next, len = 0, used = 1;
                ssize_t r;

                if (n > 64)
                        n = 64;
                for (size_t i = 0; i < n; i++) {
                        pkts[i] = w->batch->pkt[w->next + i].data;
                        lens[i] = w->batch->pkt[w->next + i].len;
                }
                if (loop->tun_vnet) {
                        used = tun_coalesce(pkts, lens, n, loop->tun_offloads, w->buf,
                                            TUN_VNET_HDR_LEN + PACKET_MAX, &len);
                        r = used ? write(loop->tun_fd, w->buf, len) : -1;
                        if (!used)
                                errno = EMSGSIZE;
                } else {
                        r = write(loop->tun_fd, pkts[0], lens[0]);
                }
                if (r < 0 && errno == EAGAIN)
                        return false;
                if (r < 0 && errno == EINVAL && used > 1) {
                        /* Some kernels refuse GSO writes: stop coalescing for good and
                         * resend these packets one by one. */
                        loop->tun_offloads = 0;
                        continue;
                }
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        atomic_fetch_add(&loop->tun_write_dropped, used);
                w->next += used;
        }
        return true;
}

static void *tun_worker(void *arg)
{
        struct io_loop *loop = arg;
        uint8_t *in = malloc(TUN_VNET_HDR_LEN + PACKET_MAX);
        struct tun_writer w = { .buf = malloc(TUN_VNET_HDR_LEN + PACKET_MAX) };
        struct io_batch *rx = NULL;
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS];
        ssize_t pending = 0; /* bytes read into `in` but not yet split into a batch */

        if (!in || !w.buf) {
                atomic_store(&loop->fatal, -ENOMEM);
                io_wake_signal(loop->wake);
                goto out;
        }
        while (!atomic_load(&loop->stop)) {
                struct pollfd fds[2] = { { .fd = loop->tun_fd },
                                         { .fd = loop->tun_wake, .events = POLLIN } };
                bool progress = false;

                while (w.batch || (w.batch = io_queue_pop(&loop->tun_out))) {
                        w.next = w.next < w.batch->count ? w.next : 0;
                        if (!tun_write_batch(loop, &w)) {
                                fds[0].events |= POLLOUT;
                                break;
                        }
                        io_pool_put(loop->tun_pool, w.batch);
                        io_wake_signal(loop->wake);
                        w.batch = NULL;
                        w.next = 0;
                        progress = true;
                }

                /* Read while a batch can be handed over; a full queue leaves packets in the
                 * device queue (txqueuelen), which is the back-pressure towards the kernel. */
                for (unsigned reads = 0; reads < IO_BATCH_PACKETS; reads++) {
                        const char *reason;
                        int n;

                        if (!rx) {
                                if (io_queue_space(&loop->tun_in) == 0)
                                        break;
                                rx = io_pool_get(loop->tun_pool);
                                if (!rx)
                                        break;
                                io_batch_reset(rx);
                        }
                        if (pending == 0) {
                                pending = read(loop->tun_fd, in, TUN_VNET_HDR_LEN + PACKET_MAX);
                                if (pending < 0 && errno == EAGAIN) {
                                        pending = 0;
                                        fds[0].events |= POLLIN;
                                        break;
                                }
                                if (pending <= 0) {
                                        atomic_store(&loop->fatal, pending == 0 ? -EPIPE : -errno);
                                        io_wake_signal(loop->wake);
                                        goto out;
                                }
                        }
                        n = tun_split(in, (size_t)pending, loop->tun_vnet, rx->data + rx->used,
                                      IO_BATCH_BYTES - rx->used, segs,
                                      IO_BATCH_PACKETS - rx->count < TUN_SPLIT_MAX_SEGMENTS
                                          ? IO_BATCH_PACKETS - rx->count
                                          : TUN_SPLIT_MAX_SEGMENTS,
                                      &reason);
                        if (n == -ENOSPC && rx->count > 0) {
                                io_queue_push(&loop->tun_in, rx); /* the rest goes into the next batch */
                                rx = NULL;
                                progress = true;
                                continue;
                        }
                        if (n < 0) {
                                atomic_fetch_add(&loop->tun_malformed, 1); /* counted, never silent */
                        } else {
                                for (int i = 0; i < n; i++) {
                                        struct io_datagram *d = &rx->pkt[rx->count++];

                                        memset(d, 0, sizeof(*d));
                                        d->data = rx->data + rx->used + segs[i].off;
                                        d->len = segs[i].len;
                                }
                                if (n > 0)
                                        rx->used += segs[n - 1].off + segs[n - 1].len;
                        }
                        pending = 0;
                        progress = true;
                }
                if (rx && rx->count > 0) {
                        io_queue_push(&loop->tun_in, rx);
                        rx = NULL;
                }
                if (progress)
                        continue;
                if (poll(fds, 2, -1) < 0 && errno != EINTR)
                        break;
                if (fds[1].revents & POLLIN)
                        io_wake_drain(loop->tun_wake);
        }
out:
        if (w.batch)
                io_pool_put(loop->tun_pool, w.batch);
        io_pool_put(loop->tun_pool, rx);
        free(in);
        free(w.buf);
        return NULL;
}

int io_loop_start(struct io_loop *loop)
{
        int r;

        size_t in_flight = loop->cfg.gso_batches + 1; /* the queue, plus gso_pending */

        if (loop->started)
                return -EALREADY;
        loop->started = true;
        /* Each socket: its send queue plus the batch its worker is sending. */
        for (unsigned i = 0; i < loop->n_udp; i++)
                in_flight += loop->udp[i].out.capacity + 1;
        loop->gso_pool_ample = io_pool_capacity(loop->gso_pool) >= in_flight;
        for (unsigned i = 0; i < loop->n_udp; i++) {
                if (!loop->udp[i].socket)
                        continue;
                char name[16] = "io-udp0";

                r = -pthread_create(&loop->udp[i].thread, NULL, udp_worker, &loop->udp[i]);
                if (r < 0)
                        return r;
                /* Named for top -H and perf; i < IO_LOOP_MAX_UDP, one digit. */
                name[6] = (char)('0' + i);
                pthread_setname_np(loop->udp[i].thread, name);
                loop->udp[i].running = true;
        }
        if (loop->has_tun && loop->tun_fd >= 0) {
                r = -pthread_create(&loop->tun_thread, NULL, tun_worker, loop);
                if (r < 0)
                        return r;
                pthread_setname_np(loop->tun_thread, "io-tun");
                loop->tun_running = true;
        }
        return 0;
}

void io_loop_stop(struct io_loop *loop)
{
        atomic_store(&loop->stop, true);
        io_wake_signal(loop->wake);
        for (unsigned i = 0; i < loop->n_udp; i++)
                io_wake_signal(loop->udp[i].wake);
        io_wake_signal(loop->tun_wake);
}

void io_loop_free(struct io_loop *loop)
{
        void *b;

        if (!loop)
                return;
        io_loop_stop(loop);
        for (unsigned i = 0; i < loop->n_udp; i++) {
                struct udp_source *src = &loop->udp[i];

                if (src->running)
                        pthread_join(src->thread, NULL);
                while ((b = io_queue_pop(&src->out)))
                        io_pool_put(loop->gso_pool, b);
                io_queue_destroy(&src->in);
                io_queue_destroy(&src->out);
                io_pool_free(src->rx_pool);
                pthread_mutex_destroy(&src->counters_lock);
                close(src->wake);
        }
        if (loop->tun_running)
                pthread_join(loop->tun_thread, NULL);
        if (loop->has_tun) {
                io_queue_destroy(&loop->tun_in);
                io_queue_destroy(&loop->tun_out);
                io_pool_free(loop->tun_pool);
        }
        if (loop->gso_pending)
                io_pool_put(loop->gso_pool, loop->gso_pending);
        gso_queue_destroy(&loop->gso);
        io_pool_free(loop->gso_pool);
        if (loop->wake >= 0)
                close(loop->wake);
        if (loop->control >= 0)
                close(loop->control);
        if (loop->tun_wake >= 0)
                close(loop->tun_wake);
        free(loop->gathered);
        free(loop->gathered_src);
        free(loop->errors.errors);
        free(loop->scratch);
        free(loop);
}

/* ---- the engine thread ------------------------------------------------------------- */

static struct udp_source *source_for(struct io_loop *loop, sa_family_t family)
{
        for (unsigned i = 0; i < loop->n_udp; i++)
                if (loop->udp[i].family == family)
                        return &loop->udp[i];
        return NULL;
}

/* Moves GSO batches to their sockets' queues in order; true when everything left. */
static bool flush_udp(struct io_loop *loop)
{
        for (;;) {
                struct gso_batch *b = loop->gso_pending ? loop->gso_pending : gso_queue_pop(&loop->gso);
                struct udp_source *src;

                loop->gso_pending = NULL;
                if (!b)
                        return true;
                src = source_for(loop, b->flow.dst.sa.sa_family);
                if (!src) {
                        record_error(loop, IO_SOURCE_SEND, 0, 0, -EAFNOSUPPORT);
                        io_pool_put(loop->gso_pool, b);
                        continue;
                }
                if (io_queue_push(&src->out, b) < 0) {
                        /* Strict order: nothing behind this batch may leave before it. */
                        loop->gso_pending = b;
                        return false;
                }
        }
}

static bool flush_tun(struct io_loop *loop)
{
        if (!loop->tun_out_cur || loop->tun_out_cur->count == 0)
                return true;
        if (io_queue_push(&loop->tun_out, loop->tun_out_cur) < 0)
                return false;
        loop->tun_out_cur = NULL;
        return true;
}

static bool gso_has_room(struct io_loop *loop)
{
        /* The pool lock is only worth taking when the pool can run dry (io_loop_start). */
        return !loop->gso_pending && gso_queue_count(&loop->gso) < loop->gso.capacity &&
               (loop->gso_pool_ample || io_pool_available(loop->gso_pool) > 0);
}

/* Polls the engine's outputs while there is room for them; returns false when an output
 * path is full (the engine keeps the rest until a later tick). */
static bool drain_outputs(struct io_loop *loop)
{
        bool room = true;

        for (;;) {
                struct io_transmit t;
                size_t len;
                int r;

                if (!gso_has_room(loop)) {
                        /* Hand full batches to the sockets, then see again. */
                        flush_udp(loop);
                        if (!gso_has_room(loop)) {
                                room = false;
                                break;
                        }
                }
                memset(&t, 0, sizeof(t));
                if (loop->ops->peek_transmit) {
                        uint8_t *dst;

                        /* Zero copy: the engine writes into the batch the datagram joins. */
                        len = loop->ops->peek_transmit(loop->engine, &t);
                        if (len == 0)
                                break;
                        r = 0;
                        dst = gso_queue_reserve(&loop->gso, &t.flow, len, &r);
                        if (dst) {
                                len = loop->ops->poll_transmit(loop->engine, &t, dst, len);
                                if (len > 0)
                                        gso_queue_commit(&loop->gso, len);
                                else
                                        gso_queue_cancel(&loop->gso);
                                continue;
                        }
                        if (r == -ENOBUFS) {
                                room = false; /* stays with the engine */
                                break;
                        }
                        /* Not queueable (-EMSGSIZE): take it anyway, so it cannot block the rest. */
                        loop->ops->poll_transmit(loop->engine, &t, loop->scratch, PACKET_MAX);
                        record_error(loop, IO_SOURCE_SEND, 0, 0, r);
                        continue;
                }
                len = loop->ops->poll_transmit(loop->engine, &t, loop->scratch, PACKET_MAX);
                if (len == 0)
                        break;
                r = gso_queue_push(&loop->gso, &t.flow, loop->scratch, len);
                if (r < 0)
                        record_error(loop, IO_SOURCE_SEND, 0, 0, r); /* -EMSGSIZE: the engine's bug */
        }
        if (!loop->has_tun || !loop->ops->poll_tun_packet)
                return room;
        for (;;) {
                struct io_batch *b = loop->tun_out_cur;
                size_t len;

                if (b && (b->count == IO_BATCH_PACKETS || IO_BATCH_BYTES - b->used < PACKET_MAX)) {
                        if (!flush_tun(loop))
                                return false;
                        b = NULL;
                }
                if (!b) {
                        b = io_pool_get(loop->tun_pool);
                        if (!b)
                                return false;
                        io_batch_reset(b);
                        loop->tun_out_cur = b;
                }
                len = loop->ops->poll_tun_packet(loop->engine, b->data + b->used, PACKET_MAX);
                if (len == 0)
                        break;
                memset(&b->pkt[b->count], 0, sizeof(b->pkt[0]));
                b->pkt[b->count].data = b->data + b->used;
                b->pkt[b->count].len = (uint16_t)len;
                b->count++;
                b->used += (uint32_t)len;
        }
        return room;
}

static bool control_ready(struct io_loop *loop)
{
        uint64_t n;

        return read(loop->control, &n, sizeof(n)) == sizeof(n);
}

static void give_back(struct io_loop *loop, struct io_batch *b, int source)
{
        if (source < 0) {
                io_pool_put(loop->tun_pool, b);
                io_wake_signal(loop->tun_wake);
        } else {
                io_pool_put(loop->udp[source].rx_pool, b);
                io_wake_signal(loop->udp[source].wake);
        }
}

/* Datagrams the workers dropped since the last tick (through the errno table) join the
 * aggregate as one error per socket, with the count as its index and the last errno. */
static void collect_send_errors(struct io_loop *loop)
{
        for (unsigned i = 0; i < loop->n_udp; i++) {
                struct udp_source *src = &loop->udp[i];
                uint64_t dropped;
                int err;

                if (!src->socket)
                        continue;
                pthread_mutex_lock(&src->counters_lock);
                dropped = src->counters.dropped_datagrams;
                err = src->counters.last_errno;
                pthread_mutex_unlock(&src->counters_lock);
                if (dropped > src->reported_drops) {
                        record_error(loop, IO_SOURCE_SEND, i, (uint32_t)(dropped - src->reported_drops),
                                     -err);
                        src->reported_drops = dropped;
                }
        }
}

int io_loop_tick(struct io_loop *loop)
{
        uint64_t now = loop_now(loop);
        size_t n_gathered = 0;
        unsigned budget = loop->cfg.packet_budget;
        bool backpressure, control, timer;
        int work = 0, fatal;

        loop->stats.ticks++;
        loop->errors.count = 0;

        /* 1. flush */
        backpressure = !(flush_udp(loop) & flush_tun(loop)) || !gso_has_room(loop);

        /* 2. gather every ready source */
        control = control_ready(loop);
        timer = loop->ops->poll_timeout(loop->engine) <= now;
        if (backpressure) {
                loop->stats.backpressure_ticks++;
        } else {
                /* Round-robin over the sources, one batch each per round, so a flooded
                 * source cannot use up the budget before the next one is looked at. */
                unsigned rounds = loop->cfg.udp_batches_per_tick > loop->cfg.tun_batches_per_tick
                                      ? loop->cfg.udp_batches_per_tick
                                      : loop->cfg.tun_batches_per_tick;
                unsigned taken = 0;

                for (unsigned round = 0; round < rounds && taken < budget; round++) {
                        bool any = false;

                        for (int i = -1; i < (int)loop->n_udp && taken < budget; i++) {
                                struct io_batch *b;

                                if (i < 0 ? !loop->has_tun || round >= loop->cfg.tun_batches_per_tick
                                          : round >= loop->cfg.udp_batches_per_tick)
                                        continue;
                                b = io_queue_pop(i < 0 ? &loop->tun_in : &loop->udp[i].in);
                                if (!b)
                                        continue;
                                loop->gathered[n_gathered] = b;
                                loop->gathered_src[n_gathered++] = i;
                                taken += b->count;
                                any = true;
                        }
                        if (!any)
                                break;
                }
        }

        /* 3. process all of it */
        if (control) {
                int r = loop->ops->handle_control ? loop->ops->handle_control(loop->engine, now) : 0;

                if (r < 0)
                        record_error(loop, IO_SOURCE_CONTROL, 0, 0, r);
                loop->stats.control++;
                work++;
        }
        if (timer) {
                loop->ops->handle_timeout(loop->engine, now);
                loop->stats.timers++;
                work++;
        }
        drain_outputs(loop);
        /* TUN first (as Firezone: outbound traffic is encrypted straight into the GSO queue),
         * then the network. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t g = 0; g < n_gathered; g++) {
                        struct io_batch *b = loop->gathered[g];
                        bool tun = loop->gathered_src[g] < 0;

                        if (tun != (pass == 0))
                                continue;
                        for (uint32_t i = 0; i < b->count; i++) {
                                int r = tun ? loop->ops->handle_tun_packet(loop->engine, now, b->pkt[i].data,
                                                                           b->pkt[i].len)
                                            : loop->ops->handle_datagram(loop->engine, now, &b->pkt[i]);

                                if (r < 0)
                                        record_error(loop, tun ? IO_SOURCE_TUN : IO_SOURCE_UDP,
                                                     tun ? 0 : (unsigned)loop->gathered_src[g], i, r);
                                /* Outputs that find no room stay with the engine. */
                                drain_outputs(loop);
                        }
                        if (tun) {
                                loop->stats.tun_batches++;
                                loop->stats.tun_packets += b->count;
                        } else {
                                loop->stats.udp_batches[loop->gathered_src[g]]++;
                                loop->stats.udp_datagrams[loop->gathered_src[g]] += b->count;
                        }
                        work += (int)b->count;
                        give_back(loop, b, loop->gathered_src[g]);
                }
        }

        /* 4. flush, report */
        flush_udp(loop);
        drain_outputs(loop);
        flush_tun(loop);
        collect_send_errors(loop);
        fatal = atomic_load(&loop->fatal);
        if (fatal < 0)
                record_error(loop, IO_SOURCE_WORKER, 0, 0, fatal);
        if (loop->errors.count > 0 && loop->ops->handle_errors)
                loop->ops->handle_errors(loop->engine, &loop->errors);
        return fatal < 0 ? fatal : work;
}

int io_loop_run(struct io_loop *loop)
{
        while (!atomic_load(&loop->stop)) {
                struct pollfd fds[2] = { { .fd = loop->wake, .events = POLLIN },
                                         { .fd = loop->control, .events = POLLIN } };
                uint64_t deadline, now;
                int r = io_loop_tick(loop), timeout;

                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                now = loop_now(loop);
                deadline = loop->ops->poll_timeout(loop->engine);
                if (deadline <= now)
                        continue;
                timeout = deadline == UINT64_MAX            ? -1
                          : deadline - now > 60000000000ull ? 60000
                                                            : (int)((deadline - now + 999999) / 1000000);
                if (poll(fds, 2, timeout) < 0 && errno != EINTR)
                        return -errno;
                /* Drained only here, before the tick that looks at every queue: a signal that
                 * comes in while ticks are busy costs at most one idle tick, not a read()
                 * syscall in every tick. */
                if (fds[0].revents & POLLIN)
                        io_wake_drain(loop->wake);
        }
        return 0;
}

void io_loop_get_stats(struct io_loop *loop, struct io_stats *ret)
{
        *ret = loop->stats;
        ret->tun_malformed = atomic_load(&loop->tun_malformed);
        ret->tun_write_dropped = atomic_load(&loop->tun_write_dropped);
}

void io_loop_get_udp_counters(struct io_loop *loop, unsigned socket, struct udp_counters *ret)
{
        struct udp_source *src = &loop->udp[socket];

        memset(ret, 0, sizeof(*ret));
        if (socket >= loop->n_udp)
                return;
        pthread_mutex_lock(&src->counters_lock);
        *ret = src->socket ? src->counters : (struct udp_counters){ 0 };
        pthread_mutex_unlock(&src->counters_lock);
}

int io_loop_feed_udp(struct io_loop *loop, unsigned socket, const struct io_datagram *dgs, size_t n)
{
        struct udp_source *src;
        struct io_batch *b;

        if (socket >= loop->n_udp || loop->udp[socket].socket)
                return -EINVAL;
        src = &loop->udp[socket];
        if (io_queue_space(&src->in) == 0)
                return -EAGAIN;
        b = io_pool_get(src->rx_pool);
        if (!b)
                return -EAGAIN;
        io_batch_reset(b);
        for (size_t i = 0; i < n; i++) {
                struct io_datagram *d;
                int r = io_batch_append(b, dgs[i].data, dgs[i].len, &d);

                if (r < 0) {
                        io_pool_put(src->rx_pool, b);
                        return r;
                }
                d->ecn = dgs[i].ecn;
                d->local = dgs[i].local;
                d->peer = dgs[i].peer;
                d->socket = (uint8_t)socket;
        }
        return io_queue_push(&src->in, b);
}

int io_loop_feed_tun(struct io_loop *loop, const uint8_t *const *packets, const size_t *lens, size_t n)
{
        struct io_batch *b;

        if (!loop->has_tun || loop->tun_fd >= 0)
                return -EINVAL;
        if (io_queue_space(&loop->tun_in) == 0)
                return -EAGAIN;
        b = io_pool_get(loop->tun_pool);
        if (!b)
                return -EAGAIN;
        io_batch_reset(b);
        for (size_t i = 0; i < n; i++) {
                int r = io_batch_append(b, packets[i], lens[i], NULL);

                if (r < 0) {
                        io_pool_put(loop->tun_pool, b);
                        return r;
                }
        }
        return io_queue_push(&loop->tun_in, b);
}

struct gso_batch *io_loop_take_udp_out(struct io_loop *loop, unsigned socket)
{
        return socket < loop->n_udp ? io_queue_pop(&loop->udp[socket].out) : NULL;
}

void io_loop_release_udp_out(struct io_loop *loop, struct gso_batch *b)
{
        io_pool_put(loop->gso_pool, b);
}

struct io_batch *io_loop_take_tun_out(struct io_loop *loop)
{
        return loop->has_tun ? io_queue_pop(&loop->tun_out) : NULL;
}

void io_loop_release_tun_out(struct io_loop *loop, struct io_batch *b)
{
        io_pool_put(loop->tun_pool, b);
}
