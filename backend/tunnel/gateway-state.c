/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/gateway-state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/action-queue.h"
#include "backend/tunnel/array.h"
#include "backend/tunnel/dns-message.h"
#include "backend/tunnel/p2p-control.h"

#define MAX_CLIENTS                 65536
#define MAX_AUTHS_PER_CLIENT        4096
#define MAX_TRANSLATIONS_PER_CLIENT 4096

struct authorization {
        struct kiln_resource resource;
        uint64_t expires_at; /* 0 = never */
};

/* A permanent proxy IP → real IP mapping set up by ASSIGNED_IPS. */
struct translation {
        struct kiln_ip_addr proxy, real; /* real.family == 0: no address of that family */
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
};

/* ASSIGNED_IPS waiting for the RESOLVE_DNS answer. */
struct assignment {
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
        struct kiln_ip_addr proxy_ips[KILN_P2P_MAX_PROXY_IPS];
        unsigned n_proxy_ips;
};

struct nat_session {
        uint8_t proto;
        uint16_t inside_port, outside_port; /* TCP/UDP source port or ICMP echo id */
        struct kiln_ip_addr proxy, real;
        bool confirmed, fin_out, fin_in;
        uint64_t expires;
};

struct client {
        char id[KILN_ID_MAX + 1];
        struct kiln_ip_addr ipv4, ipv6;
        struct authorization *auths;
        size_t n_auths;
        struct translation *translations;
        size_t n_translations;
        struct assignment *assignments;
        size_t n_assignments;
        struct nat_session *sessions;
        size_t n_sessions;
};

struct kiln_gateway {
        struct client *clients;
        size_t n_clients;
        struct kiln_action_queue actions;
        struct kiln_gateway_stats stats;
        uint64_t next_tick;
        uint8_t scratch[65536];
};

struct kiln_gateway *kiln_gateway_new(void)
{
        struct kiln_gateway *g = calloc(1, sizeof(*g));
        if (!g)
                return NULL;
        kiln_action_queue_init(&g->actions, sizeof(struct kiln_gateway_action));
        return g;
}

static void client_clear(struct client *c)
{
        free(c->auths);
        free(c->translations);
        free(c->assignments);
        free(c->sessions);
}

void kiln_gateway_free(struct kiln_gateway *g)
{
        if (!g)
                return;
        for (size_t i = 0; i < g->n_clients; i++)
                client_clear(&g->clients[i]);
        free(g->clients);
        kiln_action_queue_clear(&g->actions);
        free(g);
}

static struct kiln_gateway_action *emit(struct kiln_gateway *g, enum kiln_gateway_action_type type,
                                        const char *client_id, const uint8_t *data, size_t len)
{
        const uint8_t *copy;
        struct kiln_gateway_action *a = kiln_action_queue_push(&g->actions, data, len, &copy);
        if (!a)
                return NULL;
        a->type = type;
        a->data = copy;
        a->len = len;
        snprintf(a->client_id, sizeof(a->client_id), "%s", client_id);
        return a;
}

bool kiln_gateway_poll_action(struct kiln_gateway *g, struct kiln_gateway_action *ret)
{
        return kiln_action_queue_pop(&g->actions, ret);
}

static struct client *find_client(struct kiln_gateway *g, const char *id)
{
        for (size_t i = 0; i < g->n_clients; i++)
                if (!strcmp(g->clients[i].id, id))
                        return &g->clients[i];
        return NULL;
}

static struct client *client_by_ip(struct kiln_gateway *g, const struct kiln_ip_addr *a)
{
        for (size_t i = 0; i < g->n_clients; i++)
                if (kiln_ip_addr_equal(&g->clients[i].ipv4, a) || kiln_ip_addr_equal(&g->clients[i].ipv6, a))
                        return &g->clients[i];
        return NULL;
}

static struct authorization *find_auth(struct client *c, const char *resource_id)
{
        for (size_t i = 0; i < c->n_auths; i++)
                if (!strcmp(c->auths[i].resource.id, resource_id))
                        return &c->auths[i];
        return NULL;
}

