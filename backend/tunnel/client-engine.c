/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/client-engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/tunnel/action-queue.h"
#include "backend/tunnel/p2p-control.h"

#define DATA_TXQ           256
#define MAX_AUTHORIZATIONS 64

/* What authorization_created said about a gateway, kept until client-state asks to connect. */
struct gateway_auth {
        char gateway_id[KILN_ID_MAX + 1];
        uint8_t public_key[WG_KEY_LEN];
        uint8_t psk[WG_KEY_LEN];
        char local_ufrag[KILN_NODE_CREDS_MAX + 1], local_pwd[KILN_NODE_CREDS_MAX + 1];
        char remote_ufrag[KILN_NODE_CREDS_MAX + 1], remote_pwd[KILN_NODE_CREDS_MAX + 1];
};

struct kiln_client_engine {
        struct kiln_client_engine_config cfg;
        struct kiln_node *node;
        struct kiln_client *state;
        struct kiln_action_queue out;
        JsonNode *returned_payload;
        struct ice_txq txq; /* encrypted data, ahead of the node's own datagrams */
        struct gateway_auth auths[MAX_AUTHORIZATIONS];
        size_t n_auths;
        struct kiln_dns_upstream system_upstreams[8];
        size_t n_system_upstreams;
        bool portal_upstreams;
        bool internet_enabled;
        uint8_t scratch[ICE_MAX_DATAGRAM];
};

struct kiln_client_engine *kiln_client_engine_new(const struct kiln_client_engine_config *cfg, uint64_t now)
{
        struct kiln_client_engine *e = calloc(1, sizeof(*e));
        struct kiln_node_config nc = {
                .controlling = true,
                .seed = cfg->seed,
                .deterministic = cfg->deterministic,
                .private_key = cfg->private_key,
        };

        if (!e)
                return NULL;
        e->cfg = *cfg;
        e->cfg.private_key = NULL;
        kiln_action_queue_init(&e->out, sizeof(struct kiln_client_output));
        e->node = kiln_node_new(&nc, now);
        if (!e->node || ice_txq_init(&e->txq, DATA_TXQ) < 0) {
                kiln_client_engine_free(e);
                return NULL;
        }
        return e;
}

void kiln_client_engine_free(struct kiln_client_engine *e)
{
        struct kiln_client_output o;

        if (!e)
                return;
        while (kiln_client_engine_poll_output(e, &o))
                ;
        g_clear_pointer(&e->returned_payload, json_node_unref);
        kiln_action_queue_clear(&e->out);
        kiln_client_free(e->state);
        kiln_node_free(e->node);
        ice_txq_release(&e->txq);
        sodium_memzero(e->auths, sizeof(e->auths));
        free(e);
}

void kiln_client_engine_public_key(const struct kiln_client_engine *e, uint8_t ret[static WG_KEY_LEN])
{
        kiln_node_public_key(e->node, ret);
}

struct kiln_client *kiln_client_engine_state(struct kiln_client_engine *e)
{
        return e->state;
}

struct kiln_node *kiln_client_engine_node(struct kiln_client_engine *e)
{
        return e->node;
}

static struct kiln_client_output *emit(struct kiln_client_engine *e, enum kiln_client_output_type type,
                                       const uint8_t *data, size_t len)
{
        const uint8_t *copy;
        struct kiln_client_output *o = kiln_action_queue_push(&e->out, data, len, &copy);

        if (!o)
                return NULL;
        o->type = type;
        o->data = copy;
        o->len = len;
        return o;
}

static void emit_portal(struct kiln_client_engine *e, const char *event, JsonNode *payload)
{
        struct kiln_client_output *o;

        if (!payload)
                return;
        o = emit(e, KILN_CLIENT_OUTPUT_PORTAL, NULL, 0);
        if (!o) {
                json_node_unref(payload);
                return;
        }
        o->event = event;
        o->payload = payload;
}

