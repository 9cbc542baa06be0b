/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/dns-stub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V4_PROXY_BASE     0x64600000u /* 100.96.0.0 */
#define V4_SENTINEL_START 0x64646f00u /* 100.100.111.0 */

struct name_record {
        char fqdn[KILN_DNS_NAME_MAX + 1]; /* lower case */
        char resource_id[KILN_ID_MAX + 1];
};

struct pending {
        bool used;
        bool site;      /* answered by a gateway at its tunnel IP */
        bool tcp;       /* already retried over TCP after a truncated UDP reply */
        uint8_t *query; /* as sent (wire id), for the TCP retry */
        size_t query_len;
        uint16_t wire_id, orig_id, orig_flags;
        struct kiln_dns_upstream upstream;
        struct kiln_dns_origin origin;
        struct kiln_dns_question q;
        uint64_t expires;
};

struct kiln_dns_stub {
        const struct kiln_resources *resources;
        uint64_t rng;
        struct kiln_dns_upstream upstreams[KILN_DNS_STUB_MAX_UPSTREAMS];
        size_t n_upstreams;
        struct name_record *names;
        size_t n_names, cap_names;
        struct pending pending[KILN_DNS_STUB_MAX_PENDING];
        struct kiln_dns_message msg; /* scratch for parsing; large */
        bool records_changed;
};

static uint64_t next_random(struct kiln_dns_stub *s)
{
        /* xorshift64*: ids only need to be unpredictable enough to resist blind spoofing by
         * off-path hosts in combination with the source and question checks. */
        s->rng ^= s->rng >> 12;
        s->rng ^= s->rng << 25;
        s->rng ^= s->rng >> 27;
        return s->rng * 0x2545F4914F6CDD1Dull;
}

struct kiln_dns_stub *kiln_dns_stub_new(const struct kiln_resources *resources, uint64_t seed)
{
        struct kiln_dns_stub *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->resources = resources;
        s->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
        return s;
}

static void pending_release(struct pending *p)
{
        free(p->query);
        memset(p, 0, sizeof(*p));
}

void kiln_dns_stub_free(struct kiln_dns_stub *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++)
                pending_release(&s->pending[i]);
        free(s->names);
        free(s);
}

int kiln_dns_stub_set_upstreams(struct kiln_dns_stub *s, const struct kiln_dns_upstream *u, size_t n)
{
        if (n > KILN_DNS_STUB_MAX_UPSTREAMS)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (u[i].addr.family != 4 && u[i].addr.family != 6)
                        return -EINVAL;
        memcpy(s->upstreams, u, n * sizeof(*u));
        s->n_upstreams = n;
        return 0;
}

size_t kiln_dns_stub_n_upstreams(const struct kiln_dns_stub *s)
{
        return s->n_upstreams;
}

void kiln_dns_sentinel(uint8_t family, unsigned i, struct kiln_ip_addr *ret)
{
        static const uint8_t v6[16] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00,
                                        0x01, 0x00, 0x01, 0x00, 0x01, 0x11, 0x00, 0x00 };
        if (family == 4) {
                kiln_ip_addr_v4(ret, 100, 100, 111, (uint8_t)(i + 1));
        } else {
                memset(ret, 0, sizeof(*ret));
                ret->family = 6;
                memcpy(ret->bytes, v6, 16);
                ret->bytes[15] = (uint8_t)(i + 1);
        }
}

static int sentinel_index(const struct kiln_ip_addr *a)
{
        if (!kiln_addr_is_sentinel(a))
                return -1;
        uint8_t last = a->family == 4 ? a->bytes[3] : a->bytes[15];
        return (int)last - 1;
}

static void v4_from_index(uint32_t n, struct kiln_ip_addr *ret)
{
        uint32_t a = V4_PROXY_BASE + 1 + n;
        if (a >= V4_SENTINEL_START)
                a += 256;
        kiln_ip_addr_v4(ret, (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a);
}

static void v6_from_index(uint32_t n, struct kiln_ip_addr *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->family = 6;
        const uint8_t prefix[8] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00 };
        memcpy(ret->bytes, prefix, 8);
        uint32_t v = n + 1;
        ret->bytes[12] = (uint8_t)(v >> 24);
        ret->bytes[13] = (uint8_t)(v >> 16);
        ret->bytes[14] = (uint8_t)(v >> 8);
        ret->bytes[15] = (uint8_t)v;
}

