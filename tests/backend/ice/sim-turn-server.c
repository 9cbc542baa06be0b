/* SPDX-License-Identifier: MIT */
#include "tests/backend/ice/sim-turn-server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ice/channel-data.h"
#include "backend/ice/stun.h"

#define SIM_MAX_ALLOC    8
#define SIM_MAX_CHANNELS 16

struct sim_alloc {
        bool used;
        struct ice_addr client, relayed;
        struct {
                uint16_t number;
                struct ice_addr peer;
        } ch[SIM_MAX_CHANNELS];
        size_t n_ch;
};

struct sim_turn_server {
        struct ice_addr listen;
        char username[128], password[128], realm[64], nonce[32];
        uint8_t key[16];
        unsigned int generation;
        uint16_t next_port;
        struct sim_alloc allocs[SIM_MAX_ALLOC];
        struct ice_txq txq;
};

struct sim_turn_server *sim_turn_server_new(const struct ice_addr *listen, const char *username,
                                            const char *password, const char *realm)
{
        struct sim_turn_server *s = calloc(1, sizeof(*s));

        ice_txq_init(&s->txq, 64);
        s->listen = *listen;
        snprintf(s->username, sizeof(s->username), "%s", username);
        snprintf(s->password, sizeof(s->password), "%s", password);
        snprintf(s->realm, sizeof(s->realm), "%s", realm);
        stun_long_term_key(s->key, username, realm, password);
        s->next_port = 49152;
        sim_turn_server_rotate_nonce(s);
        return s;
}

void sim_turn_server_free(struct sim_turn_server *s)
{
        ice_txq_release(&s->txq);
        free(s);
}

void sim_turn_server_rotate_nonce(struct sim_turn_server *s)
{
        snprintf(s->nonce, sizeof(s->nonce), "nonce-%u", ++s->generation);
}

void sim_turn_server_restart(struct sim_turn_server *s)
{
        memset(s->allocs, 0, sizeof(s->allocs));
        sim_turn_server_rotate_nonce(s);
}

size_t sim_turn_server_allocations(const struct sim_turn_server *s)
{
        size_t n = 0;

        for (size_t i = 0; i < SIM_MAX_ALLOC; i++)
                n += s->allocs[i].used;
        return n;
}

bool sim_turn_server_owns(const struct sim_turn_server *s, const struct ice_addr *addr)
{
        if (ice_addr_equal(addr, &s->listen))
                return true;
        for (size_t i = 0; i < SIM_MAX_ALLOC; i++)
                if (s->allocs[i].used && ice_addr_equal(&s->allocs[i].relayed, addr))
                        return true;
        return false;
}

static struct sim_alloc *alloc_by_client(struct sim_turn_server *s, const struct ice_addr *client)
{
        for (size_t i = 0; i < SIM_MAX_ALLOC; i++)
                if (s->allocs[i].used && ice_addr_equal(&s->allocs[i].client, client))
                        return &s->allocs[i];
        return NULL;
}

static struct ice_transmit *out(struct sim_turn_server *s, const struct ice_addr *src,
                                const struct ice_addr *dst)
{
        struct ice_transmit *t = ice_txq_push(&s->txq);

        if (t) {
                t->src = *src;
                t->dst = *dst;
        }
        return t;
}

static void reply(struct sim_turn_server *s, const struct ice_addr *to, const struct stun_msg *req,
                  uint16_t error, const char *reason, bool sign,
                  void (*extra)(struct stun_builder *, const void *), const void *arg)
{
        struct ice_transmit *t = out(s, &s->listen, to);
        struct stun_builder b;
        int n;

        if (!t)
                return;
        stun_build_init(&b, t->data, sizeof(t->data), req->method, error ? STUN_ERROR : STUN_SUCCESS,
                        req->tid);
        if (error) {
                stun_add_error(&b, error, reason);
                if (error == 401 || error == 438) {
                        stun_add_string(&b, STUN_ATTR_REALM, s->realm);
                        stun_add_string(&b, STUN_ATTR_NONCE, s->nonce);
                }
        }
        if (extra)
                extra(&b, arg);
        if (sign)
                stun_add_integrity(&b, s->key, sizeof(s->key));
        n = stun_build_finish(&b);
        t->len = n < 0 ? 0 : (size_t)n;
}

