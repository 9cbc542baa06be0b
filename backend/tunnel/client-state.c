/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/client-state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/action-queue.h"
#include "backend/tunnel/array.h"
#include "backend/tunnel/packet-buffer.h"
#include "backend/tunnel/p2p-control.h"

#define MAX_GATEWAYS          1024
#define MAX_PENDING_RESOURCES 1024
#define MAX_NAT_ENTRIES       4096
#define UDP_HEADER_ROOM       48 /* IPv6 header + UDP header */

struct pending_auth {
        char resource_id[KILN_ID_MAX + 1];
        uint64_t last_request;
        struct kiln_packet_buffer packets;
};

struct gateway {
        char id[KILN_ID_MAX + 1];
        struct kiln_ip_addr ipv4, ipv6;
        bool connected;
        struct kiln_packet_buffer packets; /* waiting for the connection */
};

enum nat_state {
        NAT_PENDING,
        NAT_CONFIRMED,
        NAT_FAILED
};

/* Per (gateway, domain, resource): has the gateway set up its DNS-resource NAT? */
struct nat_entry {
        char gateway_id[KILN_ID_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
        char fqdn[KILN_DNS_NAME_MAX + 1];
        enum nat_state state;
        bool resend;
        uint64_t last_sent;
        struct kiln_packet_buffer packets;
};

struct kiln_client {
        struct kiln_client_config config;
        struct kiln_resources *resources;
        struct kiln_dns_stub *stub;
        struct pending_auth *pending;
        size_t n_pending;
        struct gateway *gateways;
        size_t n_gateways;
        struct nat_entry *nat;
        size_t n_nat;
        struct kiln_action_queue actions;
        struct kiln_client_stats stats;
        uint8_t scratch[KILN_DNS_MESSAGE_MAX + UDP_HEADER_ROOM];
        uint8_t dns[KILN_DNS_MESSAGE_MAX];
};

struct kiln_client *kiln_client_new(const struct kiln_client_config *config)
{
        struct kiln_client *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->config = *config;
        kiln_action_queue_init(&c->actions, sizeof(struct kiln_client_action));
        c->resources = kiln_resources_new();
        c->stub = c->resources ? kiln_dns_stub_new(c->resources, config->seed) : NULL;
        if (!c->stub) {
                kiln_client_free(c);
                return NULL;
        }
        return c;
}

void kiln_client_free(struct kiln_client *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_pending; i++)
                kiln_packet_buffer_clear(&c->pending[i].packets);
        for (size_t i = 0; i < c->n_gateways; i++)
                kiln_packet_buffer_clear(&c->gateways[i].packets);
        for (size_t i = 0; i < c->n_nat; i++)
                kiln_packet_buffer_clear(&c->nat[i].packets);
        free(c->pending);
        free(c->gateways);
        free(c->nat);
        kiln_action_queue_clear(&c->actions);
        kiln_dns_stub_free(c->stub);
        kiln_resources_free(c->resources);
        free(c);
}

static struct kiln_client_action *emit(struct kiln_client *c, enum kiln_client_action_type type,
                                       const uint8_t *data, size_t len)
{
        const uint8_t *copy;
        struct kiln_client_action *a = kiln_action_queue_push(&c->actions, data, len, &copy);
        if (!a)
                return NULL;
        a->type = type;
        a->data = copy;
        a->len = len;
        return a;
}

bool kiln_client_poll_action(struct kiln_client *c, struct kiln_client_action *ret)
{
        return kiln_action_queue_pop(&c->actions, ret);
}

static void write_tun(struct kiln_client *c, const uint8_t *pkt, size_t len)
{
        emit(c, KILN_CLIENT_WRITE_TUN, pkt, len);
}

static struct gateway *find_gateway(struct kiln_client *c, const char *id)
{
        for (size_t i = 0; i < c->n_gateways; i++)
                if (!strcmp(c->gateways[i].id, id))
                        return &c->gateways[i];
        return NULL;
}

static void send_or_buffer(struct kiln_client *c, struct gateway *g, const uint8_t *pkt, size_t len)
{
        if (g->connected) {
                struct kiln_client_action *a = emit(c, KILN_CLIENT_SEND_TO_GATEWAY, pkt, len);
                if (a)
                        strcpy(a->gateway_id, g->id);
                return;
        }
        if (kiln_packet_buffer_push(&g->packets, pkt, len) < 0)
                c->stats.dropped_buffer_full++;
}

