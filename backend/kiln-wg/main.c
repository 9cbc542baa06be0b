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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backend/crypto/keys.h"
#include "backend/kiln-wg/kiln-wg.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: kiln-wg [-f|--foreground] [--no-offload] INTERFACE-NAME\n"
                   "A userspace WireGuard interface; configure it with wg(8) or wg-quick(8).\n"
                   "--no-offload (or KILN_WG_NO_OFFLOAD=1) runs without TUN and UDP offloads.\n");
}

static void log_engine(void *userdata, const char *message)
{
        kwg_log("%s", message);
}

/* The MTU WireGuard pads to, and the device up, as the kernel module's interface starts. */
static int tun_set_mtu_up(const char *name, unsigned mtu)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0)
                return -errno;
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        ifr.ifr_mtu = (int)mtu;
        if (ioctl(fd, SIOCSIFMTU, &ifr) < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        ifr.ifr_flags |= IFF_UP;
        if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                r = -errno;
        close(fd);
        return r;
}

static int setup(struct kwg *k, const char *name)
{
        struct io_loop_config cfg = { .packet_budget = KWG_PACKET_BUDGET };
        char offl[64];
        sigset_t mask;
        int r;

        r = tun_device_open(name, k->offloads, &k->tun);
        if (r < 0) {
                kwg_log("cannot create TUN device %s: %s", name, strerror(-r));
                return r;
        }
        snprintf(k->ifname, sizeof(k->ifname), "%s", k->tun.name);
        r = tun_set_mtu_up(k->ifname, KWG_DEFAULT_MTU);
        if (r < 0) {
                kwg_log("cannot set up %s: %s", k->ifname, strerror(-r));
                return r;
        }
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
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        /* Blocked before any thread starts, so every thread inherits the mask. */
        sigprocmask(SIG_BLOCK, &mask, NULL);
        k->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        k->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (k->signal_fd < 0 || k->inotify_fd < 0) {
                r = -errno;
                kwg_log("cannot create event fds: %s", strerror(-r));
                return r;
        }
        /* wg-quick down removes the socket file: that is our signal to go. */
        if (inotify_add_watch(k->inotify_fd, k->socket_path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) < 0)
                kwg_log("cannot watch %s: %s", k->socket_path, strerror(errno));
        k->dev = wg_device_new(NULL, &k->rng);
        if (!k->dev || kwg_engine_init(k) < 0)
                return -ENOMEM;
        wg_device_set_mtu(k->dev, KWG_DEFAULT_MTU);
        wg_device_set_log(k->dev, log_engine, NULL);
        wg_device_set_wall_clock_offset(k->dev, kwg_wall_offset());

        r = io_loop_new(&kwg_engine_ops, k, &cfg, &k->loop);
        if (r < 0)
                return r;
        r = io_loop_add_udp(k->loop, &k->udp4, 0);
        if (r >= 0)
                k->udp4_index = r;
        if (r >= 0 && k->udp6.fd >= 0) {
                r = io_loop_add_udp(k->loop, &k->udp6, 0);
                if (r >= 0)
                        k->udp6_index = r;
        }
        if (r >= 0)
                r = io_loop_set_tun(k->loop, k->tun.fd, k->tun.vnet_hdr, k->tun.offloads);
        if (r < 0) {
                kwg_log("cannot set up the event loop: %s", strerror(-r));
                return r;
        }
        kwg_log("%s: TUN offloads [%s]%s, UDP GSO %s, GRO %s", k->ifname,
                tun_offloads_describe(k->tun.offloads, offl, sizeof(offl)),
                k->offloads && !k->tun.offloads ? " (the kernel refused them)" : "",
                k->udp4.gso ? "on" : "off", k->udp4.gro ? "on" : "off");
        return 0;
}

/* Threads start after detach(): fork() keeps only the calling thread. */
static int start(struct kwg *k)
{
        int r = io_loop_start(k->loop);

        if (r == 0)
                r = kwg_control_start(k);
        if (r < 0)
                kwg_log("cannot start threads: %s", strerror(-r));
        return r;
}

static void teardown(struct kwg *k)
{
        if (k->loop)
                io_loop_stop(k->loop);
        kwg_control_stop(k);
        io_loop_free(k->loop); /* joins the IO threads before their fds close */
        kwg_uapi_close(k);
        kwg_udp_close(k);
        tun_device_close(&k->tun);
        if (k->signal_fd >= 0)
                close(k->signal_fd);
        if (k->inotify_fd >= 0)
                close(k->inotify_fd);
        wg_device_free(k->dev);
        kwg_engine_free(k);
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
        bool foreground = false, no_offload = false;
        const char *env = getenv("KILN_WG_NO_OFFLOAD");
        const char *name = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--foreground") == 0) {
                        foreground = true;
                } else if (strcmp(argv[i], "--no-offload") == 0) {
                        no_offload = true;
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
        k.tun.fd = k.udp4.fd = k.udp6.fd = k.uapi_fd = k.signal_fd = k.inotify_fd = -1;
        k.relay_ack_fd = k.relay_exit_fd = -1;
        k.udp4_index = k.udp6_index = -1;
        k.offloads = !no_offload && !(env && strcmp(env, "1") == 0);
        for (int i = 0; i < KWG_MAX_UAPI_CLIENTS; i++)
                k.clients[i].fd = -1;
        wg_rng_init_system(&k.rng);

        r = setup(&k, name);
        if (r >= 0 && !foreground)
                r = detach();
        if (r >= 0)
                r = start(&k);
        if (r >= 0) {
                kwg_log("%s is up, UAPI on %s", k.ifname, k.socket_path);
                r = io_loop_run(k.loop);
                if (r < 0)
                        kwg_log("the event loop stopped: %s", strerror(-r));
        }
        teardown(&k);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
