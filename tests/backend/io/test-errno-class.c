/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "backend/io/errno-class.h"
#include "tests/support/test-support.h"

static const struct io_errno_policy flag_off = { .enobufs_would_block = false };
static const struct io_errno_policy flag_on = { .enobufs_would_block = true };

static void test_table(void)
{
        static const int drops[] = { ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, EMSGSIZE,  EAFNOSUPPORT,
                                     EPERM,       EACCES,       ECONNREFUSED,  EHOSTDOWN, ENETDOWN };

        g_assert_cmpint(io_errno_classify_send(EAGAIN, false, &flag_off), ==, IO_SEND_WOULD_BLOCK);
        g_assert_cmpint(io_errno_classify_send(EWOULDBLOCK, true, &flag_off), ==, IO_SEND_WOULD_BLOCK);
        g_assert_cmpint(io_errno_classify_send(EINTR, false, &flag_off), ==, IO_SEND_RETRY);
        for (size_t i = 0; i < G_N_ELEMENTS(drops); i++) {
                g_assert_cmpint(io_errno_classify_send(drops[i], false, &flag_off), ==, IO_SEND_DROP);
                g_assert_cmpint(io_errno_classify_send(drops[i], true, &flag_on), ==, IO_SEND_DROP);
        }
        g_assert_cmpint(io_errno_classify_send(EBADF, false, &flag_off), ==, IO_SEND_FATAL);
        g_assert_cmpint(io_errno_classify_send(ENOTSOCK, true, &flag_on), ==, IO_SEND_FATAL);
        /* An errno nobody listed is dropped and counted, never fatal, never retried. */
        g_assert_cmpint(io_errno_classify_send(ETXTBSY, false, &flag_off), ==, IO_SEND_DROP);
}

static void test_gso_errors(void)
{
        /* EIO/EINVAL on a UDP_SEGMENT send: the driver refused GSO; without GSO they are drops. */
        g_assert_cmpint(io_errno_classify_send(EIO, true, &flag_off), ==, IO_SEND_RETRY_NO_GSO);
        g_assert_cmpint(io_errno_classify_send(EINVAL, true, &flag_off), ==, IO_SEND_RETRY_NO_GSO);
        g_assert_cmpint(io_errno_classify_send(EIO, false, &flag_off), ==, IO_SEND_DROP);
        g_assert_cmpint(io_errno_classify_send(EINVAL, false, &flag_on), ==, IO_SEND_DROP);
}

static void test_enobufs_flag(void)
{
        g_assert_cmpint(io_errno_classify_send(ENOBUFS, false, &flag_off), ==, IO_SEND_DROP);
        g_assert_cmpint(io_errno_classify_send(ENOBUFS, true, &flag_off), ==, IO_SEND_DROP);
        g_assert_cmpint(io_errno_classify_send(ENOBUFS, false, &flag_on), ==, IO_SEND_WOULD_BLOCK);
        g_assert_cmpint(io_errno_classify_send(ENOBUFS, true, &flag_on), ==, IO_SEND_WOULD_BLOCK);
        g_assert_cmpint(io_errno_classify_send(ENOBUFS, false, NULL), ==, IO_SEND_DROP);
        g_assert_cmpstr(io_send_action_name(IO_SEND_WOULD_BLOCK), ==, "would-block");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/io/errno/table", test_table);
        g_test_add_func("/io/errno/gso", test_gso_errors);
        g_test_add_func("/io/errno/enobufs-flag", test_enobufs_flag);
        return g_test_run();
}