static void add_mapped(struct stun_builder *b, const void *arg)
{
        stun_add_addr(b, STUN_ATTR_XOR_MAPPED_ADDRESS, arg);
}

struct alloc_reply {
        const struct sim_alloc *a;
        const struct ice_addr *client;
};

static void add_alloc(struct stun_builder *b, const void *arg)
{
        const struct alloc_reply *r = arg;

        stun_add_addr(b, STUN_ATTR_XOR_RELAYED_ADDRESS, &r->a->relayed);
        stun_add_addr(b, STUN_ATTR_XOR_MAPPED_ADDRESS, r->client);
        stun_add_u32(b, STUN_ATTR_LIFETIME, 600);
}

static void add_lifetime(struct stun_builder *b, const void *arg)
{
        stun_add_u32(b, STUN_ATTR_LIFETIME, *(const uint32_t *)arg);
}

static bool authenticated(struct sim_turn_server *s, const struct ice_addr *from, const struct stun_msg *m)
{
        if (!(m->present & STUN_HAS_MI) || !(m->present & STUN_HAS_NONCE)) {
                reply(s, from, m, 401, "Unauthorized", false, NULL, NULL);
                return false;
        }
        if (!stun_text_eq(&m->nonce, s->nonce)) {
                reply(s, from, m, 438, "Stale Nonce", false, NULL, NULL);
                return false;
        }
        if (!stun_text_eq(&m->username, s->username) || !stun_check_integrity(m, s->key, sizeof(s->key))) {
                reply(s, from, m, 401, "Unauthorized", false, NULL, NULL);
                return false;
        }
        return true;
}

static void handle_stun(struct sim_turn_server *s, const struct ice_addr *from, const struct stun_msg *m)
{
        struct sim_alloc *a = alloc_by_client(s, from);

        if (m->cls != STUN_REQUEST)
                return;
        if (m->method == STUN_BINDING) {
                reply(s, from, m, 0, NULL, false, add_mapped, from);
                return;
        }
        if (!authenticated(s, from, m))
                return;
        switch (m->method) {
        case STUN_ALLOCATE:
                if (a) {
                        reply(s, from, m, 437, "Allocation Mismatch", true, NULL, NULL);
                        return;
                }
                for (size_t i = 0; i < SIM_MAX_ALLOC && !a; i++)
                        if (!s->allocs[i].used)
                                a = &s->allocs[i];
                if (!a) {
                        reply(s, from, m, 508, "Insufficient Capacity", true, NULL, NULL);
                        return;
                }
                memset(a, 0, sizeof(*a));
                a->used = true;
                a->client = *from;
                a->relayed = s->listen;
                a->relayed.port = s->next_port++;
                reply(s, from, m, 0, NULL, true, add_alloc, &(struct alloc_reply){ a, from });
                return;
        case STUN_REFRESH: {
                uint32_t lifetime = (m->present & STUN_HAS_LIFETIME) ? m->lifetime : 600;

                if (!a) {
                        reply(s, from, m, 437, "Allocation Mismatch", true, NULL, NULL);
                        return;
                }
                if (lifetime == 0)
                        a->used = false;
                reply(s, from, m, 0, NULL, true, add_lifetime, &lifetime);
                return;
        }
        case STUN_CHANNEL_BIND:
                if (!a) {
                        reply(s, from, m, 437, "Allocation Mismatch", true, NULL, NULL);
                        return;
                }
                if (!(m->present & STUN_HAS_CHANNEL) || !(m->present & STUN_HAS_XOR_PEER) ||
                    m->channel < 0x4000 || m->channel > 0x7fff) {
                        reply(s, from, m, 400, "Bad Request", true, NULL, NULL);
                        return;
                }
                for (size_t i = 0; i < a->n_ch; i++)
                        if (a->ch[i].number == m->channel || ice_addr_equal(&a->ch[i].peer, &m->xor_peer)) {
                                if (a->ch[i].number != m->channel ||
                                    !ice_addr_equal(&a->ch[i].peer, &m->xor_peer))
                                        reply(s, from, m, 400, "Bad Request", true, NULL, NULL);
                                else
                                        reply(s, from, m, 0, NULL, true, NULL, NULL);
                                return;
                        }
                if (a->n_ch == SIM_MAX_CHANNELS) {
                        reply(s, from, m, 508, "Insufficient Capacity", true, NULL, NULL);
                        return;
                }
                a->ch[a->n_ch].number = m->channel;
                a->ch[a->n_ch].peer = m->xor_peer;
                a->n_ch++;
                reply(s, from, m, 0, NULL, true, NULL, NULL);
                return;
        default:
                reply(s, from, m, 400, "Bad Request", true, NULL, NULL);
        }
}

