/* SPDX-License-Identifier: MIT */
#include "backend/ice/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/ice/rng.h"

#define ICE_MAX_PAIRS  (ICE_MAX_LOCAL * ICE_MAX_REMOTE)
#define ICE_MAX_EVENTS 32
/* Checks are started only while this much room is left, so that answers to the peer's
 * checks still fit; the rest start on the next timeout, after the driver drained us. */
#define ICE_TXQ_CAP     16
#define ICE_TXQ_RESERVE 4
/* A valid pair whose consent check went unanswered this many times is not used for a new
 * nomination (and makes the controlling side move away from it when it is selected). */
#define ICE_STALE_ATTEMPTS 3

static const struct ice_timing timings[] = {
        [ICE_PROFILE_CLIENT_ACTIVE] = { 12, ICE_MS(250), ICE_MS(1500) },
        [ICE_PROFILE_CLIENT_IDLE] = { 4, ICE_S(25), ICE_S(25) },
        [ICE_PROFILE_GATEWAY_ACTIVE] = { 45, ICE_MS(250), ICE_S(15) },
        [ICE_PROFILE_GATEWAY_IDLE] = { 40, ICE_S(25), ICE_S(25) },
};

const struct ice_timing *ice_timing_for(enum ice_profile profile)
{
        return &timings[profile];
}

uint64_t ice_timing_delay(const struct ice_timing *t, unsigned int n)
{
        uint64_t d = t->initial_rto;

        for (unsigned int i = 1; i < n && d < t->max_rto; i++)
                d *= 2;
        return d < t->max_rto ? d : t->max_rto;
}

uint64_t ice_timing_timeout(const struct ice_timing *t)
{
        uint64_t sum = 0;

        for (unsigned int n = 2; n <= t->max_retransmits; n++)
                sum += ice_timing_delay(t, n);
        return sum + ice_timing_delay(t, t->max_retransmits);
}

enum pair_state {
        PAIR_WAITING,
        PAIR_IN_PROGRESS,
        PAIR_SUCCEEDED,
        PAIR_FAILED
};

struct pair {
        bool used;
        int local, remote; /* indices */
        uint64_t priority;
        enum pair_state state;
        /* the current check transaction */
        bool in_flight;
        bool use_candidate; /* this transaction nominates */
        enum ice_role sent_role;
        uint8_t tid[STUN_TID_LEN];
        unsigned int attempts;
        uint64_t next_send;
        uint64_t next_consent;
        bool nominate_on_success; /* controlled: the peer sent USE-CANDIDATE before we validated */
};

struct slot {
        bool used;
        struct ice_candidate c;
};

struct ice_agent {
        enum ice_role role;
        enum ice_profile profile;
        enum ice_state state;
        char local_ufrag[ICE_UFRAG_MAX + 1], local_pwd[ICE_PWD_MAX + 1];
        char remote_ufrag[ICE_UFRAG_MAX + 1], remote_pwd[ICE_PWD_MAX + 1];
        uint64_t tie_breaker;
        struct ice_rng rng;

        struct slot local[ICE_MAX_LOCAL];
        struct slot remote[ICE_MAX_REMOTE];
        struct pair pairs[ICE_MAX_PAIRS];
        int selected; /* pair index or -1 */

        uint64_t created, first_check, disconnected_at;
        bool had_remote;

        struct ice_txq txq;
        struct ice_event events[ICE_MAX_EVENTS];
        size_t ev_head, ev_count;
};

static struct ice_event *push_event(struct ice_agent *a, enum ice_event_type type)
{
        struct ice_event *e;

        if (a->ev_count == ICE_MAX_EVENTS) {
                a->ev_head = (a->ev_head + 1) % ICE_MAX_EVENTS;
                a->ev_count--;
        }
        e = &a->events[(a->ev_head + a->ev_count++) % ICE_MAX_EVENTS];
        memset(e, 0, sizeof(*e));
        e->type = type;
        return e;
}

