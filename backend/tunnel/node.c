/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/keys.h"
#include "backend/ice/demux.h"
#include "backend/ice/stun.h"

#define NODE_EVENTS  256
#define NODE_TXQ     256
#define RELAY_CACHED 8
/* Firezone's wg_buffer holds 128; a connection here only ever needs its handshake answer
 * and a few staged packets before the first nomination. */
#define CONN_WG_BUFFER 8
/* Candidates that overtake the connection they belong to (the portal relays them as they
 * come; the peer can be faster than our own authorization message). */
#define PENDING_CANDIDATES 64

struct pending_candidate {
        char peer_id[KILN_NODE_ID_MAX + 1];
        char sdp[ICE_CANDIDATE_SDP_MAX];
};

struct relay {
        struct kiln_node_relay cfg;
        struct turn_client *tc;
        bool retired;
        /* Candidates it produced so far, replayed into connections made later. */
        struct turn_event cached[RELAY_CACHED];
        size_t n_cached;
};

struct wg_buffered {
        size_t len;
        uint8_t data[ICE_MAX_DATAGRAM];
};

struct conn {
        char id[KILN_NODE_ID_MAX + 1];
        uint8_t public_key[WG_KEY_LEN];
        char local_ufrag[KILN_NODE_CREDS_MAX + 1], local_pwd[KILN_NODE_CREDS_MAX + 1];
        char remote_ufrag[KILN_NODE_CREDS_MAX + 1], remote_pwd[KILN_NODE_CREDS_MAX + 1];
        struct wg_peer *peer;
        struct ice_link *link;
        size_t relay[ICE_LINK_MAX_RELAYS]; /* node relay index of link relay i */
        size_t n_relays;
        bool selected, established, failed;
        char fail_reason[96];
        struct ice_candidate sel_local, sel_remote;
        uint64_t created, last_initiation;
        uint64_t handshake_deadline; /* selected but no session by then: failed */
        bool initiated;
        struct wg_buffered *wg_buffer;
        size_t n_wg_buffer;
};

struct kiln_node {
        bool controlling;
        uint64_t seed;
        struct wg_rng rng;
        struct wg_device *dev;
        struct relay relays[KILN_NODE_MAX_RELAYS];
        size_t n_relays;
        struct conn **conns;
        size_t n_conns;
        uint64_t next_seed;
        struct kiln_node_event events[NODE_EVENTS];
        size_t ev_head, ev_count;
        struct ice_txq txq;
        struct pending_candidate pending[PENDING_CANDIDATES];
        size_t n_pending;
};

static struct kiln_node_event *push_event(struct kiln_node *node, enum kiln_node_event_type type,
                                          const struct conn *c)
{
        struct kiln_node_event *e;

        if (node->ev_count == NODE_EVENTS) {
                node->ev_head = (node->ev_head + 1) % NODE_EVENTS;
                node->ev_count--;
        }
        e = &node->events[(node->ev_head + node->ev_count++) % NODE_EVENTS];
        memset(e, 0, sizeof(*e));
        e->type = type;
        snprintf(e->peer_id, sizeof(e->peer_id), "%s", c->id);
        return e;
}

struct kiln_node *kiln_node_new(const struct kiln_node_config *cfg, uint64_t now)
{
        struct kiln_node *node = calloc(1, sizeof(*node));
        struct wg_timing timing;
        uint8_t key[WG_KEY_LEN];
        uint8_t seed[32] = { 0 };

        (void)now;
        if (!node)
                return NULL;
        if (kiln_crypto_init() < 0) {
                free(node);
                return NULL;
        }
        node->controlling = cfg->controlling;
        node->seed = cfg->seed;
        node->next_seed = cfg->seed * 1000003u + 17;
        if (cfg->deterministic) {
                memcpy(seed, &cfg->seed, sizeof(cfg->seed));
                wg_rng_init_seeded(&node->rng, seed);
        } else {
                wg_rng_init_system(&node->rng);
        }
        wg_timing_init_default(&timing);
        timing.rekey_attempt_time = KILN_NODE_REKEY_ATTEMPT;
        node->dev = wg_device_new(&timing, &node->rng);
        if (!node->dev || ice_txq_init(&node->txq, NODE_TXQ) < 0) {
                kiln_node_free(node);
                return NULL;
        }
        wg_device_set_source_check(node->dev, false);
        wg_device_set_mtu(node->dev, 1280);
        if (cfg->private_key) {
                memcpy(key, cfg->private_key, WG_KEY_LEN);
        } else if (cfg->deterministic) {
                wg_rng_fill(&node->rng, key, sizeof(key));
                curve25519_clamp_secret(key);
        } else {
                curve25519_generate_secret(key);
        }
        wg_device_set_private_key(node->dev, key);
        sodium_memzero(key, sizeof(key));
        return node;
}

