/* SPDX-License-Identifier: MIT */
#include "backend/ice/turn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/ice/channel-data.h"
#include "backend/ice/rng.h"
#include "backend/ice/stun.h"

#define TURN_MAX_REQUESTS     16
#define TURN_MAX_EVENTS       32
#define TURN_REQ_MAX_LEN      600
#define TURN_DEFAULT_LIFETIME 600
#define TURN_TXQ_CAP          16

enum req_kind {
        REQ_BINDING,
        REQ_ALLOCATE,
        REQ_REFRESH,
        REQ_CHANNEL_BIND
};

struct turn_req {
        bool active;
        enum req_kind kind;
        uint8_t tid[STUN_TID_LEN];
        uint64_t next_send, delay, deadline;
        bool authenticated;   /* sent with a NONCE: a 401 now means bad credentials */
        bool delete;          /* REFRESH with LIFETIME 0 */
        bool then_allocate;   /* ALLOCATE once this REFRESH(0) completes (437 recovery) */
        uint16_t channel;     /* CHANNEL-BIND */
        struct ice_addr peer; /* CHANNEL-BIND */
        size_t len;
        uint8_t msg[TURN_REQ_MAX_LEN];
};

struct turn_channel {
        bool used;
        bool bound;     /* confirmed by the relay */
        bool requested; /* a CHANNEL-BIND waits to be sent (e.g. for an allocation) */
        bool pending;   /* a CHANNEL-BIND is in flight */
        uint16_t number;
        struct ice_addr peer;
        uint64_t bound_at, last_recv, last_use;
};

enum turn_state {
        ST_BINDING,
        ST_BOUND,
        ST_ALLOCATING,
        ST_ALLOCATED,
        ST_FAILED
};

struct turn_client {
        struct ice_addr server;
        char username[TURN_MAX_TEXT], password[TURN_MAX_TEXT], realm[TURN_MAX_TEXT], software[64];
        bool dual_stack, want_allocation;
        struct ice_rng rng;

        enum turn_state state;
        uint8_t key[16];
        char nonce[STUN_MAX_TEXT_LEN + 1];
        bool have_nonce;

        struct ice_addr host, srflx;
        struct ice_addr relayed[2];
        size_t n_relayed;
        uint64_t refresh_at, expires_at, next_keepalive, restart_at;

        struct turn_req reqs[TURN_MAX_REQUESTS];
        struct turn_channel ch[TURN_MAX_CHANNELS];
        uint16_t next_channel;

        struct ice_txq txq;
        struct turn_event events[TURN_MAX_EVENTS];
        size_t ev_head, ev_count;
};

static struct turn_event *push_event(struct turn_client *tc, enum turn_event_type type,
                                     const struct ice_addr *addr, const struct ice_addr *base, uint16_t code,
                                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct turn_event *push_event(struct turn_client *tc, enum turn_event_type type,
                                     const struct ice_addr *addr, const struct ice_addr *base, uint16_t code,
                                     const char *fmt, ...)
{
        struct turn_event *e;
        va_list ap;

        if (tc->ev_count == TURN_MAX_EVENTS) {
                /* Keep the newest: drop the oldest event. */
                tc->ev_head = (tc->ev_head + 1) % TURN_MAX_EVENTS;
                tc->ev_count--;
        }
        e = &tc->events[(tc->ev_head + tc->ev_count++) % TURN_MAX_EVENTS];
        memset(e, 0, sizeof(*e));
        e->type = type;
        if (addr)
                e->addr = *addr;
        if (base)
                e->base = *base;
        e->code = code;
        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(e->message, sizeof(e->message), fmt, ap);
                va_end(ap);
        }
        return e;
}

static bool copy_text(char *dst, size_t cap, const char *src)
{
        size_t n = strlen(src);

        if (n >= cap)
                return false;
        memcpy(dst, src, n + 1);
        return true;
}