/* Inverse of the two above: the linear proxy number, or -1. */
static long index_of(const struct kiln_ip_addr *a)
{
        if (!kiln_addr_is_proxy(a))
                return -1;
        if (a->family == 4) {
                uint32_t v = (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
                             (uint32_t)a->bytes[2] << 8 | a->bytes[3];
                if (v >= V4_SENTINEL_START + 256)
                        v -= 256;
                if (v <= V4_PROXY_BASE)
                        return -1;
                return (long)(v - V4_PROXY_BASE - 1);
        }
        for (int i = 8; i < 12; i++)
                if (a->bytes[i])
                        return -1;
        uint32_t v = (uint32_t)a->bytes[12] << 24 | (uint32_t)a->bytes[13] << 16 |
                     (uint32_t)a->bytes[14] << 8 | a->bytes[15];
        if (v == 0)
                return -1;
        return (long)(v - 1);
}

static void lower_copy(char *dst, const char *src)
{
        size_t i = 0;
        for (; src[i] && i < KILN_DNS_NAME_MAX; i++)
                dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
        dst[i] = 0;
}

static struct name_record *record_for(struct kiln_dns_stub *s, const char *fqdn, bool create,
                                      size_t *ret_index)
{
        char name[KILN_DNS_NAME_MAX + 1];
        lower_copy(name, fqdn);
        for (size_t i = 0; i < s->n_names; i++) {
                if (!strcmp(s->names[i].fqdn, name)) {
                        *ret_index = i;
                        return &s->names[i];
                }
        }
        if (!create || s->n_names >= KILN_DNS_STUB_MAX_NAMES)
                return NULL;
        if (s->n_names == s->cap_names) {
                size_t cap = s->cap_names ? s->cap_names * 2 : 16;
                struct name_record *v = realloc(s->names, cap * sizeof(*v));
                if (!v)
                        return NULL;
                s->names = v;
                s->cap_names = cap;
        }
        struct name_record *r = &s->names[s->n_names];
        memset(r, 0, sizeof(*r));
        strcpy(r->fqdn, name);
        *ret_index = s->n_names++;
        s->records_changed = true;
        return r;
}

unsigned kiln_dns_stub_proxy_ips(struct kiln_dns_stub *s, const char *fqdn, const struct kiln_resource *res,
                                 struct kiln_ip_addr out[static 8])
{
        size_t idx;
        struct name_record *r = record_for(s, fqdn, true, &idx);
        unsigned n = 0;
        if (!r)
                return 0;
        snprintf(r->resource_id, sizeof(r->resource_id), "%s", res->id);
        for (unsigned i = 0; i < KILN_DNS_STUB_PROXY_IPS_PER_FAMILY; i++) {
                uint32_t k = (uint32_t)(idx * KILN_DNS_STUB_PROXY_IPS_PER_FAMILY + i);
                if (res->ip_stack != KILN_IP_STACK_IPV6_ONLY)
                        v4_from_index(k, &out[n++]);
        }
        for (unsigned i = 0; i < KILN_DNS_STUB_PROXY_IPS_PER_FAMILY; i++) {
                uint32_t k = (uint32_t)(idx * KILN_DNS_STUB_PROXY_IPS_PER_FAMILY + i);
                if (res->ip_stack != KILN_IP_STACK_IPV4_ONLY)
                        v6_from_index(k, &out[n++]);
        }
        return n;
}

bool kiln_dns_stub_proxy_lookup(const struct kiln_dns_stub *s, const struct kiln_ip_addr *proxy,
                                const char **ret_fqdn, const char **ret_resource_id)
{
        long i = index_of(proxy);
        if (i < 0 || (size_t)i / KILN_DNS_STUB_PROXY_IPS_PER_FAMILY >= s->n_names)
                return false;
        const struct name_record *r = &s->names[(size_t)i / KILN_DNS_STUB_PROXY_IPS_PER_FAMILY];
        *ret_fqdn = r->fqdn;
        *ret_resource_id = r->resource_id;
        return true;
}

/* "4.3.2.1.in-addr.arpa" or the 32-nibble ip6.arpa form → address. */
static bool ptr_to_addr(const char *name, struct kiln_ip_addr *ret)
{
        char tmp[KILN_DNS_NAME_MAX + 1];
        size_t n = strlen(name);
        lower_copy(tmp, name);
        if (n > 13 && !strcmp(tmp + n - 13, ".in-addr.arpa")) {
                unsigned b[4];
                char extra;
                tmp[n - 13] = 0;
                if (sscanf(tmp, "%3u.%3u.%3u.%3u%c", &b[0], &b[1], &b[2], &b[3], &extra) != 4)
                        return false;
                for (int i = 0; i < 4; i++)
                        if (b[i] > 255)
                                return false;
                kiln_ip_addr_v4(ret, (uint8_t)b[3], (uint8_t)b[2], (uint8_t)b[1], (uint8_t)b[0]);
                return true;
        }
        if (n == 72 && !strcmp(tmp + 63, ".ip6.arpa")) {
                memset(ret, 0, sizeof(*ret));
                ret->family = 6;
                for (int i = 0; i < 32; i++) {
                        char c = tmp[i * 2];
                        int v = (c >= '0' && c <= '9')   ? c - '0'
                                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                                         : -1;
                        if (v < 0 || (i < 31 && tmp[i * 2 + 1] != '.'))
                                return false;
                        int nib = 31 - i;
                        ret->bytes[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
                }
                return true;
        }
        return false;
}

static void answer(struct kiln_dns_stub_result *ret, struct kiln_dns_builder *b)
{
        ssize_t len = kiln_dns_builder_finish(b);
        if (len < 0) {
                ret->verdict = KILN_DNS_STUB_DROP;
                return;
        }
        ret->verdict = KILN_DNS_STUB_ANSWER;
        ret->len = (size_t)len;
}

static int forward(struct kiln_dns_stub *s, uint64_t now, const struct kiln_dns_origin *origin,
                   const struct kiln_dns_message *m, const uint8_t *query, size_t len, uint8_t *out,
                   size_t cap, bool site, struct kiln_dns_stub_result *ret)
{
        struct pending *slot = NULL;
        for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++) {
                if (s->pending[i].used && s->pending[i].expires <= now)
                        pending_release(&s->pending[i]);
                if (!s->pending[i].used && !slot)
                        slot = &s->pending[i];
        }
        if (!slot || len > cap)
                return -ENOBUFS;
        uint8_t *copy = malloc(len);
        if (!copy)
                return -ENOMEM;
        uint16_t id;
        bool clash;
        do {
                id = (uint16_t)next_random(s);
                clash = false;
                for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++)
                        if (s->pending[i].used && s->pending[i].wire_id == id)
                                clash = true;
        } while (clash);
        *slot = (struct pending){
                .used = true,
                .site = site,
                .wire_id = id,
                .orig_id = m->id,
                .orig_flags = m->flags,
                .origin = *origin,
                .q = m->questions[0],
                .expires = now + KILN_DNS_STUB_QUERY_TIMEOUT_NS,
                .query = copy,
                .query_len = len,
        };
        memcpy(out, query, len);
        out[0] = (uint8_t)(id >> 8);
        out[1] = (uint8_t)id;
        memcpy(copy, out, len);
        ret->len = len;
        ret->forward_id = id;
        if (site) {
                ret->verdict = KILN_DNS_STUB_FORWARD_SITE;
        } else {
                int si = sentinel_index(&origin->sentinel);
                slot->upstream = s->upstreams[si];
                ret->upstream = s->upstreams[si];
                ret->verdict = KILN_DNS_STUB_FORWARD;
        }
        return 0;
}

