/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/client-state.h"
#include "backend/tunnel/p2p-control.h"
#include "test-util.h"

#define SEC 1000000000ull
#define MS  1000000ull

struct fixture {
        struct kiln_client *c;
        GPtrArray *actions; /* copies: struct kiln_client_action + data in a GBytes */
};

struct recorded {
        struct kiln_client_action a;
        GBytes *data;
};

static void recorded_free(gpointer p)
{
        struct recorded *r = p;
        g_bytes_unref(r->data);
        g_free(r);
}

static void setup(struct fixture *f, gconstpointer data)
{
        struct kiln_client_config cfg = { .tun_ipv4 = ip("100.64.0.5"),
                                          .tun_ipv6 = ip("fd00:2021:1111::5"),
                                          .seed = 7 };
        f->c = kiln_client_new(&cfg);
        f->actions = g_ptr_array_new_with_free_func(recorded_free);

        struct kiln_resource r = { .type = KILN_RESOURCE_CIDR };
        g_strlcpy(r.id, "res-web", sizeof(r.id));
        g_strlcpy(r.address, "10.0.0.0/24", sizeof(r.address));
        r.filters[0] = (struct kiln_filter){ KILN_IPPROTO_TCP, 80, 80 };
        r.filters[1] = (struct kiln_filter){ KILN_IPPROTO_ICMP };
        r.n_filters = 2;
        g_assert_cmpint(kiln_client_upsert_resource(f->c, &r), ==, 0);
        struct kiln_resource d = { .type = KILN_RESOURCE_DNS };
        g_strlcpy(d.id, "res-dns", sizeof(d.id));
        g_strlcpy(d.address, "**.corp.example", sizeof(d.address));
        g_assert_cmpint(kiln_client_upsert_resource(f->c, &d), ==, 0);
        struct kiln_dns_upstream up = { .addr = ip("192.0.2.53"), .port = 53 };
        g_assert_cmpint(kiln_client_set_upstreams(f->c, &up, 1), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
        g_ptr_array_unref(f->actions);
        kiln_client_free(f->c);
}

/* Drains the client's actions into f->actions; returns how many came. */
static guint drain(struct fixture *f)
{
        struct kiln_client_action a;
        guint n = 0;
        g_ptr_array_set_size(f->actions, 0);
        while (kiln_client_poll_action(f->c, &a)) {
                struct recorded *r = g_new0(struct recorded, 1);
                r->a = a;
                r->data = g_bytes_new(a.data, a.len);
                r->a.data = NULL;
                g_ptr_array_add(f->actions, r);
                n++;
        }
        return n;
}

static struct recorded *action(struct fixture *f, guint i)
{
        g_assert_cmpuint(i, <, f->actions->len);
        return f->actions->pdata[i];
}

static void tun(struct fixture *f, uint64_t now, const char *dst, uint8_t proto, uint16_t sport,
                uint16_t dport, const char *payload)
{
        uint8_t buf[512];
        const char *src = strchr(dst, ':') ? "fd00:2021:1111::5" : "100.64.0.5";
        size_t n = make_packet(buf, sizeof(buf), src, dst, proto, sport, dport, payload);
        kiln_client_handle_tun_packet(f->c, now, buf, n);
}

static void test_authorization_flow(struct fixture *f, gconstpointer data)
{
        tun(f, 0, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 80, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_REQUEST_AUTHORIZATION);
        g_assert_cmpstr(action(f, 0)->a.resource_id, ==, "res-web");

        /* within 2 s: buffered, not re-requested; the SYN retransmission is deduplicated */
        tun(f, 500 * MS, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 80, NULL);
        tun(f, 1999 * MS, "10.0.0.7", KILN_IPPROTO_ICMP, 9, 1, "ping");
        g_assert_cmpuint(drain(f), ==, 0);
        tun(f, 2000 * MS, "10.0.0.7", KILN_IPPROTO_ICMP, 9, 2, "ping");
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_REQUEST_AUTHORIZATION);

        struct kiln_ip_addr g4 = ip("100.64.0.100");
        g_assert_cmpint(kiln_client_handle_authorized(f->c, 2100 * MS, "res-web", "gw-1", &g4, NULL), ==, 0);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_CONNECT_GATEWAY);
        g_assert_cmpstr(action(f, 0)->a.gateway_id, ==, "gw-1");
        g_assert_true(kiln_ip_addr_equal(&action(f, 0)->a.gateway_ipv4, &g4));

        /* connecting: still held; then replayed in order */
        tun(f, 2200 * MS, "10.0.0.7", KILN_IPPROTO_ICMP, 9, 3, "ping");
        g_assert_cmpuint(drain(f), ==, 0);
        kiln_client_handle_gateway_connected(f->c, 2300 * MS, "gw-1");
        g_assert_cmpuint(drain(f), ==, 4);
        struct kiln_packet p;
        uint16_t want_seq[] = { 0, 1, 2, 3 };
        for (guint i = 0; i < 4; i++) {
                struct recorded *r = action(f, i);
                g_assert_cmpint(r->a.type, ==, KILN_CLIENT_SEND_TO_GATEWAY);
                g_assert_cmpstr(r->a.gateway_id, ==, "gw-1");
                gsize len;
                const uint8_t *d = g_bytes_get_data(r->data, &len);
                g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
                if (i == 0) {
                        g_assert_cmpint(p.proto, ==, KILN_IPPROTO_TCP);
                } else {
                        g_assert_cmpint(p.proto, ==, KILN_IPPROTO_ICMP);
                        g_assert_cmpint((p.l4[6] << 8 | p.l4[7]), ==, want_seq[i]);
                }
        }
        /* connected: straight through */
        tun(f, 3 * SEC, "10.0.0.8", KILN_IPPROTO_TCP, 1001, 80, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_SEND_TO_GATEWAY);

        /* replies: allowed only from the resource's addresses, and only to us */
        uint8_t buf[256];
        size_t n = make_packet(buf, sizeof(buf), "10.0.0.8", "100.64.0.5", KILN_IPPROTO_TCP, 80, 1001, "ok");
        kiln_client_handle_gateway_packet(f->c, 3 * SEC, "gw-1", buf, n);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_WRITE_TUN);
        g_assert_cmpmem(g_bytes_get_data(action(f, 0)->data, NULL), n, buf, n);
        n = make_packet(buf, sizeof(buf), "10.9.9.9", "100.64.0.5", KILN_IPPROTO_TCP, 80, 1001, "evil");
        kiln_client_handle_gateway_packet(f->c, 3 * SEC, "gw-1", buf, n);
        g_assert_cmpuint(drain(f), ==, 0);
        g_assert_cmpuint(kiln_client_stats(f->c)->dropped_unallowed_source, ==, 1);
        n = make_packet(buf, sizeof(buf), "10.0.0.8", "100.64.0.5", KILN_IPPROTO_TCP, 80, 1001, "ok");
        kiln_client_handle_gateway_packet(f->c, 3 * SEC, "gw-other", buf, n);
        g_assert_cmpuint(drain(f), ==, 0);

        /* GOODBYE closes the connection; the next packet asks again */
        struct kiln_p2p_message bye = { .type = KILN_P2P_GOODBYE };
        ssize_t bl = kiln_p2p_build(&bye, buf, sizeof(buf));
        kiln_client_handle_gateway_packet(f->c, 4 * SEC, "gw-1", buf, (size_t)bl);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_CLOSE_GATEWAY);
        tun(f, 5 * SEC, "10.0.0.8", KILN_IPPROTO_TCP, 1001, 80, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_REQUEST_AUTHORIZATION);
}