struct turn_client *turn_client_new(const struct turn_client_config *cfg, uint64_t now)
{
        struct turn_client *tc;

        if (cfg->server.family != 4 && cfg->server.family != 6)
                return NULL;
        tc = calloc(1, sizeof(*tc));
        if (!tc)
                return NULL;
        if (ice_txq_init(&tc->txq, TURN_TXQ_CAP) < 0) {
                free(tc);
                return NULL;
        }
        tc->server = cfg->server;
        tc->want_allocation = cfg->allocate;
        tc->dual_stack = cfg->dual_stack;
        if (!copy_text(tc->username, sizeof(tc->username), cfg->username ? cfg->username : "") ||
            !copy_text(tc->password, sizeof(tc->password), cfg->password ? cfg->password : "") ||
            !copy_text(tc->realm, sizeof(tc->realm), cfg->realm ? cfg->realm : TURN_REALM_FIREZONE) ||
            !copy_text(tc->software, sizeof(tc->software), cfg->software ? cfg->software : "snownet")) {
                turn_client_free(tc);
                return NULL;
        }
        ice_rng_seed(&tc->rng, cfg->seed);
        tc->next_channel = TURN_CHANNEL_FIRST;
        tc->refresh_at = tc->expires_at = tc->next_keepalive = tc->restart_at = ICE_NEVER;
        tc->restart_at = now;
        return tc;
}

void turn_client_free(struct turn_client *tc)
{
        if (!tc)
                return;
        ice_txq_release(&tc->txq);
        sodium_memzero(tc, sizeof(*tc));
        free(tc);
}

const struct ice_addr *turn_client_server(const struct turn_client *tc)
{
        return &tc->server;
}

bool turn_client_is_allocated(const struct turn_client *tc)
{
        return tc->state == ST_ALLOCATED;
}

const struct ice_addr *turn_client_relayed(const struct turn_client *tc, uint8_t family)
{
        if (tc->state != ST_ALLOCATED)
                return NULL;
        for (size_t i = 0; i < tc->n_relayed; i++)
                if (tc->relayed[i].family == family)
                        return &tc->relayed[i];
        return NULL;
}

static void transmit(struct turn_client *tc, const uint8_t *msg, size_t len, uint64_t now)
{
        struct ice_transmit *t = ice_txq_push(&tc->txq);

        if (!t)
                return;
        t->dst = tc->server;
        memcpy(t->data, msg, len);
        t->len = len;
        tc->next_keepalive = now + TURN_BINDING_INTERVAL;
}

/* (Re)builds the request with a fresh transaction id and the current nonce. */
static int build_request(struct turn_client *tc, struct turn_req *r)
{
        static const uint16_t methods[] = {
                [REQ_BINDING] = STUN_BINDING,
                [REQ_ALLOCATE] = STUN_ALLOCATE,
                [REQ_REFRESH] = STUN_REFRESH,
                [REQ_CHANNEL_BIND] = STUN_CHANNEL_BIND,
        };
        struct stun_builder b;
        int len;

        ice_rng_bytes(&tc->rng, r->tid, STUN_TID_LEN);
        stun_build_init(&b, r->msg, sizeof(r->msg), methods[r->kind], STUN_REQUEST, r->tid);
        switch (r->kind) {
        case REQ_BINDING:
                stun_add_string(&b, STUN_ATTR_SOFTWARE, tc->software);
                break;
        case REQ_ALLOCATE:
                stun_add_u8_rfu(&b, STUN_ATTR_REQUESTED_TRANSPORT, 17);
                if (tc->dual_stack)
                        stun_add_u8_rfu(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, 6);
                stun_add_string(&b, STUN_ATTR_SOFTWARE, tc->software);
                break;
        case REQ_REFRESH:
                if (r->delete)
                        stun_add_u32(&b, STUN_ATTR_LIFETIME, 0);
                break;
        case REQ_CHANNEL_BIND:
                stun_add_channel(&b, r->channel);
                stun_add_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &r->peer);
                break;
        }
        r->authenticated = r->kind != REQ_BINDING && tc->have_nonce;
        if (r->authenticated) {
                stun_add_string(&b, STUN_ATTR_USERNAME, tc->username);
                stun_add_string(&b, STUN_ATTR_REALM, tc->realm);
                stun_add_string(&b, STUN_ATTR_NONCE, tc->nonce);
                stun_add_integrity(&b, tc->key, sizeof(tc->key));
        }
        len = stun_build_finish(&b);
        if (len < 0)
                return len;
        r->len = (size_t)len;
        return 0;
}

