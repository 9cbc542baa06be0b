/* SPDX-License-Identifier: MIT */
#include "backend/ice/candidate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
        [ICE_CANDIDATE_HOST] = "host",
        [ICE_CANDIDATE_SRFLX] = "srflx",
        [ICE_CANDIDATE_PRFLX] = "prflx",
        [ICE_CANDIDATE_RELAY] = "relay",
};

const char *ice_candidate_type_name(enum ice_candidate_type type)
{
        return type_names[type];
}

uint32_t ice_candidate_priority(enum ice_candidate_type type, uint8_t family)
{
        static const uint32_t type_pref[] = {
                [ICE_CANDIDATE_HOST] = 126,
                [ICE_CANDIDATE_SRFLX] = 100,
                [ICE_CANDIDATE_PRFLX] = 110,
                [ICE_CANDIDATE_RELAY] = 0,
        };
        /* Prefer IPv6 slightly, as RFC 8421 suggests for dual-stack hosts. */
        uint32_t local_pref = family == 6 ? 65535 : 65534;

        return (type_pref[type] << 24) | (local_pref << 8) | (256 - 1);
}

void ice_candidate_init(struct ice_candidate *c, enum ice_candidate_type type, const struct ice_addr *addr,
                        const struct ice_addr *base)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        /* Copies first: callers may pass addresses that live inside *c. */
        struct ice_addr a = *addr, b = base ? *base : *addr;

        memset(c, 0, sizeof(*c));
        c->type = type;
        c->addr = a;
        c->base = b;
        c->priority = ice_candidate_priority(type, addr->family);
        /* Same type and base IP ⇒ same foundation (RFC 8445 §5.1.1.3), FNV-1a of both. */
        h = (h ^ (uint64_t)type) * 0x100000001b3ULL;
        for (size_t i = 0; i < sizeof(c->base.ip); i++)
                h = (h ^ c->base.ip[i]) * 0x100000001b3ULL;
        snprintf(c->foundation, sizeof(c->foundation), "%llu", (unsigned long long)(h >> 1));
}

bool ice_candidate_same(const struct ice_candidate *a, const struct ice_candidate *b)
{
        return a->type == b->type && ice_addr_equal(&a->addr, &b->addr);
}

int ice_candidate_to_sdp(const struct ice_candidate *c, char buf[static ICE_CANDIDATE_SDP_MAX])
{
        char ip[ICE_ADDR_STRLEN], rip[ICE_ADDR_STRLEN];
        int n;

        ice_addr_ip_to_string(&c->addr, ip);
        if (c->type == ICE_CANDIDATE_HOST || c->type == ICE_CANDIDATE_RELAY)
                n = snprintf(buf, ICE_CANDIDATE_SDP_MAX, "candidate:%s 1 udp %u %s %u typ %s", c->foundation,
                             c->priority, ip, c->addr.port, type_names[c->type]);
        else
                n = snprintf(buf, ICE_CANDIDATE_SDP_MAX,
                             "candidate:%s 1 udp %u %s %u typ %s raddr %s rport %u", c->foundation,
                             c->priority, ip, c->addr.port, type_names[c->type],
                             ice_addr_ip_to_string(&c->base, rip), c->base.port);
        return n < 0 || n >= ICE_CANDIDATE_SDP_MAX ? -ENOBUFS : n;
}

/* Next space-separated token of at most `cap - 1` bytes; -EINVAL when missing or too long. */
static int next_token(const char **p, char *tok, size_t cap)
{
        const char *s = *p, *e;

        while (*s == ' ')
                s++;
        e = s;
        while (*e && *e != ' ')
                e++;
        if (e == s || (size_t)(e - s) >= cap)
                return -EINVAL;
        memcpy(tok, s, (size_t)(e - s));
        tok[e - s] = '\0';
        *p = e;
        return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret)
{
        unsigned long long v = 0;

        if (!*s || strlen(s) > 20)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned long long)(*s - '0');
                if (v > max)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int ice_candidate_from_sdp(struct ice_candidate *ret, const char *sdp)
{
        struct ice_candidate c = { 0 };
        char tok[64];
        unsigned long long v, port;
        const char *p;
        size_t i;

        if (strncmp(sdp, "candidate:", 10) != 0)
                return -EINVAL;
        p = sdp + 10;
        /* foundation: 1*32 ice-chars (ALPHA / DIGIT / "+" / "/") */
        if (next_token(&p, c.foundation, sizeof(c.foundation)) < 0 ||
            p - sdp - 10 != (long)strlen(c.foundation))
                return -EINVAL;
        for (i = 0; c.foundation[i]; i++) {
                char ch = c.foundation[i];

                if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      ch == '+' || ch == '/'))
                        return -EINVAL;
        }
        if (next_token(&p, tok, sizeof(tok)) < 0 || parse_uint(tok, 256, &v) < 0)
                return -EINVAL;
        if (v != 1)
                return -EPROTONOSUPPORT;
        if (next_token(&p, tok, sizeof(tok)) < 0)
                return -EINVAL;
        if (strcasecmp(tok, "udp") != 0)
                return -EPROTONOSUPPORT;
        if (next_token(&p, tok, sizeof(tok)) < 0 || parse_uint(tok, UINT32_MAX, &v) < 0 || v == 0)
                return -EINVAL;
        c.priority = (uint32_t)v;
        if (next_token(&p, tok, sizeof(tok)) < 0)
                return -EINVAL;
        {
                char ip[64];

                memcpy(ip, tok, sizeof(ip));
                if (next_token(&p, tok, sizeof(tok)) < 0 || parse_uint(tok, 65535, &port) < 0 || port == 0)
                        return -EINVAL;
                /* Numeric addresses only: mDNS ".local" names cannot be resolved here. */
                if (ice_addr_from_ip_string(&c.addr, ip, (uint16_t)port) < 0)
                        return -EADDRNOTAVAIL;
        }
        if (next_token(&p, tok, sizeof(tok)) < 0 || strcmp(tok, "typ") != 0)
                return -EINVAL;
        if (next_token(&p, tok, sizeof(tok)) < 0)
                return -EINVAL;
        for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
                if (strcmp(tok, type_names[i]) == 0)
                        break;
        if (i == sizeof(type_names) / sizeof(type_names[0]))
                return -EINVAL;
        c.type = (enum ice_candidate_type)i;
        c.base = c.addr;
        /* Extension attributes come in name/value pairs; only raddr/rport mean something. */
        for (;;) {
                char name[64];
                struct ice_addr raddr;

                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                if (next_token(&p, name, sizeof(name)) < 0 || next_token(&p, tok, sizeof(tok)) < 0)
                        return -EINVAL;
                if (strcmp(name, "raddr") == 0) {
                        if (ice_addr_from_ip_string(&raddr, tok, c.base.port) < 0)
                                return -EINVAL;
                        memcpy(c.base.ip, raddr.ip, sizeof(raddr.ip));
                        c.base.family = raddr.family;
                } else if (strcmp(name, "rport") == 0) {
                        if (parse_uint(tok, 65535, &v) < 0)
                                return -EINVAL;
                        c.base.port = (uint16_t)v;
                }
        }
        *ret = c;
        return 0;
}
