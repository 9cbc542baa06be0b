/* SPDX-License-Identifier: MIT */
#include "backend/io/udp-socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static int set_int(int fd, int level, int name, int value)
{
        return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

/* Try the size with the root-only *FORCE option (ignores net.core.[rw]mem_max), then the
 * ordinary one, halving on failure down to UDP_MIN_BUFFER; returns what the kernel granted. */
static int set_buffer(int fd, int force_name, int name, int size)
{
        int granted = 0;
        socklen_t len = sizeof(granted);

        if (set_int(fd, SOL_SOCKET, force_name, size) < 0) {
                while (set_int(fd, SOL_SOCKET, name, size) < 0 && size / 2 >= UDP_MIN_BUFFER)
                        size /= 2;
        }
        if (getsockopt(fd, SOL_SOCKET, name, &granted, &len) < 0)
                return -errno;
        return granted / 2; /* the kernel reports twice the usable size */
}

int udp_socket_open(const struct udp_socket_config *cfg, struct udp_socket *ret)
{
        struct udp_socket s = { .fd = -1, .sendmmsg_fn = sendmmsg, .policy = cfg->policy };
        union io_sockaddr bound;
        socklen_t len = sizeof(bound);
        int segment = 0, r;

        s.family = cfg->bind.sa.sa_family;
        if (s.family != AF_INET && s.family != AF_INET6)
                return -EAFNOSUPPORT;
        s.fd = socket(s.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
        if (s.fd < 0)
                return -errno;

        if (cfg->mark) {
                r = set_int(s.fd, SOL_SOCKET, SO_MARK, (int)cfg->mark);
                if (r < 0)
                        goto fail; /* routing-loop prevention is not optional */
        }
        if (s.family == AF_INET) {
                r = set_int(s.fd, IPPROTO_IP, IP_PKTINFO, 1);
                if (r == 0)
                        r = set_int(s.fd, IPPROTO_IP, IP_RECVTOS, 1);
                if (r == 0)
                        r = set_int(s.fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
        } else {
                r = set_int(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
                if (r == 0)
                        r = set_int(s.fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
                if (r == 0)
                        r = set_int(s.fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
                if (r == 0)
                        r = set_int(s.fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1);
        }
        if (r < 0)
                goto fail;

        s.send_buffer = set_buffer(s.fd, SO_SNDBUFFORCE, SO_SNDBUF,
                                   cfg->send_buffer ? cfg->send_buffer : UDP_DEFAULT_SEND_BUFFER);
        s.recv_buffer = set_buffer(s.fd, SO_RCVBUFFORCE, SO_RCVBUF,
                                   cfg->recv_buffer ? cfg->recv_buffer : UDP_DEFAULT_RECV_BUFFER);

        /* Offloads are probed, never assumed: an old kernel simply runs without them. */
        len = sizeof(segment);
        s.gso = !cfg->no_gso && getsockopt(s.fd, IPPROTO_UDP, UDP_SEGMENT, &segment, &len) == 0;
        s.gro = !cfg->no_gro && set_int(s.fd, IPPROTO_UDP, UDP_GRO, 1) == 0;

        if (bind(s.fd, &cfg->bind.sa, io_sockaddr_len(&cfg->bind)) < 0) {
                r = -errno;
                goto fail;
        }
        len = sizeof(bound);
        if (getsockname(s.fd, &bound.sa, &len) < 0) {
                r = -errno;
                goto fail;
        }
        s.port = ntohs(s.family == AF_INET ? bound.in.sin_port : bound.in6.sin6_port);
        *ret = s;
        return 0;
fail:
        close(s.fd);
        return r;
}

void udp_socket_close(struct udp_socket *s)
{
        if (s && s->fd >= 0) {
                close(s->fd);
                s->fd = -1;
        }
}

#define RECV_CMSG_SPACE                                                                                     \
        (CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +       \
         CMSG_SPACE(sizeof(struct in_pktinfo)))

static void parse_recv_cmsgs(struct msghdr *msg, struct io_datagram *meta, int *gso_size)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
                if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
                        memcpy(gso_size, CMSG_DATA(c), sizeof(int));
                } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                        struct in_pktinfo pi;

                        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                        meta->local.family = AF_INET;
                        meta->local.v4 = pi.ipi_addr;
                } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                        struct in6_pktinfo pi;

                        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
                        meta->local.family = AF_INET6;
                        meta->local.v6 = pi.ipi6_addr;
                } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
                        meta->ecn = *(const uint8_t *)CMSG_DATA(c) & 3;
                } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
                        int tclass;

                        memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
                        meta->ecn = (uint8_t)(tclass & 3);
                }
        }
}