int kiln_relay_addr_parse(const char *text, struct ice_addr *ret)
{
        char ip[64];
        const char *port_s;
        char *end;
        unsigned long port;
        size_t n;

        if (!text)
                return -EINVAL;
        if (text[0] == '[') {
                const char *close = strchr(text, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                n = (size_t)(close - text - 1);
                if (n >= sizeof(ip))
                        return -EINVAL;
                memcpy(ip, text + 1, n);
                port_s = close + 2;
        } else {
                const char *colon = strrchr(text, ':');

                if (!colon || strchr(text, ':') != colon)
                        return -EINVAL;
                n = (size_t)(colon - text);
                if (n >= sizeof(ip))
                        return -EINVAL;
                memcpy(ip, text, n);
                port_s = colon + 1;
        }
        ip[n] = '\0';
        if (!*port_s)
                return -EINVAL;
        port = strtoul(port_s, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -EINVAL;
        return ice_addr_from_ip_string(ret, ip, (uint16_t)port);
}

int kiln_resource_from_portal(const KilnPortalResource *in, struct kiln_resource *ret)
{
        struct kiln_resource r = { 0 };

        switch (in->type) {
        case KILN_PORTAL_RESOURCE_DNS:
                r.type = KILN_RESOURCE_DNS;
                break;
        case KILN_PORTAL_RESOURCE_CIDR:
                r.type = KILN_RESOURCE_CIDR;
                break;
        case KILN_PORTAL_RESOURCE_INTERNET:
                r.type = KILN_RESOURCE_INTERNET;
                break;
        default:
                return -EOPNOTSUPP;
        }
        if (!in->id || strlen(in->id) > KILN_ID_MAX)
                return -EINVAL;
        strcpy(r.id, in->id);
        if (in->address) {
                if (strlen(in->address) > KILN_RESOURCE_ADDRESS_MAX)
                        return -EINVAL;
                strcpy(r.address, in->address);
        }
        r.ip_stack = in->ip_stack == KILN_PORTAL_IP_STACK_IPV4_ONLY   ? KILN_IP_STACK_IPV4_ONLY
                     : in->ip_stack == KILN_PORTAL_IP_STACK_IPV6_ONLY ? KILN_IP_STACK_IPV6_ONLY
                                                                      : KILN_IP_STACK_DUAL;
        for (guint i = 0; in->filters && i < in->filters->len; i++) {
                const KilnPortalFilter *f = &g_array_index(in->filters, KilnPortalFilter, i);
                struct kiln_filter *k;

                if (r.n_filters == KILN_RESOURCE_MAX_FILTERS)
                        return -EINVAL;
                k = &r.filters[r.n_filters++];
                k->proto = f->protocol == KILN_PORTAL_FILTER_TCP   ? KILN_IPPROTO_TCP
                           : f->protocol == KILN_PORTAL_FILTER_UDP ? KILN_IPPROTO_UDP
                                                                   : KILN_IPPROTO_ICMP;
                k->port_start = f->port_range_start;
                k->port_end = f->port_range_end;
        }
        for (guint i = 0; in->sites && i < in->sites->len && r.n_sites < KILN_RESOURCE_MAX_SITES; i++) {
                const KilnPortalSite *s = g_ptr_array_index(in->sites, i);

                if (s->id && strlen(s->id) <= KILN_ID_MAX)
                        strcpy(r.sites[r.n_sites++], s->id);
        }
        *ret = r;
        return 0;
}

static void apply_upstreams(struct kiln_client_engine *e, const KilnPortalInterface *iface)
{
        struct kiln_dns_upstream u[8];
        size_t n = 0;

        for (guint i = 0; iface && iface->upstream_do53 && i < iface->upstream_do53->len && n < 8; i++)
                if (kiln_ip_addr_parse(g_ptr_array_index(iface->upstream_do53, i), &u[n].addr) == 0)
                        u[n++].port = 53;
        e->portal_upstreams = n > 0;
        if (!e->state)
                return;
        if (n > 0)
                kiln_client_set_upstreams(e->state, u, n);
        else
                kiln_client_set_upstreams(e->state, e->system_upstreams, e->n_system_upstreams);
}

int kiln_client_engine_set_system_upstreams(struct kiln_client_engine *e, const struct kiln_dns_upstream *u,
                                            size_t n)
{
        if (n > G_N_ELEMENTS(e->system_upstreams))
                return -EINVAL;
        memcpy(e->system_upstreams, u, n * sizeof(*u));
        e->n_system_upstreams = n;
        if (e->state && !e->portal_upstreams)
                return kiln_client_set_upstreams(e->state, u, n);
        return 0;
}

int kiln_client_engine_reset(struct kiln_client_engine *e, uint64_t now)
{
        const char *id;

        /* Gateways are authorized again on the next packet, with the new key. */
        while (e->state && (id = kiln_node_peer_at(e->node, 0))) {
                char gateway_id[KILN_NODE_ID_MAX + 1];

                snprintf(gateway_id, sizeof(gateway_id), "%s", id);
                kiln_node_close(e->node, gateway_id);
                kiln_client_handle_gateway_closed(e->state, gateway_id);
        }
        sodium_memzero(e->auths, sizeof(e->auths));
        e->n_auths = 0;
        return kiln_node_reset(e->node, NULL, now);
}

void kiln_client_engine_set_internet_enabled(struct kiln_client_engine *e, bool enabled)
{
        e->internet_enabled = enabled;
        if (e->state)
                kiln_client_set_internet_enabled(e->state, enabled);
}

static void upsert_relay(struct kiln_client_engine *e, const KilnPortalRelay *r, uint64_t now)
{
        struct kiln_node_relay nr = { 0 };

        if (r->type != KILN_PORTAL_RELAY_TURN || !r->id || !r->username || !r->password ||
            strlen(r->id) > KILN_NODE_ID_MAX || strlen(r->username) >= TURN_MAX_TEXT ||
            strlen(r->password) >= TURN_MAX_TEXT || kiln_relay_addr_parse(r->addr, &nr.addr) < 0)
                return;
        strcpy(nr.id, r->id);
        strcpy(nr.username, r->username);
        strcpy(nr.password, r->password);
        kiln_node_upsert_relay(e->node, &nr, now);
        sodium_memzero(&nr, sizeof(nr));
}

static int handle_init(struct kiln_client_engine *e, const KilnPortalInit *init, uint64_t now)
{
        if (!e->state) {
                struct kiln_client_config cc = { .seed = e->cfg.seed };

                if (init->interface && init->interface->ipv4)
                        kiln_ip_addr_parse(init->interface->ipv4, &cc.tun_ipv4);
                if (init->interface && init->interface->ipv6)
                        kiln_ip_addr_parse(init->interface->ipv6, &cc.tun_ipv6);
                e->state = kiln_client_new(&cc);
                if (!e->state)
                        return -ENOMEM;
                kiln_client_set_internet_enabled(e->state, e->internet_enabled);
        }
        apply_upstreams(e, init->interface);
        /* A re-sent init is the whole truth: resources it no longer lists are gone. */
        for (size_t i = kiln_resources_count(kiln_client_resources(e->state)); i-- > 0;) {
                const struct kiln_resource *have = kiln_resources_at(kiln_client_resources(e->state), i);
                bool listed = false;

                for (guint k = 0; init->resources && k < init->resources->len && !listed; k++) {
                        const KilnPortalResource *pr = g_ptr_array_index(init->resources, k);

                        listed = pr->id && !strcmp(pr->id, have->id);
                }
                if (!listed)
                        kiln_client_remove_resource(e->state, have->id);
        }
        for (guint i = 0; init->resources && i < init->resources->len; i++) {
                struct kiln_resource r;

                if (kiln_resource_from_portal(g_ptr_array_index(init->resources, i), &r) == 0)
                        kiln_client_upsert_resource(e->state, &r);
        }
        for (guint i = 0; init->relays && i < init->relays->len; i++)
                upsert_relay(e, g_ptr_array_index(init->relays, i), now);
        return 0;
}

static struct gateway_auth *find_auth(struct kiln_client_engine *e, const char *gateway_id)
{
        for (size_t i = 0; i < e->n_auths; i++)
                if (!strcmp(e->auths[i].gateway_id, gateway_id))
                        return &e->auths[i];
        return NULL;
}

static bool copy_cred(char *dst, const char *src)
{
        if (!src || strlen(src) > KILN_NODE_CREDS_MAX)
                return false;
        strcpy(dst, src);
        return true;
}

static void peer_config(const struct gateway_auth *a, struct kiln_node_peer_config *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->peer_id = a->gateway_id;
        memcpy(ret->public_key, a->public_key, WG_KEY_LEN);
        memcpy(ret->preshared_key, a->psk, WG_KEY_LEN);
        ret->local_ufrag = a->local_ufrag;
        ret->local_pwd = a->local_pwd;
        ret->remote_ufrag = a->remote_ufrag;
        ret->remote_pwd = a->remote_pwd;
}

static void process(struct kiln_client_engine *e, uint64_t now);

static int handle_authorized(struct kiln_client_engine *e, const KilnPortalAuthorizationCreated *a,
                             uint64_t now)
{
        struct gateway_auth auth = { 0 };
        struct gateway_auth *slot;
        struct kiln_ip_addr v4 = { 0 }, v6 = { 0 };
        int r;

        if (!e->state)
                return -ENOTCONN;
        if (!a->gateway_id || strlen(a->gateway_id) > KILN_ID_MAX || !a->resource_id)
                return -EINVAL;
        strcpy(auth.gateway_id, a->gateway_id);
        memcpy(auth.public_key, a->gateway_public_key, WG_KEY_LEN);
        memcpy(auth.psk, a->preshared_key, WG_KEY_LEN);
        if (!copy_cred(auth.local_ufrag, a->client_ice_credentials.username) ||
            !copy_cred(auth.local_pwd, a->client_ice_credentials.password) ||
            !copy_cred(auth.remote_ufrag, a->gateway_ice_credentials.username) ||
            !copy_cred(auth.remote_pwd, a->gateway_ice_credentials.password)) {
                sodium_memzero(&auth, sizeof(auth));
                return -EINVAL;
        }
        slot = find_auth(e, a->gateway_id);
        if (!slot) {
                if (e->n_auths == MAX_AUTHORIZATIONS)
                        memmove(&e->auths[0], &e->auths[1], sizeof(e->auths[0]) * --e->n_auths);
                slot = &e->auths[e->n_auths++];
        }
        *slot = auth;
        sodium_memzero(&auth, sizeof(auth));
        /* New key or credentials for a gateway we are connected to (it restarted, or the
         * portal re-keyed): drop that connection, so that client-state connects afresh
         * (Firezone's upsert_connection). */
        if (kiln_node_has_peer(e->node, a->gateway_id)) {
                struct kiln_node_peer_config pc;
                bool same;

                peer_config(slot, &pc);
                same = kiln_node_peer_matches(e->node, &pc);
                sodium_memzero(&pc, sizeof(pc));
                if (!same) {
                        kiln_node_close(e->node, a->gateway_id);
                        kiln_client_handle_gateway_closed(e->state, a->gateway_id);
                }
        }
        if (a->gateway_ipv4)
                kiln_ip_addr_parse(a->gateway_ipv4, &v4);
        if (a->gateway_ipv6)
                kiln_ip_addr_parse(a->gateway_ipv6, &v6);
        r = kiln_client_handle_authorized(e->state, now, a->resource_id, a->gateway_id,
                                          v4.family ? &v4 : NULL, v6.family ? &v6 : NULL);
        process(e, now);
        return r;
}

static void connect_gateway(struct kiln_client_engine *e, const char *gateway_id, uint64_t now)
{
        struct gateway_auth *a = find_auth(e, gateway_id);
        struct kiln_node_peer_config pc;
        int r;

        if (!a) {
                kiln_client_handle_gateway_closed(e->state, gateway_id);
                return;
        }
        peer_config(a, &pc);
        r = kiln_node_connect(e->node, &pc, now);
        sodium_memzero(&pc, sizeof(pc));
        if (r < 0) {
                struct kiln_client_output *o = emit(e, KILN_CLIENT_OUTPUT_GATEWAY_FAILED, NULL, 0);

                if (o) {
                        snprintf(o->gateway_id, sizeof(o->gateway_id), "%s", gateway_id);
                        snprintf(o->reason, sizeof(o->reason), "cannot connect: %s", strerror(-r));
                }
                kiln_client_handle_gateway_closed(e->state, gateway_id);
                return;
        }
        if (r == 1 && kiln_node_is_established(e->node, gateway_id))
                kiln_client_handle_gateway_connected(e->state, now, gateway_id);
}

static void request_authorization(struct kiln_client_engine *e, const char *resource_id)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) connected = g_ptr_array_new();
        const char *id;
        JsonNode *payload;

        /* The portal prefers gateways we already have a connection to. */
        for (size_t i = 0; (id = kiln_node_peer_at(e->node, i)); i++)
                if (kiln_node_is_established(e->node, id))
                        g_ptr_array_add(connected, (gpointer)id);
        g_ptr_array_add(connected, NULL);
        payload = kiln_portal_build_request_authorization(
            resource_id, connected->len > 1 ? (const char *const *)connected->pdata : NULL, NULL, NULL,
            &error);
        emit_portal(e, KILN_PORTAL_EVENT_REQUEST_AUTHORIZATION, payload);
}

