/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/gateway-engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/tunnel/action-queue.h"

#define DATA_TXQ 256

struct kiln_gateway_engine {
        struct kiln_node *node;
        struct kiln_gateway *state;
        struct kiln_action_queue out;
        struct ice_txq txq; /* encrypted data, ahead of the node's own datagrams */
        uint8_t scratch[ICE_MAX_DATAGRAM];
};

struct kiln_gateway_engine *kiln_gateway_engine_new(const struct kiln_gateway_engine_config *cfg,
                                                    uint64_t now)
{
        struct kiln_gateway_engine *e = calloc(1, sizeof(*e));
        struct kiln_node_config nc = {
                .controlling = false,
                .seed = cfg->seed,
                .deterministic = cfg->deterministic,
                .private_key = cfg->private_key,
        };

        if (!e)
                return NULL;
        kiln_action_queue_init(&e->out, sizeof(struct kiln_gateway_output));
        e->node = kiln_node_new(&nc, now);
        e->state = kiln_gateway_new();
        if (!e->node || !e->state || ice_txq_init(&e->txq, DATA_TXQ) < 0) {
                kiln_gateway_engine_free(e);
                return NULL;
        }
        return e;
}

void kiln_gateway_engine_free(struct kiln_gateway_engine *e)
{
        if (!e)
                return;
        kiln_action_queue_clear(&e->out);
        kiln_gateway_free(e->state);
        kiln_node_free(e->node);
        ice_txq_release(&e->txq);
        free(e);
}

void kiln_gateway_engine_public_key(const struct kiln_gateway_engine *e, uint8_t ret[static WG_KEY_LEN])
{
        kiln_node_public_key(e->node, ret);
}

struct kiln_gateway *kiln_gateway_engine_state(struct kiln_gateway_engine *e)
{
        return e->state;
}

struct kiln_node *kiln_gateway_engine_node(struct kiln_gateway_engine *e)
{
        return e->node;
}

static struct kiln_gateway_output *emit(struct kiln_gateway_engine *e, enum kiln_gateway_output_type type,
                                        const char *client_id, const uint8_t *data, size_t len)
{
        const uint8_t *copy;
        struct kiln_gateway_output *o = kiln_action_queue_push(&e->out, data, len, &copy);

        if (!o)
                return NULL;
        o->type = type;
        o->data = copy;
        o->len = len;
        if (client_id)
                snprintf(o->client_id, sizeof(o->client_id), "%s", client_id);
        return o;
}

static bool state_actions(struct kiln_gateway_engine *e, uint64_t now)
{
        struct kiln_gateway_action a;
        struct kiln_gateway_output *o;
        bool any = false;

        while (kiln_gateway_poll_action(e->state, &a)) {
                struct ice_transmit *t;

                any = true;
                switch (a.type) {
                case KILN_GATEWAY_WRITE_TUN:
                        emit(e, KILN_GATEWAY_OUTPUT_TUN, NULL, a.data, a.len);
                        break;
                case KILN_GATEWAY_SEND_TO_CLIENT:
                        /* No buffering on the gateway (spec §6.5): dropped while connecting. */
                        t = ice_txq_push(&e->txq);
                        if (t && kiln_node_encapsulate(e->node, a.client_id, a.data, a.len, t, now) != 1)
                                t->len = 0;
                        break;
                case KILN_GATEWAY_RESOLVE_DNS:
                        o = emit(e, KILN_GATEWAY_OUTPUT_RESOLVE_DNS, a.client_id, NULL, 0);
                        if (o) {
                                strcpy(o->resource_id, a.resource_id);
                                strcpy(o->domain, a.domain);
                        }
                        break;
                case KILN_GATEWAY_CLOSE_CLIENT:
                        /* The GOODBYE queued just before has been encrypted already. */
                        kiln_node_close(e->node, a.client_id);
                        break;
                }
        }
        return any;
}

static bool node_events(struct kiln_gateway_engine *e)
{
        struct kiln_node_event ev;
        struct kiln_gateway_output *o;
        bool any = false;

        while (kiln_node_poll_event(e->node, &ev)) {
                any = true;
                switch (ev.type) {
                case KILN_NODE_EVENT_CANDIDATE:
                case KILN_NODE_EVENT_CANDIDATE_INVALIDATED:
                        o = emit(e,
                                 ev.type == KILN_NODE_EVENT_CANDIDATE
                                     ? KILN_GATEWAY_OUTPUT_CANDIDATE
                                     : KILN_GATEWAY_OUTPUT_CANDIDATE_INVALIDATED,
                                 ev.peer_id, NULL, 0);
                        if (o)
                                memcpy(o->sdp, ev.sdp, sizeof(o->sdp));
                        break;
                case KILN_NODE_EVENT_ESTABLISHED:
                        o = emit(e, KILN_GATEWAY_OUTPUT_CLIENT_CONNECTED, ev.peer_id, NULL, 0);
                        if (o) {
                                o->via_relay = ev.via_relay;
                                o->time_to_connect = ev.time_to_connect;
                        }
                        break;
                case KILN_NODE_EVENT_PATH_CHANGED:
                        break;
                case KILN_NODE_EVENT_FAILED:
                        o = emit(e, KILN_GATEWAY_OUTPUT_CLIENT_FAILED, ev.peer_id, NULL, 0);
                        if (o)
                                snprintf(o->reason, sizeof(o->reason), "%s", ev.reason);
                        break;
                }
        }
        return any;
}

