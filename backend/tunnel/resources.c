/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/resources.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/dns-message.h"

struct entry {
        struct kiln_resource r;
        char gateway[KILN_ID_MAX + 1];
};

struct kiln_resources {
        struct entry *v;
        size_t n, cap;
        bool internet_enabled;
};

struct range {
        uint8_t family;
        uint8_t bytes[16];
        unsigned prefix;
};

static const struct range tunnel_v4 = { 4, { 100, 64 }, 11 };
static const struct range tunnel_v6 = { 6, { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11 }, 107 };
static const struct range proxy_v4 = { 4, { 100, 96 }, 11 };
static const struct range proxy_v6 = { 6, { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00 }, 107 };
static const struct range sentinel_v4 = { 4, { 100, 100, 111 }, 24 };
static const struct range sentinel_v6 = {
        6, { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x11 }, 120
};

static bool in_range(const struct kiln_ip_addr *a, const struct range *r)
{
        struct kiln_ip_addr net = { .family = r->family };
        memcpy(net.bytes, r->bytes, 16);
        return kiln_ip_addr_in_prefix(a, &net, r->prefix);
}

bool kiln_addr_is_tunnel(const struct kiln_ip_addr *a)
{
        return in_range(a, &tunnel_v4) || in_range(a, &tunnel_v6);
}

bool kiln_addr_is_sentinel(const struct kiln_ip_addr *a)
{
        return in_range(a, &sentinel_v4) || in_range(a, &sentinel_v6);
}

bool kiln_addr_is_proxy(const struct kiln_ip_addr *a)
{
        return (in_range(a, &proxy_v4) || in_range(a, &proxy_v6)) && !kiln_addr_is_sentinel(a);
}

struct kiln_resources *kiln_resources_new(void)
{
        return calloc(1, sizeof(struct kiln_resources));
}

void kiln_resources_free(struct kiln_resources *t)
{
        if (!t)
                return;
        free(t->v);
        free(t);
}

static char lower(char c)
{
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Glob inside one label: '*' any run of characters, '?' exactly one. */
static bool label_match(const char *p, size_t pn, const char *s, size_t sn)
{
        size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
        while (si < sn) {
                if (pi < pn && (p[pi] == '?' || lower(p[pi]) == lower(s[si]))) {
                        pi++;
                        si++;
                } else if (pi < pn && p[pi] == '*') {
                        star_p = pi++;
                        star_s = si;
                } else if (star_p != SIZE_MAX) {
                        pi = star_p + 1;
                        si = ++star_s;
                } else {
                        return false;
                }
        }
        while (pi < pn && p[pi] == '*')
                pi++;
        return pi == pn;
}

static size_t label_len(const char *s)
{
        const char *dot = strchr(s, '.');
        return dot ? (size_t)(dot - s) : strlen(s);
}

static const char *next_label(const char *s)
{
        const char *dot = strchr(s, '.');
        return dot ? dot + 1 : NULL;
}

static bool match_labels(const char *p, const char *s, int depth)
{
        if (depth > 128)
                return false;
        if (!p)
                return !s;
        size_t pl = label_len(p);
        if (pl == 2 && p[0] == '*' && p[1] == '*') {
                /* zero or more labels */
                for (const char *t = s; t; t = next_label(t))
                        if (match_labels(next_label(p), t, depth + 1))
                                return true;
                return match_labels(next_label(p), NULL, depth + 1);
        }
        if (!s)
                return false;
        if (!label_match(p, pl, s, label_len(s)))
                return false;
        return match_labels(next_label(p), next_label(s), depth + 1);
}

static void strip_dot(const char *in, char *out, size_t cap)
{
        size_t n = strlen(in);
        if (n >= cap)
                n = cap - 1;
        memcpy(out, in, n);
        out[n] = 0;
        if (n && out[n - 1] == '.')
                out[n - 1] = 0;
}

bool kiln_dns_pattern_match(const char *pattern, const char *name)
{
        char p[KILN_RESOURCE_ADDRESS_MAX + 2], s[KILN_RESOURCE_ADDRESS_MAX + 2];
        if (strlen(pattern) > KILN_RESOURCE_ADDRESS_MAX + 1 || strlen(name) > KILN_RESOURCE_ADDRESS_MAX + 1)
                return false;
        strip_dot(pattern, p, sizeof(p));
        strip_dot(name, s, sizeof(s));
        if (!*p || !*s)
                return false;
        /* "*.b": the apex or exactly one label below it. */
        if (p[0] == '*' && p[1] == '.') {
                if (kiln_dns_name_equal(p + 2, s))
                        return true;
                const char *below = next_label(s);
                return below && label_len(s) > 0 && match_labels(p + 2, below, 0);
        }
        return match_labels(p, s, 0);
}

bool kiln_dns_pattern_valid(const char *pattern)
{
        size_t n = strlen(pattern);
        if (n == 0 || n > KILN_RESOURCE_ADDRESS_MAX)
                return false;
        char p[KILN_RESOURCE_ADDRESS_MAX + 1];
        strip_dot(pattern, p, sizeof(p));
        for (const char *l = p; l; l = next_label(l)) {
                size_t ll = label_len(l);
                if (ll == 0 || ll > 63)
                        return false;
                for (size_t i = 0; i < ll; i++) {
                        char c = lower(l[i]);
                        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                              c == '*' || c == '?'))
                                return false;
                }
        }
        return true;
}

