/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/p2p-control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NEXT_HEADER_CONTROL 0xff
#define JSON_MAX_DEPTH      8

static const uint8_t zero16[16];

bool kiln_p2p_is_control(const uint8_t *pkt, size_t len)
{
        return len >= 48 && (pkt[0] >> 4) == 6 && pkt[6] == NEXT_HEADER_CONTROL && pkt[7] == 0 &&
               memcmp(pkt + 8, zero16, 16) == 0 && memcmp(pkt + 24, zero16, 16) == 0;
}

/* A strict reader for the small JSON objects above: string values, arrays of strings, and
 * any other value skipped (nesting bounded). */
struct json {
        const char *p, *end;
};

static void ws(struct json *j)
{
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
                j->p++;
}

static bool eat(struct json *j, char c)
{
        ws(j);
        if (j->p < j->end && *j->p == c) {
                j->p++;
                return true;
        }
        return false;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Reads a string into out (NULL = skip).  Escapes are decoded; \u only for ASCII, since every
 * field here is ASCII (ids, domain names, addresses). */
static int string(struct json *j, char *out, size_t cap)
{
        size_t n = 0;
        if (!eat(j, '"'))
                return -EBADMSG;
        while (j->p < j->end) {
                char c = *j->p++;
                if (c == '"') {
                        if (out)
                                out[n] = 0;
                        return 0;
                }
                if ((unsigned char)c < 0x20)
                        return -EBADMSG;
                if (c == '\\') {
                        if (j->p >= j->end)
                                return -EBADMSG;
                        char e = *j->p++;
                        switch (e) {
                        case '"':
                        case '\\':
                        case '/':
                                c = e;
                                break;
                        case 'b':
                                c = '\b';
                                break;
                        case 'f':
                                c = '\f';
                                break;
                        case 'n':
                                c = '\n';
                                break;
                        case 'r':
                                c = '\r';
                                break;
                        case 't':
                                c = '\t';
                                break;
                        case 'u': {
                                if (j->end - j->p < 4)
                                        return -EBADMSG;
                                int v = 0;
                                for (int i = 0; i < 4; i++) {
                                        int h = hexval(j->p[i]);
                                        if (h < 0)
                                                return -EBADMSG;
                                        v = v << 4 | h;
                                }
                                j->p += 4;
                                if (v == 0 || v > 0x7f)
                                        return -EBADMSG;
                                c = (char)v;
                                break;
                        }
                        default:
                                return -EBADMSG;
                        }
                }
                if (out) {
                        if (n + 1 >= cap)
                                return -EBADMSG;
                        out[n++] = c;
                }
        }
        return -EBADMSG;
}

static int skip_value(struct json *j, int depth)
{
        if (depth > JSON_MAX_DEPTH)
                return -EBADMSG;
        ws(j);
        if (j->p >= j->end)
                return -EBADMSG;
        char c = *j->p;
        if (c == '"')
                return string(j, NULL, 0);
        if (c == '{' || c == '[') {
                char close = c == '{' ? '}' : ']';
                j->p++;
                if (eat(j, close))
                        return 0;
                do {
                        if (c == '{') {
                                if (string(j, NULL, 0) < 0 || !eat(j, ':'))
                                        return -EBADMSG;
                        }
                        if (skip_value(j, depth + 1) < 0)
                                return -EBADMSG;
                } while (eat(j, ','));
                return eat(j, close) ? 0 : -EBADMSG;
        }
        /* number, true, false, null: a run of these characters */
        const char *start = j->p;
        while (j->p < j->end && strchr("0123456789+-.eEtrufalsn", *j->p))
                j->p++;
        size_t n = (size_t)(j->p - start);
        if (n == 0)
                return -EBADMSG;
        if ((c >= 'a' && c <= 'z') &&
            !((n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5)) ||
              (n == 4 && !memcmp(start, "null", 4))))
                return -EBADMSG;
        return 0;
}