int kiln_gateway_authorize(struct kiln_gateway *g, uint64_t now, const char *client_id,
                           const struct kiln_ip_addr *client_ipv4, const struct kiln_ip_addr *client_ipv6,
                           const struct kiln_resource *resource, uint64_t expires_at)
{
        struct kiln_resources *check = kiln_resources_new();
        struct kiln_resource r;
        int ret;

        /* Validate (and fill net/prefix) through the table's rules. */
        if (!check)
                return -ENOMEM;
        ret = kiln_resources_upsert(check, resource);
        if (ret == 0)
                r = *kiln_resources_get(check, resource->id);
        kiln_resources_free(check);
        if (ret < 0)
                return ret;
        if (strnlen(client_id, KILN_ID_MAX + 1) == 0 || strnlen(client_id, KILN_ID_MAX + 1) > KILN_ID_MAX)
                return -EINVAL;
        if ((client_ipv4 && client_ipv4->family != 4) || (client_ipv6 && client_ipv6->family != 6) ||
            (!client_ipv4 && !client_ipv6))
                return -EINVAL;
        struct client *c = find_client(g, client_id);
        if (!c) {
                c = kiln_array_grow(&g->clients, &g->n_clients, sizeof(*c), MAX_CLIENTS);
                if (!c)
                        return -ENOMEM;
                strcpy(c->id, client_id);
        }
        if (client_ipv4)
                c->ipv4 = *client_ipv4;
        if (client_ipv6)
                c->ipv6 = *client_ipv6;
        struct authorization *a = find_auth(c, r.id);
        if (!a) {
                a = kiln_array_grow(&c->auths, &c->n_auths, sizeof(*a), MAX_AUTHS_PER_CLIENT);
                if (!a)
                        return -ENOMEM;
        }
        a->resource = r;
        a->expires_at = expires_at;
        if (!g->next_tick)
                g->next_tick = now + KILN_GATEWAY_TICK_NS;
        return 0;
}

static void send_goodbye(struct kiln_gateway *g, struct client *c)
{
        struct kiln_p2p_message m = { .type = KILN_P2P_GOODBYE };
        uint8_t pkt[64];
        ssize_t n = kiln_p2p_build(&m, pkt, sizeof(pkt));
        if (n > 0)
                emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, pkt, (size_t)n);
        emit(g, KILN_GATEWAY_CLOSE_CLIENT, c->id, NULL, 0);
}

/* Drops the translations and sessions that belonged to a resource the client lost. */
static void forget_resource(struct client *c, const char *resource_id)
{
        for (size_t i = 0; i < c->n_translations;) {
                struct translation *t = &c->translations[i];
                if (strcmp(t->resource_id, resource_id)) {
                        i++;
                        continue;
                }
                for (size_t j = 0; j < c->n_sessions;) {
                        if (kiln_ip_addr_equal(&c->sessions[j].proxy, &t->proxy))
                                kiln_array_remove(c->sessions, &c->n_sessions, sizeof(c->sessions[0]), j);
                        else
                                j++;
                }
                kiln_array_remove(c->translations, &c->n_translations, sizeof(*t), i);
        }
}

static void remove_auth(struct kiln_gateway *g, struct client *c, size_t i)
{
        char id[KILN_ID_MAX + 1];
        strcpy(id, c->auths[i].resource.id);
        kiln_array_remove(c->auths, &c->n_auths, sizeof(c->auths[0]), i);
        forget_resource(c, id);
        if (c->n_auths == 0) {
                send_goodbye(g, c);
                client_clear(c);
                kiln_array_remove(g->clients, &g->n_clients, sizeof(*c), (size_t)(c - g->clients));
        }
}

void kiln_gateway_revoke(struct kiln_gateway *g, uint64_t now, const char *client_id,
                         const char *resource_id)
{
        struct client *c = find_client(g, client_id);
        struct authorization *a = c ? find_auth(c, resource_id) : NULL;
        if (a)
                remove_auth(g, c, (size_t)(a - c->auths));
        (void)now;
}

void kiln_gateway_update_resource(struct kiln_gateway *g, const struct kiln_resource *resource)
{
        struct kiln_resources *check = kiln_resources_new();
        if (!check || kiln_resources_upsert(check, resource) < 0) {
                kiln_resources_free(check);
                return;
        }
        const struct kiln_resource *r = kiln_resources_get(check, resource->id);
        for (size_t i = 0; i < g->n_clients; i++) {
                struct authorization *a = find_auth(&g->clients[i], r->id);
                if (a)
                        a->resource = *r;
        }
        kiln_resources_free(check);
}

