/* SPDX-License-Identifier: MIT */
/*
 * kiln_client and kiln_gateway wired back to back in one process, each on a real TUN device
 * in its own network namespace, with the WireGuard hop replaced by a function call and the
 * portal by an automatic grant.  It proves the two state machines against the Linux stack:
 * applications in the client namespace, kernel forwarding + masquerade on the gateway.
 *
 * Start it inside the gateway namespace (ip netns exec GW …) so its name lookups use that
 * namespace's /etc/hosts; it opens the client TUN after entering the client namespace.
 *
 *   tunnel-pair-harness CLIENT_NETNS_PATH CLIENT_TUN GATEWAY_TUN
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "backend/platform/tun.h"
#include "backend/tunnel/client-state.h"
#include "backend/tunnel/gateway-state.h"

#define CLIENT_ID  "client-1"
#define GATEWAY_ID "gw-1"

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

static struct kiln_resource resources[2];

static void define_resources(void)
{
        struct kiln_resource *dns = &resources[0], *cidr = &resources[1];
        *dns = (struct kiln_resource){ .type = KILN_RESOURCE_DNS };
        snprintf(dns->id, sizeof(dns->id), "res-dns");
        snprintf(dns->address, sizeof(dns->address), "*.corp.example");
        dns->filters[0] = (struct kiln_filter){ KILN_IPPROTO_TCP, 8080, 8080 };
        dns->filters[1] = (struct kiln_filter){ KILN_IPPROTO_ICMP };
        dns->n_filters = 2;
        *cidr = (struct kiln_resource){ .type = KILN_RESOURCE_CIDR };
        snprintf(cidr->id, sizeof(cidr->id), "res-cidr");
        snprintf(cidr->address, sizeof(cidr->address), "10.30.0.0/24");
        cidr->filters[0] = (struct kiln_filter){ KILN_IPPROTO_TCP, 8080, 8080 };
        cidr->n_filters = 1;
}

static const struct kiln_resource *resource(const char *id)
{
        for (int i = 0; i < 2; i++)
                if (!strcmp(resources[i].id, id))
                        return &resources[i];
        return NULL;
}

/* The gateway's RESOLVE_DNS, with the system resolver of the gateway namespace. */
static size_t resolve(const char *name, struct kiln_ip_addr *out, size_t cap)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
        size_t n = 0;
        if (getaddrinfo(name, NULL, &hints, &res) != 0)
                return 0;
        for (ai = res; ai && n < cap; ai = ai->ai_next) {
                if (ai->ai_family == AF_INET) {
                        out[n] = (struct kiln_ip_addr){ .family = 4 };
                        memcpy(out[n++].bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
                }
        }
        freeaddrinfo(res);
        return n;
}

