/* SPDX-License-Identifier: MIT */
/* The UDP sockets: one IPv4 and one IPv6-only socket on the same port, as wireguard-go does. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/kiln-wg/kiln-wg.h"

static int open_socket(int family, uint16_t port, uint32_t fwmark)
{
        int fd, one = 1;
        union {
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } addr = { 0 };
        socklen_t alen;

        fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* Firezone's sizes (data-plane spec, Appendix A): bursts of GRO-sized reads must not
         * overflow the receive queue.  The FORCE variants pass net.core.*mem_max as root. */
        for (int i = 0; i < 2; i++) {
                int opt = i == 0 ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, size = i == 0 ? 16 << 20 : 2 << 20;

                if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) < 0)
                        setsockopt(fd, SOL_SOCKET, i == 0 ? SO_RCVBUF : SO_SNDBUF, &size, sizeof(size));
        }
        if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
                goto fail;
        if (family == AF_INET) {
                addr.in4.sin_family = AF_INET;
                addr.in4.sin_port = htons(port);
                alen = sizeof(addr.in4);
        } else {
                addr.in6.sin6_family = AF_INET6;
                addr.in6.sin6_port = htons(port);
                alen = sizeof(addr.in6);
        }
        if (bind(fd, (struct sockaddr *)&addr, alen) < 0)
                goto fail;
        return fd;
fail:;
        int r = -errno;
        close(fd);
        return r;
}

static uint16_t bound_port(int fd)
{
        struct sockaddr_in6 a;
        socklen_t len = sizeof(a);

        if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
                return 0;
        return ntohs(a.sin6_port); /* sin_port and sin6_port share their offset */
}

int kwg_udp_bind(struct kwg *k, uint16_t port, uint32_t fwmark)
{
        int fd4 = -1, fd6 = -1;

        for (int attempt = 0; attempt < 16; attempt++) {
                fd4 = open_socket(AF_INET, port, fwmark);
                if (fd4 < 0)
                        return fd4;
                fd6 = open_socket(AF_INET6, bound_port(fd4), fwmark);
                if (fd6 >= 0 || fd6 == -EAFNOSUPPORT)
                        break;
                close(fd4);
                fd4 = -1;
                /* A random port free for IPv4 may be taken for IPv6: try another. */
                if (port != 0 || fd6 != -EADDRINUSE)
                        return fd6;
        }
        if (fd4 < 0)
                return -EADDRINUSE;
        kwg_udp_close(k);
        k->udp4_fd = fd4;
        k->udp6_fd = fd6 >= 0 ? fd6 : -1;
        k->listen_port = bound_port(fd4);
        k->fwmark = fwmark;
        return 0;
}

int kwg_udp_set_fwmark(struct kwg *k, uint32_t fwmark)
{
        int fds[2] = { k->udp4_fd, k->udp6_fd };

        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0 && setsockopt(fds[i], SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
                        return -errno;
        k->fwmark = fwmark;
        return 0;
}

void kwg_udp_send(struct kwg *k, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
        int fd = dst->sa.sa_family == AF_INET ? k->udp4_fd : k->udp6_fd;
        socklen_t alen = dst->sa.sa_family == AF_INET ? sizeof(dst->in4) : sizeof(dst->in6);

        if (fd < 0)
                return;
        /* A full socket buffer drops the datagram, as a lossy network would: WireGuard's own
         * retransmission and the inner transport's recover.  backend/io replaces this with
         * back-pressure. */
        if (sendto(fd, buf, len, 0, &dst->sa, alen) < 0 && errno != EAGAIN && errno != ENOBUFS) {
                /* Unreachable peers fail on every retry: say so once per kind of error. */
                static bool logged[256];

                if (errno < 256 && !logged[errno]) {
                        logged[errno] = true;
                        kwg_log("sendto: %s (further errors like this are not logged)", strerror(errno));
                }
        }
}

void kwg_udp_close(struct kwg *k)
{
        if (k->udp4_fd >= 0)
                close(k->udp4_fd);
        if (k->udp6_fd >= 0)
                close(k->udp6_fd);
        k->udp4_fd = k->udp6_fd = -1;
}