static bool copy_cred(char *dst, size_t cap, const char *src)
{
        size_t n = src ? strlen(src) : 0;

        if (n == 0 || n >= cap || strchr(src, ':'))
                return false;
        memcpy(dst, src, n + 1);
        return true;
}

struct ice_agent *ice_agent_new(const struct ice_agent_config *cfg, uint64_t now)
{
        struct ice_agent *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        if (ice_txq_init(&a->txq, ICE_TXQ_CAP) < 0) {
                free(a);
                return NULL;
        }
        if (!copy_cred(a->local_ufrag, sizeof(a->local_ufrag), cfg->local_ufrag) ||
            !copy_cred(a->local_pwd, sizeof(a->local_pwd), cfg->local_pwd) ||
            !copy_cred(a->remote_ufrag, sizeof(a->remote_ufrag), cfg->remote_ufrag) ||
            !copy_cred(a->remote_pwd, sizeof(a->remote_pwd), cfg->remote_pwd)) {
                ice_agent_free(a);
                return NULL;
        }
        a->role = cfg->role;
        a->profile = cfg->profile;
        ice_rng_seed(&a->rng, cfg->seed);
        a->tie_breaker = ice_rng_next(&a->rng);
        a->selected = -1;
        a->created = now;
        a->first_check = ICE_NEVER;
        a->disconnected_at = ICE_NEVER;
        return a;
}

void ice_agent_free(struct ice_agent *a)
{
        if (!a)
                return;
        ice_txq_release(&a->txq);
        sodium_memzero(a, sizeof(*a));
        free(a);
}

enum ice_state ice_agent_state(const struct ice_agent *a)
{
        return a->state;
}

enum ice_role ice_agent_role(const struct ice_agent *a)
{
        return a->role;
}

void ice_agent_set_profile(struct ice_agent *a, enum ice_profile profile)
{
        a->profile = profile;
}

bool ice_agent_selected(const struct ice_agent *a, struct ice_candidate *ret_local,
                        struct ice_candidate *ret_remote)
{
        const struct pair *p;

        if (a->selected < 0)
                return false;
        p = &a->pairs[a->selected];
        if (ret_local)
                *ret_local = a->local[p->local].c;
        if (ret_remote)
                *ret_remote = a->remote[p->remote].c;
        return true;
}

static const struct ice_timing *timing(const struct ice_agent *a)
{
        return &timings[a->profile];
}

static uint64_t pair_priority(const struct ice_agent *a, uint32_t local_prio, uint32_t remote_prio)
{
        uint64_t g = a->role == ICE_CONTROLLING ? local_prio : remote_prio;
        uint64_t d = a->role == ICE_CONTROLLING ? remote_prio : local_prio;
        uint64_t lo = g < d ? g : d, hi = g < d ? d : g;

        return (lo << 32) + 2 * hi + (g > d ? 1 : 0);
}

static void recompute_priorities(struct ice_agent *a)
{
        for (int i = 0; i < ICE_MAX_PAIRS; i++)
                if (a->pairs[i].used)
                        a->pairs[i].priority = pair_priority(a, a->local[a->pairs[i].local].c.priority,
                                                             a->remote[a->pairs[i].remote].c.priority);
}

static bool pairable_local(const struct ice_candidate *c)
{
        return c->type == ICE_CANDIDATE_HOST || c->type == ICE_CANDIDATE_RELAY;
}

static int find_pair(const struct ice_agent *a, int l, int r)
{
        for (int i = 0; i < ICE_MAX_PAIRS; i++)
                if (a->pairs[i].used && a->pairs[i].local == l && a->pairs[i].remote == r)
                        return i;
        return -1;
}

