/* SPDX-License-Identifier: MIT */
/*
 * kiln-wg [-f] IFNAME: a userspace WireGuard interface configured by wg(8) over
 * /var/run/wireguard/IFNAME.sock.  Without -f it detaches once the interface and the socket
 * exist, so `wg` can configure it as soon as the command returns (wg-quick relies on that).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backend/crypto/keys.h"
#include "backend/kiln-wg/kiln-wg.h"
#include "backend/platform/tun.h"

enum {
        DEFAULT_MTU = 1420,
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: kiln-wg [-f|--foreground] INTERFACE-NAME\n"
                   "A userspace WireGuard interface; configure it with wg(8) or wg-quick(8).\n");
}

static void log_engine(void *userdata, const char *message)
{
        kwg_log("%s", message);
}

static int setup(struct kwg *k, const char *name)
{
        sigset_t mask;
        int r;

        r = tun_open(name, DEFAULT_MTU, k->ifname);
        if (r < 0) {
                kwg_log("cannot create TUN device %s: %s", name, strerror(-r));
                return r;
        }
        k->tun_fd = r;
        r = kwg_udp_bind(k, 0, 0);
        if (r < 0) {
                kwg_log("cannot open UDP sockets: %s", strerror(-r));
                return r;
        }
        r = kwg_uapi_listen(k);
        if (r < 0) {
                kwg_log("cannot listen on the UAPI socket for %s: %s", k->ifname, strerror(-r));
                return r;
        }
        k->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        k->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        k->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (k->timer_fd < 0 || k->signal_fd < 0 || k->inotify_fd < 0) {
                r = -errno;
                kwg_log("cannot create event fds: %s", strerror(-r));
                return r;
        }
        /* wg-quick down removes the socket file: that is our signal to go. */
        if (inotify_add_watch(k->inotify_fd, k->socket_path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
                kwg_log("cannot watch %s: %s", k->socket_path, strerror(errno));
        k->rx_buf = malloc(KWG_BUF_SIZE);
        k->tx_buf = malloc(KWG_BUF_SIZE);
        k->dev = wg_device_new(NULL, &k->rng);
        if (!k->rx_buf || !k->tx_buf || !k->dev)
                return -ENOMEM;
        wg_device_set_mtu(k->dev, DEFAULT_MTU);
        wg_device_set_log(k->dev, log_engine, NULL);
        return 0;
}

static void teardown(struct kwg *k)
{
        kwg_uapi_close(k);
        kwg_udp_close(k);
        if (k->tun_fd >= 0)
                close(k->tun_fd);
        if (k->timer_fd >= 0)
                close(k->timer_fd);
        if (k->signal_fd >= 0)
                close(k->signal_fd);
        if (k->inotify_fd >= 0)
                close(k->inotify_fd);
        wg_device_free(k->dev);
        free(k->rx_buf);
        free(k->tx_buf);
}

static int detach(void)
{
        pid_t pid = fork();
        int null;

        if (pid < 0)
                return -errno;
        if (pid > 0)
                _exit(EXIT_SUCCESS);
        setsid();
        if (chdir("/") < 0)
                return -errno;
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                close(null);
        }
        return 0;
}

int main(int argc, char *argv[])
{
        static struct kwg k;
        bool foreground = false;
        const char *name = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--foreground") == 0) {
                        foreground = true;
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        usage(stdout);
                        return EXIT_SUCCESS;
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("kiln-wg %s\n", KILN_VERSION);
                        return EXIT_SUCCESS;
                } else if (!name && argv[i][0] != '-') {
                        name = argv[i];
                } else {
                        usage(stderr);
                        return EXIT_FAILURE;
                }
        }
        if (!name) {
                usage(stderr);
                return EXIT_FAILURE;
        }
        if (kiln_crypto_init() < 0) {
                kwg_log("cannot initialise libsodium");
                return EXIT_FAILURE;
        }
        signal(SIGPIPE, SIG_IGN);
        k.tun_fd = k.udp4_fd = k.udp6_fd = k.uapi_fd = k.timer_fd = k.signal_fd = k.inotify_fd = -1;
        for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                k.clients[i].fd = -1;
        wg_rng_init_system(&k.rng);

        r = setup(&k, name);
        if (r >= 0 && !foreground)
                r = detach();
        if (r >= 0) {
                kwg_log("%s is up, UAPI on %s", k.ifname, k.socket_path);
                r = kwg_run(&k);
        }
        teardown(&k);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
