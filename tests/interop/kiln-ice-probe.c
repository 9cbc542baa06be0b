/* SPDX-License-Identifier: MIT */
/*
 * Drives Kiln's sans-IO TURN client and ICE agent over a real UDP socket for the interop
 * suites (coturn, libnice, NATs in namespaces).  Line-oriented output for the test scripts.
 *
 *   kiln-ice-probe echo --bind IP:PORT
 *   kiln-ice-probe turn --bind IP:PORT --server IP:PORT --user U --pass P --peer IP:PORT
 *                       [--seconds N] [--dump DIR]       (stdin: "refresh")
 *   kiln-ice-probe ice  --role controlling|controlled --bind IP:PORT [--server IP:PORT --user U
 *                       --pass P] --ufrag U --pwd P --remote-ufrag U --remote-pwd P
 *                       --cand-out FILE --cand-in FILE [--seconds N]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backend/ice/link.h"
#include "backend/ice/stun.h"
#include "backend/ice/turn.h"

struct opts {
        const char *mode, *role, *user, *pass, *ufrag, *pwd, *rufrag, *rpwd, *cand_out, *cand_in, *dump;
        struct ice_addr bind, server, peer;
        bool have_server;
        unsigned int seconds;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_hostport(struct ice_addr *ret, const char *s)
{
        char ip[64];
        const char *colon = strrchr(s, ':');
        size_t n;

        if (!colon)
                return -EINVAL;
        n = (size_t)(colon - s);
        if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
                s++;
                n -= 2;
        }
        if (n >= sizeof(ip))
                return -EINVAL;
        memcpy(ip, s, n);
        ip[n] = '\0';
        return ice_addr_from_ip_string(ret, ip, (uint16_t)atoi(colon + 1));
}

static int open_socket(const struct ice_addr *bind_addr)
{
        struct sockaddr_storage ss;
        socklen_t len = ice_addr_to_sockaddr(bind_addr, &ss);
        int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
                perror("socket/bind");
                exit(1);
        }
        return fd;
}

static void send_to(int fd, const struct ice_transmit *t)
{
        struct sockaddr_storage ss;
        socklen_t len = ice_addr_to_sockaddr(&t->dst, &ss);

        if (sendto(fd, t->data, t->len, 0, (struct sockaddr *)&ss, len) < 0 && errno != EAGAIN)
                fprintf(stderr, "sendto: %s\n", strerror(errno));
}

static ssize_t recv_from(int fd, uint8_t *buf, size_t cap, struct ice_addr *from)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &len);

        if (n >= 0 && ice_addr_from_sockaddr(from, (struct sockaddr *)&ss, len) < 0)
                return -1;
        return n;
}

static int poll_ms(uint64_t deadline, uint64_t now)
{
        if (deadline <= now)
                return 0;
        if (deadline - now > ICE_S(1))
                return 1000;
        return (int)((deadline - now + 999999) / 1000000);
}

static int run_echo(const struct opts *o)
{
        int fd = open_socket(&o->bind);
        uint8_t buf[2048];

        printf("ECHO-READY\n");
        fflush(stdout);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                struct ice_transmit t;
                ssize_t n;

                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                        return 1;
                while ((n = recv_from(fd, buf, sizeof(buf), &t.dst)) >= 0) {
                        memcpy(t.data, buf, (size_t)n);
                        t.len = (size_t)n;
                        send_to(fd, &t);
                }
        }
}

static void print_turn_event(const struct turn_event *e)
{
        char a[ICE_ADDR_STRLEN];

        switch (e->type) {
        case TURN_EVENT_HOST_CANDIDATE:
                printf("HOST %s\n", ice_addr_to_string(&e->addr, a));
                break;
        case TURN_EVENT_SRFLX_CANDIDATE:
                printf("SRFLX %s\n", ice_addr_to_string(&e->addr, a));
                break;
        case TURN_EVENT_RELAY_CANDIDATE:
                printf("RELAY %s\n", ice_addr_to_string(&e->addr, a));
                break;
        case TURN_EVENT_RELAY_INVALIDATED:
                printf("RELAY-INVALIDATED %s\n", ice_addr_to_string(&e->addr, a));
                break;
        case TURN_EVENT_CHANNEL_BOUND:
                printf("CHANNEL 0x%04x %s\n", e->channel, ice_addr_to_string(&e->addr, a));
                break;
        case TURN_EVENT_ERROR:
                printf("ERROR %u %s\n", e->code, e->message);
                break;
        }
        fflush(stdout);
}

static int run_turn(const struct opts *o)
{
        struct turn_client_config cfg = { .server = o->server,
                                          .username = o->user,
                                          .password = o->pass,
                                          .realm = TURN_REALM_FIREZONE,
                                          .allocate = true,
                                          .dual_stack = true };
        int fd = open_socket(&o->bind);
        uint64_t start = now_ns(), next_send = 0;
        struct turn_client *tc;
        unsigned int seq = 0, dumped = 0;
        uint8_t buf[2048];

        randombytes_buf(&cfg.seed, sizeof(cfg.seed));
        tc = turn_client_new(&cfg, start);
        for (;;) {
                uint64_t now = now_ns(), deadline;
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
                struct ice_transmit t;
                struct turn_event e;
                struct ice_addr from, peer;
                const uint8_t *payload;
                size_t plen;
                ssize_t n;

                if (o->seconds && now > start + ICE_S(o->seconds))
                        break;
                if (turn_client_poll_timeout(tc) <= now)
                        turn_client_handle_timeout(tc, now);
                if (turn_client_is_allocated(tc) && now >= next_send) {
                        char msg[32];
                        int len = snprintf(msg, sizeof(msg), "kiln-%u", seq++);
                        int r = turn_client_encode(tc, &o->peer, (const uint8_t *)msg, (size_t)len, &t, now);

                        if (r == 0)
                                send_to(fd, &t);
                        next_send = now + ICE_MS(300);
                }
                while (turn_client_poll_transmit(tc, &t))
                        send_to(fd, &t);
                while (turn_client_poll_event(tc, &e)) {
                        print_turn_event(&e);
                        if (e.type == TURN_EVENT_ERROR && e.code == 401) {
                                turn_client_free(tc);
                                return 2;
                        }
                }
                deadline = turn_client_poll_timeout(tc);
                if (turn_client_is_allocated(tc) && next_send < deadline)
                        deadline = next_send;
                if (poll(p, 2, poll_ms(deadline, now_ns())) < 0 && errno != EINTR)
                        break;
                if (p[1].revents & POLLIN) {
                        char line[64];

                        if (!fgets(line, sizeof(line), stdin))
                                p[1].fd = -1;
                        else if (strncmp(line, "refresh", 7) == 0)
                                turn_client_refresh_now(tc, now_ns());
                }
                while ((n = recv_from(fd, buf, sizeof(buf), &from)) >= 0) {
                        int r;

                        if (o->dump && (size_t)n >= 1 && buf[0] <= 0x03 && dumped < 32) {
                                char path[512];
                                FILE *f;

                                snprintf(path, sizeof(path), "%s/coturn-%02u", o->dump, dumped++);
                                f = fopen(path, "wb");
                                if (f) {
                                        fwrite(buf, 1, (size_t)n, f);
                                        fclose(f);
                                }
                        }
                        r = turn_client_handle_input(tc, &o->bind, &from, buf, (size_t)n, now_ns(), &peer,
                                                     &payload, &plen);
                        if (r == TURN_DATA) {
                                printf("ECHO %.*s\n", (int)plen, (const char *)payload);
                                fflush(stdout);
                        }
                }
        }
        turn_client_free(tc);
        return 0;
}

/* New complete lines of the peer's candidate file since the last call. */
static void read_candidates(struct ice_link *link, const char *path, long *offset, uint64_t now)
{
        FILE *f = fopen(path, "r");
        char line[512];

        if (!f)
                return;
        if (fseek(f, *offset, SEEK_SET) == 0)
                while (fgets(line, sizeof(line), f)) {
                        size_t n = strlen(line);
                        const char *sdp = line;
                        bool withdraw = false;
                        int r;

                        if (n == 0 || line[n - 1] != '\n')
                                break;
                        *offset += (long)n;
                        line[--n] = '\0';
                        if (n > 0 && line[n - 1] == '\r')
                                line[--n] = '\0';
                        if (sdp[0] == '-') {
                                withdraw = true;
                                sdp++;
                        }
                        if (strncmp(sdp, "a=", 2) == 0)
                                sdp += 2;
                        r = withdraw ? ice_link_remove_remote_candidate(link, sdp, now)
                                     : ice_link_add_remote_candidate(link, sdp, now);
                        printf("REMOTE %s%s%s\n", withdraw ? "-" : "", sdp, r < 0 ? " (skipped)" : "");
                }
        fclose(f);
}

