/* SPDX-License-Identifier: MIT */
#include "backend/ice/link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ice/demux.h"

#define ICE_LINK_MAX_EVENTS 32
#define ICE_LINK_TXQ_CAP    48
/* Firezone adds at most two synthetic remote candidates per connection. */
#define ICE_LINK_MAX_OPTIMISTIC 2
#define ICE_LINK_MAX_SEEN       4
/* Checks and answers waiting for a channel to their peer (see queue_via). */
#define ICE_LINK_MAX_PENDING     8
#define ICE_LINK_PENDING_MAX_LEN 600
#define ICE_LINK_PENDING_TTL     ICE_S(2)

struct pending {
        bool used;
        size_t relay;
        struct ice_addr peer;
        uint64_t expires;
        size_t len;
        uint8_t data[ICE_LINK_PENDING_MAX_LEN];
};

struct ice_link {
        struct ice_agent *agent;
        struct turn_client *relays[ICE_LINK_MAX_RELAYS];
        size_t n_relays;
        struct ice_txq txq;
        struct ice_link_event events[ICE_LINK_MAX_EVENTS];
        size_t ev_head, ev_count;
        /* remote IPv4 host ports and srflx addresses seen, for optimistic candidates */
        uint16_t host_ports[ICE_LINK_MAX_SEEN];
        size_t n_host_ports;
        struct ice_addr srflx[ICE_LINK_MAX_SEEN];
        size_t n_srflx, n_optimistic;
        struct ice_addr optimistic[ICE_LINK_MAX_OPTIMISTIC];
        struct pending pending[ICE_LINK_MAX_PENDING];
        enum ice_profile active_profile;
        bool idle;
        uint64_t last_activity;
};

static enum ice_profile idle_profile(enum ice_profile active)
{
        switch (active) {
        case ICE_PROFILE_CLIENT_ACTIVE:
        case ICE_PROFILE_CLIENT_IDLE:
                return ICE_PROFILE_CLIENT_IDLE;
        case ICE_PROFILE_GATEWAY_ACTIVE:
        case ICE_PROFILE_GATEWAY_IDLE:
                return ICE_PROFILE_GATEWAY_IDLE;
        }
        return active;
}

static void activity(struct ice_link *link, uint64_t now)
{
        link->last_activity = now;
        if (link->idle) {
                link->idle = false;
                ice_agent_set_profile(link->agent, link->active_profile);
        }
}

bool ice_link_is_idle(const struct ice_link *link)
{
        return link->idle;
}

static struct ice_link_event *push_event(struct ice_link *link, enum ice_link_event_type type)
{
        struct ice_link_event *e;

        if (link->ev_count == ICE_LINK_MAX_EVENTS) {
                link->ev_head = (link->ev_head + 1) % ICE_LINK_MAX_EVENTS;
                link->ev_count--;
        }
        e = &link->events[(link->ev_head + link->ev_count++) % ICE_LINK_MAX_EVENTS];
        memset(e, 0, sizeof(*e));
        e->type = type;
        return e;
}

struct ice_link *ice_link_new(const struct ice_link_config *cfg, uint64_t now)
{
        struct ice_link *link;

        if (cfg->n_relays > ICE_LINK_MAX_RELAYS)
                return NULL;
        link = calloc(1, sizeof(*link));
        if (!link)
                return NULL;
        if (ice_txq_init(&link->txq, ICE_LINK_TXQ_CAP) < 0) {
                free(link);
                return NULL;
        }
        link->agent = ice_agent_new(&cfg->agent, now);
        if (!link->agent)
                goto fail;
        link->active_profile = cfg->agent.profile;
        link->last_activity = now;
        for (size_t i = 0; i < cfg->n_relays; i++) {
                link->relays[i] = turn_client_new(&cfg->relays[i], now);
                if (!link->relays[i])
                        goto fail;
                link->n_relays++;
        }
        return link;
fail:
        ice_link_free(link);
        return NULL;
}

void ice_link_free(struct ice_link *link)
{
        if (!link)
                return;
        ice_agent_free(link->agent);
        for (size_t i = 0; i < link->n_relays; i++)
                turn_client_free(link->relays[i]);
        ice_txq_release(&link->txq);
        free(link);
}

struct ice_agent *ice_link_agent(struct ice_link *link)
{
        return link->agent;
}

struct turn_client *ice_link_relay(struct ice_link *link, size_t index)
{
        return index < link->n_relays ? link->relays[index] : NULL;
}