static void conn_free(struct kiln_node *node, struct conn *c)
{
        if (!c)
                return;
        if (c->peer)
                wg_device_remove_peer(node->dev, c->peer);
        ice_link_free(c->link);
        free(c->wg_buffer);
        sodium_memzero(c, sizeof(*c));
        free(c);
}

void kiln_node_free(struct kiln_node *node)
{
        if (!node)
                return;
        for (size_t i = 0; i < node->n_conns; i++)
                conn_free(node, node->conns[i]);
        free(node->conns);
        for (size_t i = 0; i < node->n_relays; i++) {
                turn_client_free(node->relays[i].tc);
                sodium_memzero(&node->relays[i].cfg, sizeof(node->relays[i].cfg));
        }
        wg_device_free(node->dev);
        ice_txq_release(&node->txq);
        free(node);
}

void kiln_node_public_key(const struct kiln_node *node, uint8_t ret[static WG_KEY_LEN])
{
        wg_device_get_public_key(node->dev, ret);
}

struct wg_device *kiln_node_device(struct kiln_node *node)
{
        return node->dev;
}

static struct conn *find_conn(const struct kiln_node *node, const char *id)
{
        for (size_t i = 0; i < node->n_conns; i++)
                if (!strcmp(node->conns[i]->id, id))
                        return node->conns[i];
        return NULL;
}

static struct conn *conn_of_peer(const struct kiln_node *node, const struct wg_peer *peer)
{
        for (size_t i = 0; peer && i < node->n_conns; i++)
                if (node->conns[i]->peer == peer)
                        return node->conns[i];
        return NULL;
}

/* Which of the connection's link relays is node relay r, or -1. */
static int link_relay_index(const struct conn *c, size_t r)
{
        for (size_t i = 0; i < c->n_relays; i++)
                if (c->relay[i] == r)
                        return (int)i;
        return -1;
}

static void process(struct kiln_node *node, uint64_t now);

/* Retires relay r: new connections stop using it.  Connections that use it fail unless they
 * are on a direct path (all of them when `all`); the relay is freed once none uses it. */
static void retire_relay(struct kiln_node *node, size_t r, bool all)
{
        node->relays[r].retired = true;
        for (size_t i = 0; i < node->n_conns; i++) {
                struct conn *c = node->conns[i];

                if (link_relay_index(c, r) < 0 || c->failed ||
                    (!all && c->selected && c->sel_local.type != ICE_CANDIDATE_RELAY))
                        continue;
                c->failed = true;
                snprintf(c->fail_reason, sizeof(c->fail_reason), "relay %.40s disconnected",
                         node->relays[r].cfg.id);
        }
}

/* Frees retired relays no connection uses any more; before, a node whose relays restarted or
 * moved 16 times could not take another (-ENOSPC). */
static void gc_relays(struct kiln_node *node)
{
        for (size_t r = 0; r < node->n_relays;) {
                size_t last = node->n_relays - 1;
                bool used = false;

                for (size_t i = 0; i < node->n_conns && !used; i++)
                        used = link_relay_index(node->conns[i], r) >= 0;
                if (!node->relays[r].retired || used) {
                        r++;
                        continue;
                }
                turn_client_free(node->relays[r].tc);
                node->relays[r] = node->relays[last];
                memset(&node->relays[last], 0, sizeof(node->relays[last]));
                for (size_t i = 0; i < node->n_conns; i++)
                        for (size_t k = 0; k < node->conns[i]->n_relays; k++)
                                if (node->conns[i]->relay[k] == last)
                                        node->conns[i]->relay[k] = r;
                node->n_relays--;
        }
}