static int add_pair(struct ice_agent *a, int l, int r)
{
        int i = find_pair(a, l, r);

        if (i >= 0)
                return i;
        if (!pairable_local(&a->local[l].c) || a->local[l].c.addr.family != a->remote[r].c.addr.family)
                return -1;
        /* Relayed → remote host: host addresses are private in practice, and a relay that
         * cannot reach one may tear the whole allocation down (coturn closes the session on
         * ENETUNREACH).  The same path is still checked from the other side (host → relay). */
        if (a->local[l].c.type == ICE_CANDIDATE_RELAY && a->remote[r].c.type == ICE_CANDIDATE_HOST)
                return -1;
        for (i = 0; i < ICE_MAX_PAIRS; i++)
                if (!a->pairs[i].used)
                        break;
        if (i == ICE_MAX_PAIRS)
                return -1;
        memset(&a->pairs[i], 0, sizeof(a->pairs[i]));
        a->pairs[i].used = true;
        a->pairs[i].local = l;
        a->pairs[i].remote = r;
        a->pairs[i].state = PAIR_WAITING;
        a->pairs[i].priority = pair_priority(a, a->local[l].c.priority, a->remote[r].c.priority);
        return i;
}

static void wake_from_disconnected(struct ice_agent *a)
{
        if (a->state == ICE_STATE_DISCONNECTED) {
                a->state = a->selected >= 0 ? ICE_STATE_CONNECTED : ICE_STATE_CHECKING;
                a->disconnected_at = ICE_NEVER;
        }
}

int ice_agent_add_local_candidate(struct ice_agent *a, const struct ice_candidate *c, uint64_t now)
{
        int l = -1;
        struct ice_event *e;

        if (a->state == ICE_STATE_FAILED)
                return -ESHUTDOWN;
        for (int i = 0; i < ICE_MAX_LOCAL; i++)
                if (a->local[i].used && ice_candidate_same(&a->local[i].c, c))
                        return 0;
        for (int i = 0; i < ICE_MAX_LOCAL && l < 0; i++)
                if (!a->local[i].used)
                        l = i;
        if (l < 0)
                return -ENOSPC;
        a->local[l].used = true;
        a->local[l].c = *c;
        e = push_event(a, ICE_EVENT_LOCAL_CANDIDATE);
        e->local = *c;
        ice_candidate_to_sdp(c, e->sdp);
        for (int r = 0; r < ICE_MAX_REMOTE; r++)
                if (a->remote[r].used)
                        add_pair(a, l, r);
        wake_from_disconnected(a);
        return 1;
}

static void drop_pair(struct ice_agent *a, int i)
{
        a->pairs[i].used = false;
        if (a->selected == i)
                a->selected = -1;
}

int ice_agent_remove_local_candidate(struct ice_agent *a, const struct ice_addr *addr, uint64_t now)
{
        for (int l = 0; l < ICE_MAX_LOCAL; l++) {
                struct ice_event *e;

                if (!a->local[l].used || !ice_addr_equal(&a->local[l].c.addr, addr))
                        continue;
                e = push_event(a, ICE_EVENT_LOCAL_CANDIDATE_INVALIDATED);
                e->local = a->local[l].c;
                ice_candidate_to_sdp(&a->local[l].c, e->sdp);
                for (int i = 0; i < ICE_MAX_PAIRS; i++)
                        if (a->pairs[i].used && a->pairs[i].local == l)
                                drop_pair(a, i);
                a->local[l].used = false;
                ice_agent_handle_timeout(a, now);
                return 1;
        }
        return 0;
}

static int add_remote(struct ice_agent *a, const struct ice_candidate *c)
{
        int r = -1;

        for (int i = 0; i < ICE_MAX_REMOTE; i++)
                if (a->remote[i].used && ice_addr_equal(&a->remote[i].c.addr, &c->addr)) {
                        /* A signalled candidate replaces a peer-reflexive one we learned. */
                        if (a->remote[i].c.type == ICE_CANDIDATE_PRFLX && c->type != ICE_CANDIDATE_PRFLX)
                                a->remote[i].c = *c;
                        return i;
                }
        for (int i = 0; i < ICE_MAX_REMOTE && r < 0; i++)
                if (!a->remote[i].used)
                        r = i;
        if (r < 0)
                return -ENOSPC;
        a->remote[r].used = true;
        a->remote[r].c = *c;
        for (int l = 0; l < ICE_MAX_LOCAL; l++)
                if (a->local[l].used)
                        add_pair(a, l, r);
        return r;
}