static struct nat_entry *find_nat(struct kiln_client *c, const char *gateway_id, const char *fqdn,
                                  const char *resource_id)
{
        for (size_t i = 0; i < c->n_nat; i++) {
                struct nat_entry *e = &c->nat[i];
                if (!strcmp(e->gateway_id, gateway_id) && !strcmp(e->resource_id, resource_id) &&
                    kiln_dns_name_equal(e->fqdn, fqdn))
                        return e;
        }
        return NULL;
}

static void send_assigned_ips(struct kiln_client *c, uint64_t now, struct gateway *g, struct nat_entry *e,
                              const struct kiln_resource *r)
{
        struct kiln_p2p_message m = { .type = KILN_P2P_ASSIGNED_IPS };
        uint8_t pkt[KILN_P2P_MAX_PACKET];

        snprintf(m.resource, sizeof(m.resource), "%s", e->resource_id);
        snprintf(m.domain, sizeof(m.domain), "%s", e->fqdn);
        m.n_proxy_ips = kiln_dns_stub_proxy_ips(c->stub, e->fqdn, r, m.proxy_ips);
        ssize_t len = kiln_p2p_build(&m, pkt, sizeof(pkt));
        if (len < 0)
                return;
        e->last_sent = now;
        e->resend = false;
        send_or_buffer(c, g, pkt, (size_t)len);
}

/* Authorized traffic: DNS resources pass the NAT handshake first. */
static void to_gateway(struct kiln_client *c, uint64_t now, struct gateway *g, const struct kiln_resource *r,
                       const char *fqdn, const uint8_t *pkt, size_t len)
{
        if (r->type != KILN_RESOURCE_DNS) {
                send_or_buffer(c, g, pkt, len);
                return;
        }
        struct nat_entry *e = find_nat(c, g->id, fqdn, r->id);
        if (!e) {
                e = kiln_array_grow(&c->nat, &c->n_nat, sizeof(*e), MAX_NAT_ENTRIES);
                if (!e) {
                        c->stats.dropped_buffer_full++;
                        return;
                }
                snprintf(e->gateway_id, sizeof(e->gateway_id), "%s", g->id);
                snprintf(e->resource_id, sizeof(e->resource_id), "%s", r->id);
                snprintf(e->fqdn, sizeof(e->fqdn), "%s", fqdn);
                e->state = NAT_PENDING;
                kiln_packet_buffer_init(&e->packets, KILN_CLIENT_PENDING_NAT_PACKETS);
                send_assigned_ips(c, now, g, e, r);
        } else if ((e->state == NAT_PENDING || e->resend) &&
                   now - e->last_sent >= KILN_CLIENT_NAT_RETRY_NS) {
                send_assigned_ips(c, now, g, e, r);
        }
        switch (e->state) {
        case NAT_PENDING:
                if (kiln_packet_buffer_push(&e->packets, pkt, len) < 0)
                        c->stats.dropped_buffer_full++;
                break;
        case NAT_CONFIRMED:
                send_or_buffer(c, g, pkt, len);
                break;
        case NAT_FAILED:
                c->stats.dropped_unknown_resource++;
                break;
        }
}

static struct pending_auth *find_pending(struct kiln_client *c, const char *resource_id)
{
        for (size_t i = 0; i < c->n_pending; i++)
                if (!strcmp(c->pending[i].resource_id, resource_id))
                        return &c->pending[i];
        return NULL;
}

static void drop_pending(struct kiln_client *c, const char *resource_id)
{
        struct pending_auth *p = find_pending(c, resource_id);
        if (!p)
                return;
        kiln_packet_buffer_clear(&p->packets);
        kiln_array_remove(c->pending, &c->n_pending, sizeof(*p), (size_t)(p - c->pending));
}

static void need_authorization(struct kiln_client *c, uint64_t now, const struct kiln_resource *r,
                               const uint8_t *pkt, size_t len)
{
        struct pending_auth *p = find_pending(c, r->id);
        if (!p) {
                p = kiln_array_grow(&c->pending, &c->n_pending, sizeof(*p), MAX_PENDING_RESOURCES);
                if (!p) {
                        c->stats.dropped_buffer_full++;
                        return;
                }
                snprintf(p->resource_id, sizeof(p->resource_id), "%s", r->id);
                kiln_packet_buffer_init(&p->packets, KILN_CLIENT_PENDING_AUTH_PACKETS);
                p->last_request = now - KILN_CLIENT_AUTH_RETRY_NS; /* first packet always asks */
        }
        if (len && kiln_packet_buffer_push(&p->packets, pkt, len) < 0)
                c->stats.dropped_buffer_full++;
        if (now - p->last_request >= KILN_CLIENT_AUTH_RETRY_NS) {
                p->last_request = now;
                struct kiln_client_action *a = emit(c, KILN_CLIENT_REQUEST_AUTHORIZATION, NULL, 0);
                if (a)
                        strcpy(a->resource_id, r->id);
        }
}