static int run_ice(const struct opts *o)
{
        struct ice_link_config cfg = { 0 };
        int fd = open_socket(&o->bind);
        uint64_t start = now_ns(), next_ping = 0;
        struct ice_link *link;
        long cand_offset = 0;
        unsigned int pongs = 0;
        bool selected = false;
        FILE *out = fopen(o->cand_out, "a");
        uint8_t buf[2048];

        if (!out) {
                perror(o->cand_out);
                return 1;
        }
        cfg.agent.role = strcmp(o->role, "controlling") == 0 ? ICE_CONTROLLING : ICE_CONTROLLED;
        cfg.agent.profile =
            cfg.agent.role == ICE_CONTROLLING ? ICE_PROFILE_CLIENT_ACTIVE : ICE_PROFILE_GATEWAY_ACTIVE;
        cfg.agent.local_ufrag = o->ufrag;
        cfg.agent.local_pwd = o->pwd;
        cfg.agent.remote_ufrag = o->rufrag;
        cfg.agent.remote_pwd = o->rpwd;
        randombytes_buf(&cfg.agent.seed, sizeof(cfg.agent.seed));
        if (o->have_server) {
                cfg.n_relays = 1;
                cfg.relays[0] = (struct turn_client_config){ .server = o->server,
                                                             .username = o->user,
                                                             .password = o->pass,
                                                             .realm = TURN_REALM_FIREZONE,
                                                             .allocate = true,
                                                             .dual_stack = false };
                randombytes_buf(&cfg.relays[0].seed, sizeof(cfg.relays[0].seed));
        }
        link = ice_link_new(&cfg, start);
        if (!link) {
                fprintf(stderr, "bad ICE configuration\n");
                return 1;
        }
        if (!o->have_server) {
                struct ice_candidate host;

                ice_candidate_init(&host, ICE_CANDIDATE_HOST, &o->bind, NULL);
                ice_link_add_local_candidate(link, &host, start);
        }
        for (;;) {
                uint64_t now = now_ns(), deadline;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                struct ice_transmit t;
                struct ice_link_event e;
                struct ice_addr from;
                const uint8_t *payload;
                size_t plen;
                ssize_t n;

                if (o->seconds && now > start + ICE_S(o->seconds))
                        break;
                read_candidates(link, o->cand_in, &cand_offset, now);
                if (ice_link_poll_timeout(link) <= now)
                        ice_link_handle_timeout(link, now);
                if (selected && now >= next_ping) {
                        ice_link_send(link, (const uint8_t *)"ping", 4, now);
                        next_ping = now + ICE_MS(200);
                }
                while (ice_link_poll_event(link, &e)) {
                        if (e.type == ICE_LINK_EVENT_RELAY) {
                                print_turn_event(&e.relay);
                                continue;
                        }
                        switch (e.ice.type) {
                        case ICE_EVENT_LOCAL_CANDIDATE:
                                fprintf(out, "%s\n", e.ice.sdp);
                                fflush(out);
                                printf("LOCAL %s\n", e.ice.sdp);
                                break;
                        case ICE_EVENT_LOCAL_CANDIDATE_INVALIDATED:
                                fprintf(out, "-%s\n", e.ice.sdp);
                                fflush(out);
                                break;
                        case ICE_EVENT_SELECTED: {
                                char l[ICE_ADDR_STRLEN], r[ICE_ADDR_STRLEN];

                                selected = true;
                                printf("SELECTED local=%s remote=%s relayed=%d %s -> %s "
                                       "time_to_connected_ms=%.1f\n",
                                       ice_candidate_type_name(e.ice.local.type),
                                       ice_candidate_type_name(e.ice.remote.type),
                                       e.ice.via_relay || e.ice.remote.type == ICE_CANDIDATE_RELAY,
                                       ice_addr_to_string(&e.ice.local.addr, l),
                                       ice_addr_to_string(&e.ice.remote.addr, r),
                                       e.ice.time_to_connect / 1e6);
                                break;
                        }
                        case ICE_EVENT_DISCONNECTED:
                                printf("DISCONNECTED\n");
                                break;
                        case ICE_EVENT_FAILED:
                                printf("FAILED %s\n", e.ice.reason);
                                fflush(stdout);
                                return 3;
                        case ICE_EVENT_ROLE_CHANGED:
                                printf("ROLE-CHANGED\n");
                                break;
                        }
                        fflush(stdout);
                }
                while (ice_link_poll_transmit(link, &t)) {
                        if (getenv("KILN_PROBE_DEBUG")) {
                                char a[ICE_ADDR_STRLEN], b[ICE_ADDR_STRLEN];

                                fprintf(stderr, "tx %zu %s -> %s first=0x%02x\n", t.len,
                                        ice_addr_to_string(&t.src, a), ice_addr_to_string(&t.dst, b),
                                        t.data[0]);
                        }
                        send_to(fd, &t);
                }
                deadline = ice_link_poll_timeout(link);
                if (selected && next_ping < deadline)
                        deadline = next_ping;
                /* The candidate file is polled, so wake at least every 100 ms. */
                if (deadline > now_ns() + ICE_MS(100))
                        deadline = now_ns() + ICE_MS(100);
                if (poll(&p, 1, poll_ms(deadline, now_ns())) < 0 && errno != EINTR)
                        break;
                while ((n = recv_from(fd, buf, sizeof(buf), &from)) >= 0) {
                        struct ice_addr src = from;
                        int r = ice_link_handle_input(link, &o->bind, &src, buf, (size_t)n, now_ns(), &from,
                                                      &payload, &plen);

                        if (getenv("KILN_PROBE_DEBUG")) {
                                char a[ICE_ADDR_STRLEN];

                                fprintf(stderr, "rx %zd from %s first=0x%02x -> %d\n", n,
                                        ice_addr_to_string(&src, a), buf[0], r);
                        }
                        if (r != 0)
                                continue;
                        if (plen == 4 && memcmp(payload, "ping", 4) == 0) {
                                ice_link_send(link, (const uint8_t *)"pong", 4, now_ns());
                        } else if (plen == 4 && memcmp(payload, "pong", 4) == 0) {
                                pongs++;
                                printf("PONG %u\n", pongs);
                                fflush(stdout);
                        }
                }
                while (ice_link_poll_transmit(link, &t))
                        send_to(fd, &t);
        }
        ice_link_free(link);
        fclose(out);
        return 0;
}