int ice_agent_add_remote_candidate(struct ice_agent *a, const struct ice_candidate *c, uint64_t now)
{
        int r;

        if (a->state == ICE_STATE_FAILED)
                return -ESHUTDOWN;
        if (c->addr.family != 4 && c->addr.family != 6)
                return -EINVAL;
        r = add_remote(a, c);
        if (r < 0)
                return r;
        a->had_remote = true;
        wake_from_disconnected(a);
        return 0;
}

int ice_agent_remove_remote_candidate(struct ice_agent *a, const struct ice_candidate *c, uint64_t now)
{
        for (int r = 0; r < ICE_MAX_REMOTE; r++) {
                if (!a->remote[r].used || !ice_addr_equal(&a->remote[r].c.addr, &c->addr))
                        continue;
                for (int i = 0; i < ICE_MAX_PAIRS; i++)
                        if (a->pairs[i].used && a->pairs[i].remote == r)
                                drop_pair(a, i);
                a->remote[r].used = false;
                ice_agent_handle_timeout(a, now);
                return 1;
        }
        return 0;
}

bool ice_agent_accepts(const struct ice_agent *a, const struct stun_msg *m)
{
        size_t n = strlen(a->local_ufrag);

        if (m->method != STUN_BINDING)
                return false;
        if (m->cls == STUN_REQUEST)
                return (m->present & STUN_HAS_USERNAME) && m->username.len > n &&
                       memcmp(m->username.ptr, a->local_ufrag, n) == 0 && m->username.ptr[n] == ':';
        if (m->cls == STUN_SUCCESS || m->cls == STUN_ERROR)
                for (int i = 0; i < ICE_MAX_PAIRS; i++)
                        if (a->pairs[i].used && a->pairs[i].in_flight &&
                            memcmp(a->pairs[i].tid, m->tid, STUN_TID_LEN) == 0)
                                return true;
        return false;
}

static void send_check(struct ice_agent *a, int i, uint64_t now)
{
        struct pair *p = &a->pairs[i];
        const struct ice_candidate *l = &a->local[p->local].c;
        struct ice_transmit *t;
        struct stun_builder b;
        char username[2 * ICE_UFRAG_MAX + 2];
        int len;

        if (a->first_check == ICE_NEVER)
                a->first_check = now;
        p->attempts++;
        p->next_send = now + (p->attempts >= timing(a)->max_retransmits
                                  ? ice_timing_delay(timing(a), timing(a)->max_retransmits)
                                  : ice_timing_delay(timing(a), p->attempts + 1));
        t = ice_txq_push(&a->txq);
        if (!t)
                return;
        snprintf(username, sizeof(username), "%s:%s", a->remote_ufrag, a->local_ufrag);
        stun_build_init(&b, t->data, sizeof(t->data), STUN_BINDING, STUN_REQUEST, p->tid);
        stun_add_string(&b, STUN_ATTR_USERNAME, username);
        stun_add_u32(&b, STUN_ATTR_PRIORITY, ice_candidate_priority(ICE_CANDIDATE_PRFLX, l->addr.family));
        stun_add_u64(&b, a->role == ICE_CONTROLLING ? STUN_ATTR_ICE_CONTROLLING : STUN_ATTR_ICE_CONTROLLED,
                     a->tie_breaker);
        if (p->use_candidate)
                stun_add_flag(&b, STUN_ATTR_USE_CANDIDATE);
        p->sent_role = a->role;
        stun_add_integrity(&b, (const uint8_t *)a->remote_pwd, strlen(a->remote_pwd));
        stun_add_fingerprint(&b);
        len = stun_build_finish(&b);
        if (len < 0) {
                /* Cannot happen with bounded credentials; drop the slot rather than send junk. */
                t->len = 0;
                t->dst = a->remote[p->remote].c.addr;
                return;
        }
        t->len = (size_t)len;
        t->src = l->type == ICE_CANDIDATE_RELAY ? l->addr : l->base;
        t->dst = a->remote[p->remote].c.addr;
}