static struct entry *find(const struct kiln_resources *t, const char *id)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i].r.id, id) == 0)
                        return &t->v[i];
        return NULL;
}

static bool sites_equal(const struct kiln_resource *a, const struct kiln_resource *b)
{
        if (a->n_sites != b->n_sites)
                return false;
        for (unsigned i = 0; i < a->n_sites; i++)
                if (strcmp(a->sites[i], b->sites[i]) != 0)
                        return false;
        return true;
}

static bool id_valid(const char *id)
{
        size_t n = strnlen(id, KILN_ID_MAX + 1);
        return n > 0 && n <= KILN_ID_MAX;
}

int kiln_resources_upsert(struct kiln_resources *t, const struct kiln_resource *r)
{
        struct kiln_resource c = *r;

        if (!id_valid(c.id) || c.n_filters > KILN_RESOURCE_MAX_FILTERS ||
            c.n_sites > KILN_RESOURCE_MAX_SITES)
                return -EINVAL;
        for (unsigned i = 0; i < c.n_sites; i++)
                if (!id_valid(c.sites[i]))
                        return -EINVAL;
        for (unsigned i = 0; i < c.n_filters; i++) {
                const struct kiln_filter *f = &c.filters[i];
                if (f->proto == KILN_IPPROTO_ICMP)
                        continue;
                if ((f->proto != KILN_IPPROTO_TCP && f->proto != KILN_IPPROTO_UDP) ||
                    f->port_start > f->port_end)
                        return -EINVAL;
        }
        c.address[KILN_RESOURCE_ADDRESS_MAX] = 0;
        switch (c.type) {
        case KILN_RESOURCE_CIDR:
                if (kiln_ip_prefix_parse(c.address, &c.net, &c.prefix) < 0)
                        return -EINVAL;
                break;
        case KILN_RESOURCE_DNS:
                if (!kiln_dns_pattern_valid(c.address))
                        return -EINVAL;
                break;
        case KILN_RESOURCE_INTERNET:
                c.address[0] = 0;
                break;
        default:
                return -EINVAL;
        }
        struct entry *e = find(t, c.id);
        if (e) {
                if (!sites_equal(&e->r, &c))
                        e->gateway[0] = 0;
                e->r = c;
                return 0;
        }
        if (t->n >= KILN_RESOURCES_MAX)
                return -E2BIG;
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                struct entry *v = realloc(t->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                t->v = v;
                t->cap = cap;
        }
        e = &t->v[t->n++];
        memset(e, 0, sizeof(*e));
        e->r = c;
        return 0;
}

int kiln_resources_remove(struct kiln_resources *t, const char *id)
{
        struct entry *e = find(t, id);
        if (!e)
                return -ENOENT;
        size_t i = (size_t)(e - t->v);
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*e));
        t->n--;
        return 0;
}

const struct kiln_resource *kiln_resources_get(const struct kiln_resources *t, const char *id)
{
        struct entry *e = find(t, id);
        return e ? &e->r : NULL;
}

size_t kiln_resources_count(const struct kiln_resources *t)
{
        return t->n;
}

const struct kiln_resource *kiln_resources_at(const struct kiln_resources *t, size_t i)
{
        return i < t->n ? &t->v[i].r : NULL;
}

void kiln_resources_set_internet_enabled(struct kiln_resources *t, bool enabled)
{
        t->internet_enabled = enabled;
}

bool kiln_resources_internet_enabled(const struct kiln_resources *t)
{
        return t->internet_enabled;
}

const struct kiln_resource *kiln_resources_lookup_ip(const struct kiln_resources *t,
                                                     const struct kiln_ip_addr *a)
{
        const struct kiln_resource *best = NULL, *internet = NULL;
        for (size_t i = 0; i < t->n; i++) {
                const struct kiln_resource *r = &t->v[i].r;
                if (r->type == KILN_RESOURCE_INTERNET)
                        internet = r;
                if (r->type != KILN_RESOURCE_CIDR || !kiln_ip_addr_in_prefix(a, &r->net, r->prefix))
                        continue;
                if (!best || r->prefix > best->prefix)
                        best = r;
        }
        if (best)
                return best;
        if (internet && t->internet_enabled && !kiln_addr_is_tunnel(a) && !kiln_addr_is_proxy(a) &&
            !kiln_addr_is_sentinel(a))
                return internet;
        return NULL;
}

