/* SPDX-License-Identifier: MIT */
#include "backend/io/errno-class.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* The one table.  Anything not listed is dropped and counted: an unknown send error must
 * never stop the tunnel, and must never make the loop spin. */
#define SAME (-1)

/* The one table.  Anything not listed is dropped and counted: an unknown send error must
 * never stop the tunnel, and must never make the loop spin.  `flagged` applies instead of
 * the other two columns when the ENOBUFS feature flag is on (SAME: the flag changes nothing). */
static const struct {
        int err;
        int8_t plain;   /* enum io_send_action */
        int8_t gso;     /* the same errno on a UDP_SEGMENT send */
        int8_t flagged; /* with policy->enobufs_would_block */
} send_table[] = {
        { EAGAIN, IO_SEND_WOULD_BLOCK, IO_SEND_WOULD_BLOCK, SAME },
#if EWOULDBLOCK != EAGAIN
        { EWOULDBLOCK, IO_SEND_WOULD_BLOCK, IO_SEND_WOULD_BLOCK, SAME },
#endif
        { EINTR, IO_SEND_RETRY, IO_SEND_RETRY, SAME },
        { EIO, IO_SEND_DROP, IO_SEND_RETRY_NO_GSO, SAME },
        { EINVAL, IO_SEND_DROP, IO_SEND_RETRY_NO_GSO, SAME },
        { ENOBUFS, IO_SEND_DROP, IO_SEND_DROP, IO_SEND_WOULD_BLOCK },
        { ENETUNREACH, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EHOSTUNREACH, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EHOSTDOWN, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { ENETDOWN, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EADDRNOTAVAIL, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EMSGSIZE, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EAFNOSUPPORT, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EPERM, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EACCES, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { ECONNREFUSED, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { ENOMEM, IO_SEND_DROP, IO_SEND_DROP, SAME },
        { EBADF, IO_SEND_FATAL, IO_SEND_FATAL, SAME },
        { ENOTSOCK, IO_SEND_FATAL, IO_SEND_FATAL, SAME },
        { EFAULT, IO_SEND_FATAL, IO_SEND_FATAL, SAME },
        { EDESTADDRREQ, IO_SEND_FATAL, IO_SEND_FATAL, SAME },
        { EOPNOTSUPP, IO_SEND_FATAL, IO_SEND_FATAL, SAME },
};

enum io_send_action io_errno_classify_send(int err, bool gso, const struct io_errno_policy *policy)
{
        bool flag = policy && policy->enobufs_would_block;

        for (size_t i = 0; i < sizeof(send_table) / sizeof(send_table[0]); i++) {
                if (send_table[i].err != err)
                        continue;
                if (flag && send_table[i].flagged != SAME)
                        return (enum io_send_action)send_table[i].flagged;
                return (enum io_send_action)(gso ? send_table[i].gso : send_table[i].plain);
        }
        return IO_SEND_DROP;
}

const char *io_send_action_name(enum io_send_action action)
{
        switch (action) {
        case IO_SEND_WOULD_BLOCK:
                return "would-block";
        case IO_SEND_RETRY:
                return "retry";
        case IO_SEND_RETRY_NO_GSO:
                return "retry-without-gso";
        case IO_SEND_DROP:
                return "drop";
        case IO_SEND_FATAL:
                return "fatal";
        }
        return "unknown";
}