static struct turn_client *relay_for_local(struct ice_link *link, const struct ice_addr *relayed,
                                           size_t *ret_index)
{
        for (size_t i = 0; i < link->n_relays; i++) {
                const struct ice_addr *r = turn_client_relayed(link->relays[i], relayed->family);

                if (r && ice_addr_equal(r, relayed)) {
                        *ret_index = i;
                        return link->relays[i];
                }
        }
        return NULL;
}

/* A check or answer from a relayed candidate to a peer without a channel yet: the channel
 * is being bound, so keep the datagram for that long instead of losing a retransmission
 * interval (≈ 500 ms on the first relayed check).  Application data is never held. */
static void hold(struct ice_link *link, size_t relay, const struct ice_addr *peer, const uint8_t *data,
                 size_t len, uint64_t now)
{
        if (len > ICE_LINK_PENDING_MAX_LEN)
                return;
        for (size_t i = 0; i < ICE_LINK_MAX_PENDING; i++) {
                struct pending *p = &link->pending[i];

                if (p->used && now < p->expires)
                        continue;
                p->used = true;
                p->relay = relay;
                p->peer = *peer;
                p->expires = now + ICE_LINK_PENDING_TTL;
                p->len = len;
                memcpy(p->data, data, len);
                return;
        }
}

static void release(struct ice_link *link, size_t relay, const struct ice_addr *peer, uint64_t now)
{
        for (size_t i = 0; i < ICE_LINK_MAX_PENDING; i++) {
                struct pending *p = &link->pending[i];
                struct ice_transmit *t;

                if (!p->used || p->relay != relay || !ice_addr_equal(&p->peer, peer))
                        continue;
                p->used = false;
                if (now >= p->expires)
                        continue;
                t = ice_txq_push(&link->txq);
                if (t && turn_client_encode(link->relays[relay], peer, p->data, p->len, t, now) < 0)
                        t->len = 0;
        }
}

static void queue_via(struct ice_link *link, const struct ice_addr *src, const struct ice_addr *dst,
                      const uint8_t *data, size_t len, bool is_stun, uint64_t now)
{
        size_t relay = 0;
        struct turn_client *tc = src->family ? relay_for_local(link, src, &relay) : NULL;
        struct ice_transmit *t;

        t = ice_txq_push(&link->txq);
        if (!t)
                return;
        if (tc) {
                int r = turn_client_encode(tc, dst, data, len, t, now);

                if (r < 0) {
                        t->len = 0;
                        if (r == -ENOTCONN && is_stun)
                                hold(link, relay, dst, data, len, now);
                }
                return;
        }
        if (len > sizeof(t->data)) {
                t->len = 0;
                return;
        }
        t->src = *src;
        t->dst = *dst;
        memcpy(t->data, data, len);
        t->len = len;
}

static void pump(struct ice_link *link, uint64_t now)
{
        struct ice_transmit tx;
        struct turn_event te;
        struct ice_event ie;

        for (size_t i = 0; i < link->n_relays; i++) {
                struct turn_client *tc = link->relays[i];

                while (turn_client_poll_event(tc, &te)) {
                        struct ice_candidate c;
                        struct ice_link_event *e;

                        switch (te.type) {
                        case TURN_EVENT_HOST_CANDIDATE:
                                ice_candidate_init(&c, ICE_CANDIDATE_HOST, &te.addr, NULL);
                                ice_agent_add_local_candidate(link->agent, &c, now);
                                break;
                        case TURN_EVENT_SRFLX_CANDIDATE:
                                ice_candidate_init(&c, ICE_CANDIDATE_SRFLX, &te.addr,
                                                   te.base.family ? &te.base : NULL);
                                ice_agent_add_local_candidate(link->agent, &c, now);
                                break;
                        case TURN_EVENT_RELAY_CANDIDATE:
                                ice_candidate_init(&c, ICE_CANDIDATE_RELAY, &te.addr, NULL);
                                ice_agent_add_local_candidate(link->agent, &c, now);
                                break;
                        case TURN_EVENT_RELAY_INVALIDATED:
                                ice_agent_remove_local_candidate(link->agent, &te.addr, now);
                                break;
                        case TURN_EVENT_CHANNEL_BOUND:
                                release(link, i, &te.addr, now);
                                break;
                        case TURN_EVENT_ERROR:
                                break;
                        }
                        e = push_event(link, ICE_LINK_EVENT_RELAY);
                        e->relay_index = i;
                        e->relay = te;
                }
        }
        while (ice_agent_poll_event(link->agent, &ie)) {
                struct ice_link_event *e = push_event(link, ICE_LINK_EVENT_ICE);

                e->ice = ie;
        }
        while (ice_agent_poll_transmit(link->agent, &tx))
                queue_via(link, &tx.src, &tx.dst, tx.data, tx.len, true, now);
        for (size_t i = 0; i < link->n_relays; i++)
                while (turn_client_poll_transmit(link->relays[i], &tx)) {
                        struct ice_transmit *t = ice_txq_push(&link->txq);

                        if (t)
                                *t = tx;
                }
}