static void process(struct kiln_gateway_engine *e, uint64_t now)
{
        bool more = true;

        while (more)
                more = state_actions(e, now) | node_events(e);
}

int kiln_gateway_engine_upsert_relay(struct kiln_gateway_engine *e, const struct kiln_node_relay *relay,
                                     uint64_t now)
{
        int r = kiln_node_upsert_relay(e->node, relay, now);

        process(e, now);
        return r;
}

void kiln_gateway_engine_remove_relay(struct kiln_gateway_engine *e, const char *relay_id)
{
        kiln_node_remove_relay(e->node, relay_id);
}

int kiln_gateway_engine_authorize(struct kiln_gateway_engine *e, const struct kiln_gateway_authorization *a,
                                  uint64_t now)
{
        struct kiln_node_peer_config pc = {
                .peer_id = a->client_id,
                .local_ufrag = a->gateway_ufrag,
                .local_pwd = a->gateway_pwd,
                .remote_ufrag = a->client_ufrag,
                .remote_pwd = a->client_pwd,
        };
        int r;

        if (!a->client_id || strlen(a->client_id) > KILN_ID_MAX || !a->resource)
                return -EINVAL;
        memcpy(pc.public_key, a->client_public_key, WG_KEY_LEN);
        memcpy(pc.preshared_key, a->preshared_key, WG_KEY_LEN);
        r = kiln_node_connect(e->node, &pc, now);
        sodium_memzero(&pc, sizeof(pc));
        if (r < 0)
                return r;
        r = kiln_gateway_authorize(
            e->state, now, a->client_id, a->client_ipv4.family ? &a->client_ipv4 : NULL,
            a->client_ipv6.family ? &a->client_ipv6 : NULL, a->resource, a->expires_at);
        process(e, now);
        return r;
}

void kiln_gateway_engine_revoke(struct kiln_gateway_engine *e, const char *client_id,
                                const char *resource_id, uint64_t now)
{
        kiln_gateway_revoke(e->state, now, client_id, resource_id);
        process(e, now);
}

void kiln_gateway_engine_update_resource(struct kiln_gateway_engine *e, const struct kiln_resource *resource)
{
        kiln_gateway_update_resource(e->state, resource);
}

int kiln_gateway_engine_add_candidate(struct kiln_gateway_engine *e, const char *client_id, const char *sdp,
                                      uint64_t now)
{
        int r = kiln_node_add_remote_candidate(e->node, client_id, sdp, now);

        process(e, now);
        return r;
}

int kiln_gateway_engine_remove_candidate(struct kiln_gateway_engine *e, const char *client_id,
                                         const char *sdp, uint64_t now)
{
        int r = kiln_node_remove_remote_candidate(e->node, client_id, sdp, now);

        process(e, now);
        return r;
}

void kiln_gateway_engine_handle_tun_packet(struct kiln_gateway_engine *e, const uint8_t *pkt, size_t len,
                                           uint64_t now)
{
        kiln_gateway_handle_tun_packet(e->state, now, pkt, len);
        process(e, now);
}

void kiln_gateway_engine_handle_datagram(struct kiln_gateway_engine *e, const struct ice_addr *local,
                                         const struct ice_addr *from, const uint8_t *buf, size_t len,
                                         uint64_t now)
{
        const char *client_id;
        size_t n;

        if (kiln_node_handle_input(e->node, local, from, buf, len, now, e->scratch, sizeof(e->scratch), &n,
                                   &client_id) == 1)
                kiln_gateway_handle_client_packet(e->state, now, client_id, e->scratch, n);
        process(e, now);
}

void kiln_gateway_engine_handle_dns_resolved(struct kiln_gateway_engine *e, const char *client_id,
                                             const char *resource_id, const char *domain,
                                             const struct kiln_ip_addr *addrs, size_t n, uint64_t now)
{
        kiln_gateway_handle_dns_resolved(e->state, now, client_id, resource_id, domain, addrs, n);
        process(e, now);
}

void kiln_gateway_engine_handle_timeout(struct kiln_gateway_engine *e, uint64_t now)
{
        if (kiln_node_poll_timeout(e->node) <= now)
                kiln_node_handle_timeout(e->node, now);
        if (kiln_gateway_poll_timeout(e->state) <= now)
                kiln_gateway_handle_timeout(e->state, now);
        process(e, now);
}

uint64_t kiln_gateway_engine_poll_timeout(const struct kiln_gateway_engine *e)
{
        uint64_t t = kiln_node_poll_timeout(e->node);
        uint64_t s = kiln_gateway_poll_timeout(e->state);

        return s < t ? s : t;
}

bool kiln_gateway_engine_poll_transmit(struct kiln_gateway_engine *e, struct ice_transmit *ret, uint64_t now)
{
        while (ice_txq_pop(&e->txq, ret))
                if (ret->len > 0)
                        return true;
        return kiln_node_poll_transmit(e->node, ret, now);
}

bool kiln_gateway_engine_poll_output(struct kiln_gateway_engine *e, struct kiln_gateway_output *ret)
{
        return kiln_action_queue_pop(&e->out, ret);
}