int kiln_node_upsert_relay(struct kiln_node *node, const struct kiln_node_relay *relay, uint64_t now)
{
        struct turn_client_config tc = { 0 };
        struct relay *r = NULL;

        for (size_t i = 0; i < node->n_relays; i++)
                if (!strcmp(node->relays[i].cfg.id, relay->id) && !node->relays[i].retired)
                        r = &node->relays[i];
        if (r && ice_addr_equal(&r->cfg.addr, &relay->addr)) {
                /* Rotated credentials: the allocation (keyed by our 3-tuple) stays. */
                int err = turn_client_set_credentials(r->tc, relay->username, relay->password);

                if (err == 0) {
                        snprintf(r->cfg.username, sizeof(r->cfg.username), "%s", relay->username);
                        snprintf(r->cfg.password, sizeof(r->cfg.password), "%s", relay->password);
                }
                return err;
        }
        /* A relay at an address we still talk to (a retired relay, or this id before): one
         * 5-tuple holds one allocation, and the server's datagrams would reach the old client
         * first.  That one goes, with every connection on it. */
        for (size_t i = 0; i < node->n_relays; i++)
                if (ice_addr_equal(&node->relays[i].cfg.addr, &relay->addr))
                        retire_relay(node, i, true);
        process(node, now);
        if (node->n_relays == KILN_NODE_MAX_RELAYS)
                return -ENOSPC;
        /* Another address: a fresh allocation for new connections; the ones using the old one
         * keep it while on a direct path. */
        for (size_t i = 0; i < node->n_relays; i++)
                if (!strcmp(node->relays[i].cfg.id, relay->id) && !node->relays[i].retired)
                        retire_relay(node, i, false);
        r = &node->relays[node->n_relays];
        memset(r, 0, sizeof(*r));
        r->cfg = *relay;
        tc.server = relay->addr;
        tc.username = r->cfg.username;
        tc.password = r->cfg.password;
        tc.allocate = true;
        tc.seed = node->next_seed++;
        r->tc = turn_client_new(&tc, now);
        if (!r->tc)
                return -ENOMEM;
        node->n_relays++;
        return 0;
}

void kiln_node_remove_relay(struct kiln_node *node, const char *id)
{
        /* The portal reports a relay gone when it disconnected (restarted, crashed): its
         * allocations are gone with it.  A connection still looking for a path, or on a path
         * through that relay, would wait for a peer that can no longer reach it and, on the
         * controlled side, never notice; it fails and the next packet starts a new one on the
         * relays that exist. */
        for (size_t r = 0; r < node->n_relays; r++)
                if (!strcmp(node->relays[r].cfg.id, id))
                        retire_relay(node, r, false);
}

size_t kiln_node_n_relays(const struct kiln_node *node)
{
        size_t n = 0;

        for (size_t i = 0; i < node->n_relays; i++)
                n += !node->relays[i].retired;
        return n;
}

static void cache_relay_event(struct relay *r, const struct turn_event *te)
{
        switch (te->type) {
        case TURN_EVENT_HOST_CANDIDATE:
        case TURN_EVENT_SRFLX_CANDIDATE:
        case TURN_EVENT_RELAY_CANDIDATE:
                for (size_t i = 0; i < r->n_cached; i++)
                        if (r->cached[i].type == te->type && ice_addr_equal(&r->cached[i].addr, &te->addr))
                                return;
                if (r->n_cached < RELAY_CACHED)
                        r->cached[r->n_cached++] = *te;
                break;
        case TURN_EVENT_RELAY_INVALIDATED:
                for (size_t i = 0; i < r->n_cached;)
                        if (r->cached[i].type == TURN_EVENT_RELAY_CANDIDATE &&
                            ice_addr_equal(&r->cached[i].addr, &te->addr))
                                r->cached[i] = r->cached[--r->n_cached];
                        else
                                i++;
                break;
        default:
                break;
        }
}

static void send_buffered(struct kiln_node *node, struct conn *c, uint64_t now)
{
        for (size_t i = 0; i < c->n_wg_buffer; i++) {
                struct ice_transmit *t = ice_txq_push(&node->txq);

                if (t && ice_link_encode(c->link, c->wg_buffer[i].data, c->wg_buffer[i].len, t, now) < 0)
                        t->len = 0;
        }
        c->n_wg_buffer = 0;
}