static int offer_stun(struct ice_link *link, const struct ice_addr *local, const struct ice_addr *from,
                      const uint8_t *buf, size_t len, uint64_t now)
{
        struct stun_msg msg;

        if (stun_parse(&msg, buf, len) < 0)
                return -EBADMSG;
        if (!ice_agent_accepts(link->agent, &msg))
                return -ENOENT;
        ice_agent_handle_stun(link->agent, local, from, &msg, now);
        return 1;
}

static int input(struct ice_link *link, const struct ice_addr *local, const struct ice_addr *from,
                 const uint8_t *buf, size_t len, uint64_t now, struct ice_addr *ret_from,
                 const uint8_t **ret_payload, size_t *ret_len)
{
        enum ice_demux_kind kind = ice_demux_classify(from, buf, len);

        if (kind == ICE_DEMUX_RELAY_STUN || kind == ICE_DEMUX_RELAY_CHANNEL_DATA) {
                for (size_t i = 0; i < link->n_relays; i++) {
                        struct ice_addr peer;
                        const uint8_t *payload;
                        size_t plen;
                        int r = turn_client_handle_input(link->relays[i], local, from, buf, len, now, &peer,
                                                         &payload, &plen);

                        if (r == TURN_NOT_OURS)
                                continue;
                        if (r < 0 || r == TURN_CONSUMED)
                                return r < 0 ? r : 1;
                        /* Relayed: for ICE the datagram arrived on our relayed address. */
                        if (plen > 0 && payload[0] <= 0x03 && stun_looks_like(payload, plen)) {
                                const struct ice_addr *relayed =
                                    turn_client_relayed(link->relays[i], peer.family);

                                if (!relayed)
                                        return -ENETDOWN;
                                return offer_stun(link, relayed, &peer, payload, plen, now);
                        }
                        *ret_from = peer;
                        *ret_payload = payload;
                        *ret_len = plen;
                        return 0;
                }
                /* Not from a relay of ours: maybe a peer whose NAT picked port 3478. */
                kind = ice_demux_classify(&(struct ice_addr){ 0 }, buf, len);
        }
        if (kind == ICE_DEMUX_PEER_STUN)
                return offer_stun(link, local, from, buf, len, now);
        *ret_from = *from;
        *ret_payload = buf;
        *ret_len = len;
        return 0;
}

int ice_link_handle_input(struct ice_link *link, const struct ice_addr *local, const struct ice_addr *from,
                          const uint8_t *buf, size_t len, uint64_t now, struct ice_addr *ret_from,
                          const uint8_t **ret_payload, size_t *ret_len)
{
        int r = input(link, local, from, buf, len, now, ret_from, ret_payload, ret_len);

        if (r == 0)
                activity(link, now);
        pump(link, now);
        return r;
}

int ice_link_encode(struct ice_link *link, const uint8_t *payload, size_t len, struct ice_transmit *ret,
                    uint64_t now)
{
        struct ice_candidate local, remote;
        struct turn_client *tc;
        size_t relay;

        if (!ice_agent_selected(link->agent, &local, &remote))
                return -ENOTCONN;
        activity(link, now);
        if (local.type == ICE_CANDIDATE_RELAY) {
                tc = relay_for_local(link, &local.addr, &relay);
                if (!tc)
                        return -ENOTCONN;
                return turn_client_encode(tc, &remote.addr, payload, len, ret, now);
        }
        if (len > sizeof(ret->data))
                return -EMSGSIZE;
        memmove(ret->data, payload, len);
        ret->len = len;
        ret->src = local.base;
        ret->dst = remote.addr;
        return 0;
}

int ice_link_send(struct ice_link *link, const uint8_t *payload, size_t len, uint64_t now)
{
        struct ice_transmit *t = ice_txq_push(&link->txq);
        int r;

        if (!t)
                return -ENOBUFS;
        r = ice_link_encode(link, payload, len, t, now);
        if (r < 0)
                t->len = 0;
        return r;
}

/* A NAT that forwards the host port (port forwarding, static mappings) is reachable at
 * (srflx IP, host port) even when its mapping for other destinations is symmetric: try it,
 * as snownet does (data-plane spec §3.1), IPv4 only and at most twice. */