bool kiln_gateway_addr_is_non_public(const struct kiln_ip_addr *a)
{
        static const struct {
                const char *net;
                unsigned prefix;
        } v4[] = { { "0.0.0.0", 8 },      { "10.0.0.0", 8 },     { "100.64.0.0", 10 },
                   { "127.0.0.0", 8 },    { "169.254.0.0", 16 }, { "172.16.0.0", 12 },
                   { "192.168.0.0", 16 }, { "224.0.0.0", 4 },    { "240.0.0.0", 4 } },
          v6[] = { { "::1", 128 },   { "::", 128 },   { "fc00::", 7 },
                   { "fe80::", 10 }, { "ff00::", 8 }, { "::ffff:0:0", 96 } };
        struct kiln_ip_addr net;
        if (a->family == 4) {
                for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
                        if (kiln_ip_addr_parse(v4[i].net, &net) == 0 &&
                            kiln_ip_addr_in_prefix(a, &net, v4[i].prefix))
                                return true;
                return false;
        }
        for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
                if (kiln_ip_addr_parse(v6[i].net, &net) == 0 &&
                    kiln_ip_addr_in_prefix(a, &net, v6[i].prefix))
                        return true;
        return false;
}

static void icmp_to_client(struct kiln_gateway *g, struct client *c, const uint8_t *pkt, size_t len,
                           enum kiln_icmp_unreachable kind)
{
        uint8_t icmp[1280];
        ssize_t n = kiln_packet_icmp_unreachable(pkt, len, kind, icmp, sizeof(icmp));
        if (kind == KILN_ICMP_PROHIBITED)
                g->stats.prohibited++;
        else
                g->stats.net_unreachable++;
        if (n > 0)
                emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, icmp, (size_t)n);
}

static void send_domain_status(struct kiln_gateway *g, struct client *c, const char *resource_id,
                               const char *domain, bool active)
{
        struct kiln_p2p_message m = { .type = KILN_P2P_DOMAIN_STATUS, .active = active };
        uint8_t pkt[KILN_P2P_MAX_PACKET];
        snprintf(m.resource, sizeof(m.resource), "%s", resource_id);
        snprintf(m.domain, sizeof(m.domain), "%s", domain);
        ssize_t n = kiln_p2p_build(&m, pkt, sizeof(pkt));
        if (n > 0)
                emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, pkt, (size_t)n);
}

static void handle_assigned_ips(struct kiln_gateway *g, struct client *c, const struct kiln_p2p_message *m)
{
        struct authorization *a = find_auth(c, m->resource);
        if (!a || a->resource.type != KILN_RESOURCE_DNS ||
            !kiln_dns_pattern_match(a->resource.address, m->domain)) {
                send_domain_status(g, c, m->resource, m->domain, false);
                return;
        }
        struct assignment *as = NULL;
        for (size_t i = 0; i < c->n_assignments; i++)
                if (!strcmp(c->assignments[i].resource_id, m->resource) &&
                    kiln_dns_name_equal(c->assignments[i].domain, m->domain))
                        as = &c->assignments[i];
        if (!as) {
                as = kiln_array_grow(&c->assignments, &c->n_assignments, sizeof(*as),
                                     MAX_TRANSLATIONS_PER_CLIENT);
                if (!as) {
                        send_domain_status(g, c, m->resource, m->domain, false);
                        return;
                }
        }
        strcpy(as->resource_id, m->resource);
        strcpy(as->domain, m->domain);
        memcpy(as->proxy_ips, m->proxy_ips, sizeof(as->proxy_ips));
        as->n_proxy_ips = m->n_proxy_ips;
        struct kiln_gateway_action *act = emit(g, KILN_GATEWAY_RESOLVE_DNS, c->id, NULL, 0);
        if (act) {
                strcpy(act->resource_id, m->resource);
                strcpy(act->domain, m->domain);
        }
}