static void send_now(struct turn_client *tc, struct turn_req *r, uint64_t now)
{
        r->delay = TURN_BACKOFF_INITIAL;
        r->next_send = now + r->delay;
        r->deadline = now + TURN_BACKOFF_MAX_ELAPSED;
        transmit(tc, r->msg, r->len, now);
}

static struct turn_req *start_request(struct turn_client *tc, enum req_kind kind, uint64_t now,
                                      const struct turn_req *params)
{
        struct turn_req *r = NULL;

        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                if (!tc->reqs[i].active) {
                        r = &tc->reqs[i];
                        break;
                }
        if (!r)
                return NULL;
        memset(r, 0, sizeof(*r));
        if (params) {
                r->delete = params->delete;
                r->then_allocate = params->then_allocate;
                r->channel = params->channel;
                r->peer = params->peer;
        }
        r->kind = kind;
        if (build_request(tc, r) < 0)
                return NULL;
        r->active = true;
        send_now(tc, r, now);
        return r;
}

static bool request_in_flight(const struct turn_client *tc, enum req_kind kind)
{
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                if (tc->reqs[i].active && tc->reqs[i].kind == kind)
                        return true;
        return false;
}

static void invalidate_allocation(struct turn_client *tc)
{
        for (size_t i = 0; i < tc->n_relayed; i++)
                push_event(tc, TURN_EVENT_RELAY_INVALIDATED, &tc->relayed[i], NULL, 0, NULL);
        tc->n_relayed = 0;
        tc->refresh_at = tc->expires_at = ICE_NEVER;
        /* Channels die with the allocation; keep the wish to have them, rebind later. */
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++)
                if (tc->ch[i].used) {
                        tc->ch[i].bound = false;
                        tc->ch[i].pending = false;
                        tc->ch[i].requested = true;
                }
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                if (tc->reqs[i].active && tc->reqs[i].kind == REQ_CHANNEL_BIND)
                        tc->reqs[i].active = false;
}

static void allocate(struct turn_client *tc, uint64_t now)
{
        if (request_in_flight(tc, REQ_ALLOCATE))
                return;
        tc->state = ST_ALLOCATING;
        start_request(tc, REQ_ALLOCATE, now, NULL);
}

/* Everything from scratch: BINDING, then ALLOCATE. Credentials and nonce are kept. */
static void restart(struct turn_client *tc, uint64_t now)
{
        invalidate_allocation(tc);
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                tc->reqs[i].active = false;
        tc->state = ST_BINDING;
        tc->restart_at = ICE_NEVER;
        start_request(tc, REQ_BINDING, now, NULL);
}

static void fail(struct turn_client *tc, uint16_t code, const char *why)
{
        invalidate_allocation(tc);
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                tc->reqs[i].active = false;
        tc->state = ST_FAILED;
        tc->next_keepalive = ICE_NEVER;
        push_event(tc, TURN_EVENT_ERROR, NULL, NULL, code, "%s", why);
}