static int parse_body(const char *body, size_t len, struct kiln_p2p_message *m)
{
        struct json j = { body, body + len };
        bool have_resource = false, have_domain = false, have_ips = false, have_status = false;
        char key[32];

        if (!eat(&j, '{'))
                return -EBADMSG;
        if (!eat(&j, '}')) {
                do {
                        if (string(&j, key, sizeof(key)) < 0)
                                return -EBADMSG;
                        if (!eat(&j, ':'))
                                return -EBADMSG;
                        if (!strcmp(key, "resource")) {
                                if (have_resource || string(&j, m->resource, sizeof(m->resource)) < 0)
                                        return -EBADMSG;
                                have_resource = true;
                        } else if (!strcmp(key, "domain")) {
                                if (have_domain || string(&j, m->domain, sizeof(m->domain)) < 0)
                                        return -EBADMSG;
                                have_domain = true;
                        } else if (!strcmp(key, "status") && m->type == KILN_P2P_DOMAIN_STATUS) {
                                char status[64];
                                if (have_status || string(&j, status, sizeof(status)) < 0)
                                        return -EBADMSG;
                                m->active = !strcmp(status, "Active");
                                have_status = true;
                        } else if (!strcmp(key, "proxy_ips") && m->type == KILN_P2P_ASSIGNED_IPS) {
                                if (have_ips || !eat(&j, '['))
                                        return -EBADMSG;
                                if (!eat(&j, ']')) {
                                        do {
                                                char ip[64];
                                                if (m->n_proxy_ips >= KILN_P2P_MAX_PROXY_IPS ||
                                                    string(&j, ip, sizeof(ip)) < 0 ||
                                                    kiln_ip_addr_parse(ip, &m->proxy_ips[m->n_proxy_ips]) <
                                                        0)
                                                        return -EBADMSG;
                                                m->n_proxy_ips++;
                                        } while (eat(&j, ','));
                                        if (!eat(&j, ']'))
                                                return -EBADMSG;
                                }
                                have_ips = true;
                        } else if (skip_value(&j, 1) < 0) {
                                return -EBADMSG;
                        }
                } while (eat(&j, ','));
                if (!eat(&j, '}'))
                        return -EBADMSG;
        }
        ws(&j);
        if (j.p != j.end || !have_resource || !have_domain || !m->resource[0] || !m->domain[0])
                return -EBADMSG;
        if (m->type == KILN_P2P_ASSIGNED_IPS && (!have_ips || m->n_proxy_ips == 0))
                return -EBADMSG;
        if (m->type == KILN_P2P_DOMAIN_STATUS && !have_status)
                return -EBADMSG;
        return 0;
}

int kiln_p2p_parse(const uint8_t *pkt, size_t len, struct kiln_p2p_message *ret)
{
        struct kiln_p2p_message m = { 0 };

        if (!kiln_p2p_is_control(pkt, len))
                return -EBADMSG;
        size_t payload = (size_t)(pkt[4] << 8 | pkt[5]);
        if (40 + payload != len || payload < 8 || payload - 8 > KILN_P2P_MAX_JSON)
                return -EBADMSG;
        for (int i = 1; i < 8; i++)
                if (pkt[40 + i])
                        return -EBADMSG;
        if (pkt[40] > KILN_P2P_GOODBYE)
                return -EPROTONOSUPPORT;
        m.type = (enum kiln_p2p_type)pkt[40];
        if (m.type == KILN_P2P_GOODBYE) {
                *ret = m;
                return 0;
        }
        int r = parse_body((const char *)pkt + 48, payload - 8, &m);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

/* Our ids and names need no escaping; refuse anything that would. */
static bool plain(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s >= 0x80)
                        return false;
        return true;
}

ssize_t kiln_p2p_build(const struct kiln_p2p_message *m, uint8_t *buf, size_t cap)
{
        char body[KILN_P2P_MAX_JSON + 1];
        int n = 0;

        if (m->type == KILN_P2P_GOODBYE) {
                n = 0;
        } else {
                if (!m->resource[0] || !m->domain[0] || !plain(m->resource) || !plain(m->domain))
                        return -EINVAL;
                if (m->type == KILN_P2P_ASSIGNED_IPS) {
                        if (m->n_proxy_ips == 0 || m->n_proxy_ips > KILN_P2P_MAX_PROXY_IPS)
                                return -EINVAL;
                        n = snprintf(body, sizeof(body),
                                     "{\"resource\":\"%s\",\"domain\":\"%s\",\"proxy_ips\":[", m->resource,
                                     m->domain);
                        for (unsigned i = 0; i < m->n_proxy_ips && n > 0 && (size_t)n < sizeof(body); i++) {
                                char ip[64];
                                n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"%s\"", i ? "," : "",
                                              kiln_ip_addr_format(&m->proxy_ips[i], ip, sizeof(ip)));
                        }
                        if (n > 0 && (size_t)n < sizeof(body))
                                n += snprintf(body + n, sizeof(body) - (size_t)n, "]}");
                } else if (m->type == KILN_P2P_DOMAIN_STATUS) {
                        n = snprintf(body, sizeof(body),
                                     "{\"resource\":\"%s\",\"domain\":\"%s\",\"status\":\"%s\"}",
                                     m->resource, m->domain, m->active ? "Active" : "Inactive");
                } else {
                        return -EINVAL;
                }
                if (n < 0 || (size_t)n >= sizeof(body))
                        return -EINVAL;
        }
        size_t len = 48 + (size_t)n;
        if (len > cap)
                return -ENOBUFS;
        memset(buf, 0, 48);
        buf[0] = 0x60;
        buf[4] = (uint8_t)((8 + n) >> 8);
        buf[5] = (uint8_t)(8 + n);
        buf[6] = NEXT_HEADER_CONTROL;
        buf[40] = (uint8_t)m->type;
        memcpy(buf + 48, body, (size_t)n);
        return (ssize_t)len;
}
