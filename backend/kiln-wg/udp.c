/* SPDX-License-Identifier: MIT */
/*
 * The UDP sockets: one IPv4 and one IPv6-only socket on the same port, as wireguard-go does,
 * opened by backend/io (GSO/GRO, PKTINFO, ECN, large buffers, SO_MARK).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/kiln-wg/kiln-wg.h"

static int open_socket(sa_family_t family, uint16_t port, uint32_t fwmark, bool offloads,
                       struct udp_socket *ret)
{
        struct udp_socket_config cfg = { .mark = fwmark, .no_gso = !offloads, .no_gro = !offloads };

        cfg.bind.sa.sa_family = family;
        if (family == AF_INET)
                cfg.bind.in.sin_port = htons(port);
        else
                cfg.bind.in6.sin6_port = htons(port);
        return udp_socket_open(&cfg, ret);
}

/* Puts s in the place of *slot: directly before the loop has the sockets, else under the
 * loop's source, which keeps its fd number. */
static void install(struct kwg *k, struct udp_socket *slot, int index, struct udp_socket *s)
{
        if (k->loop && index >= 0 && slot->fd >= 0 &&
            io_loop_replace_udp(k->loop, (unsigned)index, s) == 0) {
                slot->port = s->port;
                return;
        }
        udp_socket_close(slot);
        *slot = *s;
}

int kwg_udp_bind(struct kwg *k, uint16_t port, uint32_t fwmark)
{
        struct udp_socket s4 = { .fd = -1 }, s6 = { .fd = -1 };
        int r6 = -EADDRINUSE;

        for (int attempt = 0; attempt < 16; attempt++) {
                int r4 = open_socket(AF_INET, port, fwmark, k->offloads, &s4);

                if (r4 < 0)
                        return r4;
                r6 = open_socket(AF_INET6, s4.port, fwmark, k->offloads, &s6);
                if (r6 >= 0 || r6 == -EAFNOSUPPORT)
                        break;
                udp_socket_close(&s4);
                /* A random port free for IPv4 may be taken for IPv6: try another. */
                if (port != 0 || r6 != -EADDRINUSE)
                        return r6;
        }
        if (s4.fd < 0)
                return -EADDRINUSE;
        install(k, &k->udp4, k->udp4_index, &s4);
        if (s6.fd >= 0) {
                /* Without a v6 source in the running loop (no IPv6 at start) it stays unused. */
                if (k->loop && k->udp6_index < 0)
                        udp_socket_close(&s6);
                else
                        install(k, &k->udp6, k->udp6_index, &s6);
        }
        k->listen_port = s4.port;
        k->fwmark = fwmark;
        return 0;
}

int kwg_udp_set_fwmark(struct kwg *k, uint32_t fwmark)
{
        int fds[2] = { k->udp4.fd, k->udp6.fd };

        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0 && setsockopt(fds[i], SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
                        return -errno;
        k->fwmark = fwmark;
        return 0;
}

void kwg_udp_close(struct kwg *k)
{
        udp_socket_close(&k->udp4);
        udp_socket_close(&k->udp6);
}
