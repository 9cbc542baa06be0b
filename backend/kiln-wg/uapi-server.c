/* SPDX-License-Identifier: MIT */
/* The UAPI socket: /var/run/wireguard/IFNAME.sock, one request at a time per client. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "backend/kiln-wg/kiln-wg.h"
#include "backend/kiln-wg/uapi.h"

static const char SOCKET_DIR[] = "/var/run/wireguard";

static ino_t socket_inode;

int kwg_uapi_listen(struct kwg *k)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        struct stat st;
        mode_t old_umask;
        int fd, r;

        if (mkdir(SOCKET_DIR, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = snprintf(k->socket_path, sizeof(k->socket_path), "%s/%s.sock", SOCKET_DIR, k->ifname);
        if (r < 0 || (size_t)r >= sizeof(addr.sun_path))
                return -ENAMETOOLONG;
        strcpy(addr.sun_path, k->socket_path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A socket file nobody answers on is left over from a crash: replace it. */
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
                close(fd);
                return -EADDRINUSE;
        }
        unlink(k->socket_path);
        old_umask = umask(0077);
        r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
        umask(old_umask);
        if (r < 0 || listen(fd, 16) < 0 || stat(k->socket_path, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        socket_inode = st.st_ino;
        k->uapi_fd = fd;
        return 0;
}

bool kwg_uapi_socket_gone(const struct kwg *k)
{
        struct stat st;

        return stat(k->socket_path, &st) < 0 || st.st_ino != socket_inode;
}

static void client_close(struct kwg_uapi_client *c)
{
        if (c->fd >= 0)
                close(c->fd);
        if (c->buf) {
                sodium_memzero(c->buf, c->cap);
                free(c->buf);
        }
        memset(c, 0, sizeof(*c));
        c->fd = -1;
}

void kwg_uapi_accept(struct kwg *k)
{
        for (;;) {
                int fd = accept4(k->uapi_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                struct kwg_uapi_client *slot = NULL;

                if (fd < 0)
                        return;
                for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++) {
                        if (k->clients[i].fd < 0) {
                                slot = &k->clients[i];
                                break;
                        }
                }
                if (!slot) {
                        close(fd);
                        continue;
                }
                slot->fd = fd;
        }
}

static void write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        /* wg reads its reply promptly; a client that does not is cut off. */
                        struct pollfd p = { .fd = fd, .events = POLLOUT };

                        if (poll(&p, 1, 1000) <= 0)
                                return;
                        continue;
                }
                if (n <= 0)
                        return;
                buf += n;
                len -= (size_t)n;
        }
}

static void reply_errno(int fd, int error)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "errno=%d\n\n", error);

        write_all(fd, buf, (size_t)n);
}

static void handle_request(struct kwg *k, struct kwg_uapi_client *c, size_t len)
{
        struct uapi_set *set = NULL;
        const char *reason;
        enum uapi_op op;
        uint64_t now = kwg_now();
        int r;

        r = uapi_parse_request(c->buf, len, &op, &set, &reason);
        if (r < 0) {
                kwg_log("UAPI: rejected request: %s", reason);
                reply_errno(c->fd, -r);
                return;
        }
        if (op == UAPI_OP_GET) {
                size_t out_len;
                char *out = uapi_format_get(k->dev, k->listen_port, k->fwmark, &out_len);

                if (!out) {
                        reply_errno(c->fd, ENOMEM);
                        return;
                }
                write_all(c->fd, out, out_len);
                sodium_memzero(out, out_len);
                free(out);
                return;
        }
        /* The sockets first: they are the only part that can fail for outside reasons. */
        if (set->has_listen_port && set->listen_port != k->listen_port) {
                r = kwg_udp_bind(k, set->listen_port, set->has_fwmark ? set->fwmark : k->fwmark);
                if (r < 0) {
                        kwg_log("UAPI: cannot listen on port %u: %s", set->listen_port, strerror(-r));
                        reply_errno(c->fd, -r);
                        uapi_set_free(set);
                        return;
                }
        } else if (set->has_fwmark && set->fwmark != k->fwmark) {
                r = kwg_udp_set_fwmark(k, set->fwmark);
                if (r < 0) {
                        reply_errno(c->fd, -r);
                        uapi_set_free(set);
                        return;
                }
        }
        r = uapi_apply(k->dev, now, set);
        uapi_set_free(set);
        /* A new keepalive or handshake may be due right away. */
        kwg_flush_transmits(k, now);
        reply_errno(c->fd, r < 0 ? -r : 0);
}

void kwg_uapi_client_readable(struct kwg *k, struct kwg_uapi_client *c)
{
        for (;;) {
                long req;
                ssize_t n;

                if (c->cap - c->len < 4096) {
                        size_t cap = c->cap ? c->cap * 2 : 8192;
                        char *buf;

                        if (cap > UAPI_MAX_REQUEST + 8192) {
                                reply_errno(c->fd, E2BIG);
                                client_close(c);
                                return;
                        }
                        buf = malloc(cap);
                        if (!buf) {
                                client_close(c);
                                return;
                        }
                        if (c->buf) {
                                memcpy(buf, c->buf, c->len);
                                sodium_memzero(c->buf, c->cap);
                                free(c->buf);
                        }
                        c->buf = buf;
                        c->cap = cap;
                }
                n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        client_close(c);
                        return;
                }
                c->len += (size_t)n;
                while ((req = uapi_request_length(c->buf, c->len)) != 0) {
                        if (req < 0) {
                                reply_errno(c->fd, EINVAL);
                                client_close(c);
                                return;
                        }
                        handle_request(k, c, (size_t)req);
                        sodium_memzero(c->buf, (size_t)req);
                        memmove(c->buf, c->buf + req, c->len - (size_t)req);
                        c->len -= (size_t)req;
                }
        }
}

void kwg_uapi_close(struct kwg *k)
{
        for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                if (k->clients[i].fd >= 0)
                        client_close(&k->clients[i]);
        if (k->uapi_fd >= 0) {
                close(k->uapi_fd);
                k->uapi_fd = -1;
                if (!kwg_uapi_socket_gone(k))
                        unlink(k->socket_path);
        }
}