static bool is_multicast(const struct kiln_ip_addr *a)
{
        return a->family == 4 ? (a->bytes[0] & 0xf0) == 0xe0 : a->bytes[0] == 0xff;
}

static const struct kiln_ip_addr *own_ip(const struct kiln_client *c, uint8_t family)
{
        const struct kiln_ip_addr *a = family == 4 ? &c->config.tun_ipv4 : &c->config.tun_ipv6;
        return a->family == family ? a : NULL;
}

/* A DNS payload back to whoever asked, as a UDP packet from the sentinel. */
static void dns_to_tun(struct kiln_client *c, const struct kiln_dns_origin *o, const uint8_t *msg,
                       size_t len)
{
        struct kiln_packet_spec s = {
                .src = o->sentinel,
                .dst = o->client,
                .proto = KILN_IPPROTO_UDP,
                .sport = KILN_DNS_PORT,
                .dport = o->client_port,
                .payload = msg,
                .payload_len = len,
        };
        ssize_t n = kiln_packet_build(&s, c->scratch, sizeof(c->scratch));
        if (n > 0)
                write_tun(c, c->scratch, (size_t)n);
}

static void refresh_nat(struct kiln_client *c, const struct kiln_resource *r, const char *fqdn)
{
        for (size_t i = 0; i < c->n_nat; i++) {
                struct nat_entry *e = &c->nat[i];
                if (!strcmp(e->resource_id, r->id) && kiln_dns_name_equal(e->fqdn, fqdn)) {
                        e->resend = true;
                        e->last_sent = 0;
                }
        }
}

static void handle_dns_query(struct kiln_client *c, uint64_t now, const struct kiln_packet *p)
{
        struct kiln_dns_origin o = { .client = p->src, .sentinel = p->dst, .client_port = p->sport };
        struct kiln_dns_stub_result res;
        const uint8_t *q = p->l4 + 8;
        size_t qlen = p->l4_len - 8;

        if (kiln_dns_stub_handle_query(c->stub, now, &o, q, qlen, c->dns, sizeof(c->dns), &res) < 0)
                return;
        if (res.resource)
                refresh_nat(c, res.resource, res.fqdn);
        switch (res.verdict) {
        case KILN_DNS_STUB_ANSWER:
                c->stats.dns_answered++;
                dns_to_tun(c, &o, c->dns, res.len);
                break;
        case KILN_DNS_STUB_FORWARD: {
                c->stats.dns_forwarded++;
                struct kiln_client_action *a = emit(c, KILN_CLIENT_DNS_QUERY, c->dns, res.len);
                if (a)
                        a->upstream = res.upstream;
                break;
        }
        case KILN_DNS_STUB_FORWARD_SITE: {
                /* To the resource's gateway at tun_ip:53535, through the tunnel. */
                const char *gw = kiln_resources_gateway(c->resources, res.resource->id);
                struct gateway *g = gw[0] ? find_gateway(c, gw) : NULL;
                const struct kiln_ip_addr *src = NULL, *dst = NULL;
                if (g && own_ip(c, 4) && g->ipv4.family == 4) {
                        src = own_ip(c, 4);
                        dst = &g->ipv4;
                } else if (g && own_ip(c, 6) && g->ipv6.family == 6) {
                        src = own_ip(c, 6);
                        dst = &g->ipv6;
                }
                if (!dst) {
                        /* Not authorized yet: ask, and let the application retry (its query
                         * times out with SERVFAIL after 5 s). */
                        need_authorization(c, now, res.resource, NULL, 0);
                        break;
                }
                struct kiln_packet_spec s = {
                        .src = *src,
                        .dst = *dst,
                        .proto = KILN_IPPROTO_UDP,
                        .sport = KILN_DNS_PORT,
                        .dport = KILN_GATEWAY_DNS_PORT,
                        .payload = c->dns,
                        .payload_len = res.len,
                };
                ssize_t n = kiln_packet_build(&s, c->scratch, sizeof(c->scratch));
                if (n > 0)
                        send_or_buffer(c, g, c->scratch, (size_t)n);
                break;
        }
        case KILN_DNS_STUB_DROP:
                break;
        }
        if (kiln_dns_stub_take_records_changed(c->stub))
                emit(c, KILN_CLIENT_DNS_RECORDS_CHANGED, NULL, 0);
}