static void send_channel_binds(struct turn_client *tc, uint64_t now)
{
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++) {
                struct turn_channel *c = &tc->ch[i];
                struct turn_req p = { 0 };
                bool in_flight = false;

                if (!c->used || !c->requested)
                        continue;
                for (size_t j = 0; j < TURN_MAX_REQUESTS; j++)
                        if (tc->reqs[j].active && tc->reqs[j].kind == REQ_CHANNEL_BIND &&
                            tc->reqs[j].channel == c->number)
                                in_flight = true;
                if (in_flight)
                        continue;
                p.channel = c->number;
                p.peer = c->peer;
                if (start_request(tc, REQ_CHANNEL_BIND, now, &p)) {
                        c->requested = false;
                        c->pending = true;
                }
        }
}

static struct turn_req *find_request(struct turn_client *tc, const uint8_t tid[static STUN_TID_LEN])
{
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                if (tc->reqs[i].active && memcmp(tc->reqs[i].tid, tid, STUN_TID_LEN) == 0)
                        return &tc->reqs[i];
        return NULL;
}

static void resend_with_new_nonce(struct turn_client *tc, struct turn_req *r, uint64_t now)
{
        if (build_request(tc, r) < 0) {
                r->active = false;
                return;
        }
        send_now(tc, r, now);
}

static bool take_nonce(struct turn_client *tc, const struct stun_msg *m)
{
        if (!(m->present & STUN_HAS_NONCE) || m->nonce.len == 0 || m->nonce.len > STUN_MAX_TEXT_LEN)
                return false;
        memcpy(tc->nonce, m->nonce.ptr, m->nonce.len);
        tc->nonce[m->nonce.len] = '\0';
        /* The nonce is echoed as a string: refuse embedded NULs rather than truncate. */
        if (strlen(tc->nonce) != m->nonce.len)
                return false;
        tc->have_nonce = true;
        return true;
}

static void handle_binding_success(struct turn_client *tc, const struct ice_addr *local,
                                   const struct stun_msg *m, uint64_t now)
{
        if (!(m->present & STUN_HAS_XOR_MAPPED))
                return;
        if (local->family && !ice_addr_equal(local, &tc->host)) {
                tc->host = *local;
                push_event(tc, TURN_EVENT_HOST_CANDIDATE, local, NULL, 0, NULL);
        }
        if (!ice_addr_equal(&m->xor_mapped, &tc->srflx)) {
                tc->srflx = m->xor_mapped;
                if (!local->family || !ice_addr_equal(&m->xor_mapped, local))
                        push_event(tc, TURN_EVENT_SRFLX_CANDIDATE, &m->xor_mapped, local, 0, NULL);
        }
        if (tc->state == ST_BINDING) {
                tc->state = ST_BOUND;
                if (tc->want_allocation)
                        allocate(tc, now);
        }
}

/* 401/438 handling common to every authenticated request; returns true when handled. */
static bool handle_auth_error(struct turn_client *tc, struct turn_req *r, const struct stun_msg *m,
                              uint64_t now)
{
        if (m->error_code == 401) {
                if (r->authenticated) {
                        fail(tc, 401, "TURN credentials rejected by the relay (401 Unauthorized)");
                        return true;
                }
                if (!(m->present & STUN_HAS_REALM) || !stun_text_eq(&m->realm, tc->realm)) {
                        fail(tc, 401, "TURN relay uses a different REALM than the credentials");
                        return true;
                }
                if (!take_nonce(tc, m)) {
                        fail(tc, 401, "TURN relay sent 401 without a usable NONCE");
                        return true;
                }
                stun_long_term_key(tc->key, tc->username, tc->realm, tc->password);
                resend_with_new_nonce(tc, r, now);
                return true;
        }
        if (m->error_code == 438) {
                if (!take_nonce(tc, m)) {
                        r->active = false;
                        return true;
                }
                stun_long_term_key(tc->key, tc->username, tc->realm, tc->password);
                resend_with_new_nonce(tc, r, now);
                return true;
        }
        return false;
}

