/* SPDX-License-Identifier: MIT */
/*
 * Runs one Kiln Node (tunnel/node.h: WireGuard + ICE + TURN on one socket) over a real UDP
 * socket with a plain poll loop, for the NAT interop suite.  Two probes find each other
 * through files the test script provides (the "portal"): each writes its WireGuard public key
 * and its ICE candidates, and reads the other's.  Once connected, the controlling side sends
 * a ping-sized IP packet (UDP, 84 bytes) through the node every 200 ms; the controlled side
 * echoes every packet it decrypts back through the node.  Line-oriented output:
 *
 *   ESTABLISHED relayed=0|1 local=TYPE remote=TYPE ttc_ms=X    (first check → WireGuard session)
 *   FIRST-DATA ms=X                                            (first check → first echo back)
 *   PATH relayed=0|1 local=TYPE remote=TYPE                    (path change)
 *   DATA n                                                     (echoes received)
 *   FAILED reason
 *
 *   kiln-node-probe --role controlling|controlled --bind IP:PORT --server IP:PORT --user U
 *                   --pass P --ufrag U --pwd P --remote-ufrag U --remote-pwd P --psk HEX64
 *                   --key-out FILE --key-in FILE --cand-out FILE --cand-in FILE [--seconds N]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backend/crypto/encoding.h"
#include "backend/tunnel/node.h"
#include "tests/interop/probe-util.h"

#define PEER_ID   "peer"
#define PING_SIZE 84

struct opts {
        const char *role, *user, *pass, *ufrag, *pwd, *rufrag, *rpwd, *psk, *key_out, *key_in, *cand_out,
            *cand_in;
        struct ice_addr bind, server;
        unsigned int seconds;
};

struct probe {
        const struct opts *o;
        struct kiln_node *node;
        int fd;
        bool controlling, connected;
        uint64_t first_check, established_at;
        unsigned int sent, echoes;
};

static bool read_key(const char *path, uint8_t key[static WG_KEY_LEN])
{
        char line[128] = "";
        FILE *f = fopen(path, "r");
        bool ok;

        if (!f)
                return false;
        ok = fgets(line, sizeof(line), f) != NULL;
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        return ok && key_from_base64(key, line) == 0;
}

static void apply_candidate(void *userdata, const char *sdp, bool withdraw)
{
        struct probe *p = userdata;
        uint64_t now = probe_now_ns();

        if (withdraw)
                kiln_node_remove_remote_candidate(p->node, PEER_ID, sdp, now);
        else
                kiln_node_add_remote_candidate(p->node, PEER_ID, sdp, now);
}

/* The first datagram towards the peer (a check, direct or in a relay channel). */
static void note_check(struct probe *p, const struct ice_transmit *t, uint64_t now)
{
        bool to_relay = ice_addr_equal(&t->dst, &p->o->server);

        if (p->first_check || t->len == 0)
                return;
        if ((!to_relay && t->data[0] <= 0x03) || (to_relay && t->data[0] >= 0x40 && t->data[0] <= 0x4f))
                p->first_check = now;
}

static void flush(struct probe *p)
{
        struct ice_transmit t;
        uint64_t now = probe_now_ns();

        while (kiln_node_poll_transmit(p->node, &t, now)) {
                note_check(p, &t, now);
                probe_send(p->fd, &t);
        }
}

static void send_packet(struct probe *p, const uint8_t *pkt, size_t len)
{
        struct ice_transmit t;
        uint64_t now = probe_now_ns();

        if (kiln_node_encapsulate(p->node, PEER_ID, pkt, len, &t, now) == 1)
                probe_send(p->fd, &t);
        flush(p);
}

/* IPv4/UDP, 100.64.0.1:40000 → 100.64.0.2:7, sequence number in the payload. */
static size_t make_ping(uint8_t *pkt, unsigned int seq)
{
        static const uint8_t hdr[28] = {
                0x45, 0, 0, PING_SIZE, 0,  0, 0x40, 0,    64,   17, 0, 0, 100,
                64,   0, 1, 100,       64, 0, 2,    0x9c, 0x40, 0,  7, 0, PING_SIZE - 20,
                0,    0
        };
        uint32_t sum = 0;

        memcpy(pkt, hdr, sizeof(hdr));
        memset(pkt + 28, 0xab, PING_SIZE - 28);
        memcpy(pkt + 28, &seq, sizeof(seq));
        for (int i = 0; i < 20; i += 2)
                sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        pkt[10] = (uint8_t)(~sum >> 8);
        pkt[11] = (uint8_t)~sum;
        return PING_SIZE;
}