void kiln_gateway_handle_dns_resolved(struct kiln_gateway *g, uint64_t now, const char *client_id,
                                      const char *resource_id, const char *domain,
                                      const struct kiln_ip_addr *addrs, size_t n)
{
        struct client *c = find_client(g, client_id);
        struct assignment *as = NULL;
        (void)now;
        if (!c)
                return;
        for (size_t i = 0; i < c->n_assignments; i++)
                if (!strcmp(c->assignments[i].resource_id, resource_id) &&
                    kiln_dns_name_equal(c->assignments[i].domain, domain))
                        as = &c->assignments[i];
        if (!as)
                return;
        struct assignment done = *as;
        kiln_array_remove(c->assignments, &c->n_assignments, sizeof(*as), (size_t)(as - c->assignments));
        if (!find_auth(c, resource_id) || n == 0) {
                send_domain_status(g, c, resource_id, domain, false);
                return;
        }
        /* Re-assigned proxy IPs for this domain replace its old translations and sessions. */
        for (size_t i = 0; i < c->n_translations;) {
                struct translation *t = &c->translations[i];
                bool same_domain = kiln_dns_name_equal(t->domain, domain);
                bool same_proxy = false;
                for (unsigned k = 0; k < done.n_proxy_ips; k++)
                        same_proxy |= kiln_ip_addr_equal(&t->proxy, &done.proxy_ips[k]);
                if (!same_domain && !same_proxy) {
                        i++;
                        continue;
                }
                for (size_t j = 0; j < c->n_sessions;) {
                        if (kiln_ip_addr_equal(&c->sessions[j].proxy, &t->proxy))
                                kiln_array_remove(c->sessions, &c->n_sessions, sizeof(c->sessions[0]), j);
                        else
                                j++;
                }
                kiln_array_remove(c->translations, &c->n_translations, sizeof(*t), i);
        }
        unsigned next4 = 0, next6 = 0;
        const struct kiln_ip_addr *v4[KILN_GATEWAY_MAX_REAL_IPS], *v6[KILN_GATEWAY_MAX_REAL_IPS];
        unsigned n4 = 0, n6 = 0;
        for (size_t i = 0; i < n; i++) {
                if (addrs[i].family == 4 && n4 < KILN_GATEWAY_MAX_REAL_IPS)
                        v4[n4++] = &addrs[i];
                else if (addrs[i].family == 6 && n6 < KILN_GATEWAY_MAX_REAL_IPS)
                        v6[n6++] = &addrs[i];
        }
        for (unsigned k = 0; k < done.n_proxy_ips; k++) {
                struct translation *t = kiln_array_grow(&c->translations, &c->n_translations, sizeof(*t),
                                                        MAX_TRANSLATIONS_PER_CLIENT);
                if (!t)
                        break;
                t->proxy = done.proxy_ips[k];
                /* Same family only, round-robin; no address of that family ⇒ no real IP. */
                if (t->proxy.family == 4 && n4)
                        t->real = *v4[next4++ % n4];
                else if (t->proxy.family == 6 && n6)
                        t->real = *v6[next6++ % n6];
                strcpy(t->domain, domain);
                strcpy(t->resource_id, resource_id);
        }
        send_domain_status(g, c, resource_id, domain, true);
}

static struct translation *find_translation(struct client *c, const struct kiln_ip_addr *proxy)
{
        for (size_t i = 0; i < c->n_translations; i++)
                if (kiln_ip_addr_equal(&c->translations[i].proxy, proxy))
                        return &c->translations[i];
        return NULL;
}

/* The authorized resource that covers a non-proxy address: CIDR by longest prefix, else an
 * authorized Internet resource for public addresses. */
static const struct authorization *classify(struct client *c, uint64_t now, const struct kiln_ip_addr *a)
{
        const struct authorization *best = NULL, *internet = NULL;
        for (size_t i = 0; i < c->n_auths; i++) {
                const struct authorization *au = &c->auths[i];
                if (au->expires_at && au->expires_at <= now)
                        continue;
                if (au->resource.type == KILN_RESOURCE_INTERNET)
                        internet = au;
                if (au->resource.type == KILN_RESOURCE_CIDR &&
                    kiln_ip_addr_in_prefix(a, &au->resource.net, au->resource.prefix) &&
                    (!best || au->resource.prefix > best->resource.prefix))
                        best = au;
        }
        if (best)
                return best;
        if (internet && !kiln_addr_is_proxy(a) && !kiln_gateway_addr_is_non_public(a))
                return internet;
        return NULL;
}