static void handle_allocate_response(struct turn_client *tc, struct turn_req *r, const struct stun_msg *m,
                                     uint64_t now)
{
        if (m->cls == STUN_SUCCESS) {
                uint32_t lifetime = (m->present & STUN_HAS_LIFETIME) ? m->lifetime : TURN_DEFAULT_LIFETIME;

                r->active = false;
                if (m->n_relayed == 0 || lifetime == 0) {
                        fail(tc, 0, "TURN relay answered ALLOCATE without a relayed address");
                        return;
                }
                tc->state = ST_ALLOCATED;
                tc->n_relayed = m->n_relayed;
                memcpy(tc->relayed, m->xor_relayed, sizeof(tc->relayed));
                tc->refresh_at = now + ICE_S(lifetime) / 2;
                tc->expires_at = now + ICE_S(lifetime);
                for (size_t i = 0; i < tc->n_relayed; i++)
                        push_event(tc, TURN_EVENT_RELAY_CANDIDATE, &tc->relayed[i], NULL, 0, NULL);
                send_channel_binds(tc, now);
                return;
        }
        if (handle_auth_error(tc, r, m, now))
                return;
        r->active = false;
        switch (m->error_code) {
        case 437: {
                /* The relay still holds an allocation for our 3-tuple: delete it, then retry. */
                struct turn_req p = { .delete = true, .then_allocate = true };

                start_request(tc, REQ_REFRESH, now, &p);
                return;
        }
        case 440:
                if (tc->dual_stack) {
                        tc->dual_stack = false;
                        allocate(tc, now);
                        return;
                }
                fail(tc, 440, "TURN relay does not support the address family");
                return;
        case 420:
                fail(tc, 420, "TURN relay does not understand ALLOCATE (420 Unknown Attribute)");
                return;
        case 486:
        case 508:
                /* Full now, not for ever (RFC 8656 §7.2: retry later): failing for good would
                 * leave this relay dead for the whole session. */
                push_event(tc, TURN_EVENT_ERROR, NULL, NULL, m->error_code,
                           "TURN relay at capacity (%u), retrying", m->error_code);
                tc->restart_at = now + TURN_CAPACITY_RETRY;
                return;
        default: {
                char why[96];

                snprintf(why, sizeof(why), "TURN ALLOCATE failed with error %u", m->error_code);
                fail(tc, m->error_code, why);
        }
        }
}

static void handle_refresh_response(struct turn_client *tc, struct turn_req *r, const struct stun_msg *m,
                                    uint64_t now)
{
        bool then_allocate = r->then_allocate;

        if (m->cls == STUN_ERROR && handle_auth_error(tc, r, m, now))
                return;
        r->active = false;
        if (then_allocate) {
                allocate(tc, now);
                return;
        }
        if (m->cls == STUN_SUCCESS) {
                uint32_t lifetime = (m->present & STUN_HAS_LIFETIME) ? m->lifetime : TURN_DEFAULT_LIFETIME;

                if (lifetime == 0) {
                        invalidate_allocation(tc);
                        allocate(tc, now);
                        return;
                }
                tc->refresh_at = now + ICE_S(lifetime) / 2;
                tc->expires_at = now + ICE_S(lifetime);
                return;
        }
        /* 437 or anything else: the allocation is gone. */
        invalidate_allocation(tc);
        allocate(tc, now);
}

static struct turn_channel *channel_by_number(struct turn_client *tc, uint16_t number)
{
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++)
                if (tc->ch[i].used && tc->ch[i].number == number)
                        return &tc->ch[i];
        return NULL;
}

static struct turn_channel *channel_by_peer(struct turn_client *tc, const struct ice_addr *peer)
{
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++)
                if (tc->ch[i].used && ice_addr_equal(&tc->ch[i].peer, peer))
                        return &tc->ch[i];
        return NULL;
}