static void test_denied_and_unknown(struct fixture *f, gconstpointer data)
{
        uint8_t orig[256];
        size_t on =
            make_packet(orig, sizeof(orig), "100.64.0.5", "10.0.0.7", KILN_IPPROTO_TCP, 1000, 22, NULL);
        kiln_client_handle_tun_packet(f->c, 0, orig, on);
        g_assert_cmpuint(drain(f), ==, 1);
        struct recorded *r = action(f, 0);
        g_assert_cmpint(r->a.type, ==, KILN_CLIENT_WRITE_TUN);
        gsize len;
        const uint8_t *d = g_bytes_get_data(r->data, &len);
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_cmpint(p.icmp_type, ==, 3);
        g_assert_cmpint(p.icmp_code, ==, 13);
        struct kiln_ip_addr a = ip("10.0.0.7");
        g_assert_true(kiln_ip_addr_equal(&p.src, &a));
        g_assert_cmpmem(p.l4 + 8, 28, orig, 28);

        /* no resource: dropped silently; wrong source: dropped */
        tun(f, 0, "172.16.0.1", KILN_IPPROTO_TCP, 1, 80, NULL);
        g_assert_cmpuint(drain(f), ==, 0);
        g_assert_cmpuint(kiln_client_stats(f->c)->dropped_unknown_resource, ==, 1);
        size_t n = make_packet(orig, sizeof(orig), "100.64.0.6", "10.0.0.7", KILN_IPPROTO_TCP, 1, 80, NULL);
        kiln_client_handle_tun_packet(f->c, 0, orig, n);
        g_assert_cmpuint(drain(f), ==, 0);
        g_assert_cmpuint(kiln_client_stats(f->c)->dropped_not_tunnel_source, ==, 1);
}