static void send_to_gateway(struct kiln_client_engine *e, const char *gateway_id, const uint8_t *pkt,
                            size_t len, uint64_t now)
{
        struct ice_transmit *t = ice_txq_push(&e->txq);

        if (!t)
                return;
        if (kiln_node_encapsulate(e->node, gateway_id, pkt, len, t, now) != 1)
                t->len = 0;
}

size_t kiln_client_engine_goodbye(struct kiln_client_engine *e, uint64_t now)
{
        const struct kiln_p2p_message m = { .type = KILN_P2P_GOODBYE };
        uint8_t pkt[KILN_P2P_MAX_PACKET];
        ssize_t len = kiln_p2p_build(&m, pkt, sizeof(pkt));
        const char *id;
        size_t n = 0;

        if (len < 0)
                return 0;
        for (size_t i = 0; (id = kiln_node_peer_at(e->node, i)); i++) {
                if (!kiln_node_is_established(e->node, id))
                        continue;
                send_to_gateway(e, id, pkt, (size_t)len, now);
                n++;
        }
        return n;
}

static bool state_actions(struct kiln_client_engine *e, uint64_t now)
{
        struct kiln_client_action a;
        struct kiln_client_output *o;
        bool any = false;

        while (e->state && kiln_client_poll_action(e->state, &a)) {
                any = true;
                switch (a.type) {
                case KILN_CLIENT_WRITE_TUN:
                        emit(e, KILN_CLIENT_OUTPUT_TUN, a.data, a.len);
                        break;
                case KILN_CLIENT_REQUEST_AUTHORIZATION:
                        request_authorization(e, a.resource_id);
                        break;
                case KILN_CLIENT_CONNECT_GATEWAY:
                        connect_gateway(e, a.gateway_id, now);
                        break;
                case KILN_CLIENT_SEND_TO_GATEWAY:
                        send_to_gateway(e, a.gateway_id, a.data, a.len, now);
                        break;
                case KILN_CLIENT_CLOSE_GATEWAY:
                        kiln_node_close(e->node, a.gateway_id);
                        break;
                case KILN_CLIENT_DNS_QUERY:
                        o = emit(e, KILN_CLIENT_OUTPUT_DNS_QUERY, a.data, a.len);
                        if (o) {
                                o->upstream = a.upstream;
                                o->tcp = a.tcp;
                        }
                        break;
                case KILN_CLIENT_AUTHORIZATION_FAILED:
                case KILN_CLIENT_DOMAIN_INACTIVE:
                        o = emit(e,
                                 a.type == KILN_CLIENT_AUTHORIZATION_FAILED
                                     ? KILN_CLIENT_OUTPUT_AUTHORIZATION_FAILED
                                     : KILN_CLIENT_OUTPUT_DOMAIN_INACTIVE,
                                 NULL, 0);
                        if (o) {
                                strcpy(o->resource_id, a.resource_id);
                                snprintf(o->reason, sizeof(o->reason), "%s", a.reason);
                        }
                        break;
                case KILN_CLIENT_DNS_RECORDS_CHANGED:
                        emit(e, KILN_CLIENT_OUTPUT_DNS_RECORDS_CHANGED, NULL, 0);
                        break;
                }
        }
        return any;
}

