/* SPDX-License-Identifier: MIT */
#include "tests/backend/ice/simnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ice/rng.h"

#define SIM_QUEUE    4096
#define SIM_MAPPINGS 64
#define SIM_CONTACTS 16
/* Simulated time starts far from zero, as CLOCK_MONOTONIC does: code that treats 0 as
 * "never happened" would otherwise pass here and fail on a real machine. */
#define SIM_EPOCH ICE_S(86400)

struct sim_mapping {
        struct ice_addr priv, remote; /* remote: symmetric NATs map per destination */
        uint16_t pub_port;
        struct ice_addr contacted[SIM_CONTACTS];
        size_t n_contacted;
};

struct sim_host {
        enum sim_nat_type nat;
        struct ice_addr sock, pub; /* pub: the NAT's public IP (port unused) */
        struct sim_mapping maps[SIM_MAPPINGS];
        size_t n_maps;
        uint16_t next_port;
        uint64_t latency;
        struct ice_link *link;
        struct sim_peer_stats stats;
        const struct sim_host_ops *ops;
        void *ctx;
};

struct sim_packet {
        uint64_t at;
        uint64_t seq;
        struct ice_addr src, dst;
        size_t len;
        uint8_t data[ICE_MAX_DATAGRAM];
};

struct sim {
        struct sim_config cfg;
        uint64_t now, seq;
        struct ice_rng rng;
        struct sim_host host[2];
        struct sim_turn_server *relay;
        struct ice_addr relay_addr;
        struct sim_packet *queue;
        size_t n_queue;
        bool cut, partition;
};

static struct ice_addr addr(const char *ip, uint16_t port)
{
        struct ice_addr a;

        ice_addr_from_ip_string(&a, ip, port);
        return a;
}

static const struct sim_host_ops link_ops;

static struct sim *sim_alloc(const struct sim_config *cfg)
{
        static const char *const priv[2] = { "10.0.1.2", "10.0.2.2" };
        static const char *const pub[2] = { "198.51.100.1", "198.51.100.2" };
        struct sim *sim = calloc(1, sizeof(*sim));

        sim->cfg = *cfg;
        sim->queue = calloc(SIM_QUEUE, sizeof(*sim->queue));
        sim->now = SIM_EPOCH;
        ice_rng_seed(&sim->rng, cfg->seed);
        sim->relay_addr = addr("203.0.113.1", 3478);
        sim->relay =
            sim_turn_server_new(&sim->relay_addr, SIM_RELAY_USERNAME, SIM_RELAY_PASSWORD, "firezone");
        for (int i = 0; i < 2; i++) {
                struct sim_host *h = &sim->host[i];

                h->nat = cfg->nat[i];
                h->latency = cfg->latency[i];
                h->sock = addr(h->nat == SIM_NO_NAT ? pub[i] : priv[i], 52625);
                h->pub = addr(pub[i], 0);
                h->next_port = 40000;
        }
        return sim;
}

struct sim *sim_new(const struct sim_config *cfg)
{
        static const char *const ufrag[2] = { "cufr", "gufr" };
        static const char *const pwd[2] = { "client-password-22chr", "gateway-password-22chr" };
        struct sim *sim = sim_alloc(cfg);

        for (int i = 0; i < 2; i++) {
                struct sim_host *h = &sim->host[i];
                struct ice_link_config lc = { 0 };

                lc.agent.role = i == 0 ? ICE_CONTROLLING : ICE_CONTROLLED;
                lc.agent.profile = i == 0 ? ICE_PROFILE_CLIENT_ACTIVE : ICE_PROFILE_GATEWAY_ACTIVE;
                lc.agent.local_ufrag = ufrag[i];
                lc.agent.local_pwd = pwd[i];
                lc.agent.remote_ufrag = ufrag[1 - i];
                lc.agent.remote_pwd = pwd[1 - i];
                lc.agent.seed = cfg->seed * 2 + (uint64_t)i;
                if (!cfg->no_relay) {
                        lc.n_relays = 1;
                        lc.relays[0].server = sim->relay_addr;
                        lc.relays[0].username = SIM_RELAY_USERNAME;
                        lc.relays[0].password = cfg->password ? cfg->password : SIM_RELAY_PASSWORD;
                        lc.relays[0].realm = "firezone";
                        lc.relays[0].allocate = true;
                        lc.relays[0].seed = cfg->seed * 7 + (uint64_t)i;
                }
                h->link = ice_link_new(&lc, sim->now);
                h->ops = &link_ops;
                h->ctx = h;
        }
        return sim;
}