static uint64_t session_timeout(const struct nat_session *s)
{
        if (!s->confirmed)
                return KILN_GATEWAY_NAT_UNCONFIRMED_NS;
        if (s->proto == KILN_IPPROTO_TCP)
                return (s->fin_in && s->fin_out) ? KILN_GATEWAY_NAT_FIN_NS : KILN_GATEWAY_NAT_TCP_NS;
        if (s->proto == KILN_IPPROTO_UDP)
                return KILN_GATEWAY_NAT_UDP_NS;
        return KILN_GATEWAY_NAT_ICMP_NS;
}

static uint16_t flow_port(const struct kiln_packet *p, bool source)
{
        if (p->has_ports)
                return source ? p->sport : p->dport;
        return p->icmp_id;
}

static void expire_sessions(struct client *c, uint64_t now)
{
        for (size_t i = 0; i < c->n_sessions;) {
                if (c->sessions[i].expires <= now)
                        kiln_array_remove(c->sessions, &c->n_sessions, sizeof(c->sessions[0]), i);
                else
                        i++;
        }
}

static bool outside_port_free(struct client *c, uint8_t proto, const struct kiln_ip_addr *real,
                              uint16_t port)
{
        for (size_t i = 0; i < c->n_sessions; i++) {
                const struct nat_session *s = &c->sessions[i];
                if (s->proto == proto && s->outside_port == port && kiln_ip_addr_equal(&s->real, real))
                        return false;
        }
        return true;
}

static struct nat_session *nat_outbound(struct kiln_gateway *g, struct client *c, uint64_t now,
                                        const struct kiln_packet *p, const struct kiln_ip_addr *real)
{
        uint16_t inside = flow_port(p, true);
        expire_sessions(c, now);
        for (size_t i = 0; i < c->n_sessions; i++) {
                struct nat_session *s = &c->sessions[i];
                if (s->proto == p->proto && s->inside_port == inside &&
                    kiln_ip_addr_equal(&s->proxy, &p->dst))
                        return s;
        }
        uint32_t port = inside;
        for (uint32_t tries = 0; tries < 65536; tries++, port = (port + 1) & 0xffff)
                if (outside_port_free(c, p->proto, real, (uint16_t)port))
                        break;
        struct nat_session *s =
            kiln_array_grow(&c->sessions, &c->n_sessions, sizeof(*s), KILN_GATEWAY_MAX_NAT_SESSIONS);
        if (!s)
                return NULL;
        s->proto = p->proto;
        s->inside_port = inside;
        s->outside_port = (uint16_t)port;
        s->proxy = p->dst;
        s->real = *real;
        s->expires = now + KILN_GATEWAY_NAT_UNCONFIRMED_NS;
        (void)g;
        return s;
}

static void track_tcp(struct nat_session *s, const struct kiln_packet *p, bool outbound, uint64_t now)
{
        if (p->proto == KILN_IPPROTO_TCP) {
                if (p->tcp_flags & KILN_TCP_RST) {
                        s->expires = now; /* gone at the next look */
                        return;
                }
                if (p->tcp_flags & KILN_TCP_FIN) {
                        if (outbound)
                                s->fin_out = true;
                        else
                                s->fin_in = true;
                }
        }
        s->expires = now + session_timeout(s);
}