static void handle_channel_bind_response(struct turn_client *tc, struct turn_req *r,
                                         const struct stun_msg *m, uint64_t now)
{
        struct turn_channel *c = channel_by_number(tc, r->channel);

        if (m->cls == STUN_ERROR && handle_auth_error(tc, r, m, now))
                return;
        r->active = false;
        if (!c || !ice_addr_equal(&c->peer, &r->peer))
                return;
        c->pending = false;
        if (m->cls == STUN_SUCCESS) {
                c->bound = true;
                c->bound_at = now;
                c->last_recv = 0;
                push_event(tc, TURN_EVENT_CHANNEL_BOUND, &c->peer, NULL, 0, NULL)->channel = c->number;
                return;
        }
        if (m->error_code == 437) {
                c->requested = true;
                invalidate_allocation(tc);
                allocate(tc, now);
                return;
        }
        /* The relay refused this peer: forget the channel; a later send asks again. */
        memset(c, 0, sizeof(*c));
}

static int handle_stun(struct turn_client *tc, const struct ice_addr *local, const uint8_t *buf, size_t len,
                       uint64_t now, struct ice_addr *ret_peer, const uint8_t **ret_payload, size_t *ret_len)
{
        struct stun_msg m;
        struct turn_req *r;

        if (stun_parse(&m, buf, len) < 0)
                return TURN_NOT_OURS;
        if (m.cls == STUN_INDICATION && m.method == STUN_DATA) {
                if (!(m.present & STUN_HAS_XOR_PEER) || !(m.present & STUN_HAS_DATA))
                        return -EBADMSG;
                *ret_peer = m.xor_peer;
                *ret_payload = m.data;
                *ret_len = m.data_len;
                return TURN_DATA;
        }
        if (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR)
                return TURN_NOT_OURS;
        r = find_request(tc, m.tid);
        if (!r)
                return TURN_NOT_OURS;
        if (r->kind == REQ_BINDING) {
                r->active = false;
                if (m.cls == STUN_SUCCESS)
                        handle_binding_success(tc, local, &m, now);
                return TURN_CONSUMED;
        }
        /* Authenticated exchanges: a success or 437 must carry a valid MESSAGE-INTEGRITY;
         * 401 and 438 cannot (they hand us the nonce) and only make us re-authenticate. */
        if (!(m.cls == STUN_ERROR && (m.error_code == 401 || m.error_code == 438)) &&
            !(tc->have_nonce && stun_check_integrity(&m, tc->key, sizeof(tc->key))))
                return -EPERM;
        switch (r->kind) {
        case REQ_ALLOCATE:
                handle_allocate_response(tc, r, &m, now);
                break;
        case REQ_REFRESH:
                handle_refresh_response(tc, r, &m, now);
                break;
        case REQ_CHANNEL_BIND:
                handle_channel_bind_response(tc, r, &m, now);
                break;
        case REQ_BINDING:
                break;
        }
        return TURN_CONSUMED;
}

int turn_client_handle_input(struct turn_client *tc, const struct ice_addr *local,
                             const struct ice_addr *from, const uint8_t *buf, size_t len, uint64_t now,
                             struct ice_addr *ret_peer, const uint8_t **ret_payload, size_t *ret_len)
{
        struct channel_data cd;
        struct turn_channel *c;

        if (!ice_addr_equal(from, &tc->server) || len == 0)
                return TURN_NOT_OURS;
        if (buf[0] <= 0x03)
                return handle_stun(tc, local, buf, len, now, ret_peer, ret_payload, ret_len);
        if (channel_data_parse(&cd, buf, len) < 0)
                return TURN_NOT_OURS;
        c = channel_by_number(tc, cd.channel);
        /* Data on a channel the relay has not confirmed is dropped (Firezone does the same). */
        if (!c || !c->bound)
                return -ENOENT;
        c->last_recv = now;
        *ret_peer = c->peer;
        *ret_payload = cd.payload;
        *ret_len = cd.len;
        return TURN_DATA;
}

static bool number_in_use(const struct turn_client *tc, uint16_t n)
{
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++)
                if (tc->ch[i].used && tc->ch[i].number == n)
                        return true;
        return false;
}

