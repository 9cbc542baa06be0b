/* SPDX-License-Identifier: MIT */
/*
 * Control sources of the loop: the UAPI socket and its clients, SIGTERM/SIGINT (signalfd) and
 * the watch on the socket file.  A relay thread only poll()s them; when one is readable it
 * signals the loop's control eventfd and waits until the engine thread has handled it in
 * kwg_handle_control() (which reads, parses, applies and replies), then polls again.  The
 * relay never touches the device, so the engine needs no lock.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backend/kiln-wg/kiln-wg.h"

int kwg_handle_control(void *engine, uint64_t now)
{
        struct kwg *k = engine;
        struct signalfd_siginfo si;
        char ev[4096];

        wg_device_set_wall_clock_offset(k->dev, kwg_wall_offset());
        /* Everything is non-blocking: look at every source, not only the one that woke us. */
        if (read(k->signal_fd, &si, sizeof(si)) == sizeof(si)) {
                kwg_log("received signal %u, shutting down", si.ssi_signo);
                io_loop_stop(k->loop);
        }
        if (read(k->inotify_fd, ev, sizeof(ev)) > 0) {
                while (read(k->inotify_fd, ev, sizeof(ev)) > 0)
                        ;
                if (kwg_uapi_socket_gone(k)) {
                        kwg_log("%s was removed, shutting down", k->socket_path);
                        io_loop_stop(k->loop);
                }
        }
        kwg_uapi_accept(k);
        for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                if (k->clients[i].fd >= 0)
                        kwg_uapi_client_readable(k, &k->clients[i]);
        io_wake_signal(k->relay_ack_fd);
        return 0;
}

static void *relay(void *arg)
{
        enum {
                FD_EXIT,
                FD_UAPI,
                FD_SIGNAL,
                FD_INOTIFY,
                FD_CLIENTS
        };
        struct kwg *k = arg;
        struct pollfd fds[FD_CLIENTS + KWG_MAX_UAPI_CLIENTS];

        for (;;) {
                struct pollfd wait[2] = { { .fd = k->relay_exit_fd, .events = POLLIN },
                                          { .fd = k->relay_ack_fd, .events = POLLIN } };

                fds[FD_EXIT] = (struct pollfd){ .fd = k->relay_exit_fd, .events = POLLIN };
                fds[FD_UAPI] = (struct pollfd){ .fd = k->uapi_fd, .events = POLLIN };
                fds[FD_SIGNAL] = (struct pollfd){ .fd = k->signal_fd, .events = POLLIN };
                fds[FD_INOTIFY] = (struct pollfd){ .fd = k->inotify_fd, .events = POLLIN };
                /* The engine thread changes clients[] only while we wait for its ack. */
                for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                        fds[FD_CLIENTS + i] = (struct pollfd){ .fd = k->clients[i].fd, .events = POLLIN };
                if (poll(fds, FD_CLIENTS + KWG_MAX_UAPI_CLIENTS, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        kwg_log("control poll: %s", strerror(errno));
                        io_loop_stop(k->loop);
                        return NULL;
                }
                if (fds[FD_EXIT].revents)
                        return NULL;
                io_wake_signal(io_loop_control_fd(k->loop));
                while (poll(wait, 2, -1) < 0 && errno == EINTR)
                        ;
                if (wait[0].revents)
                        return NULL;
                io_wake_drain(k->relay_ack_fd);
        }
}

int kwg_control_start(struct kwg *k)
{
        int r;

        k->relay_ack_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        k->relay_exit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (k->relay_ack_fd < 0 || k->relay_exit_fd < 0)
                return -errno;
        r = -pthread_create(&k->relay, NULL, relay, k);
        if (r < 0)
                return r;
        k->relay_running = true;
        return 0;
}

void kwg_control_stop(struct kwg *k)
{
        if (k->relay_running) {
                io_wake_signal(k->relay_exit_fd);
                pthread_join(k->relay, NULL);
                k->relay_running = false;
        }
        if (k->relay_ack_fd >= 0)
                close(k->relay_ack_fd);
        if (k->relay_exit_fd >= 0)
                close(k->relay_exit_fd);
        k->relay_ack_fd = k->relay_exit_fd = -1;
}