static void add_optimistic(struct ice_link *link, const struct ice_candidate *c, uint64_t now)
{
        if (c->addr.family != 4)
                return;
        if (c->type == ICE_CANDIDATE_HOST && link->n_host_ports < ICE_LINK_MAX_SEEN)
                link->host_ports[link->n_host_ports++] = c->addr.port;
        else if (c->type == ICE_CANDIDATE_SRFLX && link->n_srflx < ICE_LINK_MAX_SEEN)
                link->srflx[link->n_srflx++] = c->addr;
        else
                return;
        for (size_t s = 0; s < link->n_srflx; s++)
                for (size_t h = 0; h < link->n_host_ports; h++) {
                        struct ice_candidate o;
                        struct ice_addr a = link->srflx[s];

                        if (link->n_optimistic == ICE_LINK_MAX_OPTIMISTIC)
                                return;
                        bool known = false;

                        if (a.port == link->host_ports[h])
                                continue; /* that is the srflx candidate itself */
                        a.port = link->host_ports[h];
                        for (size_t i = 0; i < link->n_optimistic; i++)
                                known |= ice_addr_equal(&link->optimistic[i], &a);
                        if (known)
                                continue;
                        ice_candidate_init(&o, ICE_CANDIDATE_SRFLX, &a, NULL);
                        if (ice_agent_add_remote_candidate(link->agent, &o, now) == 0) {
                                link->optimistic[link->n_optimistic++] = a;
                                for (size_t i = 0; i < link->n_relays; i++)
                                        turn_client_bind_channel(link->relays[i], &a, now);
                        }
                }
}

int ice_link_add_remote_candidate(struct ice_link *link, const char *sdp, uint64_t now)
{
        struct ice_candidate c;
        int r = ice_candidate_from_sdp(&c, sdp);

        if (r < 0)
                return r;
        r = ice_agent_add_remote_candidate(link->agent, &c, now);
        if (r < 0)
                return r;
        /* Firezone binds channels up front for every remote candidate but host ones. */
        if (c.type != ICE_CANDIDATE_HOST)
                for (size_t i = 0; i < link->n_relays; i++)
                        turn_client_bind_channel(link->relays[i], &c.addr, now);
        add_optimistic(link, &c, now);
        activity(link, now);
        ice_agent_handle_timeout(link->agent, now);
        pump(link, now);
        return 0;
}

int ice_link_add_local_candidate(struct ice_link *link, const struct ice_candidate *c, uint64_t now)
{
        int r = ice_agent_add_local_candidate(link->agent, c, now);

        pump(link, now);
        return r;
}

int ice_link_remove_remote_candidate(struct ice_link *link, const char *sdp, uint64_t now)
{
        struct ice_candidate c;
        int r = ice_candidate_from_sdp(&c, sdp);

        if (r < 0)
                return r;
        r = ice_agent_remove_remote_candidate(link->agent, &c, now);
        activity(link, now);
        pump(link, now);
        return r;
}

void ice_link_handle_timeout(struct ice_link *link, uint64_t now)
{
        if (!link->idle && ice_agent_state(link->agent) == ICE_STATE_CONNECTED &&
            now >= link->last_activity + ICE_LINK_IDLE_AFTER) {
                link->idle = true;
                ice_agent_set_profile(link->agent, idle_profile(link->active_profile));
        }
        for (size_t i = 0; i < link->n_relays; i++)
                if (turn_client_poll_timeout(link->relays[i]) <= now)
                        turn_client_handle_timeout(link->relays[i], now);
        pump(link, now);
        if (ice_agent_poll_timeout(link->agent) <= now)
                ice_agent_handle_timeout(link->agent, now);
        pump(link, now);
}

uint64_t ice_link_poll_timeout(const struct ice_link *link)
{
        uint64_t t = ice_agent_poll_timeout(link->agent);

        if (!link->idle && ice_agent_state(link->agent) == ICE_STATE_CONNECTED &&
            link->last_activity + ICE_LINK_IDLE_AFTER < t)
                t = link->last_activity + ICE_LINK_IDLE_AFTER;
        for (size_t i = 0; i < link->n_relays; i++) {
                uint64_t r = turn_client_poll_timeout(link->relays[i]);

                if (r < t)
                        t = r;
        }
        return t;
}

bool ice_link_poll_transmit(struct ice_link *link, struct ice_transmit *ret)
{
        while (ice_txq_pop(&link->txq, ret))
                if (ret->len > 0)
                        return true;
        return false;
}

bool ice_link_poll_event(struct ice_link *link, struct ice_link_event *ret)
{
        if (link->ev_count == 0)
                return false;
        *ret = link->events[link->ev_head];
        link->ev_head = (link->ev_head + 1) % ICE_LINK_MAX_EVENTS;
        link->ev_count--;
        return true;
}
