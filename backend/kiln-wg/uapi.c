/* SPDX-License-Identifier: MIT */
#include "backend/kiln-wg/uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend/crypto/encoding.h"

enum {
        MAX_LINE = 256,
};

long uapi_request_length(const char *buf, size_t len)
{
        /* A request ends with an empty line: "\n\n", or a lone "\n" at the very start. */
        if (len >= 1 && buf[0] == '\n')
                return 1;
        for (size_t i = 1; i < len; i++) {
                if (buf[i] == '\n' && buf[i - 1] == '\n')
                        return (long)i + 1;
                if (i >= UAPI_MAX_REQUEST)
                        return -E2BIG;
        }
        return len > UAPI_MAX_REQUEST ? -E2BIG : 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!*s || *s < '0' || *s > '9' || strlen(s) > 20)
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int uapi_parse_endpoint(const char *text, struct wg_endpoint *ret)
{
        struct wg_endpoint e = { 0 };
        char host[INET6_ADDRSTRLEN + 16];
        const char *port_text;
        uint64_t port;
        size_t hlen;

        if (text[0] == '[') {
                const char *close = strchr(text, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                hlen = (size_t)(close - text - 1);
                port_text = close + 2;
                if (hlen == 0 || hlen >= sizeof(host))
                        return -EINVAL;
                memcpy(host, text + 1, hlen);
                host[hlen] = '\0';
                char *scope = strchr(host, '%');
                if (scope) {
                        uint64_t id;

                        *scope++ = '\0';
                        if (parse_u64(scope, UINT32_MAX, &id) < 0)
                                return -EINVAL;
                        e.in6.sin6_scope_id = (uint32_t)id;
                }
                if (inet_pton(AF_INET6, host, &e.in6.sin6_addr) != 1)
                        return -EINVAL;
                e.in6.sin6_family = AF_INET6;
        } else {
                const char *colon = strrchr(text, ':');

                if (!colon)
                        return -EINVAL;
                hlen = (size_t)(colon - text);
                port_text = colon + 1;
                if (hlen == 0 || hlen >= sizeof(host))
                        return -EINVAL;
                memcpy(host, text, hlen);
                host[hlen] = '\0';
                if (inet_pton(AF_INET, host, &e.in4.sin_addr) != 1)
                        return -EINVAL;
                e.in4.sin_family = AF_INET;
        }
        if (parse_u64(port_text, 65535, &port) < 0 || port == 0)
                return -EINVAL;
        if (e.sa.sa_family == AF_INET)
                e.in4.sin_port = htons((uint16_t)port);
        else
                e.in6.sin6_port = htons((uint16_t)port);
        *ret = e;
        return 0;
}

void uapi_format_endpoint(const struct wg_endpoint *e, char *buf, size_t size)
{
        char host[INET6_ADDRSTRLEN];

        if (e->sa.sa_family == AF_INET) {
                inet_ntop(AF_INET, &e->in4.sin_addr, host, sizeof(host));
                snprintf(buf, size, "%s:%u", host, ntohs(e->in4.sin_port));
        } else if (e->in6.sin6_scope_id) {
                inet_ntop(AF_INET6, &e->in6.sin6_addr, host, sizeof(host));
                snprintf(buf, size, "[%s%%%" PRIu32 "]:%u", host, e->in6.sin6_scope_id,
                         ntohs(e->in6.sin6_port));
        } else {
                inet_ntop(AF_INET6, &e->in6.sin6_addr, host, sizeof(host));
                snprintf(buf, size, "[%s]:%u", host, ntohs(e->in6.sin6_port));
        }
}

static int parse_allowed_ip(const char *text, struct wg_allowed_ip *ret)
{
        struct wg_allowed_ip ip = { 0 };
        char addr[INET6_ADDRSTRLEN];
        const char *slash = strchr(text, '/');
        size_t alen = slash ? (size_t)(slash - text) : strlen(text);
        uint64_t cidr;

        if (alen == 0 || alen >= sizeof(addr))
                return -EINVAL;
        memcpy(addr, text, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET, addr, ip.addr) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, addr, ip.addr) == 1)
                ip.family = AF_INET6;
        else
                return -EINVAL;
        if (slash) {
                if (parse_u64(slash + 1, ip.family == AF_INET ? 32 : 128, &cidr) < 0)
                        return -EINVAL;
        } else {
                cidr = ip.family == AF_INET ? 32 : 128;
        }
        ip.cidr = (uint8_t)cidr;
        /* Clear host bits, as the kernel and wg(8) show them. */
        for (unsigned bit = ip.cidr; bit < (ip.family == AF_INET ? 32u : 128u); bit++)
                ip.addr[bit / 8] &= (uint8_t) ~(1u << (7 - bit % 8));
        *ret = ip;
        return 0;
}