int main(int argc, char **argv)
{
        static uint8_t buf[65536];
        if (argc != 4) {
                fprintf(stderr, "usage: %s CLIENT_NETNS_PATH CLIENT_TUN GATEWAY_TUN\n", argv[0]);
                return 2;
        }
        define_resources();
        int gw_tun = tun_open(argv[3], 1280, NULL);
        int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int client_ns = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (gw_tun < 0 || home < 0 || client_ns < 0 || setns(client_ns, CLONE_NEWNET) < 0) {
                perror("setup");
                return 1;
        }
        int c_tun = tun_open(argv[2], 1280, NULL);
        if (c_tun < 0 || setns(home, CLONE_NEWNET) < 0) {
                perror("client tun");
                return 1;
        }

        struct kiln_client_config cfg = { .seed = 2 };
        struct kiln_ip_addr client_ip, gateway_ip;
        kiln_ip_addr_parse("100.64.0.5", &cfg.tun_ipv4);
        client_ip = cfg.tun_ipv4;
        kiln_ip_addr_parse("100.64.0.1", &gateway_ip);
        struct kiln_client *c = kiln_client_new(&cfg);
        struct kiln_gateway *g = kiln_gateway_new();
        for (int i = 0; i < 2; i++)
                if (kiln_client_upsert_resource(c, &resources[i]) < 0)
                        return 1;

        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        printf("ready\n");
        fflush(stdout);
        while (!stop) {
                struct pollfd fds[2] = { { .fd = c_tun, .events = POLLIN },
                                         { .fd = gw_tun, .events = POLLIN } };
                if (poll(fds, 2, 200) < 0 && errno != EINTR)
                        break;
                uint64_t now = now_ns();
                if (fds[0].revents & POLLIN) {
                        ssize_t len = read(c_tun, buf, sizeof(buf));
                        if (len > 0)
                                kiln_client_handle_tun_packet(c, now, buf, (size_t)len);
                }
                if (fds[1].revents & POLLIN) {
                        ssize_t len = read(gw_tun, buf, sizeof(buf));
                        if (len > 0)
                                kiln_gateway_handle_tun_packet(g, now, buf, (size_t)len);
                }
                kiln_client_handle_timeout(c, now);
                kiln_gateway_handle_timeout(g, now);
                bool busy = true;
                while (busy) {
                        busy = false;
                        struct kiln_client_action ca;
                        while (kiln_client_poll_action(c, &ca)) {
                                busy = true;
                                switch (ca.type) {
                                case KILN_CLIENT_WRITE_TUN:
                                        if (write(c_tun, ca.data, ca.len) < 0)
                                                perror("write client tun");
                                        break;
                                case KILN_CLIENT_REQUEST_AUTHORIZATION:
                                        /* The portal's part: grant, tell both sides. */
                                        printf("authorize %s\n", ca.resource_id);
                                        fflush(stdout);
                                        kiln_gateway_authorize(g, now, CLIENT_ID, &client_ip, NULL,
                                                               resource(ca.resource_id), 0);
                                        kiln_client_handle_authorized(c, now, ca.resource_id, GATEWAY_ID,
                                                                      &gateway_ip, NULL);
                                        break;
                                case KILN_CLIENT_CONNECT_GATEWAY:
                                        kiln_client_handle_gateway_connected(c, now, ca.gateway_id);
                                        break;
                                case KILN_CLIENT_SEND_TO_GATEWAY:
                                        kiln_gateway_handle_client_packet(g, now, CLIENT_ID, ca.data,
                                                                          ca.len);
                                        break;
                                default:
                                        break;
                                }
                        }
                        struct kiln_gateway_action ga;
                        while (kiln_gateway_poll_action(g, &ga)) {
                                busy = true;
                                switch (ga.type) {
                                case KILN_GATEWAY_WRITE_TUN:
                                        if (write(gw_tun, ga.data, ga.len) < 0)
                                                perror("write gateway tun");
                                        break;
                                case KILN_GATEWAY_SEND_TO_CLIENT:
                                        kiln_client_handle_gateway_packet(c, now, GATEWAY_ID, ga.data,
                                                                          ga.len);
                                        break;
                                case KILN_GATEWAY_RESOLVE_DNS: {
                                        struct kiln_ip_addr addrs[8];
                                        size_t n = resolve(ga.domain, addrs, 8);
                                        printf("resolved %s: %zu addresses\n", ga.domain, n);
                                        fflush(stdout);
                                        kiln_gateway_handle_dns_resolved(
                                            g, now, ga.client_id, ga.resource_id, ga.domain, addrs, n);
                                        break;
                                }
                                default:
                                        break;
                                }
                        }
                }
        }
        const struct kiln_client_stats *cs = kiln_client_stats(c);
        const struct kiln_gateway_stats *gs = kiln_gateway_stats(g);
        printf("client denied=%llu gateway prohibited=%llu\n", (unsigned long long)cs->dropped_denied,
               (unsigned long long)gs->prohibited);
        kiln_client_free(c);
        kiln_gateway_free(g);
        return 0;
}