static void candidate_message(struct kiln_client_engine *e, const char *event, const char *gateway_id,
                              const char *sdp)
{
        g_autoptr(GError) error = NULL;
        const char *const list[] = { sdp, NULL };

        emit_portal(e, event, kiln_portal_build_ice_candidates("gateway_id", gateway_id, list, &error));
}

static bool node_events(struct kiln_client_engine *e, uint64_t now)
{
        struct kiln_node_event ev;
        struct kiln_client_output *o;
        bool any = false;

        while (kiln_node_poll_event(e->node, &ev)) {
                any = true;
                switch (ev.type) {
                case KILN_NODE_EVENT_CANDIDATE:
                        candidate_message(e, KILN_PORTAL_EVENT_NEW_GATEWAY_ICE_CANDIDATES, ev.peer_id,
                                          ev.sdp);
                        break;
                case KILN_NODE_EVENT_CANDIDATE_INVALIDATED:
                        candidate_message(e, KILN_PORTAL_EVENT_INVALIDATE_GATEWAY_ICE_CANDIDATES, ev.peer_id,
                                          ev.sdp);
                        break;
                case KILN_NODE_EVENT_ESTABLISHED:
                case KILN_NODE_EVENT_PATH_CHANGED:
                        o = emit(e,
                                 ev.type == KILN_NODE_EVENT_ESTABLISHED
                                     ? KILN_CLIENT_OUTPUT_GATEWAY_CONNECTED
                                     : KILN_CLIENT_OUTPUT_GATEWAY_PATH_CHANGED,
                                 NULL, 0);
                        if (o) {
                                snprintf(o->gateway_id, sizeof(o->gateway_id), "%s", ev.peer_id);
                                o->via_relay = ev.via_relay;
                                o->time_to_connect = ev.time_to_connect;
                        }
                        if (ev.type == KILN_NODE_EVENT_ESTABLISHED && e->state)
                                kiln_client_handle_gateway_connected(e->state, now, ev.peer_id);
                        break;
                case KILN_NODE_EVENT_FAILED:
                        o = emit(e, KILN_CLIENT_OUTPUT_GATEWAY_FAILED, NULL, 0);
                        if (o) {
                                snprintf(o->gateway_id, sizeof(o->gateway_id), "%s", ev.peer_id);
                                snprintf(o->reason, sizeof(o->reason), "%s", ev.reason);
                        }
                        if (e->state)
                                kiln_client_handle_gateway_closed(e->state, ev.peer_id);
                        break;
                }
        }
        return any;
}