static int parse_bool_true(const char *v)
{
        /* The protocol only ever sends "true"; "false" is accepted as a no-op like wireguard-go. */
        if (strcmp(v, "true") == 0)
                return 1;
        if (strcmp(v, "false") == 0)
                return 0;
        return -EINVAL;
}

void uapi_set_free(struct uapi_set *set)
{
        if (!set)
                return;
        for (size_t i = 0; i < set->n_peers; i++)
                free(set->peers[i].allowed_ips);
        free(set->peers);
        sodium_memzero(set, sizeof(*set));
        free(set);
}

static struct uapi_peer_change *add_peer(struct uapi_set *set)
{
        struct uapi_peer_change *peers;

        /* Grow by doubling; n_peers is bounded by the request size. */
        if ((set->n_peers & (set->n_peers - 1)) == 0) {
                size_t cap = set->n_peers ? set->n_peers * 2 : 1;

                peers = realloc(set->peers, cap * sizeof(*peers));
                if (!peers)
                        return NULL;
                set->peers = peers;
        }
        memset(&set->peers[set->n_peers], 0, sizeof(set->peers[0]));
        return &set->peers[set->n_peers++];
}

static int add_allowed_ip(struct uapi_peer_change *p, const struct wg_allowed_ip *ip)
{
        if ((p->n_allowed_ips & (p->n_allowed_ips - 1)) == 0) {
                size_t cap = p->n_allowed_ips ? p->n_allowed_ips * 2 : 1;
                struct wg_allowed_ip *a = realloc(p->allowed_ips, cap * sizeof(*a));

                if (!a)
                        return -ENOMEM;
                p->allowed_ips = a;
        }
        p->allowed_ips[p->n_allowed_ips++] = *ip;
        return 0;
}

static int parse_set_line(struct uapi_set *set, struct uapi_peer_change **peer, const char *key,
                          const char *value, const char **reason)
{
        struct uapi_peer_change *p = *peer;
        uint64_t n;
        int b;

        if (!p) {
                if (strcmp(key, "private_key") == 0) {
                        *reason = "private_key is not 64 hex digits";
                        if (key_from_hex(set->private_key, value) < 0)
                                return -EINVAL;
                        set->has_private_key = true;
                        return 0;
                }
                if (strcmp(key, "listen_port") == 0) {
                        *reason = "listen_port is not a port number";
                        if (parse_u64(value, 65535, &n) < 0)
                                return -EINVAL;
                        set->has_listen_port = true;
                        set->listen_port = (uint16_t)n;
                        return 0;
                }
                if (strcmp(key, "fwmark") == 0) {
                        *reason = "fwmark is not a 32-bit number";
                        if (parse_u64(value, UINT32_MAX, &n) < 0)
                                return -EINVAL;
                        set->has_fwmark = true;
                        set->fwmark = (uint32_t)n;
                        return 0;
                }
                if (strcmp(key, "replace_peers") == 0) {
                        *reason = "replace_peers is not true";
                        b = parse_bool_true(value);
                        if (b < 0)
                                return -EINVAL;
                        set->replace_peers = b;
                        return 0;
                }
        }
        if (strcmp(key, "public_key") == 0) {
                uint8_t pk[WG_KEY_LEN];

                *reason = "public_key is not 64 hex digits";
                if (key_from_hex(pk, value) < 0)
                        return -EINVAL;
                *reason = "out of memory";
                p = add_peer(set);
                if (!p)
                        return -ENOMEM;
                memcpy(p->public_key, pk, WG_KEY_LEN);
                *peer = p;
                return 0;
        }
        if (!p) {
                *reason = "unknown device key (or a peer key before public_key)";
                return -EINVAL;
        }
        if (strcmp(key, "remove") == 0 || strcmp(key, "update_only") == 0 ||
            strcmp(key, "replace_allowed_ips") == 0) {
                *reason = "boolean is not true";
                b = parse_bool_true(value);
                if (b < 0)
                        return -EINVAL;
                if (key[0] == 'r' && key[2] == 'm')
                        p->remove = b;
                else if (key[0] == 'u')
                        p->update_only = b;
                else
                        p->replace_allowed_ips = b;
                return 0;
        }
        if (strcmp(key, "preshared_key") == 0) {
                *reason = "preshared_key is not 64 hex digits";
                if (key_from_hex(p->preshared_key, value) < 0)
                        return -EINVAL;
                p->has_preshared_key = true;
                return 0;
        }
        if (strcmp(key, "endpoint") == 0) {
                *reason = "endpoint is not ADDRESS:PORT";
                if (uapi_parse_endpoint(value, &p->endpoint) < 0)
                        return -EINVAL;
                p->has_endpoint = true;
                return 0;
        }
        if (strcmp(key, "persistent_keepalive_interval") == 0) {
                *reason = "persistent_keepalive_interval is not 0..65535";
                if (parse_u64(value, 65535, &n) < 0)
                        return -EINVAL;
                p->has_persistent_keepalive = true;
                p->persistent_keepalive = (uint16_t)n;
                return 0;
        }
        if (strcmp(key, "allowed_ip") == 0) {
                struct wg_allowed_ip ip;

                *reason = "allowed_ip is not ADDRESS/CIDR";
                if (parse_allowed_ip(value, &ip) < 0)
                        return -EINVAL;
                *reason = "out of memory";
                return add_allowed_ip(p, &ip);
        }
        if (strcmp(key, "protocol_version") == 0) {
                *reason = "protocol_version is not 1";
                return strcmp(value, "1") == 0 ? 0 : -EINVAL;
        }
        *reason = "unknown peer key";
        return -EINVAL;
}