static void start_check(struct ice_agent *a, int i, bool nominate, uint64_t now)
{
        struct pair *p = &a->pairs[i];

        ice_rng_bytes(&a->rng, p->tid, STUN_TID_LEN);
        p->in_flight = true;
        p->use_candidate = nominate;
        p->attempts = 0;
        if (p->state != PAIR_SUCCEEDED)
                p->state = PAIR_IN_PROGRESS;
        send_check(a, i, now);
}

static bool pair_fresh(const struct pair *p)
{
        return p->used && p->state == PAIR_SUCCEEDED && (!p->in_flight || p->attempts < ICE_STALE_ATTEMPTS);
}

static void select_pair(struct ice_agent *a, int i, uint64_t now)
{
        struct pair *p = &a->pairs[i];
        struct ice_event *e;

        if (a->selected == i)
                return;
        a->selected = i;
        a->state = ICE_STATE_CONNECTED;
        a->disconnected_at = ICE_NEVER;
        e = push_event(a, ICE_EVENT_SELECTED);
        e->local = a->local[p->local].c;
        e->remote = a->remote[p->remote].c;
        e->via_relay = e->local.type == ICE_CANDIDATE_RELAY;
        e->time_to_connect = a->first_check == ICE_NEVER ? 0 : now - a->first_check;
}

/* Controlling side: nominate the best fresh pair when nothing is selected, the selection went
 * stale, or a strictly better pair became valid. */
static void maybe_nominate(struct ice_agent *a, uint64_t now)
{
        int best = -1;

        if (a->role != ICE_CONTROLLING)
                return;
        for (int i = 0; i < ICE_MAX_PAIRS; i++)
                if (pair_fresh(&a->pairs[i]) && (best < 0 || a->pairs[i].priority > a->pairs[best].priority))
                        best = i;
        if (best < 0 || best == a->selected)
                return;
        if (a->selected >= 0 && pair_fresh(&a->pairs[a->selected]) &&
            a->pairs[a->selected].priority >= a->pairs[best].priority)
                return;
        for (int i = 0; i < ICE_MAX_PAIRS; i++)
                if (a->pairs[i].used && a->pairs[i].in_flight && a->pairs[i].use_candidate &&
                    i != a->selected)
                        return; /* one nomination at a time */
        start_check(a, best, true, now);
}

static void respond(struct ice_agent *a, const struct ice_addr *local, const struct ice_addr *from,
                    const struct stun_msg *req, uint16_t error)
{
        struct ice_transmit *t = ice_txq_push(&a->txq);
        struct stun_builder b;
        int len;

        if (!t)
                return;
        stun_build_init(&b, t->data, sizeof(t->data), STUN_BINDING, error ? STUN_ERROR : STUN_SUCCESS,
                        req->tid);
        if (error == 420) {
                uint8_t list[2 * STUN_MAX_UNKNOWN];

                stun_add_error(&b, error, "Unknown Attribute");
                for (size_t i = 0; i < req->n_unknown; i++) {
                        list[2 * i] = (uint8_t)(req->unknown[i] >> 8);
                        list[2 * i + 1] = (uint8_t)req->unknown[i];
                }
                stun_add_bytes(&b, STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * req->n_unknown);
        } else if (error) {
                stun_add_error(&b, error, "Role Conflict");
        } else {
                stun_add_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, from);
        }
        stun_add_integrity(&b, (const uint8_t *)a->local_pwd, strlen(a->local_pwd));
        stun_add_fingerprint(&b);
        len = stun_build_finish(&b);
        t->len = len < 0 ? 0 : (size_t)len;
        t->src = *local;
        t->dst = *from;
}