/* Steps 4–8 of spec §6.3 for a packet that is not DNS. */
static void route(struct kiln_client *c, uint64_t now, const uint8_t *pkt, size_t len,
                  const struct kiln_packet *p)
{
        const struct kiln_resource *r = NULL;
        const char *fqdn = NULL, *rid;

        if (kiln_addr_is_proxy(&p->dst)) {
                if (kiln_dns_stub_proxy_lookup(c->stub, &p->dst, &fqdn, &rid))
                        r = kiln_resources_get(c->resources, rid);
        } else {
                r = kiln_resources_lookup_ip(c->resources, &p->dst);
        }
        if (!r) {
                c->stats.dropped_unknown_resource++;
                return;
        }
        if (!kiln_filters_allow(r->filters, r->n_filters, p)) {
                uint8_t icmp[1280];
                ssize_t n = kiln_packet_icmp_unreachable(pkt, len, KILN_ICMP_PROHIBITED, icmp, sizeof(icmp));
                c->stats.dropped_denied++;
                if (n > 0)
                        write_tun(c, icmp, (size_t)n);
                return;
        }
        const char *gw = kiln_resources_gateway(c->resources, r->id);
        struct gateway *g = gw[0] ? find_gateway(c, gw) : NULL;
        if (!g) {
                need_authorization(c, now, r, pkt, len);
                return;
        }
        to_gateway(c, now, g, r, fqdn, pkt, len);
}

void kiln_client_handle_tun_packet(struct kiln_client *c, uint64_t now, const uint8_t *pkt, size_t len)
{
        struct kiln_packet p;

        if (kiln_packet_parse(pkt, len, &p) < 0) {
                c->stats.dropped_malformed++;
                return;
        }
        if (is_multicast(&p.dst))
                return;
        const struct kiln_ip_addr *own = own_ip(c, p.version);
        if (!own || !kiln_ip_addr_equal(&p.src, own) || kiln_ip_addr_equal(&p.dst, own)) {
                c->stats.dropped_not_tunnel_source++;
                return;
        }
        if (kiln_addr_is_sentinel(&p.dst)) {
                if (p.proto == KILN_IPPROTO_UDP && p.has_ports && p.dport == KILN_DNS_PORT && !p.fragment)
                        handle_dns_query(c, now, &p);
                return;
        }
        if (p.icmp_error) {
                /* Only client-to-client flows could own one; this client has none. */
                return;
        }
        route(c, now, p.data, p.len, &p);
}

int kiln_client_handle_authorized(struct kiln_client *c, uint64_t now, const char *resource_id,
                                  const char *gateway_id, const struct kiln_ip_addr *gateway_ipv4,
                                  const struct kiln_ip_addr *gateway_ipv6)
{
        int r = kiln_resources_set_gateway(c->resources, resource_id, gateway_id);
        if (r < 0)
                return r;
        struct gateway *g = find_gateway(c, gateway_id);
        if (!g) {
                g = kiln_array_grow(&c->gateways, &c->n_gateways, sizeof(*g), MAX_GATEWAYS);
                if (!g)
                        return -ENOMEM;
                snprintf(g->id, sizeof(g->id), "%s", gateway_id);
                kiln_packet_buffer_init(&g->packets, KILN_CLIENT_PENDING_PEER_PACKETS);
                if (gateway_ipv4)
                        g->ipv4 = *gateway_ipv4;
                if (gateway_ipv6)
                        g->ipv6 = *gateway_ipv6;
                struct kiln_client_action *a = emit(c, KILN_CLIENT_CONNECT_GATEWAY, NULL, 0);
                if (a) {
                        strcpy(a->gateway_id, g->id);
                        a->gateway_ipv4 = g->ipv4;
                        a->gateway_ipv6 = g->ipv6;
                }
        }
        /* Replay what waited for this authorization through the full routing path. */
        struct pending_auth *p = find_pending(c, resource_id);
        if (p) {
                struct kiln_packet_buffer packets = p->packets;
                size_t n;
                uint8_t *pkt;
                p->packets.v = NULL;
                p->packets.n = 0;
                drop_pending(c, resource_id);
                while ((pkt = kiln_packet_buffer_pop(&packets, &n))) {
                        kiln_client_handle_tun_packet(c, now, pkt, n);
                        free(pkt);
                }
                kiln_packet_buffer_clear(&packets);
        }
        return 0;
}