int turn_client_bind_channel(struct turn_client *tc, const struct ice_addr *peer, uint64_t now)
{
        struct turn_channel *c = channel_by_peer(tc, peer);

        if (tc->state == ST_FAILED)
                return -ENETDOWN;
        if (c)
                return 0;
        for (size_t i = 0; i < TURN_MAX_CHANNELS && !c; i++)
                if (!tc->ch[i].used)
                        c = &tc->ch[i];
        if (!c)
                return -ENOSPC;
        /* Round-robin over 0x4000–0x4FFF; numbers still held (bound or within the
         * 15-minute reuse window) are skipped. */
        for (unsigned int tries = 0; tries <= TURN_CHANNEL_LAST - TURN_CHANNEL_FIRST; tries++) {
                uint16_t n = tc->next_channel;

                tc->next_channel = n == TURN_CHANNEL_LAST ? TURN_CHANNEL_FIRST : (uint16_t)(n + 1);
                if (number_in_use(tc, n))
                        continue;
                memset(c, 0, sizeof(*c));
                c->used = true;
                c->requested = true;
                c->number = n;
                c->peer = *peer;
                c->last_use = now;
                if (tc->state == ST_ALLOCATED)
                        send_channel_binds(tc, now);
                return 0;
        }
        return -ENOSPC;
}

int turn_client_encode(struct turn_client *tc, const struct ice_addr *peer, const uint8_t *payload,
                       size_t len, struct ice_transmit *ret, uint64_t now)
{
        struct turn_channel *c;
        int r;

        if (tc->state != ST_ALLOCATED)
                return -ENETDOWN;
        c = channel_by_peer(tc, peer);
        if (!c) {
                r = turn_client_bind_channel(tc, peer, now);
                return r < 0 ? r : -ENOTCONN;
        }
        if (!c->bound && !c->requested && !c->pending) {
                /* Expired: bind the same number to the same peer again, sending meanwhile. */
                c->requested = true;
                send_channel_binds(tc, now);
        }
        r = channel_data_write_header(ret->data, sizeof(ret->data), c->number, len);
        if (r < 0)
                return r;
        memmove(ret->data + CHANNEL_DATA_HEADER_LEN, payload, len);
        ret->len = (size_t)r;
        memset(&ret->src, 0, sizeof(ret->src));
        ret->dst = tc->server;
        c->last_use = now;
        tc->next_keepalive = now + TURN_BINDING_INTERVAL;
        return 0;
}

int turn_client_set_credentials(struct turn_client *tc, const char *username, const char *password)
{
        if (!username || !password || strlen(username) >= sizeof(tc->username) ||
            strlen(password) >= sizeof(tc->password))
                return -EINVAL;
        copy_text(tc->username, sizeof(tc->username), username);
        copy_text(tc->password, sizeof(tc->password), password);
        if (tc->have_nonce)
                stun_long_term_key(tc->key, tc->username, tc->realm, tc->password);
        return 0;
}

void turn_client_refresh_now(struct turn_client *tc, uint64_t now)
{
        if (tc->state == ST_ALLOCATED && !request_in_flight(tc, REQ_REFRESH))
                start_request(tc, REQ_REFRESH, now, NULL);
        else if (tc->state == ST_BOUND || tc->state == ST_BINDING)
                restart(tc, now);
}

/* Also after a failure: on another network the relay may answer (and the node's host
 * candidates come from this client's BINDING, so a failed one left new connections with none). */
void turn_client_reset(struct turn_client *tc, uint64_t now)
{
        restart(tc, now);
}