/* State actions can produce node events (a connect) and node events state actions (a replay
 * once connected): run both until neither has anything left. */
static void process(struct kiln_client_engine *e, uint64_t now)
{
        bool more = true;

        while (more)
                more = state_actions(e, now) | node_events(e, now);
}

int kiln_client_engine_handle_portal(struct kiln_client_engine *e, const KilnPortalMessage *msg,
                                     uint64_t now)
{
        int r = 0;

        switch (msg->kind) {
        case KILN_PORTAL_MESSAGE_INIT:
                r = handle_init(e, msg->init, now);
                break;
        case KILN_PORTAL_MESSAGE_CONFIG_CHANGED:
                apply_upstreams(e, msg->interface);
                break;
        case KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED: {
                struct kiln_resource res;

                if (!e->state)
                        return -ENOTCONN;
                r = kiln_resource_from_portal(msg->resource, &res);
                if (r == 0)
                        r = kiln_client_upsert_resource(e->state, &res);
                break;
        }
        case KILN_PORTAL_MESSAGE_RESOURCE_DELETED:
                if (e->state)
                        r = kiln_client_remove_resource(e->state, msg->resource_id);
                break;
        case KILN_PORTAL_MESSAGE_RELAYS_PRESENCE:
                for (guint i = 0; msg->relays_presence->disconnected_ids &&
                                  i < msg->relays_presence->disconnected_ids->len;
                     i++)
                        kiln_node_remove_relay(e->node,
                                               g_ptr_array_index(msg->relays_presence->disconnected_ids, i));
                for (guint i = 0;
                     msg->relays_presence->connected && i < msg->relays_presence->connected->len; i++)
                        upsert_relay(e, g_ptr_array_index(msg->relays_presence->connected, i), now);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED:
                r = handle_authorized(e, msg->authorization_created, now);
                break;
        case KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED:
                if (e->state)
                        kiln_client_handle_authorization_failed(
                            e->state, msg->authorization_failed->resource_id,
                            kiln_portal_fail_reason_to_string(msg->authorization_failed->reason));
                break;
        case KILN_PORTAL_MESSAGE_ICE_CANDIDATES:
        case KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES: {
                const KilnPortalIceCandidates *c = msg->ice_candidates;
                bool add = msg->kind == KILN_PORTAL_MESSAGE_ICE_CANDIDATES;

                for (guint i = 0; c->peer_id && c->candidates && i < c->candidates->len; i++) {
                        const char *sdp = g_ptr_array_index(c->candidates, i);

                        if (add)
                                kiln_node_add_remote_candidate(e->node, c->peer_id, sdp, now);
                        else
                                kiln_node_remove_remote_candidate(e->node, c->peer_id, sdp, now);
                }
                break;
        }
        default:
                /* Device pools (client-to-client) and disconnect are the session's business. */
                break;
        }
        process(e, now);
        return r;
}

