/* SPDX-License-Identifier: MIT */
/*
 * kiln-wg's IO shell on backend/io: the event loop's UDP and TUN threads carry batches to the
 * engine thread, which runs the sans-IO WireGuard device (backend/wireguard) through the
 * io_engine_ops in engine.c.  The UAPI socket, signals and the socket-file watch are control
 * sources: a relay thread (control.c) only waits for them to become readable and signals the
 * loop's control eventfd; the engine thread then does the work in handle_control, so the
 * device is only ever touched by one thread.
 */
#pragma once

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/io/event-loop.h"
#include "backend/io/tun-device.h"
#include "backend/io/udp-socket.h"
#include "backend/wireguard/device.h"

enum {
        KWG_MAX_UAPI_CLIENTS = 16,
        KWG_DEFAULT_MTU = 1420,
        /* The engine's output queues (bytes): a tick's whole input (packet_budget) fits, so
         * outputs the loop cannot take yet wait here instead of being dropped. */
        KWG_RING_BYTES = 8 * 1024 * 1024,
        KWG_PACKET_BUDGET = 2048,
};

struct kwg_uapi_client {
        int fd;
        char *buf;
        size_t len, cap;
};

/* A FIFO of variable-size packets in one preallocated buffer (engine.c). */
struct kwg_ring_entry;
struct kwg_ring {
        uint8_t *buf;
        size_t cap, head, tail, wrap, count;
        size_t reserved_off; /* where the open reservation starts */
        bool reserved_wraps;
};

struct kwg {
        char ifname[IFNAMSIZ];
        char socket_path[108];
        struct wg_rng rng;
        struct wg_device *dev;
        bool offloads;

        struct tun_device tun;
        struct udp_socket udp4, udp6; /* fd -1 when absent */
        int udp4_index, udp6_index;   /* io_loop sources, -1 when absent */
        uint16_t listen_port;
        uint32_t fwmark;
        struct io_loop *loop;

        /* engine.c: outputs waiting for the loop to poll them, in order */
        struct kwg_ring to_udp, to_tun;
        uint64_t ring_full_drops;

        /* control.c */
        int uapi_fd;
        struct kwg_uapi_client clients[KWG_MAX_UAPI_CLIENTS];
        int signal_fd;
        int inotify_fd;
        int relay_ack_fd;  /* engine → relay: the control work is done, poll again */
        int relay_exit_fd; /* main → relay: stop */
        pthread_t relay;
        bool relay_running;
};

uint64_t kwg_now(void);
int64_t kwg_wall_offset(void);
void kwg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* udp.c: (re)binds both sockets to port (0 = any) with fwmark; old sockets stay on failure.
 * While the loop runs, new sockets take the old ones' place under the same io_loop sources. */
int kwg_udp_bind(struct kwg *k, uint16_t port, uint32_t fwmark);
int kwg_udp_set_fwmark(struct kwg *k, uint32_t fwmark);
void kwg_udp_close(struct kwg *k);

/* uapi-server.c (engine thread) */
int kwg_uapi_listen(struct kwg *k);
void kwg_uapi_accept(struct kwg *k);
void kwg_uapi_client_readable(struct kwg *k, struct kwg_uapi_client *c);
void kwg_uapi_close(struct kwg *k);
/* True when our socket file was removed or replaced (wg-quick down removes it). */
bool kwg_uapi_socket_gone(const struct kwg *k);

/* engine.c */
extern const struct io_engine_ops kwg_engine_ops;
int kwg_engine_init(struct kwg *k);
void kwg_engine_free(struct kwg *k);
/* Moves the device's queued datagrams (handshakes, keepalives, staged data) to the output. */
void kwg_flush_transmits(struct kwg *k, uint64_t now);

/* control.c */
int kwg_handle_control(void *engine, uint64_t now); /* the loop's handle_control */
int kwg_control_start(struct kwg *k);
void kwg_control_stop(struct kwg *k);
