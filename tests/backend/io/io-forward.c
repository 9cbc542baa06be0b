/* SPDX-License-Identifier: MIT */
/*
 * io-forward: the event loop's demo and test engine — a plain (unencrypted) UDP↔TUN
 * forwarder.  Every IP packet read from the TUN goes to --peer as one UDP datagram; every
 * datagram received becomes a TUN packet.  Two of them in two namespaces make a tunnel that
 * exercises everything in backend/io with threads, offloads and back-pressure, without any
 * WireGuard: the shape kiln-wg plugs into (see event-loop.h).
 *
 *   io-forward --tun NAME --bind IP:PORT --peer IP:PORT [--no-offload] [--enobufs-would-block]
 * Runs until SIGINT/SIGTERM, then prints its counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/io/event-loop.h"
#include "backend/io/tun-device.h"
#include "backend/io/tun-offload.h"

#define SLOTS      4096
#define SLOT_BYTES 2048

struct ring {
        uint8_t (*data)[SLOT_BYTES];
        uint16_t len[SLOTS];
        unsigned head, tail;
};

struct forwarder {
        union io_sockaddr peer;
        struct ring to_udp, to_tun;
        uint64_t too_big, full, errors;
};

static int ring_put(struct ring *r, const uint8_t *p, size_t len)
{
        if (len > SLOT_BYTES)
                return -EMSGSIZE;
        if (r->tail - r->head == SLOTS)
                return -ENOBUFS;
        memcpy(r->data[r->tail % SLOTS], p, len);
        r->len[r->tail++ % SLOTS] = (uint16_t)len;
        return 0;
}

static size_t ring_get(struct ring *r, uint8_t *buf)
{
        size_t len;

        if (r->head == r->tail)
                return 0;
        len = r->len[r->head % SLOTS];
        memcpy(buf, r->data[r->head++ % SLOTS], len);
        return len;
}

static int fwd_datagram(void *e, uint64_t now, const struct io_datagram *dg)
{
        return ring_put(&((struct forwarder *)e)->to_tun, dg->data, dg->len);
}

static int fwd_tun(void *e, uint64_t now, const uint8_t *p, size_t len)
{
        return ring_put(&((struct forwarder *)e)->to_udp, p, len);
}

static void fwd_timeout(void *e, uint64_t now)
{
}

static uint64_t fwd_poll_timeout(void *e)
{
        return UINT64_MAX;
}

static size_t fwd_transmit(void *e, struct io_transmit *t, uint8_t *buf, size_t cap)
{
        struct forwarder *f = e;

        t->flow.dst = f->peer;
        return ring_get(&f->to_udp, buf);
}

static size_t fwd_tun_packet(void *e, uint8_t *buf, size_t cap)
{
        return ring_get(&((struct forwarder *)e)->to_tun, buf);
}

static void fwd_errors(void *e, const struct io_error_set *set)
{
        struct forwarder *f = e;

        for (uint32_t i = 0; i < set->count; i++) {
                f->errors++;
                if (set->errors[i].err == -EMSGSIZE)
                        f->too_big++;
                else if (set->errors[i].err == -ENOBUFS)
                        f->full++;
        }
}

static const struct io_engine_ops fwd_ops = {
        .handle_datagram = fwd_datagram,
        .handle_tun_packet = fwd_tun,
        .handle_timeout = fwd_timeout,
        .poll_timeout = fwd_poll_timeout,
        .poll_transmit = fwd_transmit,
        .poll_tun_packet = fwd_tun_packet,
        .handle_errors = fwd_errors,
};

static struct io_loop *the_loop;

static void on_signal(int sig)
{
        io_loop_stop(the_loop);
}

static int parse_endpoint(const char *s, union io_sockaddr *ret)
{
        char ip[64];
        const char *colon = strrchr(s, ':');

        if (!colon || (size_t)(colon - s) >= sizeof(ip))
                return -EINVAL;
        memcpy(ip, s, (size_t)(colon - s));
        ip[colon - s] = '\0';
        memset(ret, 0, sizeof(*ret));
        if (inet_pton(AF_INET, ip, &ret->in.sin_addr) == 1) {
                ret->in.sin_family = AF_INET;
                ret->in.sin_port = htons((uint16_t)atoi(colon + 1));
                return 0;
        }
        if (inet_pton(AF_INET6, ip[0] == '[' ? ip + 1 : ip, &ret->in6.sin6_addr) == 1) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons((uint16_t)atoi(colon + 1));
                return 0;
        }
        return -EINVAL;
}

int main(int argc, char **argv)
{
        struct io_loop_config cfg = { .packet_budget = 2048 };
        struct udp_socket_config ucfg = { 0 };
        struct forwarder *f = calloc(1, sizeof(*f));
        const char *tun_name = NULL, *bind_s = NULL, *peer_s = NULL;
        bool offload = true;
        struct tun_device tun;
        struct udp_socket sock;
        struct io_stats st;
        struct udp_counters uc;
        char offl[64];
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--tun") == 0 && i + 1 < argc)
                        tun_name = argv[++i];
                else if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
                        bind_s = argv[++i];
                else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
                        peer_s = argv[++i];
                else if (strcmp(argv[i], "--no-offload") == 0)
                        offload = false;
                else if (strcmp(argv[i], "--enobufs-would-block") == 0)
                        ucfg.policy.enobufs_would_block = true;
        }
        if (!f || !tun_name || !bind_s || !peer_s || parse_endpoint(bind_s, &ucfg.bind) < 0 ||
            parse_endpoint(peer_s, &f->peer) < 0) {
                fprintf(stderr, "usage: io-forward --tun NAME --bind IP:PORT --peer IP:PORT [--no-offload] "
                                "[--enobufs-would-block]\n");
                return 2;
        }
        f->to_udp.data = calloc(SLOTS, SLOT_BYTES);
        f->to_tun.data = calloc(SLOTS, SLOT_BYTES);
        if (!f->to_udp.data || !f->to_tun.data)
                return 1;
        ucfg.no_gso = ucfg.no_gro = !offload;
        r = tun_device_open(tun_name, offload, &tun);
        if (r < 0) {
                fprintf(stderr, "io-forward: TUN %s: %s\n", tun_name, strerror(-r));
                return 1;
        }
        r = udp_socket_open(&ucfg, &sock);
        if (r < 0) {
                fprintf(stderr, "io-forward: UDP %s: %s\n", bind_s, strerror(-r));
                return 1;
        }
        printf("io-forward: %s offloads [%s], UDP port %u gso %d gro %d sndbuf %d rcvbuf %d\n", tun.name,
               tun_offloads_describe(tun.offloads, offl, sizeof(offl)), sock.port, sock.gso, sock.gro,
               sock.send_buffer, sock.recv_buffer);
        fflush(stdout);
        if (io_loop_new(&fwd_ops, f, &cfg, &the_loop) < 0 || io_loop_add_udp(the_loop, &sock, 0) < 0 ||
            io_loop_set_tun(the_loop, tun.fd, tun.vnet_hdr, tun.offloads) < 0 || io_loop_start(the_loop) < 0)
                return 1;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        r = io_loop_run(the_loop);
        io_loop_get_stats(the_loop, &st);
        io_loop_get_udp_counters(the_loop, 0, &uc);
        printf("io-forward: %s; ticks %" PRIu64 " tun %" PRIu64 " packets in %" PRIu64
               " batches, udp %" PRIu64 " datagrams in %" PRIu64 " batches, back-pressure ticks %" PRIu64
               ", sent %" PRIu64 " in %" PRIu64 " sendmsg, send drops %" PRIu64 ", engine errors %" PRIu64
               "\n",
               r < 0 ? strerror(-r) : "stopped", st.ticks, st.tun_packets, st.tun_batches,
               st.udp_datagrams[0], st.udp_batches[0], st.backpressure_ticks, uc.sent_datagrams,
               uc.sent_syscalls, uc.dropped_datagrams, f->errors);
        io_loop_free(the_loop);
        udp_socket_close(&sock);
        tun_device_close(&tun);
        free(f->to_udp.data);
        free(f->to_tun.data);
        free(f);
        return r < 0 ? 1 : 0;
}
