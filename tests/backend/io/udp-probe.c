/* SPDX-License-Identifier: MIT */
/*
 * udp-probe: drives backend/io's UDP socket from the command line, for the namespace tests
 * and tests/bench/udp-gso.sh.
 *
 *   udp-probe recv ADDR PORT COUNT [--no-gro] [--timeout S]
 *       receives COUNT datagrams; prints one line per datagram ("seq LEN ECN TRAIN PEER LOCAL"):
 *       seq is the u32 at the start of the payload and TRAIN the GRO segment count it came in,
 *       then "received N"; exits 1 on timeout
 *   udp-probe send ADDR PORT SIZES [--ecn E] [--src IP] [--no-gso]
 *       sends one datagram per comma-separated size, through the GSO queue, seq numbered
 *   udp-probe sink ADDR PORT SECONDS [--no-gro]      counts what arrives, prints the rate
 *   udp-probe flood ADDR PORT SECONDS SIZE [--no-gso] sends as fast as the socket takes
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/io/gso-queue.h"
#include "backend/io/udp-socket.h"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *ip, const char *port, union io_sockaddr *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (inet_pton(AF_INET, ip, &ret->in.sin_addr) == 1) {
                ret->in.sin_family = AF_INET;
                ret->in.sin_port = htons((uint16_t)atoi(port));
                return 0;
        }
        if (inet_pton(AF_INET6, ip, &ret->in6.sin6_addr) == 1) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons((uint16_t)atoi(port));
                return 0;
        }
        return -EINVAL;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
        for (int i = 0; i < argc; i++)
                if (strcmp(argv[i], flag) == 0)
                        return true;
        return false;
}

static const char *flag_value(int argc, char **argv, const char *flag)
{
        for (int i = 0; i + 1 < argc; i++)
                if (strcmp(argv[i], flag) == 0)
                        return argv[i + 1];
        return NULL;
}

static int open_bound(const char *ip, const char *port, bool no_gso, bool no_gro, struct udp_socket *ret)
{
        struct udp_socket_config cfg = { .no_gso = no_gso, .no_gro = no_gro };
        int r;

        if (parse_addr(ip, port, &cfg.bind) < 0) {
                fprintf(stderr, "udp-probe: bad address %s\n", ip);
                return -EINVAL;
        }
        r = udp_socket_open(&cfg, ret);
        if (r < 0)
                fprintf(stderr, "udp-probe: socket: %s\n", strerror(-r));
        return r;
}

static int do_recv(int argc, char **argv)
{
        static struct io_batch batch;
        struct udp_socket s;
        unsigned want = (unsigned)atoi(argv[4]), got = 0;
        const char *t = flag_value(argc, argv, "--timeout");
        double deadline = now_s() + (t ? atof(t) : 10);

        if (open_bound(argv[2], argv[3], false, has_flag(argc, argv, "--no-gro"), &s) < 0)
                return 1;
        printf("gro %d\n", s.gro);
        fflush(stdout);
        while (got < want) {
                struct pollfd pfd = { .fd = s.fd, .events = POLLIN };
                int n;

                if (now_s() > deadline) {
                        printf("timeout after %u\n", got);
                        return 1;
                }
                if (poll(&pfd, 1, 100) <= 0)
                        continue;
                n = udp_socket_recv(&s, &batch, 0);
                for (int i = 0; i < n; i++) {
                        const struct io_datagram *d = &batch.pkt[i];
                        unsigned train = 1;
                        uint32_t seq = 0;

                        /* datagrams of one receive share their slot in the batch */
                        for (int k = 0; k < n; k++)
                                if (k != i &&
                                    (d->data - batch.data) / (IO_BATCH_BYTES / UDP_RECV_MESSAGES) ==
                                        (batch.pkt[k].data - batch.data) /
                                            (IO_BATCH_BYTES / UDP_RECV_MESSAGES))
                                        train++;
                        char peer[INET6_ADDRSTRLEN] = "?", local[INET6_ADDRSTRLEN] = "?";

                        if (d->len >= 4)
                                memcpy(&seq, d->data, 4);
                        if (d->peer.sa.sa_family == AF_INET)
                                inet_ntop(AF_INET, &d->peer.in.sin_addr, peer, sizeof(peer));
                        else
                                inet_ntop(AF_INET6, &d->peer.in6.sin6_addr, peer, sizeof(peer));
                        if (d->local.family)
                                inet_ntop(d->local.family,
                                          d->local.family == AF_INET ? (const void *)&d->local.v4
                                                                     : (const void *)&d->local.v6,
                                          local, sizeof(local));
                        printf("%u %u %u %u %s %s\n", seq, d->len, d->ecn, train, peer, local);
                        got++;
                }
        }
        printf("received %u\n", got);
        udp_socket_close(&s);
        return 0;
}