struct sim *sim_new_hosts(const struct sim_config *cfg, const struct sim_host_ops *ops[2], void *ctx[2])
{
        struct sim *sim = sim_alloc(cfg);

        for (int i = 0; i < 2; i++) {
                sim->host[i].ops = ops[i];
                sim->host[i].ctx = ctx[i];
        }
        return sim;
}

const struct ice_addr *sim_relay_address(const struct sim *sim)
{
        return &sim->relay_addr;
}

static bool link_poll_transmit(void *ctx, struct ice_transmit *ret, uint64_t now)
{
        return ice_link_poll_transmit(((struct sim_host *)ctx)->link, ret);
}

static uint64_t link_poll_timeout(void *ctx)
{
        return ice_link_poll_timeout(((struct sim_host *)ctx)->link);
}

static void link_handle_timeout(void *ctx, uint64_t now)
{
        ice_link_handle_timeout(((struct sim_host *)ctx)->link, now);
}

/* Input and events of link hosts are handled inline (deliver, handle_events). */
static const struct sim_host_ops link_ops = {
        .poll_transmit = link_poll_transmit,
        .poll_timeout = link_poll_timeout,
        .handle_timeout = link_handle_timeout,
};

void sim_free(struct sim *sim)
{
        if (!sim)
                return;
        for (int i = 0; i < 2; i++)
                ice_link_free(sim->host[i].link);
        sim_turn_server_free(sim->relay);
        free(sim->queue);
        free(sim);
}

uint64_t sim_now(const struct sim *sim)
{
        return sim->now - SIM_EPOCH;
}

uint64_t sim_clock(const struct sim *sim)
{
        return sim->now;
}

const struct sim_peer_stats *sim_stats(const struct sim *sim, int peer)
{
        return &sim->host[peer].stats;
}

struct sim_turn_server *sim_relay(struct sim *sim)
{
        return sim->relay;
}

struct ice_link *sim_link(struct sim *sim, int peer)
{
        return sim->host[peer].link;
}

void sim_cut_direct(struct sim *sim, bool cut)
{
        sim->cut = cut;
}

void sim_partition(struct sim *sim, bool on)
{
        sim->partition = on;
}

void sim_roam(struct sim *sim, int peer)
{
        struct sim_host *h = &sim->host[peer];

        h->sock.port = (uint16_t)(h->sock.port + 1 == 0 ? 1024 : h->sock.port + 1);
        h->n_maps = 0;
        h->next_port = (uint16_t)(h->next_port + 1000 < 1024 ? 40000 : h->next_port + 1000);
}

static uint64_t latency_of(const struct sim *sim, const struct ice_addr *a)
{
        if (ice_addr_ip_equal(a, &sim->relay_addr))
                return sim->cfg.relay_latency;
        for (int i = 0; i < 2; i++)
                if (ice_addr_ip_equal(a, &sim->host[i].pub) || ice_addr_ip_equal(a, &sim->host[i].sock))
                        return sim->host[i].latency;
        return 0;
}