static void test_authorization_failed(struct fixture *f, gconstpointer data)
{
        tun(f, 0, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 80, NULL);
        drain(f);
        kiln_client_handle_authorization_failed(f->c, "res-web", "offline");
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_AUTHORIZATION_FAILED);
        g_assert_cmpstr(action(f, 0)->a.reason, ==, "offline");
        g_assert_cmpstr(action(f, 0)->a.resource_id, ==, "res-web");
        /* the buffer went with it: a later authorization replays nothing */
        struct kiln_ip_addr g4 = ip("100.64.0.100");
        kiln_client_handle_authorized(f->c, 1 * SEC, "res-web", "gw-1", &g4, NULL);
        kiln_client_handle_gateway_connected(f->c, 1 * SEC, "gw-1");
        g_assert_cmpuint(drain(f), ==, 1); /* CONNECT_GATEWAY only */
        /* and the next packet asks immediately, not 2 s after the failed one */
        kiln_client_handle_gateway_closed(f->c, "gw-1");
        tun(f, 1 * SEC + 1, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 80, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_REQUEST_AUTHORIZATION);
}

static void test_buffer_bound(struct fixture *f, gconstpointer data)
{
        for (uint16_t i = 0; i < 300; i++)
                tun(f, 0, "10.0.0.7", KILN_IPPROTO_ICMP, 1, i, "x");
        drain(f);
        struct kiln_ip_addr g4 = ip("100.64.0.100");
        kiln_client_handle_authorized(f->c, 0, "res-web", "gw-1", &g4, NULL);
        kiln_client_handle_gateway_connected(f->c, 0, "gw-1");
        /* 1 CONNECT + the newest 128 packets */
        g_assert_cmpuint(drain(f), ==, 1 + KILN_CLIENT_PENDING_AUTH_PACKETS);
        struct kiln_packet p;
        gsize len;
        const uint8_t *d = g_bytes_get_data(action(f, 1)->data, &len);
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_cmpint((p.l4[6] << 8 | p.l4[7]), ==, 300 - KILN_CLIENT_PENDING_AUTH_PACKETS);
}

static uint8_t dns_query(uint8_t *buf, size_t cap, size_t *ret_len, const char *name, uint16_t type)
{
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, buf, cap, 0x1010, KILN_DNS_FLAG_RD);
        kiln_dns_add_question(&b, name, type, KILN_DNS_CLASS_IN);
        *ret_len = (size_t)kiln_dns_builder_finish(&b);
        return 0;
}