static int local_index_for(const struct ice_agent *a, const struct ice_addr *local)
{
        for (int l = 0; l < ICE_MAX_LOCAL; l++) {
                const struct ice_candidate *c = &a->local[l].c;

                if (a->local[l].used && pairable_local(c) && ice_addr_equal(&c->addr, local))
                        return l;
        }
        return -1;
}

static void switch_role(struct ice_agent *a)
{
        a->role = a->role == ICE_CONTROLLING ? ICE_CONTROLLED : ICE_CONTROLLING;
        recompute_priorities(a);
        /* Checks in flight claimed the old role: restart them as new transactions so that a
         * late 487 to an old copy cannot switch us back. */
        for (int i = 0; i < ICE_MAX_PAIRS; i++) {
                struct pair *p = &a->pairs[i];

                if (!p->used || !p->in_flight)
                        continue;
                ice_rng_bytes(&a->rng, p->tid, STUN_TID_LEN);
                p->attempts = 0;
                p->use_candidate = false;
                p->next_send = 0;
        }
        push_event(a, ICE_EVENT_ROLE_CHANGED);
}

static int handle_request(struct ice_agent *a, const struct ice_addr *local, const struct ice_addr *from,
                          const struct stun_msg *m, uint64_t now)
{
        char expected[2 * ICE_UFRAG_MAX + 2];
        struct ice_candidate prflx;
        int l, r, i;

        snprintf(expected, sizeof(expected), "%s:%s", a->local_ufrag, a->remote_ufrag);
        if (!stun_text_eq(&m->username, expected))
                return -EACCES;
        if (!stun_check_integrity(m, (const uint8_t *)a->local_pwd, strlen(a->local_pwd)))
                return -EACCES;
        if (!(m->present & STUN_HAS_PRIORITY))
                return -EBADMSG;
        l = local_index_for(a, local);
        if (l < 0)
                return -EADDRNOTAVAIL;
        /* RFC 8489 §6.3.1.1: a request with comprehension-required attributes we do not know. */
        if (m->n_unknown > 0) {
                respond(a, local, from, m, 420);
                return -EPROTO;
        }

        /* RFC 8445 §7.3.1.1 */
        if (a->role == ICE_CONTROLLING && (m->present & STUN_HAS_ICE_CONTROLLING)) {
                if (a->tie_breaker >= m->ice_controlling) {
                        respond(a, local, from, m, 487);
                        return 0;
                }
                switch_role(a);
        } else if (a->role == ICE_CONTROLLED && (m->present & STUN_HAS_ICE_CONTROLLED)) {
                if (a->tie_breaker >= m->ice_controlled)
                        switch_role(a);
                else {
                        respond(a, local, from, m, 487);
                        return 0;
                }
        }
        respond(a, local, from, m, 0);

        memset(&prflx, 0, sizeof(prflx));
        prflx.type = ICE_CANDIDATE_PRFLX;
        prflx.addr = *from;
        prflx.base = *from;
        prflx.priority = m->priority;
        snprintf(prflx.foundation, sizeof(prflx.foundation), "prflx");
        r = add_remote(a, &prflx);
        if (r < 0)
                return 0;
        a->had_remote = true;
        wake_from_disconnected(a);
        i = add_pair(a, l, r);
        if (i < 0)
                return 0;
        if (a->role == ICE_CONTROLLED && (m->present & STUN_HAS_USE_CANDIDATE)) {
                if (a->pairs[i].state == PAIR_SUCCEEDED)
                        select_pair(a, i, now);
                else
                        a->pairs[i].nominate_on_success = true;
        }
        /* Triggered check (RFC 8445 §7.3.1.4): the peer just opened its NAT towards us, so
         * check now; an in-progress check is retransmitted at once rather than waiting
         * out its backoff. */
        if (a->pairs[i].state != PAIR_SUCCEEDED) {
                if (a->pairs[i].in_flight)
                        send_check(a, i, now);
                else
                        start_check(a, i, false, now);
        }
        return 0;
}