static void on_selected(struct kiln_node *node, struct conn *c, const struct ice_event *ev, uint64_t now)
{
        struct sockaddr_storage ss;
        struct wg_endpoint ep = { 0 };
        bool changed = c->selected && !(ice_candidate_same(&c->sel_local, &ev->local) &&
                                        ice_candidate_same(&c->sel_remote, &ev->remote));
        socklen_t n = ice_addr_to_sockaddr(&ev->remote.addr, &ss);

        if (n > 0 && n <= sizeof(ep))
                memcpy(&ep, &ss, n);
        /* The device needs an endpoint to send at all; the datagrams themselves always go out
         * on the selected pair (kiln_node_poll_transmit). */
        wg_peer_set_endpoint(c->peer, &ep);
        if (!c->selected)
                c->handshake_deadline = now + KILN_NODE_REKEY_ATTEMPT;
        c->selected = true;
        c->sel_local = ev->local;
        c->sel_remote = ev->remote;
        send_buffered(node, c, now);
        if (c->established && changed) {
                struct kiln_node_event *e = push_event(node, KILN_NODE_EVENT_PATH_CHANGED, c);

                e->via_relay =
                    ev->local.type == ICE_CANDIDATE_RELAY || ev->remote.type == ICE_CANDIDATE_RELAY;
                e->local_type = ev->local.type;
                e->remote_type = ev->remote.type;
        }
        if (node->controlling &&
            (!c->initiated || now - c->last_initiation >= KILN_NODE_HANDSHAKE_SUPPRESS)) {
                c->initiated = true;
                c->last_initiation = now;
                wg_peer_initiate_handshake(c->peer, now);
        }
}

static void conn_events(struct kiln_node *node, struct conn *c, uint64_t now)
{
        struct ice_link_event le;

        while (ice_link_poll_event(c->link, &le)) {
                struct kiln_node_event *e;

                if (le.type != ICE_LINK_EVENT_ICE)
                        continue;
                switch (le.ice.type) {
                case ICE_EVENT_LOCAL_CANDIDATE:
                case ICE_EVENT_LOCAL_CANDIDATE_INVALIDATED:
                        e = push_event(node,
                                       le.ice.type == ICE_EVENT_LOCAL_CANDIDATE
                                           ? KILN_NODE_EVENT_CANDIDATE
                                           : KILN_NODE_EVENT_CANDIDATE_INVALIDATED,
                                       c);
                        memcpy(e->sdp, le.ice.sdp, sizeof(e->sdp));
                        break;
                case ICE_EVENT_SELECTED:
                        on_selected(node, c, &le.ice, now);
                        break;
                case ICE_EVENT_FAILED:
                        c->failed = true;
                        /* The reason is clipped to what the event carries. */
                        snprintf(c->fail_reason, sizeof(c->fail_reason), "ICE failed: %.80s",
                                 le.ice.reason[0] ? le.ice.reason : "no path");
                        break;
                case ICE_EVENT_DISCONNECTED:
                case ICE_EVENT_ROLE_CHANGED:
                        break;
                }
        }
}

static void remove_conn_at(struct kiln_node *node, size_t i)
{
        conn_free(node, node->conns[i]);
        node->conns[i] = node->conns[--node->n_conns];
}

/* Fans relay events out, turns link events into node events, notices sessions. */
static void process(struct kiln_node *node, uint64_t now)
{
        struct turn_event te;

        for (size_t r = 0; r < node->n_relays; r++)
                while (turn_client_poll_event(node->relays[r].tc, &te)) {
                        cache_relay_event(&node->relays[r], &te);
                        for (size_t i = 0; i < node->n_conns; i++) {
                                int k = link_relay_index(node->conns[i], r);

                                if (k >= 0)
                                        ice_link_handle_relay_event(node->conns[i]->link, (size_t)k, &te,
                                                                    now);
                        }
                }
        for (size_t i = 0; i < node->n_conns;) {
                struct conn *c = node->conns[i];
                struct wg_peer_stats st;

                conn_events(node, c, now);
                if (c->failed) {
                        struct kiln_node_event *e = push_event(node, KILN_NODE_EVENT_FAILED, c);

                        snprintf(e->reason, sizeof(e->reason), "%s", c->fail_reason);
                        remove_conn_at(node, i);
                        continue;
                }
                if (!c->established && c->selected) {
                        wg_peer_get_stats(c->peer, &st);
                        if (!st.has_session && now >= c->handshake_deadline) {
                                /* Firezone: WireGuard's ConnectionExpired marks it failed. */
                                struct kiln_node_event *e = push_event(node, KILN_NODE_EVENT_FAILED, c);

                                snprintf(e->reason, sizeof(e->reason), "no WireGuard handshake");
                                remove_conn_at(node, i);
                                continue;
                        }
                        if (st.has_session) {
                                struct kiln_node_event *e = push_event(node, KILN_NODE_EVENT_ESTABLISHED, c);

                                c->established = true;
                                e->via_relay = c->sel_local.type == ICE_CANDIDATE_RELAY ||
                                               c->sel_remote.type == ICE_CANDIDATE_RELAY;
                                e->local_type = c->sel_local.type;
                                e->remote_type = c->sel_remote.type;
                                e->time_to_connect = now - c->created;
                        }
                }
                i++;
        }
        gc_relays(node);
}

