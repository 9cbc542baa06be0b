/* SPDX-License-Identifier: MIT */
/*
 * The event loop.  Each tick takes a bounded batch from every ready source (TUN, both UDP
 * sockets, UAPI, timer, signals) before polling again, so no source starves another.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "backend/kiln-wg/kiln-wg.h"

uint64_t kwg_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t wall_offset(void)
{
        struct timespec mono, real;

        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        return ((int64_t)real.tv_sec - (int64_t)mono.tv_sec) * 1000000000LL +
               ((int64_t)real.tv_nsec - (int64_t)mono.tv_nsec);
}

void kwg_log(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        fputs("kiln-wg: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

void kwg_flush_transmits(struct kwg *k, uint64_t now)
{
        struct wg_out out = { .buf = k->tx_buf, .cap = KWG_BUF_SIZE };

        while (wg_device_poll_transmit(k->dev, now, &out))
                kwg_udp_send(k, &out.endpoint, out.buf, out.len);
}

static void write_tun(struct kwg *k, const uint8_t *buf, size_t len)
{
        /* A full TUN queue drops the packet: the inner transport recovers. */
        if (write(k->tun_fd, buf, len) < 0 && errno != EAGAIN)
                kwg_log("write to TUN: %s", strerror(errno));
}

static void tun_readable(struct kwg *k)
{
        uint8_t *pkt = k->rx_buf + WG_MSG_DATA_HEADER_LEN;
        const size_t room = KWG_BUF_SIZE - WG_DATA_OVERHEAD - 16;

        for (int i = 0; i < KWG_BATCH; i++) {
                struct wg_out out = { .buf = k->rx_buf, .cap = KWG_BUF_SIZE };
                ssize_t n = read(k->tun_fd, pkt, room);

                if (n <= 0)
                        return;
                /* The packet already sits where the engine encrypts it in place. */
                if (wg_device_send(k->dev, kwg_now(), pkt, (size_t)n, &out) == WG_ACTION_SEND)
                        kwg_udp_send(k, &out.endpoint, out.buf, out.len);
        }
}

static void udp_readable(struct kwg *k, int fd)
{
        for (int i = 0; i < KWG_BATCH; i++) {
                struct wg_endpoint src = { 0 };
                socklen_t alen = sizeof(src);
                struct wg_out out = { .buf = k->tx_buf, .cap = KWG_BUF_SIZE };
                ssize_t n = recvfrom(fd, k->rx_buf, KWG_BUF_SIZE, 0, &src.sa, &alen);
                int action;

                if (n < 0)
                        return;
                action = wg_device_receive(k->dev, kwg_now(), &src, k->rx_buf, (size_t)n, &out);
                if (action == WG_ACTION_WRITE_TUN)
                        write_tun(k, out.buf, out.len);
                else if (action == WG_ACTION_SEND)
                        kwg_udp_send(k, &out.endpoint, out.buf, out.len);
        }
}

static void arm_timer(struct kwg *k)
{
        uint64_t deadline = wg_device_next_timeout(k->dev);
        struct itimerspec its = { 0 };

        if (deadline == k->armed_deadline)
                return;
        k->armed_deadline = deadline;
        if (deadline != UINT64_MAX) {
                /* Zero would disarm the timer; a deadline in the past fires at once anyway. */
                its.it_value.tv_sec = (time_t)(deadline / 1000000000ULL);
                its.it_value.tv_nsec = (long)(deadline % 1000000000ULL);
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1;
        }
        timerfd_settime(k->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

int kwg_run(struct kwg *k)
{
        enum {
                FD_TUN,
                FD_UDP4,
                FD_UDP6,
                FD_UAPI,
                FD_TIMER,
                FD_SIGNAL,
                FD_INOTIFY,
                FD_CLIENTS,
        };
        struct pollfd fds[FD_CLIENTS + KWG_MAX_UAPI_CLIENTS];

        while (!k->stop) {
                uint64_t now;

                wg_device_set_wall_clock_offset(k->dev, wall_offset());
                arm_timer(k);
                fds[FD_TUN] = (struct pollfd){ .fd = k->tun_fd, .events = POLLIN };
                fds[FD_UDP4] = (struct pollfd){ .fd = k->udp4_fd, .events = POLLIN };
                fds[FD_UDP6] = (struct pollfd){ .fd = k->udp6_fd, .events = POLLIN };
                fds[FD_UAPI] = (struct pollfd){ .fd = k->uapi_fd, .events = POLLIN };
                fds[FD_TIMER] = (struct pollfd){ .fd = k->timer_fd, .events = POLLIN };
                fds[FD_SIGNAL] = (struct pollfd){ .fd = k->signal_fd, .events = POLLIN };
                fds[FD_INOTIFY] = (struct pollfd){ .fd = k->inotify_fd, .events = POLLIN };
                for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                        fds[FD_CLIENTS + i] = (struct pollfd){ .fd = k->clients[i].fd, .events = POLLIN };

                if (poll(fds, FD_CLIENTS + KWG_MAX_UAPI_CLIENTS, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        kwg_log("poll: %s", strerror(errno));
                        return -errno;
                }
                if (fds[FD_SIGNAL].revents) {
                        struct signalfd_siginfo si;

                        if (read(k->signal_fd, &si, sizeof(si)) == sizeof(si))
                                kwg_log("received signal %u, shutting down", si.ssi_signo);
                        k->stop = true;
                        break;
                }
                if (fds[FD_INOTIFY].revents) {
                        char ev[4096];

                        while (read(k->inotify_fd, ev, sizeof(ev)) > 0)
                                ;
                        if (kwg_uapi_socket_gone(k)) {
                                kwg_log("%s was removed, shutting down", k->socket_path);
                                k->stop = true;
                                break;
                        }
                }
                if (fds[FD_TUN].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                        kwg_log("TUN device %s went away, shutting down", k->ifname);
                        k->stop = true;
                        break;
                }
                if (fds[FD_UDP4].revents)
                        udp_readable(k, k->udp4_fd);
                if (fds[FD_UDP6].revents)
                        udp_readable(k, k->udp6_fd);
                if (fds[FD_TUN].revents)
                        tun_readable(k);
                if (fds[FD_TIMER].revents) {
                        uint64_t expirations;

                        if (read(k->timer_fd, &expirations, sizeof(expirations)) > 0)
                                k->armed_deadline = 0;
                }
                now = kwg_now();
                wg_device_tick(k->dev, now);
                kwg_flush_transmits(k, now);
                if (fds[FD_UAPI].revents)
                        kwg_uapi_accept(k);
                for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                        if (fds[FD_CLIENTS + i].revents && k->clients[i].fd >= 0)
                                kwg_uapi_client_readable(k, &k->clients[i]);
        }
        return 0;
}