void kiln_client_handle_authorization_failed(struct kiln_client *c, const char *resource_id,
                                             const char *reason)
{
        drop_pending(c, resource_id);
        struct kiln_client_action *a = emit(c, KILN_CLIENT_AUTHORIZATION_FAILED, NULL, 0);
        if (a) {
                snprintf(a->resource_id, sizeof(a->resource_id), "%s", resource_id);
                snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "unknown");
        }
}

void kiln_client_handle_gateway_connected(struct kiln_client *c, uint64_t now, const char *gateway_id)
{
        struct gateway *g = find_gateway(c, gateway_id);
        uint8_t *pkt;
        size_t n;
        if (!g)
                return;
        g->connected = true;
        while ((pkt = kiln_packet_buffer_pop(&g->packets, &n))) {
                send_or_buffer(c, g, pkt, n);
                free(pkt);
        }
        (void)now;
}

void kiln_client_handle_gateway_closed(struct kiln_client *c, const char *gateway_id)
{
        struct gateway *g = find_gateway(c, gateway_id);
        if (!g)
                return;
        kiln_packet_buffer_clear(&g->packets);
        kiln_resources_clear_gateway(c->resources, gateway_id);
        for (size_t i = 0; i < c->n_nat;) {
                if (!strcmp(c->nat[i].gateway_id, gateway_id)) {
                        kiln_packet_buffer_clear(&c->nat[i].packets);
                        kiln_array_remove(c->nat, &c->n_nat, sizeof(c->nat[0]), i);
                } else {
                        i++;
                }
        }
        kiln_array_remove(c->gateways, &c->n_gateways, sizeof(*g), (size_t)(g - c->gateways));
}

static void handle_domain_status(struct kiln_client *c, struct gateway *g, const struct kiln_p2p_message *m)
{
        struct nat_entry *e = find_nat(c, g->id, m->domain, m->resource);
        uint8_t *pkt;
        size_t n;
        if (!e)
                return;
        if (m->active) {
                e->state = NAT_CONFIRMED;
                e->resend = false;
                while ((pkt = kiln_packet_buffer_pop(&e->packets, &n))) {
                        send_or_buffer(c, g, pkt, n);
                        free(pkt);
                }
                return;
        }
        e->state = NAT_FAILED;
        kiln_packet_buffer_clear(&e->packets);
        struct kiln_client_action *a = emit(c, KILN_CLIENT_DOMAIN_INACTIVE, NULL, 0);
        if (a) {
                strcpy(a->resource_id, e->resource_id);
                strcpy(a->gateway_id, g->id);
        }
}

/* Spec §6.3 ensure_allowed_src: a gateway may only send from addresses of resources it serves. */
static bool source_allowed(struct kiln_client *c, const struct gateway *g, const struct kiln_ip_addr *src)
{
        const char *fqdn, *rid;
        if (kiln_addr_is_proxy(src)) {
                if (!kiln_dns_stub_proxy_lookup(c->stub, src, &fqdn, &rid))
                        return false;
                return !strcmp(kiln_resources_gateway(c->resources, rid), g->id);
        }
        const struct kiln_resource *r = kiln_resources_lookup_ip(c->resources, src);
        return r && r->type != KILN_RESOURCE_DNS &&
               !strcmp(kiln_resources_gateway(c->resources, r->id), g->id);
}