static bool copy_cred(char *dst, const char *src)
{
        if (!src || strlen(src) > KILN_NODE_CREDS_MAX)
                return false;
        strcpy(dst, src);
        return true;
}

static bool same_peer(const struct conn *c, const struct kiln_node_peer_config *p)
{
        uint8_t psk[WG_KEY_LEN];
        bool same;

        wg_peer_get_preshared_key(c->peer, psk);
        same = sodium_memcmp(psk, p->preshared_key, WG_KEY_LEN) == 0 &&
               !memcmp(c->public_key, p->public_key, WG_KEY_LEN) &&
               !strcmp(c->local_ufrag, p->local_ufrag) && !strcmp(c->local_pwd, p->local_pwd) &&
               !strcmp(c->remote_ufrag, p->remote_ufrag) && !strcmp(c->remote_pwd, p->remote_pwd);
        sodium_memzero(psk, sizeof(psk));
        return same;
}

/* Up to two relays per connection, allocated ones first (Firezone picks among relays that
 * already answered). */
static void pick_relays(const struct kiln_node *node, struct conn *c)
{
        for (int pass = 0; pass < 2; pass++)
                for (size_t r = 0; r < node->n_relays && c->n_relays < ICE_LINK_MAX_RELAYS; r++) {
                        bool allocated = turn_client_is_allocated(node->relays[r].tc);

                        if (node->relays[r].retired || allocated != (pass == 0))
                                continue;
                        c->relay[c->n_relays++] = r;
                }
}

int kiln_node_connect(struct kiln_node *node, const struct kiln_node_peer_config *p, uint64_t now)
{
        struct ice_link_config lc = { 0 };
        struct conn *c, *old = find_conn(node, p->peer_id);
        int r;

        if (!p->peer_id || strlen(p->peer_id) > KILN_NODE_ID_MAX || !p->local_ufrag || !p->local_pwd ||
            !p->remote_ufrag || !p->remote_pwd)
                return -EINVAL;
        if (old && same_peer(old, p))
                return 1;
        if (old)
                kiln_node_close(node, p->peer_id);
        if (node->n_conns == KILN_NODE_MAX_PEERS)
                return -ENOSPC;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        snprintf(c->id, sizeof(c->id), "%s", p->peer_id);
        memcpy(c->public_key, p->public_key, WG_KEY_LEN);
        if (!copy_cred(c->local_ufrag, p->local_ufrag) || !copy_cred(c->local_pwd, p->local_pwd) ||
            !copy_cred(c->remote_ufrag, p->remote_ufrag) || !copy_cred(c->remote_pwd, p->remote_pwd)) {
                r = -EINVAL;
                goto fail;
        }
        c->created = now;
        c->wg_buffer = calloc(CONN_WG_BUFFER, sizeof(*c->wg_buffer));
        if (!c->wg_buffer) {
                r = -ENOMEM;
                goto fail;
        }
        r = wg_device_add_peer(node->dev, p->public_key, &c->peer);
        if (r < 0) {
                c->peer = NULL; /* -EEXIST: another connection owns that key */
                goto fail;
        }
        wg_peer_set_preshared_key(c->peer, p->preshared_key);
        pick_relays(node, c);
        lc.agent.role = node->controlling ? ICE_CONTROLLING : ICE_CONTROLLED;
        lc.agent.profile = node->controlling ? ICE_PROFILE_CLIENT_ACTIVE : ICE_PROFILE_GATEWAY_ACTIVE;
        lc.agent.local_ufrag = c->local_ufrag;
        lc.agent.local_pwd = c->local_pwd;
        lc.agent.remote_ufrag = c->remote_ufrag;
        lc.agent.remote_pwd = c->remote_pwd;
        lc.agent.seed = node->next_seed++;
        for (size_t i = 0; i < c->n_relays; i++)
                lc.shared_relays[i] = node->relays[c->relay[i]].tc;
        lc.n_shared_relays = c->n_relays;
        c->link = ice_link_new(&lc, now);
        if (!c->link) {
                r = -ENOMEM;
                goto fail;
        }
        node->conns = reallocarray(node->conns, node->n_conns + 1, sizeof(*node->conns));
        if (!node->conns) {
                r = -ENOMEM;
                goto fail;
        }
        node->conns[node->n_conns++] = c;
        for (size_t i = 0; i < c->n_relays; i++) {
                const struct relay *rl = &node->relays[c->relay[i]];

                for (size_t k = 0; k < rl->n_cached; k++)
                        ice_link_handle_relay_event(c->link, i, &rl->cached[k], now);
        }
        for (size_t i = 0; i < node->n_pending;) {
                if (!strcmp(node->pending[i].peer_id, c->id)) {
                        ice_link_add_remote_candidate(c->link, node->pending[i].sdp, now);
                        node->pending[i] = node->pending[--node->n_pending];
                } else {
                        i++;
                }
        }
        process(node, now);
        return 0;
fail:
        conn_free(node, c);
        return r;
}