int udp_socket_recv(struct udp_socket *s, struct io_batch *b, uint8_t socket_index)
{
        struct mmsghdr msgs[UDP_RECV_MESSAGES];
        struct iovec iov[UDP_RECV_MESSAGES];
        union io_sockaddr peers[UDP_RECV_MESSAGES];
        union {
                uint8_t buf[RECV_CMSG_SPACE];
                struct cmsghdr align;
        } control[UDP_RECV_MESSAGES];
        const size_t slot = IO_BATCH_BYTES / UDP_RECV_MESSAGES;
        int n;

        io_batch_reset(b);
        memset(msgs, 0, sizeof(msgs));
        for (size_t i = 0; i < UDP_RECV_MESSAGES; i++) {
                iov[i].iov_base = b->data + i * slot;
                iov[i].iov_len = slot;
                msgs[i].msg_hdr.msg_name = &peers[i];
                msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
                msgs[i].msg_hdr.msg_control = control[i].buf;
                msgs[i].msg_hdr.msg_controllen = sizeof(control[i].buf);
        }
        do
                n = recvmmsg(s->fd, msgs, UDP_RECV_MESSAGES, MSG_DONTWAIT, NULL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        for (int i = 0; i < n; i++) {
                struct io_datagram meta = { .socket = socket_index };
                size_t len = msgs[i].msg_len, stride;
                int gso_size = 0;

                if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                        continue; /* cannot happen with 64 KiB slots; never deliver a partial one */
                parse_recv_cmsgs(&msgs[i].msg_hdr, &meta, &gso_size);
                memcpy(&meta.peer, &peers[i], sizeof(meta.peer));
                stride = gso_size > 0 && (size_t)gso_size < len ? (size_t)gso_size : len;
                for (size_t off = 0; off < len && b->count < IO_BATCH_PACKETS; off += stride) {
                        struct io_datagram *d = &b->pkt[b->count++];

                        *d = meta;
                        d->data = (const uint8_t *)iov[i].iov_base + off;
                        d->len = (uint16_t)(len - off < stride ? len - off : stride);
                }
                b->used = (uint32_t)((i + 1) * slot);
        }
        s->counters.received_datagrams += b->count;
        return (int)b->count;
}

#define SEND_CMSG_SPACE                                                                                     \
        (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)))

static size_t build_send_cmsgs(const struct udp_socket *s, const struct gso_batch *b, bool gso, uint8_t *buf)
{
        struct msghdr msg = { .msg_control = buf, .msg_controllen = SEND_CMSG_SPACE };
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        size_t used = 0;

        memset(buf, 0, SEND_CMSG_SPACE);
        if (gso) {
                uint16_t seg = b->segment_size;

                c->cmsg_level = IPPROTO_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(seg));
                memcpy(CMSG_DATA(c), &seg, sizeof(seg));
                used += CMSG_SPACE(sizeof(seg));
                c = (struct cmsghdr *)(buf + used);
        }
        if (b->flow.src.family == AF_INET && s->family == AF_INET) {
                struct in_pktinfo pi = { .ipi_spec_dst = b->flow.src.v4 };

                c->cmsg_level = IPPROTO_IP;
                c->cmsg_type = IP_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof(pi));
                memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                used += CMSG_SPACE(sizeof(pi));
                c = (struct cmsghdr *)(buf + used);
        } else if (b->flow.src.family == AF_INET6 && s->family == AF_INET6) {
                struct in6_pktinfo pi = { .ipi6_addr = b->flow.src.v6 };

                c->cmsg_level = IPPROTO_IPV6;
                c->cmsg_type = IPV6_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof(pi));
                memcpy(CMSG_DATA(c), &pi, sizeof(pi));
                used += CMSG_SPACE(sizeof(pi));
                c = (struct cmsghdr *)(buf + used);
        }
        if (b->flow.ecn) {
                int tos = b->flow.ecn & 3;

                c->cmsg_level = s->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
                c->cmsg_type = s->family == AF_INET ? IP_TOS : IPV6_TCLASS;
                c->cmsg_len = CMSG_LEN(sizeof(tos));
                memcpy(CMSG_DATA(c), &tos, sizeof(tos));
                used += CMSG_SPACE(sizeof(tos));
        }
        return used;
}