void sim_turn_server_input(struct sim_turn_server *s, const struct ice_addr *dst,
                           const struct ice_addr *from, const uint8_t *buf, size_t len)
{
        if (ice_addr_equal(dst, &s->listen)) {
                struct stun_msg m;
                struct channel_data cd;
                struct sim_alloc *a;

                if (stun_parse(&m, buf, len) == 0) {
                        handle_stun(s, from, &m);
                        return;
                }
                a = alloc_by_client(s, from);
                if (!a || channel_data_parse(&cd, buf, len) < 0)
                        return;
                for (size_t i = 0; i < a->n_ch; i++)
                        if (a->ch[i].number == cd.channel) {
                                struct ice_transmit *t = out(s, &a->relayed, &a->ch[i].peer);

                                if (t) {
                                        memcpy(t->data, cd.payload, cd.len);
                                        t->len = cd.len;
                                }
                        }
                return;
        }
        /* From a peer to a relayed address: permissions are per IP (RFC 8656 §9); with a
         * channel for the exact address the data goes as ChannelData, otherwise as a Data
         * indication, as coturn does. */
        for (size_t i = 0; i < SIM_MAX_ALLOC; i++) {
                struct sim_alloc *a = &s->allocs[i];
                bool permitted = false;

                if (!a->used || !ice_addr_equal(&a->relayed, dst))
                        continue;
                for (size_t c = 0; c < a->n_ch; c++) {
                        if (!ice_addr_ip_equal(&a->ch[c].peer, from))
                                continue;
                        permitted = true;
                        if (ice_addr_equal(&a->ch[c].peer, from)) {
                                struct ice_transmit *t = out(s, &s->listen, &a->client);

                                if (t && channel_data_write_header(t->data, sizeof(t->data), a->ch[c].number,
                                                                   len) > 0) {
                                        memcpy(t->data + 4, buf, len);
                                        t->len = len + 4;
                                }
                                return;
                        }
                }
                if (permitted) {
                        static const uint8_t tid[STUN_TID_LEN] = { 0x5e, 0x1d };
                        struct ice_transmit *t = out(s, &s->listen, &a->client);
                        struct stun_builder b;
                        int n;

                        if (!t)
                                return;
                        stun_build_init(&b, t->data, sizeof(t->data), STUN_DATA, STUN_INDICATION, tid);
                        stun_add_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, from);
                        stun_add_bytes(&b, STUN_ATTR_DATA, buf, len);
                        n = stun_build_finish(&b);
                        t->len = n < 0 ? 0 : (size_t)n;
                }
                return;
        }
}

bool sim_turn_server_poll_transmit(struct sim_turn_server *s, struct ice_transmit *ret)
{
        while (ice_txq_pop(&s->txq, ret))
                if (ret->len > 0)
                        return true;
        return false;
}