static void test_dns_resource_flow(struct fixture *f, gconstpointer data)
{
        uint8_t q[256], pkt[512];
        size_t ql;
        dns_query(q, sizeof(q), &ql, "app.corp.example", KILN_DNS_TYPE_A);
        struct kiln_packet_spec s = { .src = ip("100.64.0.5"),
                                      .dst = ip("100.100.111.1"),
                                      .proto = KILN_IPPROTO_UDP,
                                      .sport = 5353,
                                      .dport = 53,
                                      .payload = q,
                                      .payload_len = ql };
        ssize_t n = kiln_packet_build(&s, pkt, sizeof(pkt));
        kiln_client_handle_tun_packet(f->c, 0, pkt, (size_t)n);
        g_assert_cmpuint(drain(f), ==, 2);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_WRITE_TUN);
        g_assert_cmpint(action(f, 1)->a.type, ==, KILN_CLIENT_DNS_RECORDS_CHANGED);
        g_assert_cmpstr(kiln_dns_stub_record(kiln_client_dns_stub(f->c), 0), ==, "app.corp.example");
        gsize len;
        const uint8_t *d = g_bytes_get_data(action(f, 0)->data, &len);
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_true(kiln_packet_checksums_ok(d, len));
        g_assert_true(kiln_ip_addr_equal(&p.src, &s.dst));
        g_assert_cmpint(p.sport, ==, 53);
        g_assert_cmpint(p.dport, ==, 5353);
        static struct kiln_dns_message m;
        g_assert_cmpint(kiln_dns_parse(p.l4 + 8, p.l4_len - 8, &m), ==, 0);
        g_assert_cmpuint(m.n_answers, ==, 4);
        char proxy[64];
        struct kiln_ip_addr pa = { .family = 4 };
        memcpy(pa.bytes, m.answers[0].addr, 4);
        kiln_ip_addr_format(&pa, proxy, sizeof(proxy));

        /* traffic to the proxy IP: authorization, connection, ASSIGNED_IPS, then data */
        tun(f, 1 * SEC, proxy, KILN_IPPROTO_TCP, 2000, 443, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpstr(action(f, 0)->a.resource_id, ==, "res-dns");
        struct kiln_ip_addr g4 = ip("100.64.0.100");
        kiln_client_handle_authorized(f->c, 1 * SEC, "res-dns", "gw-1", &g4, NULL);
        kiln_client_handle_gateway_connected(f->c, 1 * SEC, "gw-1");
        g_assert_cmpuint(drain(f), ==, 2);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_CONNECT_GATEWAY);
        g_assert_cmpint(action(f, 1)->a.type, ==, KILN_CLIENT_SEND_TO_GATEWAY);
        d = g_bytes_get_data(action(f, 1)->data, &len);
        struct kiln_p2p_message pm;
        g_assert_cmpint(kiln_p2p_parse(d, len, &pm), ==, 0);
        g_assert_cmpint(pm.type, ==, KILN_P2P_ASSIGNED_IPS);
        g_assert_cmpstr(pm.domain, ==, "app.corp.example");
        g_assert_cmpuint(pm.n_proxy_ips, ==, 8);
        g_assert_true(kiln_ip_addr_equal(&pm.proxy_ips[0], &pa));

        /* more data waits for DOMAIN_STATUS; ASSIGNED_IPS is re-sent after 2 s */
        tun(f, 2 * SEC, proxy, KILN_IPPROTO_TCP, 2001, 443, NULL);
        g_assert_cmpuint(drain(f), ==, 0);
        tun(f, 3 * SEC, proxy, KILN_IPPROTO_TCP, 2002, 443, NULL);
        g_assert_cmpuint(drain(f), ==, 1);
        d = g_bytes_get_data(action(f, 0)->data, &len);
        g_assert_true(kiln_p2p_is_control(d, len));

        struct kiln_p2p_message st = { .type = KILN_P2P_DOMAIN_STATUS, .active = true };
        g_strlcpy(st.resource, "res-dns", sizeof(st.resource));
        g_strlcpy(st.domain, "app.corp.example", sizeof(st.domain));
        n = kiln_p2p_build(&st, pkt, sizeof(pkt));
        kiln_client_handle_gateway_packet(f->c, 3 * SEC, "gw-1", pkt, (size_t)n);
        g_assert_cmpuint(drain(f), ==, 3);
        for (guint i = 0; i < 3; i++) {
                d = g_bytes_get_data(action(f, i)->data, &len);
                g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
                g_assert_cmpint(p.sport, ==, 2000 + i);
        }
        /* a reply from the proxy IP is let in */
        size_t rn = make_packet(pkt, sizeof(pkt), proxy, "100.64.0.5", KILN_IPPROTO_TCP, 443, 2000, "hi");
        kiln_client_handle_gateway_packet(f->c, 3 * SEC, "gw-1", pkt, rn);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_WRITE_TUN);

        /* a fresh query for the name refreshes the gateway's NAT with a new ASSIGNED_IPS */
        n = kiln_packet_build(&s, pkt, sizeof(pkt));
        kiln_client_handle_tun_packet(f->c, 4 * SEC, pkt, (size_t)n);
        drain(f);
        tun(f, 4 * SEC, proxy, KILN_IPPROTO_TCP, 2003, 443, NULL);
        g_assert_cmpuint(drain(f), ==, 2);
        d = g_bytes_get_data(action(f, 0)->data, &len);
        g_assert_true(kiln_p2p_is_control(d, len));
        d = g_bytes_get_data(action(f, 1)->data, &len);
        g_assert_false(kiln_p2p_is_control(d, len)); /* packets keep flowing meanwhile */
}