static void channel_timers(struct turn_client *tc, uint64_t now)
{
        for (size_t i = 0; i < TURN_MAX_CHANNELS; i++) {
                struct turn_channel *c = &tc->ch[i];

                /* Not yet confirmed: the request's own timeout handles it. */
                if (!c->used || c->requested || c->pending || c->bound_at == 0)
                        continue;
                if (c->bound && now >= c->bound_at + TURN_CHANNEL_LIFETIME) {
                        /* Expired at the relay; the number stays ours until the reuse window ends. */
                        c->bound = false;
                } else if (c->bound && now >= c->bound_at + TURN_CHANNEL_REFRESH &&
                           c->last_recv > c->bound_at) {
                        c->requested = true;
                        send_channel_binds(tc, now);
                } else if (!c->bound && now >= c->bound_at + TURN_CHANNEL_REUSE) {
                        memset(c, 0, sizeof(*c));
                }
        }
}

void turn_client_handle_timeout(struct turn_client *tc, uint64_t now)
{
        if (tc->state == ST_FAILED)
                return;
        if (now >= tc->restart_at) {
                restart(tc, now);
                return;
        }
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++) {
                struct turn_req *r = &tc->reqs[i];

                if (!r->active || now < r->next_send)
                        continue;
                if (r->next_send >= r->deadline) {
                        /* Gave up: the relay is unreachable from this socket. */
                        r->active = false;
                        push_event(tc, TURN_EVENT_ERROR, NULL, NULL, 0,
                                   "TURN relay did not answer (timeout)");
                        restart(tc, now);
                        return;
                }
                r->delay = r->delay * 3 / 2;
                r->next_send = now + r->delay;
                if (r->next_send > r->deadline)
                        r->next_send = r->deadline;
                transmit(tc, r->msg, r->len, now);
        }
        if (tc->state == ST_ALLOCATED) {
                if (now >= tc->expires_at) {
                        invalidate_allocation(tc);
                        allocate(tc, now);
                } else if (now >= tc->refresh_at && !request_in_flight(tc, REQ_REFRESH)) {
                        tc->refresh_at = ICE_NEVER;
                        start_request(tc, REQ_REFRESH, now, NULL);
                }
                channel_timers(tc, now);
        }
        if (now >= tc->next_keepalive && tc->state != ST_BINDING && !request_in_flight(tc, REQ_BINDING))
                start_request(tc, REQ_BINDING, now, NULL);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

uint64_t turn_client_poll_timeout(const struct turn_client *tc)
{
        uint64_t t = ICE_NEVER;

        if (tc->state == ST_FAILED)
                return ICE_NEVER;
        t = min_u64(t, tc->restart_at);
        for (size_t i = 0; i < TURN_MAX_REQUESTS; i++)
                if (tc->reqs[i].active)
                        t = min_u64(t, tc->reqs[i].next_send);
        if (tc->state == ST_ALLOCATED) {
                t = min_u64(t, tc->refresh_at);
                t = min_u64(t, tc->expires_at);
                for (size_t i = 0; i < TURN_MAX_CHANNELS; i++) {
                        const struct turn_channel *c = &tc->ch[i];

                        if (!c->used || c->requested || c->pending || c->bound_at == 0)
                                continue;
                        if (!c->bound)
                                t = min_u64(t, c->bound_at + TURN_CHANNEL_REUSE);
                        else if (c->last_recv > c->bound_at)
                                t = min_u64(t, c->bound_at + TURN_CHANNEL_REFRESH);
                        else
                                t = min_u64(t, c->bound_at + TURN_CHANNEL_LIFETIME);
                }
        }
        if (tc->state != ST_BINDING)
                t = min_u64(t, tc->next_keepalive);
        return t;
}

bool turn_client_poll_transmit(struct turn_client *tc, struct ice_transmit *ret)
{
        return ice_txq_pop(&tc->txq, ret);
}

bool turn_client_poll_event(struct turn_client *tc, struct turn_event *ret)
{
        if (tc->ev_count == 0)
                return false;
        *ret = tc->events[tc->ev_head];
        tc->ev_head = (tc->ev_head + 1) % TURN_MAX_EVENTS;
        tc->ev_count--;
        return true;
}
