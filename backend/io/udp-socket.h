/* SPDX-License-Identifier: MIT */
/*
 * One non-blocking UDP socket of the data plane (data-plane spec §4.1).  Open one per family
 * (IPv4 and IPv6, IPV6_V6ONLY) for dual-stack, as Firezone does: each family then has its
 * own plain cmsgs for the source address and ECN, with no v4-mapped special cases.
 *
 * Receive: recvmmsg() with UDP_GRO; each coalesced receive is split back into datagrams by
 * its gso_size cmsg, with the local address (IP_PKTINFO / IPV6_RECVPKTINFO) and ECN
 * (IP_RECVTOS / IPV6_RECVTCLASS) of each.  Send: one message per GSO batch with UDP_SEGMENT
 * (or, without GSO, one message per datagram in a single sendmmsg()), IP_PKTINFO /
 * IPV6_PKTINFO (source address) and IP_TOS / IPV6_TCLASS (ECN); every send error goes
 * through io_errno_classify_send().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/io/batch.h"
#include "backend/io/errno-class.h"
#include "backend/io/gso-queue.h"
#include "backend/io/io-types.h"

#define UDP_DEFAULT_SEND_BUFFER (2 * 1024 * 1024)
#define UDP_DEFAULT_RECV_BUFFER (16 * 1024 * 1024)
#define UDP_MIN_BUFFER          (64 * 1024)
/* recvmmsg() messages per receive: each may hold a full GRO train of 64 KiB. */
#define UDP_RECV_MESSAGES (IO_BATCH_BYTES / 65536)

struct udp_socket_config {
        union io_sockaddr bind; /* family, address (any) and port (0: any) */
        int send_buffer;        /* 0: UDP_DEFAULT_SEND_BUFFER */
        int recv_buffer;        /* 0: UDP_DEFAULT_RECV_BUFFER */
        uint32_t mark;          /* SO_MARK, 0: none (routing-loop prevention) */
        bool no_gso, no_gro;    /* turn the offloads off (benchmarks, tests) */
        struct io_errno_policy policy;
};

struct udp_counters {
        uint64_t sent_datagrams, sent_syscalls;
        uint64_t dropped_datagrams;
        uint64_t enobufs_giveups;
        uint64_t gso_disabled;
        uint64_t received_datagrams;
        int last_errno;
};

typedef int (*udp_sendmmsg_fn)(int fd, struct mmsghdr *msgs, unsigned int n, int flags);

struct udp_socket {
        int fd;
        sa_family_t family;
        uint16_t port;
        bool gso, gro;
        int send_buffer, recv_buffer; /* as granted by the kernel */
        struct io_errno_policy policy;
        /* The send seam: sendmmsg() unless a test injects errors. */
        udp_sendmmsg_fn sendmmsg_fn;
        struct udp_counters counters;
};

int udp_socket_open(const struct udp_socket_config *cfg, struct udp_socket *ret);
void udp_socket_close(struct udp_socket *s);

/* Fills an empty batch with received datagrams (tagged with socket_index); the number of
 * datagrams, -EAGAIN when nothing is waiting, another -errno on a receive error. */
int udp_socket_recv(struct udp_socket *s, struct io_batch *b, uint8_t socket_index);

enum udp_send_status {
        UDP_SEND_DONE,    /* the whole batch left or was dropped and counted */
        UDP_SEND_BLOCKED, /* keep the batch, wait for POLLOUT, call again */
        UDP_SEND_BACKOFF, /* keep the batch, wait for POLLOUT or *ret_backoff_ns, call again */
        UDP_SEND_FATAL,   /* the socket is unusable (counters.last_errno) */
};

/* Sends what is left of a batch (b->sent tracks progress across calls). */
enum udp_send_status udp_socket_send(struct udp_socket *s, struct gso_batch *b, uint64_t *ret_backoff_ns);