int main(int argc, char *argv[])
{
        static const struct option longopts[] = {
                { "bind", required_argument, NULL, 'b' },
                { "server", required_argument, NULL, 's' },
                { "user", required_argument, NULL, 'u' },
                { "pass", required_argument, NULL, 'p' },
                { "peer", required_argument, NULL, 'P' },
                { "role", required_argument, NULL, 'r' },
                { "ufrag", required_argument, NULL, 'f' },
                { "pwd", required_argument, NULL, 'w' },
                { "remote-ufrag", required_argument, NULL, 'F' },
                { "remote-pwd", required_argument, NULL, 'W' },
                { "cand-out", required_argument, NULL, 'o' },
                { "cand-in", required_argument, NULL, 'i' },
                { "seconds", required_argument, NULL, 'S' },
                { "dump", required_argument, NULL, 'd' },
                { NULL, 0, NULL, 0 },
        };
        struct opts o = { 0 };
        int c;

        if (argc < 2 || sodium_init() < 0) {
                fprintf(stderr, "usage: kiln-ice-probe echo|turn|ice [options]\n");
                return 1;
        }
        o.mode = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        if (parse_hostport(&o.bind, optarg) < 0)
                                return fprintf(stderr, "bad --bind\n"), 1;
                        break;
                case 's':
                        if (parse_hostport(&o.server, optarg) < 0)
                                return fprintf(stderr, "bad --server\n"), 1;
                        o.have_server = true;
                        break;
                case 'P':
                        if (parse_hostport(&o.peer, optarg) < 0)
                                return fprintf(stderr, "bad --peer\n"), 1;
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'p':
                        o.pass = optarg;
                        break;
                case 'r':
                        o.role = optarg;
                        break;
                case 'f':
                        o.ufrag = optarg;
                        break;
                case 'w':
                        o.pwd = optarg;
                        break;
                case 'F':
                        o.rufrag = optarg;
                        break;
                case 'W':
                        o.rpwd = optarg;
                        break;
                case 'o':
                        o.cand_out = optarg;
                        break;
                case 'i':
                        o.cand_in = optarg;
                        break;
                case 'S':
                        o.seconds = (unsigned int)atoi(optarg);
                        break;
                case 'd':
                        o.dump = optarg;
                        break;
                default:
                        return 1;
                }
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(o.mode, "echo") == 0)
                return run_echo(&o);
        if (strcmp(o.mode, "turn") == 0 && o.have_server && o.user && o.pass && o.peer.family)
                return run_turn(&o);
        if (strcmp(o.mode, "ice") == 0 && o.role && o.ufrag && o.pwd && o.rufrag && o.rpwd && o.cand_out &&
            o.cand_in)
                return run_ice(&o);
        fprintf(stderr, "kiln-ice-probe: missing options for %s\n", o.mode);
        return 1;
}
