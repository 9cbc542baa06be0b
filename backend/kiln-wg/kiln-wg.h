/* SPDX-License-Identifier: MIT */
/*
 * kiln-wg's IO shell: a single-threaded poll() loop that owns the TUN fd, the UDP sockets, the
 * UAPI socket and a timerfd, and drives the sans-IO engine in backend/wireguard.  Everything
 * here is replaceable by backend/io without touching the engine.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/wireguard/device.h"

enum {
        KWG_MAX_UAPI_CLIENTS = 16,
        KWG_BATCH = 64,
        KWG_BUF_SIZE = 65536,
};

struct kwg_uapi_client {
        int fd;
        char *buf;
        size_t len, cap;
};

struct kwg {
        char ifname[IFNAMSIZ];
        char socket_path[108];
        struct wg_rng rng;
        struct wg_device *dev;

        int tun_fd;
        int udp4_fd, udp6_fd;
        uint16_t listen_port;
        uint32_t fwmark;

        int uapi_fd;
        struct kwg_uapi_client clients[KWG_MAX_UAPI_CLIENTS];
        int timer_fd;
        int signal_fd;
        int inotify_fd;
        uint64_t armed_deadline;

        uint8_t *rx_buf, *tx_buf;
        bool stop;
};

uint64_t kwg_now(void);
void kwg_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* udp.c: (re)binds both sockets to port (0 = any) with fwmark; old sockets stay on failure. */
int kwg_udp_bind(struct kwg *k, uint16_t port, uint32_t fwmark);
int kwg_udp_set_fwmark(struct kwg *k, uint32_t fwmark);
void kwg_udp_send(struct kwg *k, const struct wg_endpoint *dst, const uint8_t *buf, size_t len);
void kwg_udp_close(struct kwg *k);

/* uapi-server.c */
int kwg_uapi_listen(struct kwg *k);
void kwg_uapi_accept(struct kwg *k);
/* Returns false when the client is done and was closed. */
void kwg_uapi_client_readable(struct kwg *k, struct kwg_uapi_client *c);
void kwg_uapi_close(struct kwg *k);
/* True when our socket file was removed or replaced (wg-quick down removes it). */
bool kwg_uapi_socket_gone(const struct kwg *k);

/* loop.c */
int kwg_run(struct kwg *k);
void kwg_flush_transmits(struct kwg *k, uint64_t now);