void kiln_client_engine_handle_tun_packet(struct kiln_client_engine *e, const uint8_t *pkt, size_t len,
                                          uint64_t now)
{
        if (!e->state)
                return;
        kiln_client_handle_tun_packet(e->state, now, pkt, len);
        process(e, now);
}

void kiln_client_engine_handle_datagram(struct kiln_client_engine *e, const struct ice_addr *local,
                                        const struct ice_addr *from, const uint8_t *buf, size_t len,
                                        uint64_t now)
{
        const char *gateway_id;
        size_t n;

        if (kiln_node_handle_input(e->node, local, from, buf, len, now, e->scratch, sizeof(e->scratch), &n,
                                   &gateway_id) == 1 &&
            e->state)
                kiln_client_handle_gateway_packet(e->state, now, gateway_id, e->scratch, n);
        process(e, now);
}

void kiln_client_engine_handle_dns_reply(struct kiln_client_engine *e, const struct kiln_ip_addr *from,
                                         const uint8_t *reply, size_t len, uint64_t now)
{
        if (!e->state)
                return;
        kiln_client_handle_dns_reply(e->state, now, from, reply, len);
        process(e, now);
}

void kiln_client_engine_handle_timeout(struct kiln_client_engine *e, uint64_t now)
{
        if (kiln_node_poll_timeout(e->node) <= now)
                kiln_node_handle_timeout(e->node, now);
        if (e->state && kiln_client_poll_timeout(e->state) <= now)
                kiln_client_handle_timeout(e->state, now);
        process(e, now);
}

uint64_t kiln_client_engine_poll_timeout(const struct kiln_client_engine *e)
{
        uint64_t t = kiln_node_poll_timeout(e->node);

        if (e->state) {
                uint64_t s = kiln_client_poll_timeout(e->state);

                if (s < t)
                        t = s;
        }
        return t;
}

bool kiln_client_engine_poll_transmit(struct kiln_client_engine *e, struct ice_transmit *ret, uint64_t now)
{
        while (ice_txq_pop(&e->txq, ret))
                if (ret->len > 0)
                        return true;
        if (kiln_node_poll_transmit(e->node, ret, now))
                return true;
        return false;
}

bool kiln_client_engine_poll_output(struct kiln_client_engine *e, struct kiln_client_output *ret)
{
        g_clear_pointer(&e->returned_payload, json_node_unref);
        if (!kiln_action_queue_pop(&e->out, ret))
                return false;
        e->returned_payload = ret->payload;
        return true;
}
