/* SPDX-License-Identifier: MIT */
#include "tests/backend/wireguard/wg-sim.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "backend/crypto/keys.h"

static const uint64_t START_NS = 1000000000ULL;
/* Wall clock = 2026-01-01 at START_NS: only TAI64N timestamps see it. */
static const int64_t WALL_OFFSET_NS = 1767225600LL * 1000000000LL;

static void node_init(struct wg_sim_node *n, const struct wg_timing *timing, uint8_t key_byte,
                      uint8_t seed_byte, const char *ip, uint16_t port)
{
        uint8_t seed[32];

        memset(n, 0, sizeof(*n));
        memset(seed, seed_byte, sizeof(seed));
        wg_rng_init_seeded(&n->rng, seed);
        n->dev = wg_device_new(timing, &n->rng);
        if (!n->dev)
                abort();
        wg_device_set_wall_clock_offset(n->dev, WALL_OFFSET_NS);
        memset(n->private_key, key_byte, sizeof(n->private_key));
        curve25519_clamp_secret(n->private_key);
        curve25519_generate_public(n->public_key, n->private_key);
        wg_device_set_private_key(n->dev, n->private_key);
        n->addr.in4.sin_family = AF_INET;
        n->addr.in4.sin_port = htons(port);
        inet_pton(AF_INET, ip, &n->addr.in4.sin_addr);
}

static void node_add_peer(struct wg_sim_node *n, const struct wg_sim_node *other, uint8_t inner_last_octet,
                          const uint8_t *psk)
{
        struct wg_allowed_ip ip = { .family = AF_INET, .addr = { 10, 10, 0, inner_last_octet }, .cidr = 32 };

        if (wg_device_add_peer(n->dev, other->public_key, &n->peer) < 0)
                abort();
        wg_peer_set_endpoint(n->peer, &other->addr);
        if (psk)
                wg_peer_set_preshared_key(n->peer, psk);
        if (wg_peer_add_allowed_ip(n->peer, &ip) < 0)
                abort();
}

void wg_sim_init(struct wg_sim *s, const struct wg_timing *timing, const uint8_t *psk_a,
                 const uint8_t *psk_b)
{
        memset(s, 0, sizeof(*s));
        s->now = START_NS;
        s->transcript_time = START_NS;
        node_init(&s->a, timing, 0xa1, 0x11, "192.0.2.1", 51820);
        node_init(&s->b, timing, 0xb2, 0x22, "192.0.2.2", 51821);
        node_add_peer(&s->a, &s->b, 2, psk_a);
        node_add_peer(&s->b, &s->a, 1, psk_b);
}

void wg_sim_free(struct wg_sim *s)
{
        wg_device_free(s->a.dev);
        wg_device_free(s->b.dev);
        free(s->wire);
        if (s->transcript)
                fclose(s->transcript);
        memset(s, 0, sizeof(*s));
}

static void wire_push(struct wg_sim *s, const uint8_t *data, size_t len, const struct wg_endpoint *src,
                      const struct wg_endpoint *dst)
{
        struct wg_sim_datagram *d;

        if (s->n_wire == s->cap_wire) {
                s->cap_wire = s->cap_wire ? s->cap_wire * 2 : 64;
                s->wire = realloc(s->wire, s->cap_wire * sizeof(*s->wire));
                if (!s->wire)
                        abort();
        }
        d = &s->wire[s->n_wire++];
        if (len > sizeof(d->data))
                abort();
        memcpy(d->data, data, len);
        d->len = len;
        d->src = *src;
        d->dst = *dst;
}

static void node_collect(struct wg_sim *s, struct wg_sim_node *n)
{
        uint8_t buf[WG_SIM_MAX_PACKET];
        struct wg_out out = { .buf = buf, .cap = sizeof(buf) };

        while (wg_device_poll_transmit(n->dev, s->now, &out))
                wire_push(s, out.buf, out.len, &n->addr, &out.endpoint);
}

