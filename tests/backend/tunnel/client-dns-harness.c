/* SPDX-License-Identifier: MIT */
/*
 * A minimal IO shell around kiln_client for the DNS interop test: it attaches to an existing
 * TUN device, installs Kiln's rules and routes and points the namespace's /etc/resolv.conf at
 * the sentinel, then feeds TUN packets to the client state machine and carries out its
 * WRITE_TUN and DNS_QUERY actions with real sockets (marked with SO_MARK).  Only DNS: there
 * is no gateway here.  SIGTERM/SIGINT restore resolv.conf and remove routes and rules.
 *
 *   client-dns-harness TUN TUN_IPV4 UPSTREAM_IPV4 DNS_PATTERN STATE_DIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend/platform/tun.h"
#include "backend/platform/dns-resolvconf.h"
#include "backend/platform/routes.h"
#include "backend/tunnel/client-state.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void to_sockaddr(const struct kiln_dns_upstream *u, struct sockaddr_in *sa)
{
        *sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(u->port) };
        memcpy(&sa->sin_addr, u->addr.bytes, 4);
}

/* One query over TCP, blocking (a test harness): returns the answer length or -1. */
static ssize_t tcp_exchange(const struct kiln_dns_upstream *u, const uint8_t *q, size_t len, uint8_t *out,
                            size_t cap)
{
        static uint8_t framed[65537], stream[65537];
        struct sockaddr_in sa;
        ssize_t fl = kiln_dns_tcp_frame(q, len, framed, sizeof(framed));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        size_t have = 0;
        const uint8_t *msg;
        size_t msg_len;

        to_sockaddr(u, &sa);
        if (fd < 0 || fl < 0 || kiln_socket_set_mark(fd) < 0 ||
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || write(fd, framed, (size_t)fl) != fl)
                goto fail;
        for (;;) {
                ssize_t n = read(fd, stream + have, sizeof(stream) - have);
                if (n <= 0)
                        goto fail;
                have += (size_t)n;
                if (kiln_dns_tcp_unframe(stream, have, &msg, &msg_len) > 0 && msg_len <= cap) {
                        memcpy(out, msg, msg_len);
                        close(fd);
                        return (ssize_t)msg_len;
                }
        }
fail:
        if (fd >= 0)
                close(fd);
        return -1;
}