void kiln_gateway_handle_client_packet(struct kiln_gateway *g, uint64_t now, const char *client_id,
                                       const uint8_t *pkt, size_t len)
{
        struct client *c = find_client(g, client_id);
        struct kiln_packet p;

        if (!c) {
                g->stats.dropped_no_peer++;
                return;
        }
        if (kiln_p2p_is_control(pkt, len)) {
                struct kiln_p2p_message m;
                if (kiln_p2p_parse(pkt, len, &m) < 0) {
                        g->stats.dropped_malformed++;
                        return;
                }
                if (m.type == KILN_P2P_ASSIGNED_IPS)
                        handle_assigned_ips(g, c, &m);
                else if (m.type == KILN_P2P_GOODBYE)
                        /* The client is going away (shutdown): drop the connection now rather
                         * than after the idle timeout; its authorizations stay until they expire. */
                        emit(g, KILN_GATEWAY_CLOSE_CLIENT, c->id, NULL, 0);
                return;
        }
        if (kiln_packet_parse(pkt, len, &p) < 0) {
                g->stats.dropped_malformed++;
                return;
        }
        if (p.version == 4 ? (p.dst.bytes[0] & 0xf0) == 0xe0 : p.dst.bytes[0] == 0xff)
                return;
        const struct kiln_ip_addr *own = p.version == 4 ? &c->ipv4 : &c->ipv6;
        if (!kiln_ip_addr_equal(&p.src, own) || kiln_addr_is_tunnel(&p.dst)) {
                g->stats.dropped_not_client_source++;
                return;
        }
        if (p.icmp_error) {
                g->stats.dropped_icmp_error_from_client++;
                return;
        }
        if (kiln_addr_is_proxy(&p.dst)) {
                struct translation *t = find_translation(c, &p.dst);
                struct authorization *a = t ? find_auth(c, t->resource_id) : NULL;
                if (!a || (a->expires_at && a->expires_at <= now)) {
                        icmp_to_client(g, c, p.data, p.len, KILN_ICMP_PROHIBITED);
                        return;
                }
                if (!kiln_filters_allow(a->resource.filters, a->resource.n_filters, &p)) {
                        icmp_to_client(g, c, p.data, p.len, KILN_ICMP_PROHIBITED);
                        return;
                }
                if (t->real.family == 0 || p.fragment || !(p.has_ports || p.is_icmp)) {
                        icmp_to_client(g, c, p.data, p.len, KILN_ICMP_NET_UNREACHABLE);
                        return;
                }
                struct nat_session *s = nat_outbound(g, c, now, &p, &t->real);
                if (!s) {
                        g->stats.dropped_expired_nat++;
                        return;
                }
                track_tcp(s, &p, true, now);
                memcpy(g->scratch, p.data, p.len);
                if (kiln_packet_rewrite(g->scratch, p.len, NULL, &t->real, s->outside_port, -1) < 0)
                        return;
                emit(g, KILN_GATEWAY_WRITE_TUN, c->id, g->scratch, p.len);
                return;
        }
        const struct authorization *a = classify(c, now, &p.dst);
        if (!a) {
                bool internet_authorized = false;
                for (size_t i = 0; i < c->n_auths; i++)
                        internet_authorized |= c->auths[i].resource.type == KILN_RESOURCE_INTERNET;
                icmp_to_client(g, c, p.data, p.len,
                               internet_authorized ? KILN_ICMP_NET_UNREACHABLE : KILN_ICMP_PROHIBITED);
                return;
        }
        if (!kiln_filters_allow(a->resource.filters, a->resource.n_filters, &p)) {
                icmp_to_client(g, c, p.data, p.len, KILN_ICMP_PROHIBITED);
                return;
        }
        emit(g, KILN_GATEWAY_WRITE_TUN, c->id, p.data, p.len);
}

/* Rewrites the packet quoted in an ICMP error (src = client, dst = real IP, source port =
 * outside port) back to what the client sent (dst = proxy IP, its own port). */