static int do_send(int argc, char **argv)
{
        struct udp_socket s;
        struct io_pool *pool;
        struct gso_queue q;
        struct io_flow flow = { 0 };
        struct gso_batch *b;
        const char *e = flag_value(argc, argv, "--ecn"), *src = flag_value(argc, argv, "--src");
        char *sizes = strdup(argv[4]), *save = NULL;
        uint8_t buf[65536];
        uint32_t seq = 0;
        int rc = 0;

        if (parse_addr(argv[2], argv[3], &flow.dst) < 0)
                return 1;
        flow.ecn = e ? (uint8_t)atoi(e) : 0;
        if (src) {
                flow.src.family = flow.dst.sa.sa_family;
                inet_pton(flow.src.family, src,
                          flow.src.family == AF_INET ? (void *)&flow.src.v4 : (void *)&flow.src.v6);
        }
        if (open_bound(flow.dst.sa.sa_family == AF_INET ? "0.0.0.0" : "::", "0",
                       has_flag(argc, argv, "--no-gso"), true, &s) < 0)
                return 1;
        if (io_pool_new(sizeof(struct gso_batch), 64, &pool) < 0 || gso_queue_init(&q, pool, 64) < 0)
                return 1;
        for (char *tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                size_t len = (size_t)atoi(tok);

                memset(buf, 0x5a, len);
                memcpy(buf, &seq, sizeof(seq));
                seq++;
                if (gso_queue_push(&q, &flow, buf, len) < 0) {
                        fprintf(stderr, "udp-probe: cannot queue %zu bytes\n", len);
                        return 1;
                }
        }
        printf("batches %zu\n", gso_queue_count(&q));
        while ((b = gso_queue_pop(&q))) {
                uint64_t backoff;
                enum udp_send_status st;

                while ((st = udp_socket_send(&s, b, &backoff)) == UDP_SEND_BLOCKED ||
                       st == UDP_SEND_BACKOFF) {
                        struct pollfd pfd = { .fd = s.fd, .events = POLLOUT };

                        poll(&pfd, 1, 10);
                }
                printf("batch segments %u size %u syscalls %" PRIu64 "\n", b->segments, b->segment_size,
                       s.counters.sent_syscalls);
                if (st == UDP_SEND_FATAL || s.counters.dropped_datagrams)
                        rc = 1;
                io_pool_put(pool, b);
        }
        gso_queue_destroy(&q);
        io_pool_free(pool);
        free(sizes);
        udp_socket_close(&s);
        return rc;
}

static int do_sink(int argc, char **argv)
{
        static struct io_batch batch;
        struct udp_socket s;
        double secs = atof(argv[4]), start = 0, last = 0;
        uint64_t datagrams = 0, bytes = 0, syscalls = 0;

        if (open_bound(argv[2], argv[3], false, has_flag(argc, argv, "--no-gro"), &s) < 0)
                return 1;
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                struct pollfd pfd = { .fd = s.fd, .events = POLLIN };
                int n;

                if (start && now_s() - start > secs + 1)
                        break;
                if (poll(&pfd, 1, 200) <= 0) {
                        if (start && now_s() - last > 1)
                                break;
                        continue;
                }
                n = udp_socket_recv(&s, &batch, 0);
                if (n <= 0)
                        continue;
                last = now_s();
                if (!start)
                        start = last;
                syscalls++;
                datagrams += (uint64_t)n;
                for (int i = 0; i < n; i++)
                        bytes += batch.pkt[i].len;
        }
        double elapsed = last - start > 0 ? last - start : 1;
        printf("sink datagrams %" PRIu64 " bytes %" PRIu64 " seconds %.3f dgram_per_s %.0f gbit_per_s %.3f "
               "recv_syscalls %" PRIu64 "\n",
               datagrams, bytes, elapsed, (double)datagrams / elapsed, (double)bytes * 8 / elapsed / 1e9,
               syscalls);
        udp_socket_close(&s);
        return 0;
}

static int do_flood(int argc, char **argv)
{
        struct udp_socket s;
        struct gso_batch *b = calloc(1, sizeof(*b));
        double secs = atof(argv[4]), start;
        size_t size = (size_t)atoi(argv[5]);
        uint64_t batches = 0;

        if (!b || parse_addr(argv[2], argv[3], &b->flow.dst) < 0)
                return 1;
        if (open_bound(b->flow.dst.sa.sa_family == AF_INET ? "0.0.0.0" : "::", "0",
                       has_flag(argc, argv, "--no-gso"), true, &s) < 0)
                return 1;
        b->segment_size = (uint16_t)size;
        b->segments = (uint16_t)(gso_max_len(&b->flow.dst, size) / size);
        b->len = (uint32_t)(b->segments * size);
        start = now_s();
        while (now_s() - start < secs) {
                uint64_t backoff;
                enum udp_send_status st;

                b->sent = 0;
                while ((st = udp_socket_send(&s, b, &backoff)) != UDP_SEND_DONE) {
                        struct pollfd pfd = { .fd = s.fd, .events = POLLOUT };

                        if (st == UDP_SEND_FATAL)
                                return 1;
                        poll(&pfd, 1, 10);
                }
                batches++;
        }
        printf("flood gso %d datagrams %" PRIu64 " dropped %" PRIu64 " send_syscalls %" PRIu64 "\n", s.gso,
               s.counters.sent_datagrams, s.counters.dropped_datagrams, s.counters.sent_syscalls);
        free(b);
        udp_socket_close(&s);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc >= 5 && strcmp(argv[1], "recv") == 0)
                return do_recv(argc, argv);
        if (argc >= 5 && strcmp(argv[1], "send") == 0)
                return do_send(argc, argv);
        if (argc >= 5 && strcmp(argv[1], "sink") == 0)
                return do_sink(argc, argv);
        if (argc >= 6 && strcmp(argv[1], "flood") == 0)
                return do_flood(argc, argv);
        fprintf(stderr, "usage: udp-probe recv|send|sink|flood … (see the source)\n");
        return 2;
}