static void drop_rest(struct udp_socket *s, struct gso_batch *b, int err)
{
        s->counters.dropped_datagrams += b->segments - b->sent;
        s->counters.last_errno = err;
        b->sent = b->segments;
}

enum udp_send_status udp_socket_send(struct udp_socket *s, struct gso_batch *b, uint64_t *ret_backoff_ns)
{
        union {
                uint8_t buf[SEND_CMSG_SPACE];
                struct cmsghdr align;
        } control;
        struct mmsghdr msgs[IO_GSO_MAX_SEGMENTS];
        struct iovec iov[IO_GSO_MAX_SEGMENTS];

        while (b->sent < b->segments) {
                bool gso = s->gso && b->segments - b->sent > 1;
                /* One UDP_SEGMENT message for the rest of the batch; without GSO one message
                 * per datagram, all in one sendmmsg(). */
                unsigned n_msgs = gso ? 1u : (unsigned)(b->segments - b->sent);
                size_t controllen = build_send_cmsgs(s, b, gso, control.buf);
                int n, err;

                for (unsigned i = 0; i < n_msgs; i++) {
                        size_t seg = (size_t)b->sent + i;

                        iov[i].iov_base = b->buf + seg * b->segment_size;
                        iov[i].iov_len =
                            gso ? b->len - seg * b->segment_size : gso_batch_segment_len(b, seg);
                        msgs[i] = (struct mmsghdr){ .msg_hdr = {
                                                        .msg_name = (void *)&b->flow.dst,
                                                        .msg_namelen = io_sockaddr_len(&b->flow.dst),
                                                        .msg_iov = &iov[i],
                                                        .msg_iovlen = 1,
                                                        .msg_control = controllen ? control.buf : NULL,
                                                        .msg_controllen = controllen,
                                                    } };
                }
                n = s->sendmmsg_fn(s->fd, msgs, n_msgs, 0);
                if (n > 0) {
                        /* A short count: the kernel took a prefix; the rest goes next round
                         * (and meets the error, if there was one, on its own). */
                        uint16_t done = gso ? (uint16_t)(b->segments - b->sent) : (uint16_t)n;

                        b->sent += done;
                        b->attempts = 0;
                        s->counters.sent_datagrams += done;
                        s->counters.sent_syscalls++;
                        continue;
                }
                err = errno;
                switch (io_errno_classify_send(err, gso, &s->policy)) {
                case IO_SEND_WOULD_BLOCK:
                        if (err != ENOBUFS)
                                return UDP_SEND_BLOCKED;
                        /* No POLLOUT edge is promised after ENOBUFS: wait with a deadline,
                         * and give up after a bounded number of tries. */
                        if (++b->attempts > IO_ENOBUFS_MAX_RETRIES) {
                                s->counters.enobufs_giveups++;
                                drop_rest(s, b, err);
                                return UDP_SEND_DONE;
                        }
                        *ret_backoff_ns = IO_ENOBUFS_BACKOFF_FIRST_NS << (b->attempts - 1);
                        if (*ret_backoff_ns > IO_ENOBUFS_BACKOFF_MAX_NS)
                                *ret_backoff_ns = IO_ENOBUFS_BACKOFF_MAX_NS;
                        return UDP_SEND_BACKOFF;
                case IO_SEND_RETRY:
                        if (++b->attempts > IO_EINTR_MAX_RETRIES)
                                drop_rest(s, b, err);
                        break;
                case IO_SEND_RETRY_NO_GSO:
                        s->gso = false;
                        s->counters.gso_disabled++;
                        break;
                case IO_SEND_DROP:
                        drop_rest(s, b, err);
                        break;
                case IO_SEND_FATAL:
                        s->counters.last_errno = err;
                        return UDP_SEND_FATAL;
                }
        }
        return UDP_SEND_DONE;
}