static bool translate_icmp_error(struct client *c, uint8_t *buf, size_t len, const struct kiln_packet *outer)
{
        size_t inner_off = outer->l3_len + 8;
        struct kiln_packet in;
        if (kiln_packet_parse_embedded(buf + inner_off, len - inner_off, &in) < 0 ||
            !(in.has_ports || in.is_icmp))
                return false;
        uint16_t port = in.has_ports ? in.sport : in.icmp_id;
        for (size_t i = 0; i < c->n_sessions; i++) {
                struct nat_session *s = &c->sessions[i];
                if (s->proto != in.proto || s->outside_port != port ||
                    !kiln_ip_addr_equal(&s->real, &in.dst))
                        continue;
                uint8_t *ip = buf + inner_off;
                if (in.version == 4) {
                        memcpy(ip + 16, s->proxy.bytes, 4);
                        ip[10] = ip[11] = 0;
                        uint16_t cs = kiln_csum_fold(kiln_csum_add(0, ip, in.l3_len));
                        ip[10] = (uint8_t)(cs >> 8);
                        ip[11] = (uint8_t)cs;
                } else {
                        memcpy(ip + 24, s->proxy.bytes, 16);
                }
                uint8_t *l4 = ip + in.l3_len;
                if (in.has_ports) {
                        l4[0] = (uint8_t)(s->inside_port >> 8);
                        l4[1] = (uint8_t)s->inside_port;
                } else {
                        l4[4] = (uint8_t)(s->inside_port >> 8);
                        l4[5] = (uint8_t)s->inside_port;
                }
                /* The outer source is the real host itself when it sent the error. */
                if (kiln_ip_addr_equal(&outer->src, &s->real))
                        memcpy(buf + (outer->version == 4 ? 12 : 8), s->proxy.bytes,
                               outer->version == 4 ? 4 : 16);
                return kiln_packet_fix_checksums(buf, len) == 0;
        }
        return false;
}

void kiln_gateway_handle_tun_packet(struct kiln_gateway *g, uint64_t now, const uint8_t *pkt, size_t len)
{
        struct kiln_packet p;

        if (kiln_packet_parse(pkt, len, &p) < 0) {
                g->stats.dropped_malformed++;
                return;
        }
        struct client *c = client_by_ip(g, &p.dst);
        if (!c) {
                g->stats.dropped_no_peer++;
                return;
        }
        memcpy(g->scratch, p.data, p.len);
        if (p.icmp_error) {
                /* ICMP errors always pass; translate them if they quote a NAT session. */
                translate_icmp_error(c, g->scratch, p.len, &p);
                emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, g->scratch, p.len);
                return;
        }
        expire_sessions(c, now);
        uint16_t port = flow_port(&p, false);
        for (size_t i = 0; i < c->n_sessions; i++) {
                struct nat_session *s = &c->sessions[i];
                if (s->proto != p.proto || s->outside_port != port ||
                    !kiln_ip_addr_equal(&s->real, &p.src) || !(p.has_ports || p.is_icmp) || p.fragment)
                        continue;
                s->confirmed = true;
                track_tcp(s, &p, false, now);
                if (kiln_packet_rewrite(g->scratch, p.len, &s->proxy, NULL, -1, s->inside_port) < 0)
                        return;
                emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, g->scratch, p.len);
                return;
        }
        if (!classify(c, now, &p.src)) {
                g->stats.dropped_unauthorized_source++;
                return;
        }
        emit(g, KILN_GATEWAY_SEND_TO_CLIENT, c->id, p.data, p.len);
}

void kiln_gateway_handle_timeout(struct kiln_gateway *g, uint64_t now)
{
        if (!g->next_tick || now < g->next_tick)
                return;
        g->next_tick = g->n_clients ? now + KILN_GATEWAY_TICK_NS : 0;
        for (size_t i = 0; i < g->n_clients;) {
                struct client *c = &g->clients[i];
                size_t before = g->n_clients;
                expire_sessions(c, now);
                for (size_t j = 0; j < c->n_auths;) {
                        if (c->auths[j].expires_at && c->auths[j].expires_at <= now) {
                                size_t n = g->n_clients;
                                remove_auth(g, c, j);
                                if (g->n_clients != n)
                                        break; /* the client went with its last authorization */
                        } else {
                                j++;
                        }
                }
                if (g->n_clients == before)
                        i++;
        }
        if (g->n_clients && !g->next_tick)
                g->next_tick = now + KILN_GATEWAY_TICK_NS;
}

uint64_t kiln_gateway_poll_timeout(const struct kiln_gateway *g)
{
        return g->next_tick ? g->next_tick : UINT64_MAX;
}

size_t kiln_gateway_n_clients(const struct kiln_gateway *g)
{
        return g->n_clients;
}

size_t kiln_gateway_n_nat_sessions(const struct kiln_gateway *g, const char *client_id)
{
        struct client *c = find_client((struct kiln_gateway *)g, client_id);
        return c ? c->n_sessions : 0;
}

const struct kiln_gateway_stats *kiln_gateway_stats(const struct kiln_gateway *g)
{
        return &g->stats;
}