const struct kiln_resource *kiln_resources_match_name(const struct kiln_resources *t, const char *name)
{
        const struct kiln_resource *best = NULL;
        bool best_exact = false;
        for (size_t i = 0; i < t->n; i++) {
                const struct kiln_resource *r = &t->v[i].r;
                if (r->type != KILN_RESOURCE_DNS || !kiln_dns_pattern_match(r->address, name))
                        continue;
                bool exact = !strpbrk(r->address, "*?");
                if (!best || (exact && !best_exact) ||
                    (exact == best_exact && strlen(r->address) > strlen(best->address))) {
                        best = r;
                        best_exact = exact;
                }
        }
        return best;
}

int kiln_resources_set_gateway(struct kiln_resources *t, const char *id, const char *gateway_id)
{
        struct entry *e = find(t, id);
        if (!e)
                return -ENOENT;
        if (!id_valid(gateway_id))
                return -EINVAL;
        strcpy(e->gateway, gateway_id);
        return 0;
}

const char *kiln_resources_gateway(const struct kiln_resources *t, const char *id)
{
        struct entry *e = find(t, id);
        return e ? e->gateway : "";
}

void kiln_resources_clear_gateway(struct kiln_resources *t, const char *gateway_id)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i].gateway, gateway_id) == 0)
                        t->v[i].gateway[0] = 0;
}

bool kiln_filters_allow(const struct kiln_filter *filters, unsigned n, const struct kiln_packet *p)
{
        if (n == 0)
                return true;
        for (unsigned i = 0; i < n; i++) {
                const struct kiln_filter *f = &filters[i];
                if (f->proto == KILN_IPPROTO_ICMP) {
                        if (p->proto == KILN_IPPROTO_ICMP || p->proto == KILN_IPPROTO_ICMPV6)
                                return true;
                        continue;
                }
                if (f->proto == p->proto && p->has_ports && p->dport >= f->port_start &&
                    p->dport <= f->port_end)
                        return true;
        }
        return false;
}

static void add_route(struct kiln_ip_prefix *out, size_t cap, size_t *n, const struct kiln_ip_addr *net,
                      unsigned prefix)
{
        if (*n < cap) {
                out[*n].net = *net;
                out[*n].prefix = prefix;
        }
        (*n)++;
}

static const struct range *const fixed_ranges[] = { &tunnel_v4, &tunnel_v6,   &proxy_v4,
                                                    &proxy_v6,  &sentinel_v4, &sentinel_v6 };

/* A CIDR resource whose network an earlier resource or a fixed range already routes. */
static bool route_seen(const struct kiln_resources *t, size_t i)
{
        const struct kiln_resource *r = &t->v[i].r;
        for (size_t k = 0; k < sizeof(fixed_ranges) / sizeof(fixed_ranges[0]); k++)
                if (fixed_ranges[k]->prefix == r->prefix && fixed_ranges[k]->family == r->net.family &&
                    memcmp(fixed_ranges[k]->bytes, r->net.bytes, 16) == 0)
                        return true;
        for (size_t j = 0; j < i; j++) {
                const struct kiln_resource *o = &t->v[j].r;
                if (o->type == KILN_RESOURCE_CIDR && o->prefix == r->prefix &&
                    kiln_ip_addr_equal(&o->net, &r->net))
                        return true;
        }
        return false;
}

size_t kiln_resources_routes(const struct kiln_resources *t, struct kiln_ip_prefix *out, size_t cap)
{
        size_t n = 0;
        for (size_t i = 0; i < sizeof(fixed_ranges) / sizeof(fixed_ranges[0]); i++) {
                struct kiln_ip_addr net = { .family = fixed_ranges[i]->family };
                memcpy(net.bytes, fixed_ranges[i]->bytes, 16);
                add_route(out, cap, &n, &net, fixed_ranges[i]->prefix);
        }
        bool internet = false;
        for (size_t i = 0; i < t->n; i++) {
                const struct kiln_resource *r = &t->v[i].r;
                if (r->type == KILN_RESOURCE_CIDR && !route_seen(t, i))
                        add_route(out, cap, &n, &r->net, r->prefix);
                internet |= r->type == KILN_RESOURCE_INTERNET;
        }
        if (internet && t->internet_enabled) {
                struct kiln_ip_addr any4 = { .family = 4 }, any6 = { .family = 6 };
                add_route(out, cap, &n, &any4, 0);
                add_route(out, cap, &n, &any6, 0);
        }
        return n;
}