int main(int argc, char **argv)
{
        static uint8_t buf[65536];
        if (argc != 6) {
                fprintf(stderr, "usage: %s TUN TUN_IPV4 UPSTREAM_IPV4 DNS_PATTERN STATE_DIR\n", argv[0]);
                return 2;
        }
        const char *tun_name = argv[1];
        struct kiln_client_config cfg = { .seed = 1 };
        struct kiln_dns_upstream up = { .port = 53 };
        if (kiln_ip_addr_parse(argv[2], &cfg.tun_ipv4) < 0 || kiln_ip_addr_parse(argv[3], &up.addr) < 0)
                return 2;

        struct kiln_client *c = kiln_client_new(&cfg);
        struct kiln_resource r = { .type = KILN_RESOURCE_DNS };
        snprintf(r.id, sizeof(r.id), "res-dns");
        snprintf(r.address, sizeof(r.address), "%s", argv[4]);
        if (!c || kiln_client_upsert_resource(c, &r) < 0 || kiln_client_set_upstreams(c, &up, 1) < 0)
                return 1;

        int tun = tun_open(tun_name, 1280, NULL);
        if (tun < 0) {
                perror("tun");
                return 1;
        }
        struct kiln_routes *routes;
        int ifindex = (int)if_nametoindex(tun_name);
        if (kiln_routes_new(ifindex, &routes) < 0 || kiln_routes_flush(routes) < 0 ||
            kiln_routes_add_rules(routes, 3) < 0)
                return 1;
        struct kiln_ip_prefix pfx[64];
        struct kiln_route rt[64];
        size_t n = kiln_resources_routes(kiln_client_resources(c), pfx, 64), k = 0;
        for (size_t i = 0; i < n && i < 64; i++) {
                if (pfx[i].net.family != 4)
                        continue; /* this test's TUN has no IPv6 address */
                rt[k] = (struct kiln_route){ .family = 4, .prefix = (uint8_t)pfx[i].prefix };
                memcpy(rt[k].addr, pfx[i].net.bytes, 4);
                k++;
        }
        if (kiln_routes_set(routes, rt, k) < 0) {
                fprintf(stderr, "routes failed\n");
                return 1;
        }
        char backup[4096];
        snprintf(backup, sizeof(backup), "%s/resolv.conf.before-kiln", argv[5]);
        struct kiln_resolvconf_paths paths = { .resolv_conf = "/etc/resolv.conf",
                                               .backup = backup,
                                               .state_dir = argv[5] };
        const char *sentinel[] = { "100.100.111.1" };
        if (kiln_resolvconf_activate(&paths, sentinel, 1, NULL) < 0) {
                fprintf(stderr, "resolv.conf failed\n");
                return 1;
        }

        int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udp < 0 || kiln_socket_set_mark(udp) < 0)
                return 1;
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        printf("ready\n");
        fflush(stdout);

        while (!stop) {
                struct pollfd fds[2] = { { .fd = tun, .events = POLLIN }, { .fd = udp, .events = POLLIN } };
                uint64_t deadline = kiln_client_poll_timeout(c), now = now_ns();
                int timeout = deadline == UINT64_MAX ? 1000
                              : deadline <= now      ? 0
                                                     : (int)((deadline - now) / 1000000 + 1);
                if (poll(fds, 2, timeout > 1000 ? 1000 : timeout) < 0 && errno != EINTR)
                        break;
                now = now_ns();
                if (fds[0].revents & POLLIN) {
                        ssize_t len = read(tun, buf, sizeof(buf));
                        if (len > 0)
                                kiln_client_handle_tun_packet(c, now, buf, (size_t)len);
                }
                if (fds[1].revents & POLLIN) {
                        struct sockaddr_in from;
                        socklen_t fl = sizeof(from);
                        ssize_t len = recvfrom(udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
                        struct kiln_ip_addr fa = { .family = 4 };
                        memcpy(fa.bytes, &from.sin_addr, 4);
                        if (len > 0)
                                kiln_client_handle_dns_reply(c, now, &fa, buf, (size_t)len);
                }
                kiln_client_handle_timeout(c, now);
                struct kiln_client_action a;
                while (kiln_client_poll_action(c, &a)) {
                        if (a.type == KILN_CLIENT_WRITE_TUN) {
                                if (write(tun, a.data, a.len) < 0)
                                        perror("write tun");
                        } else if (a.type == KILN_CLIENT_DNS_QUERY && a.tcp) {
                                uint8_t *q = malloc(a.len);
                                size_t ql = a.len;
                                memcpy(q, a.data, ql);
                                ssize_t rl = tcp_exchange(&a.upstream, q, ql, buf, sizeof(buf));
                                free(q);
                                printf("dns over tcp: %zd bytes\n", rl);
                                fflush(stdout);
                                if (rl > 0)
                                        kiln_client_handle_dns_reply(c, now_ns(), &a.upstream.addr, buf,
                                                                     (size_t)rl);
                        } else if (a.type == KILN_CLIENT_DNS_QUERY) {
                                struct sockaddr_in sa;
                                to_sockaddr(&a.upstream, &sa);
                                if (sendto(udp, a.data, a.len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                                        perror("sendto");
                        } else if (a.type == KILN_CLIENT_REQUEST_AUTHORIZATION) {
                                printf("request_authorization %s\n", a.resource_id);
                                fflush(stdout);
                        }
                }
        }
        int ret = kiln_resolvconf_deactivate(&paths);
        kiln_routes_flush(routes);
        kiln_routes_remove_rules(routes, 3);
        kiln_routes_free(routes);
        kiln_client_free(c);
        close(udp);
        close(tun);
        printf("stopped\n");
        return ret < 0 ? 1 : 0;
}