static void enqueue(struct sim *sim, const struct ice_addr *src, const struct ice_addr *dst,
                    const uint8_t *data, size_t len)
{
        struct sim_packet *p;
        bool src_relay = ice_addr_ip_equal(src, &sim->relay_addr);
        bool dst_relay = ice_addr_ip_equal(dst, &sim->relay_addr);

        if (sim->partition)
                return;
        if (sim->cfg.loss_percent && ice_rng_next(&sim->rng) % 100 < sim->cfg.loss_percent)
                return;
        /* The direct path is everything that does not touch the relay. */
        if (sim->cut && !src_relay && !dst_relay)
                return;
        if (sim->cfg.unreachable && !(src_relay && ice_addr_equal(src, &sim->relay_addr)) &&
            !(dst_relay && ice_addr_equal(dst, &sim->relay_addr)))
                return;
        if (sim->n_queue == SIM_QUEUE)
                return;
        p = &sim->queue[sim->n_queue++];
        p->at = sim->now + latency_of(sim, src) + latency_of(sim, dst);
        if (sim->cfg.jitter)
                p->at += ice_rng_next(&sim->rng) % sim->cfg.jitter;
        p->seq = sim->seq++;
        p->src = *src;
        p->dst = *dst;
        p->len = len;
        memcpy(p->data, data, len);
}

static struct sim_mapping *nat_out(struct sim_host *h, const struct ice_addr *dst)
{
        struct sim_mapping *m = NULL;

        for (size_t i = 0; i < h->n_maps && !m; i++)
                if (h->nat == SIM_NAT_EIM || ice_addr_equal(&h->maps[i].remote, dst))
                        m = &h->maps[i];
        if (!m) {
                if (h->n_maps == SIM_MAPPINGS)
                        return NULL;
                m = &h->maps[h->n_maps++];
                memset(m, 0, sizeof(*m));
                m->priv = h->sock;
                m->remote = *dst;
                /* Symmetric NATs pick unpredictable ports; EIM ones keep a stable mapping. */
                m->pub_port =
                    h->nat == SIM_NAT_SYMMETRIC ? (uint16_t)(h->next_port + 37 * h->n_maps) : h->next_port;
        }
        for (size_t i = 0; i < m->n_contacted; i++)
                if (ice_addr_equal(&m->contacted[i], dst))
                        return m;
        if (m->n_contacted < SIM_CONTACTS)
                m->contacted[m->n_contacted++] = *dst;
        return m;
}

static void host_send(struct sim *sim, struct sim_host *h, const struct ice_transmit *t)
{
        struct ice_addr src = t->src.family ? t->src : h->sock;

        if (h->nat != SIM_NO_NAT && !ice_addr_ip_equal(&t->dst, &h->sock)) {
                struct sim_mapping *m = nat_out(h, &t->dst);

                if (!m)
                        return;
                src = h->pub;
                src.port = m->pub_port;
        }
        enqueue(sim, &src, &t->dst, t->data, t->len);
}

static void handle_events(struct sim *sim, int i)
{
        struct sim_host *h = &sim->host[i];

        struct ice_link_event e;

        while (ice_link_poll_event(h->link, &e)) {
                if (e.type == ICE_LINK_EVENT_RELAY) {
                        if (e.relay.type == TURN_EVENT_ERROR)
                                snprintf(h->stats.last_error, sizeof(h->stats.last_error), "%s",
                                         e.relay.message);
                        continue;
                }
                switch (e.ice.type) {
                case ICE_EVENT_LOCAL_CANDIDATE:
                        /* The portal forwards candidates instantly here. */
                        if (!sim->cfg.drop_candidates)
                                ice_link_add_remote_candidate(sim->host[1 - i].link, e.ice.sdp, sim->now);
                        break;
                case ICE_EVENT_LOCAL_CANDIDATE_INVALIDATED:
                        ice_link_remove_remote_candidate(sim->host[1 - i].link, e.ice.sdp, sim->now);
                        break;
                case ICE_EVENT_SELECTED:
                        h->stats.selected_count++;
                        h->stats.selected_via_relay = e.ice.via_relay;
                        h->stats.selected_local_type = e.ice.local.type;
                        h->stats.selected_remote_type = e.ice.remote.type;
                        if (h->stats.selected_count == 1)
                                h->stats.time_to_connect = e.ice.time_to_connect;
                        break;
                case ICE_EVENT_FAILED:
                        h->stats.failed = true;
                        break;
                case ICE_EVENT_DISCONNECTED:
                case ICE_EVENT_ROLE_CHANGED:
                        break;
                }
        }
}