int kiln_dns_stub_handle_query(struct kiln_dns_stub *s, uint64_t now, const struct kiln_dns_origin *origin,
                               const uint8_t *query, size_t len, uint8_t *out, size_t cap,
                               struct kiln_dns_stub_result *ret)
{
        struct kiln_dns_message *const mp = &s->msg;
        struct kiln_dns_builder b;
        struct kiln_dns_stub_result res = { .verdict = KILN_DNS_STUB_DROP };

        int r = kiln_dns_parse(query, len, mp);
        if (r < 0 || (mp->flags & KILN_DNS_FLAG_QR)) {
                *ret = res;
                return 0;
        }
        if (mp->qdcount != 1 || ((mp->flags >> 11) & 0xf) != 0) {
                kiln_dns_builder_reply(&b, out, cap, mp,
                                       mp->qdcount != 1 ? KILN_DNS_RCODE_FORMERR : 4 /* NOTIMP */);
                answer(&res, &b);
                *ret = res;
                return 0;
        }
        const struct kiln_dns_question *q = &mp->questions[0];
        const struct kiln_resource *resource = kiln_resources_match_name(s->resources, q->name);
        struct kiln_ip_addr ptr_addr;

        if (kiln_dns_name_equal(q->name, "use-application-dns.net")) {
                kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_NXDOMAIN);
                answer(&res, &b);
        } else if (resource && (q->qtype == KILN_DNS_TYPE_A || q->qtype == KILN_DNS_TYPE_AAAA)) {
                struct kiln_ip_addr ips[8];
                unsigned n = kiln_dns_stub_proxy_ips(s, q->name, resource, ips);
                if (n == 0) {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_SERVFAIL);
                } else {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_NOERROR);
                        uint8_t fam = q->qtype == KILN_DNS_TYPE_A ? 4 : 6;
                        for (unsigned i = 0; i < n; i++)
                                if (ips[i].family == fam)
                                        kiln_dns_add_rr(&b, q->name, q->qtype, KILN_DNS_STUB_TTL,
                                                        ips[i].bytes, fam == 4 ? 4 : 16);
                }
                answer(&res, &b);
                res.resource = resource;
        } else if (resource && q->qtype == KILN_DNS_TYPE_HTTPS) {
                /* Empty NOERROR: browsers must fall back to A/AAAA, which we control. */
                kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_NOERROR);
                answer(&res, &b);
                res.resource = resource;
        } else if (resource && (q->qtype == KILN_DNS_TYPE_SRV || q->qtype == KILN_DNS_TYPE_TXT)) {
                r = forward(s, now, origin, mp, query, len, out, cap, true, &res);
                if (r < 0) {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_SERVFAIL);
                        answer(&res, &b);
                }
                res.resource = resource;
        } else if (q->qtype == KILN_DNS_TYPE_PTR && ptr_to_addr(q->name, &ptr_addr) &&
                   kiln_addr_is_proxy(&ptr_addr)) {
                const char *fqdn, *rid;
                if (kiln_dns_stub_proxy_lookup(s, &ptr_addr, &fqdn, &rid)) {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_NOERROR);
                        kiln_dns_add_name_rr(&b, q->name, KILN_DNS_TYPE_PTR, KILN_DNS_STUB_TTL, fqdn);
                } else {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_NXDOMAIN);
                }
                answer(&res, &b);
        } else {
                int si = sentinel_index(&origin->sentinel);
                if (si < 0 || (size_t)si >= s->n_upstreams ||
                    forward(s, now, origin, mp, query, len, out, cap, false, &res) < 0) {
                        kiln_dns_builder_reply(&b, out, cap, mp, KILN_DNS_RCODE_SERVFAIL);
                        answer(&res, &b);
                }
        }
        if (res.resource)
                snprintf(res.fqdn, sizeof(res.fqdn), "%s", q->name);
        *ret = res;
        return 0;
}