int kiln_node_reset(struct kiln_node *node, const uint8_t *private_key, uint64_t now)
{
        uint8_t key[WG_KEY_LEN];

        while (node->n_conns > 0)
                remove_conn_at(node, node->n_conns - 1);
        node->n_pending = 0;
        gc_relays(node);
        for (size_t r = 0; r < node->n_relays; r++) {
                node->relays[r].n_cached = 0;
                turn_client_reset(node->relays[r].tc, now);
        }
        if (private_key) {
                memcpy(key, private_key, WG_KEY_LEN);
        } else {
                wg_rng_fill(&node->rng, key, sizeof(key));
                curve25519_clamp_secret(key);
        }
        wg_device_set_private_key(node->dev, key);
        sodium_memzero(key, sizeof(key));
        return 0;
}

const char *kiln_node_peer_at(const struct kiln_node *node, size_t i)
{
        return i < node->n_conns ? node->conns[i]->id : NULL;
}

void kiln_node_close(struct kiln_node *node, const char *peer_id)
{
        for (size_t i = 0; i < node->n_conns; i++)
                if (!strcmp(node->conns[i]->id, peer_id)) {
                        remove_conn_at(node, i);
                        return;
                }
}

bool kiln_node_peer_matches(const struct kiln_node *node, const struct kiln_node_peer_config *peer)
{
        const struct conn *c = peer->peer_id ? find_conn(node, peer->peer_id) : NULL;

        return c && peer->local_ufrag && peer->local_pwd && peer->remote_ufrag && peer->remote_pwd &&
               same_peer(c, peer);
}

bool kiln_node_has_peer(const struct kiln_node *node, const char *peer_id)
{
        return find_conn(node, peer_id) != NULL;
}

bool kiln_node_is_established(const struct kiln_node *node, const char *peer_id)
{
        const struct conn *c = find_conn(node, peer_id);

        return c && c->established;
}

size_t kiln_node_n_peers(const struct kiln_node *node)
{
        return node->n_conns;
}

int kiln_node_add_remote_candidate(struct kiln_node *node, const char *peer_id, const char *sdp,
                                   uint64_t now)
{
        struct conn *c = find_conn(node, peer_id);
        struct ice_candidate parsed;
        int r;

        if (!c) {
                if (ice_candidate_from_sdp(&parsed, sdp) < 0 || strlen(peer_id) > KILN_NODE_ID_MAX ||
                    strlen(sdp) >= ICE_CANDIDATE_SDP_MAX)
                        return -EINVAL;
                if (node->n_pending == PENDING_CANDIDATES)
                        return -ENOSPC;
                strcpy(node->pending[node->n_pending].peer_id, peer_id);
                strcpy(node->pending[node->n_pending++].sdp, sdp);
                return 0;
        }
        r = ice_link_add_remote_candidate(c->link, sdp, now);
        process(node, now);
        return r;
}