void kiln_client_handle_gateway_packet(struct kiln_client *c, uint64_t now, const char *gateway_id,
                                       const uint8_t *pkt, size_t len)
{
        struct gateway *g = find_gateway(c, gateway_id);
        struct kiln_packet p;

        if (!g)
                return;
        if (kiln_p2p_is_control(pkt, len)) {
                struct kiln_p2p_message m;
                if (kiln_p2p_parse(pkt, len, &m) < 0) {
                        c->stats.dropped_malformed++;
                        return;
                }
                if (m.type == KILN_P2P_DOMAIN_STATUS) {
                        handle_domain_status(c, g, &m);
                } else if (m.type == KILN_P2P_GOODBYE) {
                        struct kiln_client_action *a = emit(c, KILN_CLIENT_CLOSE_GATEWAY, NULL, 0);
                        if (a)
                                strcpy(a->gateway_id, g->id);
                        kiln_client_handle_gateway_closed(c, gateway_id);
                }
                return;
        }
        if (kiln_packet_parse(pkt, len, &p) < 0) {
                c->stats.dropped_malformed++;
                return;
        }
        const struct kiln_ip_addr *own = own_ip(c, p.version);
        if (!own || !kiln_ip_addr_equal(&p.dst, own)) {
                c->stats.dropped_unallowed_source++;
                return;
        }
        bool from_gateway_dns =
            p.proto == KILN_IPPROTO_UDP && p.has_ports && p.sport == KILN_GATEWAY_DNS_PORT &&
            (kiln_ip_addr_equal(&p.src, &g->ipv4) || kiln_ip_addr_equal(&p.src, &g->ipv6));
        if (from_gateway_dns) {
                struct kiln_dns_origin o;
                struct kiln_dns_upstream no_tcp_through_tunnel;
                size_t n;
                if (kiln_dns_stub_handle_reply(c->stub, now, &p.src, p.l4 + 8, p.l4_len - 8, c->dns,
                                               sizeof(c->dns), &n, &o, &no_tcp_through_tunnel) == 0)
                        dns_to_tun(c, &o, c->dns, n);
                return;
        }
        if (!source_allowed(c, g, &p.src)) {
                c->stats.dropped_unallowed_source++;
                return;
        }
        write_tun(c, p.data, p.len);
}

void kiln_client_handle_dns_reply(struct kiln_client *c, uint64_t now, const struct kiln_ip_addr *from,
                                  const uint8_t *reply, size_t len)
{
        struct kiln_dns_origin o;
        struct kiln_dns_upstream up;
        size_t n;
        int r =
            kiln_dns_stub_handle_reply(c->stub, now, from, reply, len, c->dns, sizeof(c->dns), &n, &o, &up);
        if (r == 0) {
                dns_to_tun(c, &o, c->dns, n);
        } else if (r == KILN_DNS_STUB_RETRY_TCP) {
                struct kiln_client_action *a = emit(c, KILN_CLIENT_DNS_QUERY, c->dns, n);
                if (a) {
                        a->upstream = up;
                        a->tcp = true;
                }
        }
}

void kiln_client_handle_timeout(struct kiln_client *c, uint64_t now)
{
        struct kiln_dns_origin o;
        size_t n;
        while (kiln_dns_stub_poll_expired(c->stub, now, c->dns, sizeof(c->dns), &n, &o) == 0)
                dns_to_tun(c, &o, c->dns, n);
}

uint64_t kiln_client_poll_timeout(const struct kiln_client *c)
{
        return kiln_dns_stub_next_timeout(c->stub);
}

int kiln_client_upsert_resource(struct kiln_client *c, const struct kiln_resource *r)
{
        return kiln_resources_upsert(c->resources, r);
}

int kiln_client_remove_resource(struct kiln_client *c, const char *resource_id)
{
        drop_pending(c, resource_id);
        for (size_t i = 0; i < c->n_nat;) {
                if (!strcmp(c->nat[i].resource_id, resource_id)) {
                        kiln_packet_buffer_clear(&c->nat[i].packets);
                        kiln_array_remove(c->nat, &c->n_nat, sizeof(c->nat[0]), i);
                } else {
                        i++;
                }
        }
        return kiln_resources_remove(c->resources, resource_id);
}

void kiln_client_set_internet_enabled(struct kiln_client *c, bool enabled)
{
        kiln_resources_set_internet_enabled(c->resources, enabled);
}

const struct kiln_resources *kiln_client_resources(const struct kiln_client *c)
{
        return c->resources;
}

struct kiln_dns_stub *kiln_client_dns_stub(struct kiln_client *c)
{
        return c->stub;
}

int kiln_client_set_upstreams(struct kiln_client *c, const struct kiln_dns_upstream *u, size_t n)
{
        return kiln_dns_stub_set_upstreams(c->stub, u, n);
}

const struct kiln_client_stats *kiln_client_stats(const struct kiln_client *c)
{
        return &c->stats;
}