static void events(struct probe *p)
{
        struct kiln_node_event e;
        FILE *out;

        while (kiln_node_poll_event(p->node, &e)) {
                switch (e.type) {
                case KILN_NODE_EVENT_CANDIDATE:
                case KILN_NODE_EVENT_CANDIDATE_INVALIDATED:
                        out = fopen(p->o->cand_out, "a");
                        if (out) {
                                fprintf(out, "%s%s\n", e.type == KILN_NODE_EVENT_CANDIDATE ? "" : "-",
                                        e.sdp);
                                fclose(out);
                        }
                        break;
                case KILN_NODE_EVENT_ESTABLISHED:
                        p->connected = true;
                        p->established_at = probe_now_ns();
                        printf("ESTABLISHED relayed=%d local=%s remote=%s ttc_ms=%.1f\n", e.via_relay,
                               ice_candidate_type_name(e.local_type), ice_candidate_type_name(e.remote_type),
                               p->first_check ? (double)(p->established_at - p->first_check) / 1e6 : -1.0);
                        break;
                case KILN_NODE_EVENT_PATH_CHANGED:
                        printf("PATH relayed=%d local=%s remote=%s\n", e.via_relay,
                               ice_candidate_type_name(e.local_type),
                               ice_candidate_type_name(e.remote_type));
                        break;
                case KILN_NODE_EVENT_FAILED:
                        printf("FAILED %s\n", e.reason);
                        exit(3);
                }
        }
}

static void input(struct probe *p)
{
        uint8_t buf[2048], pkt[2048];
        struct ice_addr from;
        ssize_t n;

        while ((n = probe_recv(p->fd, buf, sizeof(buf), &from)) >= 0) {
                const char *peer;
                size_t len;

                if (kiln_node_handle_input(p->node, &p->o->bind, &from, buf, (size_t)n, probe_now_ns(), pkt,
                                           sizeof(pkt), &len, &peer) != 1)
                        continue;
                if (len != PING_SIZE)
                        continue;
                if (!p->controlling) {
                        send_packet(p, pkt, len);
                        continue;
                }
                if (p->echoes++ == 0)
                        printf("FIRST-DATA ms=%.1f\n",
                               p->first_check ? (double)(probe_now_ns() - p->first_check) / 1e6 : -1.0);
                printf("DATA %u\n", p->echoes);
        }
}