static void drain(struct sim *sim)
{
        struct ice_transmit t;
        bool more = true;

        while (more) {
                more = false;
                for (int i = 0; i < 2; i++) {
                        struct sim_host *h = &sim->host[i];

                        if (h->link)
                                handle_events(sim, i);
                        else
                                h->ops->after(h->ctx, sim->now);
                        while (h->ops->poll_transmit(h->ctx, &t, sim->now)) {
                                h->stats.transmits++;
                                host_send(sim, h, &t);
                                more = true;
                        }
                        if (h->link)
                                handle_events(sim, i);
                        else
                                h->ops->after(h->ctx, sim->now);
                }
                while (sim_turn_server_poll_transmit(sim->relay, &t)) {
                        enqueue(sim, &t.src, &t.dst, t.data, t.len);
                        more = true;
                }
        }
}

void sim_flush(struct sim *sim)
{
        drain(sim);
}

static void deliver(struct sim *sim, const struct sim_packet *p)
{
        if (ice_addr_ip_equal(&p->dst, &sim->relay_addr)) {
                sim_turn_server_input(sim->relay, &p->dst, &p->src, p->data, p->len);
                return;
        }
        for (int i = 0; i < 2; i++) {
                struct sim_host *h = &sim->host[i];
                struct ice_addr from;
                const uint8_t *payload;
                size_t len;
                bool ok = false;

                if (h->nat == SIM_NO_NAT) {
                        ok = ice_addr_equal(&p->dst, &h->sock);
                } else if (ice_addr_ip_equal(&p->dst, &h->pub)) {
                        /* Port-restricted filtering: only from endpoints this mapping sent to. */
                        for (size_t m = 0; m < h->n_maps && !ok; m++) {
                                if (h->maps[m].pub_port != p->dst.port)
                                        continue;
                                for (size_t c = 0; c < h->maps[m].n_contacted; c++)
                                        if (ice_addr_equal(&h->maps[m].contacted[c], &p->src))
                                                ok = true;
                        }
                }
                if (!ok)
                        continue;
                if (!h->link) {
                        h->ops->input(h->ctx, &h->sock, &p->src, p->data, p->len, sim->now);
                        return;
                }
                if (ice_link_handle_input(h->link, &h->sock, &p->src, p->data, p->len, sim->now, &from,
                                          &payload, &len) == 0 &&
                    len == 4 && memcmp(payload, "ping", 4) == 0)
                        h->stats.app_received++;
                return;
        }
}

void sim_send_app(struct sim *sim, int peer)
{
        ice_link_send(sim->host[peer].link, (const uint8_t *)"ping", 4, sim->now);
        drain(sim);
}

void sim_run(struct sim *sim, uint64_t until)
{
        until += SIM_EPOCH;
        drain(sim);
        while (sim->now < until) {
                uint64_t next = until;
                size_t first = SIZE_MAX;

                for (size_t i = 0; i < sim->n_queue; i++)
                        if (sim->queue[i].at < next || (sim->queue[i].at == next && first != SIZE_MAX &&
                                                        sim->queue[i].seq < sim->queue[first].seq)) {
                                next = sim->queue[i].at;
                                first = i;
                        }
                for (int i = 0; i < 2; i++) {
                        uint64_t t = sim->host[i].ops->poll_timeout(sim->host[i].ctx);

                        if (t < next) {
                                next = t;
                                first = SIZE_MAX;
                        }
                }
                if (next > sim->now)
                        sim->now = next;
                if (first != SIZE_MAX && sim->queue[first].at <= sim->now) {
                        struct sim_packet p = sim->queue[first];

                        sim->queue[first] = sim->queue[--sim->n_queue];
                        deliver(sim, &p);
                } else {
                        for (int i = 0; i < 2; i++)
                                if (sim->host[i].ops->poll_timeout(sim->host[i].ctx) <= sim->now)
                                        sim->host[i].ops->handle_timeout(sim->host[i].ctx, sim->now);
                }
                drain(sim);
        }
}