int uapi_parse_request(const char *buf, size_t len, enum uapi_op *ret_op, struct uapi_set **ret_set,
                       const char **ret_reason)
{
        struct uapi_set *set = NULL;
        struct uapi_peer_change *peer = NULL;
        const char *reason = "malformed request";
        const char *pos = buf, *end = buf + len;
        enum uapi_op op = UAPI_OP_GET;
        bool first = true;
        int r = -EINVAL;

        for (;;) {
                char line[MAX_LINE];
                const char *nl = memchr(pos, '\n', (size_t)(end - pos));
                size_t llen;
                char *eq;

                if (!nl) {
                        reason = "request does not end with an empty line";
                        goto fail;
                }
                llen = (size_t)(nl - pos);
                if (llen == 0)
                        break;
                if (llen >= sizeof(line) || memchr(pos, '\0', llen)) {
                        reason = "line too long or contains NUL";
                        goto fail;
                }
                memcpy(line, pos, llen);
                line[llen] = '\0';
                pos = nl + 1;
                eq = strchr(line, '=');
                if (!eq) {
                        reason = "line without '='";
                        goto fail;
                }
                *eq = '\0';
                if (first) {
                        first = false;
                        if (strcmp(eq + 1, "1") != 0) {
                                reason = "operation value is not 1";
                                goto fail;
                        }
                        if (strcmp(line, "get") == 0) {
                                op = UAPI_OP_GET;
                        } else if (strcmp(line, "set") == 0) {
                                op = UAPI_OP_SET;
                                set = calloc(1, sizeof(*set));
                                if (!set) {
                                        reason = "out of memory";
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        } else {
                                reason = "unknown operation";
                                goto fail;
                        }
                        continue;
                }
                if (op == UAPI_OP_GET) {
                        reason = "get takes no arguments";
                        goto fail;
                }
                r = parse_set_line(set, &peer, line, eq + 1, &reason);
                sodium_memzero(line, sizeof(line));
                if (r < 0)
                        goto fail;
        }
        if (first) {
                reason = "empty request";
                r = -EINVAL;
                goto fail;
        }
        *ret_op = op;
        if (ret_set)
                *ret_set = set;
        else
                uapi_set_free(set);
        *ret_reason = NULL;
        return 0;
fail:
        uapi_set_free(set);
        *ret_reason = reason;
        return r < 0 ? r : -EINVAL;
}

static const struct uapi_peer_change *find_change(const struct uapi_set *set,
                                                  const uint8_t key[static WG_KEY_LEN])
{
        for (size_t i = 0; i < set->n_peers; i++)
                if (!set->peers[i].remove && key_equal(set->peers[i].public_key, key))
                        return &set->peers[i];
        return NULL;
}

/*
 * replace_peers leaves the device with exactly the listed peers, as the kernel does.  A peer that
 * stays with the same preshared key keeps its session (wg setconf of an unchanged file must not
 * force a handshake); everything else about it is reset to what the request says.
 */
static void replace_peers(struct wg_device *dev, const struct uapi_set *set)
{
        static const uint8_t zero[WG_KEY_LEN];
        struct wg_peer *p = wg_device_first_peer(dev), *next;

        for (; p; p = next) {
                const struct uapi_peer_change *c = find_change(set, wg_peer_public_key(p));
                uint8_t psk[WG_KEY_LEN];
                bool same_psk;

                next = wg_peer_next(p);
                if (!c) {
                        wg_device_remove_peer(dev, p);
                        continue;
                }
                wg_peer_get_preshared_key(p, psk);
                same_psk = key_equal(psk, c->has_preshared_key ? c->preshared_key : zero);
                sodium_memzero(psk, sizeof(psk));
                if (!same_psk) {
                        wg_device_remove_peer(dev, p);
                        continue;
                }
                wg_peer_clear_allowed_ips(p);
                if (!c->has_persistent_keepalive)
                        wg_peer_set_persistent_keepalive(p, 0, 0);
        }
}

int uapi_apply(struct wg_device *dev, uint64_t now, const struct uapi_set *set)
{
        uint8_t own_public[WG_KEY_LEN];
        bool have_own;
        int r;

        if (set->has_private_key)
                wg_device_set_private_key(dev, set->private_key);
        if (set->replace_peers)
                replace_peers(dev, set);
        have_own = wg_device_get_public_key(dev, own_public);
        for (size_t i = 0; i < set->n_peers; i++) {
                const struct uapi_peer_change *c = &set->peers[i];
                struct wg_peer *peer = wg_device_find_peer(dev, c->public_key);

                if (c->remove) {
                        wg_device_remove_peer(dev, peer);
                        continue;
                }
                /* Our own key as a peer is ignored, as the kernel does. */
                if (have_own && key_equal(own_public, c->public_key))
                        continue;
                if (!peer) {
                        if (c->update_only)
                                continue;
                        r = wg_device_add_peer(dev, c->public_key, &peer);
                        if (r < 0)
                                return r;
                }
                if (c->has_preshared_key)
                        wg_peer_set_preshared_key(peer, c->preshared_key);
                if (c->has_endpoint)
                        wg_peer_set_endpoint(peer, &c->endpoint);
                if (c->replace_allowed_ips)
                        wg_peer_clear_allowed_ips(peer);
                for (size_t j = 0; j < c->n_allowed_ips; j++) {
                        r = wg_peer_add_allowed_ip(peer, &c->allowed_ips[j]);
                        if (r < 0)
                                return r;
                }
                if (c->has_persistent_keepalive)
                        wg_peer_set_persistent_keepalive(peer, now, c->persistent_keepalive);
        }
        return 0;
}

static int print_allowed_ip(const struct wg_allowed_ip *ip, void *userdata)
{
        char addr[INET6_ADDRSTRLEN];

        inet_ntop(ip->family, ip->addr, addr, sizeof(addr));
        fprintf(userdata, "allowed_ip=%s/%u\n", addr, ip->cidr);
        return 0;
}

static void print_key(FILE *f, const char *name, const uint8_t key[static WG_KEY_LEN])
{
        char hex[WG_KEY_LEN_HEX];

        key_to_hex(hex, key);
        fprintf(f, "%s=%s\n", name, hex);
        sodium_memzero(hex, sizeof(hex));
}

char *uapi_format_get(const struct wg_device *dev, uint16_t listen_port, uint32_t fwmark, size_t *ret_len)
{
        uint8_t key[WG_KEY_LEN];
        char *out = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&out, &len);
        if (!f)
                return NULL;
        if (wg_device_get_private_key(dev, key))
                print_key(f, "private_key", key);
        sodium_memzero(key, sizeof(key));
        fprintf(f, "listen_port=%u\n", listen_port);
        if (fwmark)
                fprintf(f, "fwmark=%" PRIu32 "\n", fwmark);
        for (const struct wg_peer *p = wg_device_first_peer(dev); p; p = wg_peer_next(p)) {
                const struct wg_endpoint *e = wg_peer_endpoint(p);
                struct wg_peer_stats st;

                print_key(f, "public_key", wg_peer_public_key(p));
                wg_peer_get_preshared_key(p, key);
                if (!key_is_zero(key))
                        print_key(f, "preshared_key", key);
                sodium_memzero(key, sizeof(key));
                fprintf(f, "protocol_version=1\n");
                if (e) {
                        char text[INET6_ADDRSTRLEN + 32];

                        uapi_format_endpoint(e, text, sizeof(text));
                        fprintf(f, "endpoint=%s\n", text);
                }
                wg_peer_get_stats(p, &st);
                fprintf(f, "last_handshake_time_sec=%" PRId64 "\n", st.last_handshake_ns / 1000000000);
                fprintf(f, "last_handshake_time_nsec=%" PRId64 "\n", st.last_handshake_ns % 1000000000);
                fprintf(f, "tx_bytes=%" PRIu64 "\n", st.tx_bytes);
                fprintf(f, "rx_bytes=%" PRIu64 "\n", st.rx_bytes);
                fprintf(f, "persistent_keepalive_interval=%u\n", wg_peer_persistent_keepalive(p));
                wg_peer_foreach_allowed_ip(p, print_allowed_ip, f);
        }
        fprintf(f, "errno=0\n\n");
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        *ret_len = len;
        return out;
}