int kiln_node_remove_remote_candidate(struct kiln_node *node, const char *peer_id, const char *sdp,
                                      uint64_t now)
{
        struct conn *c = find_conn(node, peer_id);
        int r;

        if (!c)
                return -ENOENT;
        r = ice_link_remove_remote_candidate(c->link, sdp, now);
        process(node, now);
        return r;
}

static void to_endpoint(const struct ice_addr *a, struct wg_endpoint *ret)
{
        struct sockaddr_storage ss;
        socklen_t n = ice_addr_to_sockaddr(a, &ss);

        memset(ret, 0, sizeof(*ret));
        if (n > 0 && n <= sizeof(*ret))
                memcpy(ret, &ss, n);
}

/* A WireGuard datagram `payload` from `from`; `c_hint` is the connection it came through
 * when known (relayed), to credit its activity. */
static int wireguard_input(struct kiln_node *node, const struct ice_addr *local, const struct ice_addr *from,
                           const uint8_t *payload, size_t len, uint64_t now, uint8_t *out, size_t cap,
                           size_t *ret_len, const char **ret_peer_id, int via_relay)
{
        struct wg_out wo = { .buf = out, .cap = cap };
        struct wg_endpoint src;
        struct conn *c;
        int action;

        to_endpoint(from, &src);
        action = wg_device_receive(node->dev, now, &src, payload, len, &wo);
        c = conn_of_peer(node, wo.peer);
        if (c) {
                struct ice_addr ignored_from;
                const uint8_t *ignored;
                size_t ignored_len;

                /* Application traffic keeps the link on its active timing profile. */
                if (via_relay >= 0) {
                        int k = link_relay_index(c, (size_t)via_relay);

                        if (k >= 0)
                                ice_link_handle_relayed(c->link, (size_t)k, from, payload, 0, now);
                } else {
                        ice_link_handle_input(c->link, local, from, payload, len, now, &ignored_from,
                                              &ignored, &ignored_len);
                }
        }
        if (action == WG_ACTION_SEND && c) {
                struct ice_transmit *t = ice_txq_push(&node->txq);

                if (t && ice_link_encode(c->link, wo.buf, wo.len, t, now) < 0)
                        t->len = 0;
        }
        process(node, now);
        if (action != WG_ACTION_WRITE_TUN || !c)
                return 0;
        *ret_len = wo.len;
        *ret_peer_id = c->id;
        return 1;
}

int kiln_node_handle_input(struct kiln_node *node, const struct ice_addr *local, const struct ice_addr *from,
                           const uint8_t *buf, size_t len, uint64_t now, uint8_t *out, size_t cap,
                           size_t *ret_len, const char **ret_peer_id)
{
        enum ice_demux_kind kind = ice_demux_classify(from, buf, len);

        if (kind == ICE_DEMUX_RELAY_STUN || kind == ICE_DEMUX_RELAY_CHANNEL_DATA) {
                for (size_t r = 0; r < node->n_relays; r++) {
                        struct ice_addr peer;
                        const uint8_t *payload;
                        size_t plen;
                        int res = turn_client_handle_input(node->relays[r].tc, local, from, buf, len, now,
                                                           &peer, &payload, &plen);

                        if (res == TURN_NOT_OURS)
                                continue;
                        if (res < 0 || res == TURN_CONSUMED) {
                                process(node, now);
                                return res < 0 ? res : 0;
                        }
                        if (plen > 0 && payload[0] <= 0x03 && stun_looks_like(payload, plen)) {
                                for (size_t i = 0; i < node->n_conns; i++) {
                                        int k = link_relay_index(node->conns[i], r);

                                        if (k < 0)
                                                continue;
                                        res = ice_link_handle_relayed(node->conns[i]->link, (size_t)k, &peer,
                                                                      payload, plen, now);
                                        if (res != -ENOENT) {
                                                process(node, now);
                                                return res < 0 ? res : 0;
                                        }
                                }
                                return -ENOENT;
                        }
                        return wireguard_input(node, local, &peer, payload, plen, now, out, cap, ret_len,
                                               ret_peer_id, (int)r);
                }
                /* Not from a relay of ours: maybe a peer whose NAT picked port 3478. */
                kind = ice_demux_classify(&(struct ice_addr){ 0 }, buf, len);
        }
        if (kind == ICE_DEMUX_PEER_STUN) {
                for (size_t i = 0; i < node->n_conns; i++) {
                        struct ice_addr pf;
                        const uint8_t *payload;
                        size_t plen;
                        int res = ice_link_handle_input(node->conns[i]->link, local, from, buf, len, now,
                                                        &pf, &payload, &plen);

                        if (res != -ENOENT) {
                                process(node, now);
                                return res < 0 ? res : 0;
                        }
                }
                return -ENOENT;
        }
        return wireguard_input(node, local, from, buf, len, now, out, cap, ret_len, ret_peer_id, -1);
}