static int handle_response(struct ice_agent *a, const struct ice_addr *local, const struct ice_addr *from,
                           const struct stun_msg *m, uint64_t now)
{
        struct pair *p = NULL;
        int i;

        for (i = 0; i < ICE_MAX_PAIRS; i++)
                if (a->pairs[i].used && a->pairs[i].in_flight &&
                    memcmp(a->pairs[i].tid, m->tid, STUN_TID_LEN) == 0) {
                        p = &a->pairs[i];
                        break;
                }
        if (!p)
                return -ENOENT;
        if (!stun_check_integrity(m, (const uint8_t *)a->remote_pwd, strlen(a->remote_pwd)))
                return -EACCES;
        /* Non-symmetric answers do not validate the pair (RFC 8445 §7.2.5.2.1). */
        if (!ice_addr_equal(from, &a->remote[p->remote].c.addr) || local_index_for(a, local) != p->local)
                return -EADDRNOTAVAIL;
        if (m->cls == STUN_ERROR) {
                if (m->error_code == 487) {
                        /* RFC 8445 §7.2.5.1: take the other role than the one claimed. */
                        if (a->role == p->sent_role)
                                switch_role(a);
                        start_check(a, i, false, now);
                        return 0;
                }
                p->in_flight = false;
                p->state = PAIR_FAILED;
                return 0;
        }
        p->in_flight = false;
        p->state = PAIR_SUCCEEDED;
        p->next_consent = now + timing(a)->max_rto;
        if (a->role == ICE_CONTROLLING && p->use_candidate)
                select_pair(a, i, now);
        else if (a->role == ICE_CONTROLLED && p->nominate_on_success) {
                p->nominate_on_success = false;
                select_pair(a, i, now);
        }
        maybe_nominate(a, now);
        return 0;
}

int ice_agent_handle_stun(struct ice_agent *a, const struct ice_addr *local, const struct ice_addr *from,
                          const struct stun_msg *m, uint64_t now)
{
        if (a->state == ICE_STATE_FAILED)
                return -ESHUTDOWN;
        if (m->method != STUN_BINDING)
                return -EPROTO;
        if (m->cls == STUN_REQUEST)
                return handle_request(a, local, from, m, now);
        if (m->cls == STUN_SUCCESS || m->cls == STUN_ERROR)
                return handle_response(a, local, from, m, now);
        /* Binding indications are keep-alives: nothing to do. */
        return 0;
}