void wg_sim_collect(struct wg_sim *s)
{
        node_collect(s, &s->a);
        node_collect(s, &s->b);
}

static void record(struct wg_sim *s, unsigned op, const uint8_t *data, size_t len)
{
        uint64_t units;
        uint8_t hdr[3];

        if (!s->transcript)
                return;
        units = (s->now - s->transcript_time) / WG_SIM_TIME_UNIT_NS;
        while (units > 63) {
                /* An empty record only advances time: a datagram of length 0 is dropped. */
                hdr[0] = (uint8_t)(63 << 2 | WG_SIM_OP_DATAGRAM_TO_A);
                hdr[1] = hdr[2] = 0;
                fwrite(hdr, 1, 3, s->transcript);
                units -= 63;
        }
        hdr[0] = (uint8_t)(units << 2 | op);
        hdr[1] = (uint8_t)(len >> 8);
        hdr[2] = (uint8_t)len;
        fwrite(hdr, 1, 3, s->transcript);
        fwrite(data, 1, len, s->transcript);
        s->transcript_time = s->now - (s->now - s->transcript_time) % WG_SIM_TIME_UNIT_NS;
}

static struct wg_sim_node *node_at(struct wg_sim *s, const struct wg_endpoint *addr)
{
        if (wg_endpoint_equal(addr, &s->a.addr))
                return &s->a;
        if (wg_endpoint_equal(addr, &s->b.addr))
                return &s->b;
        return NULL;
}

static void node_receive(struct wg_sim *s, struct wg_sim_node *n, const struct wg_endpoint *src,
                         const uint8_t *data, size_t len)
{
        uint8_t buf[WG_SIM_MAX_PACKET];
        struct wg_out out = { .buf = buf, .cap = sizeof(buf) };

        record(s, n == &s->a ? WG_SIM_OP_DATAGRAM_TO_A : WG_SIM_OP_DATAGRAM_TO_B, data, len);
        if (wg_device_receive(n->dev, s->now, src, data, len, &out) == WG_ACTION_WRITE_TUN &&
            n->n_tun < WG_SIM_MAX_TUN) {
                memcpy(n->tun[n->n_tun], out.buf, out.len);
                n->tun_len[n->n_tun++] = out.len;
        }
        node_collect(s, n);
}

void wg_sim_deliver(struct wg_sim *s, const struct wg_sim_datagram *d)
{
        struct wg_sim_node *n = node_at(s, &d->dst);

        if (n)
                node_receive(s, n, &d->src, d->data, d->len);
}

size_t wg_sim_take_wire(struct wg_sim *s, struct wg_sim_datagram **ret)
{
        size_t n = s->n_wire;

        *ret = s->wire;
        s->wire = NULL;
        s->n_wire = s->cap_wire = 0;
        return n;
}

size_t wg_sim_run(struct wg_sim *s, unsigned max_rounds)
{
        size_t delivered = 0;

        wg_sim_collect(s);
        for (unsigned round = 0; round < max_rounds && s->n_wire > 0; round++) {
                struct wg_sim_datagram *batch;
                size_t n = wg_sim_take_wire(s, &batch);

                for (size_t i = 0; i < n; i++)
                        wg_sim_deliver(s, &batch[i]);
                delivered += n;
                free(batch);
        }
        return delivered;
}

int wg_sim_tun_send(struct wg_sim *s, struct wg_sim_node *node, const uint8_t *packet, size_t len)
{
        uint8_t buf[WG_SIM_MAX_PACKET];
        struct wg_out out = { .buf = buf, .cap = sizeof(buf) };
        int r;

        record(s, node == &s->a ? WG_SIM_OP_TUN_TO_A : WG_SIM_OP_TUN_TO_B, packet, len);
        r = wg_device_send(node->dev, s->now, packet, len, &out);
        if (r == WG_ACTION_SEND)
                wire_push(s, out.buf, out.len, &node->addr, &out.endpoint);
        node_collect(s, node);
        return r;
}