int kiln_node_encapsulate(struct kiln_node *node, const char *peer_id, const uint8_t *packet, size_t len,
                          struct ice_transmit *ret, uint64_t now)
{
        struct conn *c = find_conn(node, peer_id);
        struct wg_out wo = { .buf = ret->data + 4, .cap = sizeof(ret->data) - 4 };
        int r;

        if (!c)
                return -ENOENT;
        if (!c->selected)
                return -ENOTCONN;
        if (wg_peer_send(c->peer, now, packet, len, &wo) != WG_ACTION_SEND)
                return 0;
        r = ice_link_encode(c->link, wo.buf, wo.len, ret, now);
        return r < 0 ? r : 1;
}

bool kiln_node_poll_transmit(struct kiln_node *node, struct ice_transmit *ret, uint64_t now)
{
        struct wg_out wo = { .buf = ret->data + 4, .cap = sizeof(ret->data) - 4 };

        while (ice_txq_pop(&node->txq, ret))
                if (ret->len > 0)
                        return true;
        for (size_t r = 0; r < node->n_relays; r++)
                if (turn_client_poll_transmit(node->relays[r].tc, ret))
                        return true;
        for (size_t i = 0; i < node->n_conns; i++)
                if (ice_link_poll_transmit(node->conns[i]->link, ret))
                        return true;
        while (wg_device_poll_transmit(node->dev, now, &wo)) {
                struct conn *c = conn_of_peer(node, wo.peer);

                if (!c)
                        continue;
                if (ice_link_encode(c->link, wo.buf, wo.len, ret, now) == 0)
                        return true;
                if (!c->selected && c->n_wg_buffer < CONN_WG_BUFFER && wo.len <= ICE_MAX_DATAGRAM) {
                        memcpy(c->wg_buffer[c->n_wg_buffer].data, wo.buf, wo.len);
                        c->wg_buffer[c->n_wg_buffer++].len = wo.len;
                }
        }
        return false;
}

bool kiln_node_poll_event(struct kiln_node *node, struct kiln_node_event *ret)
{
        if (node->ev_count == 0)
                return false;
        *ret = node->events[node->ev_head];
        node->ev_head = (node->ev_head + 1) % NODE_EVENTS;
        node->ev_count--;
        return true;
}

uint64_t kiln_node_poll_timeout(const struct kiln_node *node)
{
        uint64_t t = wg_device_next_timeout(node->dev);

        for (size_t r = 0; r < node->n_relays; r++) {
                uint64_t x = turn_client_poll_timeout(node->relays[r].tc);

                if (x < t)
                        t = x;
        }
        for (size_t i = 0; i < node->n_conns; i++) {
                const struct conn *c = node->conns[i];
                uint64_t x = ice_link_poll_timeout(c->link);

                if (x < t)
                        t = x;
                if (c->selected && !c->established && c->handshake_deadline < t)
                        t = c->handshake_deadline;
                if (c->failed)
                        t = 0; /* reported on the next handle_timeout */
        }
        return t;
}

void kiln_node_handle_timeout(struct kiln_node *node, uint64_t now)
{
        for (size_t r = 0; r < node->n_relays; r++)
                if (turn_client_poll_timeout(node->relays[r].tc) <= now)
                        turn_client_handle_timeout(node->relays[r].tc, now);
        process(node, now);
        for (size_t i = 0; i < node->n_conns; i++)
                if (ice_link_poll_timeout(node->conns[i]->link) <= now)
                        ice_link_handle_timeout(node->conns[i]->link, now);
        if (wg_device_next_timeout(node->dev) <= now)
                wg_device_tick(node->dev, now);
        process(node, now);
}