static void fail_agent(struct ice_agent *a, const char *reason)
{
        struct ice_event *e;

        a->state = ICE_STATE_FAILED;
        a->selected = -1;
        e = push_event(a, ICE_EVENT_FAILED);
        snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

static void update_state(struct ice_agent *a, uint64_t now)
{
        bool any_alive = false, any_pair = false;

        if (a->state == ICE_STATE_FAILED)
                return;
        if (!a->had_remote) {
                if (now >= a->created + ICE_CANDIDATE_TIMEOUT)
                        fail_agent(a, "no remote candidates");
                return;
        }
        for (int i = 0; i < ICE_MAX_PAIRS; i++) {
                any_pair |= a->pairs[i].used;
                if (a->pairs[i].used && a->pairs[i].state != PAIR_FAILED)
                        any_alive = true;
        }
        /* Nothing to check because we have gathered nothing yet is not a failure (the
         * relays may still answer); having no remote candidate left is. */
        if (!any_pair) {
                any_alive = true;
                for (int l = 0; l < ICE_MAX_LOCAL; l++)
                        if (a->local[l].used && pairable_local(&a->local[l].c))
                                any_alive = false;
        }
        if (a->selected >= 0 && a->pairs[a->selected].state == PAIR_FAILED)
                a->selected = -1;
        if (a->selected < 0 && !any_alive && a->state != ICE_STATE_DISCONNECTED) {
                a->state = ICE_STATE_DISCONNECTED;
                a->disconnected_at = now;
                push_event(a, ICE_EVENT_DISCONNECTED);
        } else if (a->selected < 0 && a->state == ICE_STATE_CONNECTED) {
                /* Selection lost but other pairs still checking: back to checking. */
                a->state = ICE_STATE_CHECKING;
                push_event(a, ICE_EVENT_DISCONNECTED);
        }
        if (a->state == ICE_STATE_DISCONNECTED && now >= a->disconnected_at + ICE_DISCONNECT_TIMEOUT)
                fail_agent(a, "ICE timeout: no candidate pair works");
}

void ice_agent_handle_timeout(struct ice_agent *a, uint64_t now)
{
        const struct ice_timing *t = timing(a);

        if (a->state == ICE_STATE_FAILED)
                return;
        for (int i = 0; i < ICE_MAX_PAIRS; i++) {
                struct pair *p = &a->pairs[i];

                if (!p->used)
                        continue;
                if (ice_txq_space(&a->txq) <= ICE_TXQ_RESERVE)
                        break;
                if (p->in_flight && now >= p->next_send) {
                        if (p->attempts >= t->max_retransmits) {
                                /* Unanswered for the whole ICE timeout: the pair (or its consent) is gone. */
                                p->in_flight = false;
                                p->state = PAIR_FAILED;
                                p->nominate_on_success = false;
                                continue;
                        }
                        send_check(a, i, now);
                } else if (p->state == PAIR_WAITING) {
                        start_check(a, i, false, now);
                } else if (p->state == PAIR_SUCCEEDED && !p->in_flight && now >= p->next_consent) {
                        /* Consent freshness (RFC 7675); the nominating flag stays on the selected pair. */
                        start_check(a, i, a->role == ICE_CONTROLLING && i == a->selected, now);
                }
        }
        maybe_nominate(a, now);
        update_state(a, now);
}

static uint64_t min_u64(uint64_t x, uint64_t y)
{
        return x < y ? x : y;
}

uint64_t ice_agent_poll_timeout(const struct ice_agent *a)
{
        uint64_t t = ICE_NEVER;

        if (a->state == ICE_STATE_FAILED)
                return ICE_NEVER;
        if (!a->had_remote)
                t = a->created + ICE_CANDIDATE_TIMEOUT;
        if (a->state == ICE_STATE_DISCONNECTED)
                t = min_u64(t, a->disconnected_at + ICE_DISCONNECT_TIMEOUT);
        for (int i = 0; i < ICE_MAX_PAIRS; i++) {
                const struct pair *p = &a->pairs[i];

                if (!p->used)
                        continue;
                if (p->in_flight)
                        t = min_u64(t, p->next_send);
                else if (p->state == PAIR_WAITING)
                        return 0;
                else if (p->state == PAIR_SUCCEEDED)
                        t = min_u64(t, p->next_consent);
        }
        return t;
}

bool ice_agent_poll_transmit(struct ice_agent *a, struct ice_transmit *ret)
{
        while (ice_txq_pop(&a->txq, ret))
                if (ret->len > 0)
                        return true;
        return false;
}

bool ice_agent_poll_event(struct ice_agent *a, struct ice_event *ret)
{
        if (a->ev_count == 0)
                return false;
        *ret = a->events[a->ev_head];
        a->ev_head = (a->ev_head + 1) % ICE_MAX_EVENTS;
        a->ev_count--;
        return true;
}