void wg_sim_advance(struct wg_sim *s, uint64_t ns)
{
        s->now += ns;
        wg_device_tick(s->a.dev, s->now);
        wg_device_tick(s->b.dev, s->now);
        wg_sim_collect(s);
}

size_t wg_sim_make_packet(uint8_t *buf, uint8_t src, uint8_t dst, uint32_t tag, size_t payload_len)
{
        size_t total = 20 + 8 + payload_len;

        memset(buf, 0, total);
        buf[0] = 0x45;
        buf[2] = (uint8_t)(total >> 8);
        buf[3] = (uint8_t)total;
        buf[8] = 64;
        buf[9] = 17;
        buf[12] = 10, buf[13] = 10, buf[14] = 0, buf[15] = src;
        buf[16] = 10, buf[17] = 10, buf[18] = 0, buf[19] = dst;
        buf[20] = 0x30, buf[21] = 0x39, buf[22] = 0x30, buf[23] = 0x39;
        buf[24] = (uint8_t)((8 + payload_len) >> 8);
        buf[25] = (uint8_t)(8 + payload_len);
        for (size_t i = 0; i < payload_len; i++)
                buf[28 + i] = (uint8_t)(i * 7);
        if (payload_len >= 4)
                memcpy(buf + 28, &tag, 4);
        return total;
}

uint32_t wg_sim_packet_tag(const uint8_t *packet)
{
        uint32_t tag;

        memcpy(&tag, packet + 28, 4);
        return tag;
}

void wg_sim_timing_profile(unsigned profile, struct wg_timing *t)
{
        wg_timing_init_default(t);
        if (profile != 1)
                return;
        t->rekey_after_time = 10000000000ULL;
        t->reject_after_time = 15000000000ULL;
        t->rekey_attempt_time = 9000000000ULL;
        t->rekey_timeout = 100000000ULL;
        t->keepalive_timeout = 2000000000ULL;
        t->rekey_timeout_jitter_max = 0;
        t->handshakes_per_second = 1;
}

void wg_sim_record_if_asked(struct wg_sim *s, const char *name, unsigned profile)
{
        const char *dir = getenv("KILN_WRITE_CORPUS");
        char path[4096];
        uint8_t p = (uint8_t)profile;

        if (!dir)
                return;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        s->transcript = fopen(path, "wb");
        if (!s->transcript)
                abort();
        fwrite(&p, 1, 1, s->transcript);
        s->transcript_time = s->now;
}

size_t wg_sim_replay_transcript(const uint8_t *data, size_t size)
{
        struct wg_timing timing;
        struct wg_sim s;
        size_t pos = 1, delivered;

        if (size < 1)
                return 0;
        wg_sim_timing_profile(data[0], &timing);
        wg_sim_init(&s, &timing, NULL, NULL);
        while (pos + 3 <= size) {
                unsigned op = data[pos] & 3, units = data[pos] >> 2;
                size_t len = ((size_t)data[pos + 1] << 8) | data[pos + 2];

                pos += 3;
                if (len > size - pos)
                        len = size - pos;
                if (units)
                        wg_sim_advance(&s, (uint64_t)units * WG_SIM_TIME_UNIT_NS);
                switch (op) {
                case WG_SIM_OP_DATAGRAM_TO_A:
                        node_receive(&s, &s.a, &s.b.addr, data + pos, len);
                        break;
                case WG_SIM_OP_DATAGRAM_TO_B:
                        node_receive(&s, &s.b, &s.a.addr, data + pos, len);
                        break;
                case WG_SIM_OP_TUN_TO_A:
                        wg_sim_tun_send(&s, &s.a, data + pos, len);
                        break;
                default:
                        wg_sim_tun_send(&s, &s.b, data + pos, len);
                        break;
                }
                pos += len;
                /* What the devices sent is not delivered: the transcript says what arrives. */
                free(s.wire);
                s.wire = NULL;
                s.n_wire = s.cap_wire = 0;
        }
        delivered = s.a.n_tun + s.b.n_tun;
        wg_sim_free(&s);
        return delivered;
}
