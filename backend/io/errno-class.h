/* SPDX-License-Identifier: MIT */
/*
 * What a send error means, decided in one table (DESIGN.md §3.3, data-plane spec §5).
 *
 *   IO_SEND_WOULD_BLOCK   keep the datagrams, wait for POLLOUT, send the same batch again
 *   IO_SEND_RETRY         send again at once (EINTR), a bounded number of times
 *   IO_SEND_RETRY_NO_GSO  the kernel/driver refused UDP_SEGMENT (EIO, EINVAL on a GSO send):
 *                         switch GSO off on that socket and resend the rest one by one
 *   IO_SEND_DROP          drop the rest of the batch and count it, carry on
 *   IO_SEND_FATAL         the socket itself is unusable (EBADF, ENOTSOCK, EFAULT …)
 *
 * ENOBUFS: some kernels and qdiscs report back-pressure as ENOBUFS rather than EAGAIN.
 * Dropping there forces the inner TCP into a retransmit timeout, so with the runtime flag
 * `enobufs_would_block` it is treated as would-block — but Linux does not promise a POLLOUT
 * edge after ENOBUFS (macOS never gave one and Firezone's send task hung), so the sender
 * never waits for writability alone after ENOBUFS: it waits for POLLOUT *or* a backoff
 * deadline, and gives up (drop and count) after IO_ENOBUFS_MAX_RETRIES attempts.
 * With the flag off, ENOBUFS is dropped and counted like any other send error.
 */
#pragma once

#include <stdbool.h>

enum io_send_action {
        IO_SEND_WOULD_BLOCK,
        IO_SEND_RETRY,
        IO_SEND_RETRY_NO_GSO,
        IO_SEND_DROP,
        IO_SEND_FATAL,
};

/* Runtime switches of the table (feature flags). */
struct io_errno_policy {
        bool enobufs_would_block;
};

/* Bounds that keep every retry finite. */
#define IO_EINTR_MAX_RETRIES        8
#define IO_ENOBUFS_MAX_RETRIES      8
#define IO_ENOBUFS_BACKOFF_FIRST_NS (250 * 1000ull)       /* 0.25 ms, doubling */
#define IO_ENOBUFS_BACKOFF_MAX_NS   (16 * 1000 * 1000ull) /* 16 ms per wait */

/* err is a positive errno from sendmsg()/sendmmsg(); gso: the send carried UDP_SEGMENT. */
enum io_send_action io_errno_classify_send(int err, bool gso, const struct io_errno_policy *policy);
const char *io_send_action_name(enum io_send_action action);