static void test_dns_forward(struct fixture *f, gconstpointer data)
{
        uint8_t q[256], pkt[512];
        size_t ql;
        dns_query(q, sizeof(q), &ql, "www.example.org", KILN_DNS_TYPE_A);
        struct kiln_packet_spec s = { .src = ip("fd00:2021:1111::5"),
                                      .proto = KILN_IPPROTO_UDP,
                                      .sport = 7777,
                                      .dport = 53,
                                      .payload = q,
                                      .payload_len = ql };
        kiln_dns_sentinel(6, 0, &s.dst);
        ssize_t n = kiln_packet_build(&s, pkt, sizeof(pkt));
        kiln_client_handle_tun_packet(f->c, 0, pkt, (size_t)n);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_DNS_QUERY);
        struct kiln_ip_addr up = ip("192.0.2.53");
        g_assert_true(kiln_ip_addr_equal(&action(f, 0)->a.upstream.addr, &up));
        g_assert_cmpuint(kiln_client_poll_timeout(f->c), ==, 5 * SEC);

        /* the reply goes back to the asker as a UDP packet from the v6 sentinel */
        gsize len;
        const uint8_t *fw = g_bytes_get_data(action(f, 0)->data, &len);
        uint8_t reply[256];
        memcpy(reply, fw, len);
        reply[2] |= 0x80;
        kiln_client_handle_dns_reply(f->c, 1 * SEC, &up, reply, len);
        g_assert_cmpuint(drain(f), ==, 1);
        const uint8_t *d = g_bytes_get_data(action(f, 0)->data, &len);
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.src, &s.dst));
        g_assert_cmpint(p.dport, ==, 7777);
        g_assert_cmpint(p.l4[8] << 8 | p.l4[9], ==, 0x1010);

        /* a truncated UDP answer turns into the same query over TCP */
        kiln_client_handle_tun_packet(f->c, 2 * SEC, pkt, (size_t)n);
        g_assert_cmpuint(drain(f), ==, 1);
        fw = g_bytes_get_data(action(f, 0)->data, &len);
        uint8_t sent[256];
        memcpy(sent, fw, len);
        memcpy(reply, fw, len);
        reply[2] |= 0x82; /* QR, TC */
        kiln_client_handle_dns_reply(f->c, 2 * SEC, &up, reply, len);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_DNS_QUERY);
        g_assert_true(action(f, 0)->a.tcp);
        g_assert_cmpmem(g_bytes_get_data(action(f, 0)->data, NULL), len, sent, len);
        reply[2] &= (uint8_t)~0x02;
        kiln_client_handle_dns_reply(f->c, 3 * SEC, &up, reply, len);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_CLIENT_WRITE_TUN);

        /* unanswered: SERVFAIL at the timeout */
        kiln_client_handle_tun_packet(f->c, 10 * SEC, pkt, (size_t)n);
        drain(f);
        kiln_client_handle_timeout(f->c, 15 * SEC);
        g_assert_cmpuint(drain(f), ==, 1);
        d = g_bytes_get_data(action(f, 0)->data, &len);
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_cmpint(p.l4[8 + 3] & 0x0f, ==, KILN_DNS_RCODE_SERVFAIL);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
        ADD("/tunnel/client-state/authorization-flow", test_authorization_flow);
        ADD("/tunnel/client-state/denied-and-unknown", test_denied_and_unknown);
        ADD("/tunnel/client-state/authorization-failed", test_authorization_failed);
        ADD("/tunnel/client-state/buffer-bound", test_buffer_bound);
        ADD("/tunnel/client-state/dns-resource-flow", test_dns_resource_flow);
        ADD("/tunnel/client-state/dns-forward", test_dns_forward);
        return g_test_run();
}