static int run(const struct opts *o)
{
        struct kiln_node_config nc = { .controlling = strcmp(o->role, "controlling") == 0 };
        struct kiln_node_relay relay = { .id = "relay" };
        struct kiln_node_peer_config pc = { .peer_id = PEER_ID,
                                            .local_ufrag = o->ufrag,
                                            .local_pwd = o->pwd,
                                            .remote_ufrag = o->rufrag,
                                            .remote_pwd = o->rpwd };
        struct probe p = { .o = o, .controlling = nc.controlling };
        uint64_t start = probe_now_ns(), next_ping = 0;
        long cand_offset = 0;
        uint8_t key[WG_KEY_LEN];
        char key_b64[WG_KEY_LEN_BASE64];
        FILE *f;

        randombytes_buf(&nc.seed, sizeof(nc.seed));
        p.node = kiln_node_new(&nc, start);
        if (!p.node || strlen(o->psk) != 64 || key_from_hex(pc.preshared_key, o->psk) < 0)
                return fprintf(stderr, "bad configuration\n"), 1;
        p.fd = probe_open_socket(&o->bind);
        relay.addr = o->server;
        snprintf(relay.username, sizeof(relay.username), "%s", o->user);
        snprintf(relay.password, sizeof(relay.password), "%s", o->pass);
        kiln_node_upsert_relay(p.node, &relay, start);
        kiln_node_public_key(p.node, key);
        key_to_base64(key_b64, key);
        f = fopen(o->key_out, "w");
        if (!f)
                return perror(o->key_out), 1;
        fprintf(f, "%s\n", key_b64);
        fclose(f);
        /* Allocate on the relay while waiting for the peer's key, as kilnd does from init on. */
        while (!read_key(o->key_in, pc.public_key)) {
                uint64_t now = probe_now_ns();
                struct pollfd pfd = { .fd = p.fd, .events = POLLIN };

                if (now > start + ICE_S(20))
                        return fprintf(stderr, "no peer key\n"), 1;
                if (kiln_node_poll_timeout(p.node) <= now)
                        kiln_node_handle_timeout(p.node, now);
                flush(&p);
                poll(&pfd, 1, 50);
                input(&p);
        }
        if (kiln_node_connect(p.node, &pc, probe_now_ns()) < 0)
                return fprintf(stderr, "connect failed\n"), 1;
        for (;;) {
                uint64_t now = probe_now_ns(), deadline;
                struct pollfd pfd = { .fd = p.fd, .events = POLLIN };

                if (o->seconds && now > start + ICE_S(o->seconds))
                        break;
                probe_read_candidates(o->cand_in, &cand_offset, apply_candidate, &p);
                if (kiln_node_poll_timeout(p.node) <= now)
                        kiln_node_handle_timeout(p.node, now);
                events(&p);
                flush(&p);
                if (p.controlling && p.connected && now >= next_ping) {
                        uint8_t pkt[PING_SIZE];

                        send_packet(&p, pkt, make_ping(pkt, p.sent++));
                        next_ping = now + ICE_MS(200);
                }
                deadline = kiln_node_poll_timeout(p.node);
                if (p.controlling && p.connected && next_ping < deadline)
                        deadline = next_ping;
                /* The candidate file is polled: wake at least every 20 ms. */
                if (deadline > probe_now_ns() + ICE_MS(20))
                        deadline = probe_now_ns() + ICE_MS(20);
                if (poll(&pfd, 1, probe_poll_ms(deadline, probe_now_ns())) < 0 && errno != EINTR)
                        break;
                input(&p);
                events(&p);
                flush(&p);
        }
        kiln_node_free(p.node);
        return 0;
}

int main(int argc, char *argv[])
{
        static const struct option longopts[] = {
                { "bind", required_argument, NULL, 'b' },
                { "server", required_argument, NULL, 's' },
                { "user", required_argument, NULL, 'u' },
                { "pass", required_argument, NULL, 'p' },
                { "role", required_argument, NULL, 'r' },
                { "ufrag", required_argument, NULL, 'f' },
                { "pwd", required_argument, NULL, 'w' },
                { "remote-ufrag", required_argument, NULL, 'F' },
                { "remote-pwd", required_argument, NULL, 'W' },
                { "psk", required_argument, NULL, 'k' },
                { "key-out", required_argument, NULL, 'K' },
                { "key-in", required_argument, NULL, 'I' },
                { "cand-out", required_argument, NULL, 'o' },
                { "cand-in", required_argument, NULL, 'i' },
                { "seconds", required_argument, NULL, 'S' },
                { NULL, 0, NULL, 0 },
        };
        struct opts o = { 0 };
        bool have_bind = false, have_server = false;
        int c;

        if (sodium_init() < 0)
                return 1;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        have_bind = probe_parse_hostport(&o.bind, optarg) == 0;
                        break;
                case 's':
                        have_server = probe_parse_hostport(&o.server, optarg) == 0;
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
                case 'k':
                        o.psk = optarg;
                        break;
                case 'K':
                        o.key_out = optarg;
                        break;
                case 'I':
                        o.key_in = optarg;
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
                default:
                        return 1;
                }
        }
        if (!have_bind || !have_server || !o.role || !o.user || !o.pass || !o.ufrag || !o.pwd || !o.rufrag ||
            !o.rpwd || !o.psk || !o.key_out || !o.key_in || !o.cand_out || !o.cand_in) {
                fprintf(stderr, "kiln-node-probe: missing options\n");
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        return run(&o);
}
