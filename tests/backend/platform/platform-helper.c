/* SPDX-License-Identifier: MIT */
/*
 * Drives backend/platform from the root test scripts, inside a network namespace:
 *   platform-helper routes IFNAME rules-add|rules-del|flush|sync-link-scope
 *   platform-helper routes IFNAME set CIDR... [-- CIDR...]   (each "--" applies the next set)
 *   platform-helper source [--mark] DST                      (local address a UDP socket picks)
 *   platform-helper resolvconf FILE BACKUP STATEDIR activate [--search D] [--hold] NS...
 *   platform-helper resolvconf FILE BACKUP STATEDIR deactivate|recover
 *   platform-helper resolved BUS_ADDRESS IFNAME activate [--search D] SERVER...
 *   platform-helper resolved BUS_ADDRESS IFNAME revert|available
 *   platform-helper forwarding TUN            (sets up, prints "ready", tears down on SIGTERM)
 * Exit status 0 on success; errors on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/platform/dns-resolvconf.h"
#include "backend/platform/dns-resolved.h"
#include "backend/platform/forwarding.h"
#include "backend/platform/routes.h"

static int die(const char *what, int r)
{
        fprintf(stderr, "platform-helper: %s: %s\n", what, strerror(-r));
        return 1;
}

static int routes_cmd(int argc, char **argv)
{
        if (argc < 2)
                return 2;
        int ifindex = (int)if_nametoindex(argv[0]);
        if (!ifindex)
                return die(argv[0], -errno);
        struct kiln_routes *r;
        int ret = kiln_routes_new(ifindex, &r);
        if (ret < 0)
                return die("netlink", ret);
        const char *cmd = argv[1];
        if (!strcmp(cmd, "rules-add"))
                ret = kiln_routes_add_rules(r, 3);
        else if (!strcmp(cmd, "rules-del"))
                ret = kiln_routes_remove_rules(r, 3);
        else if (!strcmp(cmd, "flush"))
                ret = kiln_routes_flush(r);
        else if (!strcmp(cmd, "sync-link-scope"))
                ret = kiln_routes_sync_link_scope(r);
        else if (!strcmp(cmd, "set")) {
                struct kiln_route routes[64];
                size_t n = 0;
                for (int i = 2; i <= argc && ret == 0; i++) {
                        if (i == argc || !strcmp(argv[i], "--")) {
                                ret = kiln_routes_set(r, routes, n);
                                n = 0;
                                continue;
                        }
                        if (n == 64 || kiln_route_parse(argv[i], &routes[n]) < 0) {
                                fprintf(stderr, "platform-helper: bad route %s\n", argv[i]);
                                ret = -EINVAL;
                                break;
                        }
                        n++;
                }
        } else {
                ret = -EINVAL;
        }
        kiln_routes_free(r);
        return ret < 0 ? die(cmd, ret) : 0;
}

static int source_cmd(int argc, char **argv)
{
        int mark = argc == 2 && !strcmp(argv[0], "--mark");
        const char *dst = argv[argc - 1];
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
        if (inet_pton(AF_INET, dst, &sa.sin_addr) != 1)
                return 2;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return die("socket", -errno);
        int ret = mark ? kiln_socket_set_mark(fd) : 0;
        if (ret < 0)
                return die("SO_MARK", ret);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return die("connect", -errno);
        struct sockaddr_in local;
        socklen_t len = sizeof(local);
        getsockname(fd, (struct sockaddr *)&local, &len);
        char buf[INET_ADDRSTRLEN];
        printf("%s\n", inet_ntop(AF_INET, &local.sin_addr, buf, sizeof(buf)));
        close(fd);
        return 0;
}

static int resolvconf_cmd(int argc, char **argv)
{
        if (argc < 4)
                return 2;
        struct kiln_resolvconf_paths p = { .resolv_conf = argv[0], .backup = argv[1], .state_dir = argv[2] };
        const char *cmd = argv[3];
        int ret;
        if (!strcmp(cmd, "activate")) {
                const char *search = NULL;
                int hold = 0, i = 4;
                for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
                        if (!strcmp(argv[i], "--hold"))
                                hold = 1;
                        else if (!strcmp(argv[i], "--search") && i + 1 < argc)
                                search = argv[++i];
                }
                ret =
                    kiln_resolvconf_activate(&p, (const char *const *)argv + i, (size_t)(argc - i), search);
                if (ret < 0)
                        return die("activate", ret);
                if (hold) {
                        printf("active\n");
                        fflush(stdout);
                        pause(); /* killed by the test, the crash case */
                }
                return 0;
        }
        if (!strcmp(cmd, "deactivate") || !strcmp(cmd, "recover")) {
                ret = !strcmp(cmd, "recover") ? kiln_resolvconf_recover(&p) : kiln_resolvconf_deactivate(&p);
                return ret < 0 ? die(cmd, ret) : 0;
        }
        return 2;
}

static int resolved_cmd(int argc, char **argv)
{
        g_autoptr(GError) error = NULL;
        if (argc < 3)
                return 2;
        g_autoptr(GDBusConnection) bus = g_dbus_connection_new_for_address_sync(
            argv[0],
            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
            NULL, NULL, &error);
        if (!bus) {
                fprintf(stderr, "platform-helper: bus: %s\n", error->message);
                return 1;
        }
        int ifindex = (int)if_nametoindex(argv[1]);
        const char *cmd = argv[2];
        gboolean ok;
        if (!strcmp(cmd, "available"))
                return kiln_resolved_available(bus) ? 0 : 1;
        if (!ifindex)
                return die(argv[1], -errno);
        if (!strcmp(cmd, "activate")) {
                const char *search = NULL;
                int i = 3;
                if (i + 1 < argc && !strcmp(argv[i], "--search")) {
                        search = argv[i + 1];
                        i += 2;
                }
                ok = kiln_resolved_activate(bus, ifindex, (const char *const *)argv + i, (gsize)(argc - i),
                                            search, &error) &&
                     kiln_resolved_flush_caches(bus, &error);
        } else if (!strcmp(cmd, "revert")) {
                ok = kiln_resolved_revert(bus, ifindex, &error);
        } else {
                return 2;
        }
        if (!ok) {
                fprintf(stderr, "platform-helper: %s: %s\n", cmd, error->message);
                return 1;
        }
        return 0;
}

static int forwarding_cmd(const char *tun)
{
        g_autoptr(GError) error = NULL;
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        KilnForwarding *f = kiln_forwarding_setup(tun, &error);
        if (!f) {
                fprintf(stderr, "platform-helper: forwarding: %s\n", error->message);
                return 1;
        }
        printf("ready ipv6=%d\n", kiln_forwarding_has_ipv6(f));
        fflush(stdout);
        sigwait(&set, &sig);
        kiln_forwarding_teardown(f);
        printf("stopped\n");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc >= 2 && !strcmp(argv[1], "routes"))
                return routes_cmd(argc - 2, argv + 2);
        if (argc >= 3 && !strcmp(argv[1], "source"))
                return source_cmd(argc - 2, argv + 2);
        if (argc >= 2 && !strcmp(argv[1], "resolvconf"))
                return resolvconf_cmd(argc - 2, argv + 2);
        if (argc == 3 && !strcmp(argv[1], "forwarding"))
                return forwarding_cmd(argv[2]);
        if (argc >= 2 && !strcmp(argv[1], "resolved"))
                return resolved_cmd(argc - 2, argv + 2);
        fprintf(stderr, "usage: see the comment at the top of platform-helper.c\n");
        return 2;
}