int kiln_dns_stub_handle_reply(struct kiln_dns_stub *s, uint64_t now, const struct kiln_ip_addr *from,
                               const uint8_t *reply, size_t len, uint8_t *out, size_t cap, size_t *ret_len,
                               struct kiln_dns_origin *ret_origin,
                               struct kiln_dns_upstream *ret_tcp_upstream)
{
        struct kiln_dns_message *const mp = &s->msg;

        int r = kiln_dns_parse(reply, len, mp);
        if (r < 0)
                return -EBADMSG;
        if (!(mp->flags & KILN_DNS_FLAG_QR) || mp->qdcount != 1)
                return -EBADMSG;
        for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++) {
                struct pending *p = &s->pending[i];
                if (!p->used || p->wire_id != mp->id || p->expires <= now)
                        continue;
                bool from_ok =
                    p->site ? kiln_addr_is_tunnel(from) : kiln_ip_addr_equal(from, &p->upstream.addr);
                if (!from_ok || !kiln_dns_name_equal(p->q.name, mp->questions[0].name) ||
                    p->q.qtype != mp->questions[0].qtype)
                        return -ENOENT;
                if ((mp->flags & KILN_DNS_FLAG_TC) && !p->site && !p->tcp) {
                        /* Truncated over UDP: ask the same upstream again over TCP. */
                        if (p->query_len > cap)
                                return -ENOBUFS;
                        memcpy(out, p->query, p->query_len);
                        *ret_len = p->query_len;
                        *ret_tcp_upstream = p->upstream;
                        p->tcp = true;
                        p->expires = now + KILN_DNS_STUB_QUERY_TIMEOUT_NS;
                        return KILN_DNS_STUB_RETRY_TCP;
                }
                if (len > cap)
                        return -ENOBUFS;
                memcpy(out, reply, len);
                out[0] = (uint8_t)(p->orig_id >> 8);
                out[1] = (uint8_t)p->orig_id;
                *ret_len = len;
                *ret_origin = p->origin;
                pending_release(p);
                return 0;
        }
        return -ENOENT;
}

int kiln_dns_stub_poll_expired(struct kiln_dns_stub *s, uint64_t now, uint8_t *out, size_t cap,
                               size_t *ret_len, struct kiln_dns_origin *ret_origin)
{
        for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++) {
                struct pending *p = &s->pending[i];
                if (!p->used || p->expires > now)
                        continue;
                struct kiln_dns_builder b;
                uint16_t flags = KILN_DNS_FLAG_QR | KILN_DNS_FLAG_RA | (p->orig_flags & KILN_DNS_FLAG_RD) |
                                 KILN_DNS_RCODE_SERVFAIL;
                kiln_dns_builder_init(&b, out, cap, p->orig_id, flags);
                kiln_dns_add_question(&b, p->q.name, p->q.qtype, p->q.qclass);
                ssize_t len = kiln_dns_builder_finish(&b);
                struct kiln_dns_origin origin = p->origin;
                pending_release(p);
                if (len < 0)
                        return (int)len;
                *ret_len = (size_t)len;
                *ret_origin = origin;
                return 0;
        }
        return -EAGAIN;
}

uint64_t kiln_dns_stub_next_timeout(const struct kiln_dns_stub *s)
{
        uint64_t t = UINT64_MAX;
        for (size_t i = 0; i < KILN_DNS_STUB_MAX_PENDING; i++)
                if (s->pending[i].used && s->pending[i].expires < t)
                        t = s->pending[i].expires;
        return t;
}

size_t kiln_dns_stub_n_records(const struct kiln_dns_stub *s)
{
        return s->n_names;
}

const char *kiln_dns_stub_record(const struct kiln_dns_stub *s, size_t i)
{
        return i < s->n_names ? s->names[i].fqdn : NULL;
}

int kiln_dns_stub_seed_records(struct kiln_dns_stub *s, const char *const *fqdns, size_t n)
{
        size_t idx;
        if (s->n_names)
                return -EBUSY;
        if (n > KILN_DNS_STUB_MAX_NAMES)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(fqdns[i]);
                if (len == 0 || len > KILN_DNS_NAME_MAX || !kiln_dns_pattern_valid(fqdns[i]) ||
                    strpbrk(fqdns[i], "*?"))
                        return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                /* A duplicate keeps its first block; the list is still applied in order. */
                if (!record_for(s, fqdns[i], true, &idx)) {
                        s->n_names = 0;
                        return -ENOMEM;
                }
        }
        s->records_changed = false;
        return 0;
}

bool kiln_dns_stub_take_records_changed(struct kiln_dns_stub *s)
{
        bool changed = s->records_changed;
        s->records_changed = false;
        return changed;
}
