/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/client-state.h"
#include "backend/tunnel/gateway-state.h"
#include "backend/tunnel/p2p-control.h"
#include "test-util.h"

#define SEC 1000000000ull

struct fixture {
        struct kiln_gateway *g;
        GPtrArray *actions;
};

struct recorded {
        struct kiln_gateway_action a;
        GBytes *data;
};

static void recorded_free(gpointer p)
{
        struct recorded *r = p;
        g_bytes_unref(r->data);
        g_free(r);
}

static struct kiln_resource resource(const char *id, enum kiln_resource_type type, const char *address)
{
        struct kiln_resource r = { .type = type };
        g_strlcpy(r.id, id, sizeof(r.id));
        g_strlcpy(r.address, address, sizeof(r.address));
        return r;
}

static void setup(struct fixture *f, gconstpointer data)
{
        f->g = kiln_gateway_new();
        f->actions = g_ptr_array_new_with_free_func(recorded_free);
}

static void teardown(struct fixture *f, gconstpointer data)
{
        g_ptr_array_unref(f->actions);
        kiln_gateway_free(f->g);
}

static guint drain(struct fixture *f)
{
        struct kiln_gateway_action a;
        g_ptr_array_set_size(f->actions, 0);
        while (kiln_gateway_poll_action(f->g, &a)) {
                struct recorded *r = g_new0(struct recorded, 1);
                r->a = a;
                r->data = g_bytes_new(a.data, a.len);
                r->a.data = NULL;
                g_ptr_array_add(f->actions, r);
        }
        return f->actions->len;
}

static struct recorded *action(struct fixture *f, guint i)
{
        g_assert_cmpuint(i, <, f->actions->len);
        return f->actions->pdata[i];
}

static const uint8_t *action_packet(struct fixture *f, guint i, struct kiln_packet *p)
{
        gsize len;
        const uint8_t *d = g_bytes_get_data(action(f, i)->data, &len);
        g_assert_cmpint(kiln_packet_parse(d, len, p), ==, 0);
        g_assert_true(kiln_packet_checksums_ok(d, len));
        return d;
}

static void from_client(struct fixture *f, uint64_t now, const char *dst, uint8_t proto, uint16_t sport,
                        uint16_t dport)
{
        uint8_t buf[256];
        size_t n = make_packet(buf, sizeof(buf), "100.64.0.5", dst, proto, sport, dport, "data");
        kiln_gateway_handle_client_packet(f->g, now, "client-1", buf, n);
}

static void test_cidr_filters(struct fixture *f, gconstpointer data)
{
        struct kiln_resource r = resource("res-web", KILN_RESOURCE_CIDR, "10.0.0.0/24");
        r.filters[0] = (struct kiln_filter){ KILN_IPPROTO_TCP, 80, 90 };
        r.n_filters = 1;
        struct kiln_ip_addr c4 = ip("100.64.0.5");
        g_assert_cmpint(kiln_gateway_authorize(f->g, 0, "client-1", &c4, NULL, &r, 0), ==, 0);

        from_client(f, 0, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 80);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_GATEWAY_WRITE_TUN);
        struct kiln_packet p;
        action_packet(f, 0, &p);
        struct kiln_ip_addr want = ip("10.0.0.7");
        g_assert_true(kiln_ip_addr_equal(&p.dst, &want)); /* unchanged: the kernel masquerades */

        from_client(f, 0, "10.0.0.7", KILN_IPPROTO_TCP, 1000, 22);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_GATEWAY_SEND_TO_CLIENT);
        action_packet(f, 0, &p);
        g_assert_cmpint(p.icmp_type, ==, 3);
        g_assert_cmpint(p.icmp_code, ==, 13);

        from_client(f, 0, "10.0.1.7", KILN_IPPROTO_TCP, 1000, 80); /* not authorized */
        g_assert_cmpuint(drain(f), ==, 1);
        action_packet(f, 0, &p);
        g_assert_cmpint(p.icmp_code, ==, 13);

        from_client(f, 0, "100.64.0.9", KILN_IPPROTO_TCP, 1000, 80); /* no client-to-client hairpin */
        g_assert_cmpuint(drain(f), ==, 0);

        /* inbound: from the resource to the client passes, from elsewhere not */
        uint8_t buf[256];
        size_t n = make_packet(buf, sizeof(buf), "10.0.0.7", "100.64.0.5", KILN_IPPROTO_TCP, 80, 1000, "ok");
        kiln_gateway_handle_tun_packet(f->g, 0, buf, n);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpstr(action(f, 0)->a.client_id, ==, "client-1");
        n = make_packet(buf, sizeof(buf), "10.0.9.7", "100.64.0.5", KILN_IPPROTO_TCP, 80, 1000, "no");
        kiln_gateway_handle_tun_packet(f->g, 0, buf, n);
        g_assert_cmpuint(drain(f), ==, 0);
        n = make_packet(buf, sizeof(buf), "10.0.0.7", "100.64.0.77", KILN_IPPROTO_TCP, 80, 1000, "no");
        kiln_gateway_handle_tun_packet(f->g, 0, buf, n);
        g_assert_cmpuint(drain(f), ==, 0);
        g_assert_cmpuint(kiln_gateway_stats(f->g)->dropped_no_peer, ==, 1);
}

static void test_internet(struct fixture *f, gconstpointer data)
{
        struct kiln_resource r = resource("res-net", KILN_RESOURCE_INTERNET, "");
        struct kiln_ip_addr c4 = ip("100.64.0.5");
        kiln_gateway_authorize(f->g, 0, "client-1", &c4, NULL, &r, 0);
        from_client(f, 0, "93.184.216.34", KILN_IPPROTO_UDP, 1000, 443);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_GATEWAY_WRITE_TUN);
        from_client(f, 0, "192.168.1.1", KILN_IPPROTO_UDP, 1000, 443);
        g_assert_cmpuint(drain(f), ==, 1);
        struct kiln_packet p;
        action_packet(f, 0, &p);
        g_assert_cmpint(p.icmp_type, ==, 3);
        g_assert_cmpint(p.icmp_code, ==, 0); /* network unreachable */
}

static void test_expiry_goodbye(struct fixture *f, gconstpointer data)
{
        struct kiln_resource a = resource("res-a", KILN_RESOURCE_CIDR, "10.0.0.0/24");
        struct kiln_resource b = resource("res-b", KILN_RESOURCE_CIDR, "10.0.1.0/24");
        struct kiln_ip_addr c4 = ip("100.64.0.5");
        kiln_gateway_authorize(f->g, 0, "client-1", &c4, NULL, &a, 10 * SEC);
        kiln_gateway_authorize(f->g, 0, "client-1", &c4, NULL, &b, 20 * SEC);
        g_assert_cmpuint(kiln_gateway_poll_timeout(f->g), ==, 1 * SEC);
        kiln_gateway_handle_timeout(f->g, 10 * SEC);
        g_assert_cmpuint(drain(f), ==, 0);
        from_client(f, 10 * SEC, "10.0.0.7", KILN_IPPROTO_TCP, 1, 80);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_GATEWAY_SEND_TO_CLIENT); /* prohibited now */
        from_client(f, 10 * SEC, "10.0.1.7", KILN_IPPROTO_TCP, 1, 80);
        g_assert_cmpuint(drain(f), ==, 1);
        g_assert_cmpint(action(f, 0)->a.type, ==, KILN_GATEWAY_WRITE_TUN);
        kiln_gateway_handle_timeout(f->g, 20 * SEC);
        g_assert_cmpuint(drain(f), ==, 2);
        gsize len;
        const uint8_t *d = g_bytes_get_data(action(f, 0)->data, &len);
        struct kiln_p2p_message m;
        g_assert_cmpint(kiln_p2p_parse(d, len, &m), ==, 0);
        g_assert_cmpint(m.type, ==, KILN_P2P_GOODBYE);
        g_assert_cmpint(action(f, 1)->a.type, ==, KILN_GATEWAY_CLOSE_CLIENT);
        g_assert_cmpuint(kiln_gateway_n_clients(f->g), ==, 0);

        kiln_gateway_authorize(f->g, 30 * SEC, "client-1", &c4, NULL, &a, 0);
        kiln_gateway_revoke(f->g, 30 * SEC, "client-1", "res-a");
        g_assert_cmpuint(drain(f), ==, 2);
        g_assert_cmpint(action(f, 1)->a.type, ==, KILN_GATEWAY_CLOSE_CLIENT);
}

/* Client and gateway state machines wired back to back: DNS resource, end to end. */
static void test_dns_nat_with_client(struct fixture *f, gconstpointer data)
{
        struct kiln_client_config cfg = { .tun_ipv4 = ip("100.64.0.5"), .seed = 1 };
        struct kiln_client *c = kiln_client_new(&cfg);
        struct kiln_resource r = resource("res-dns", KILN_RESOURCE_DNS, "*.corp.example");
        r.filters[0] = (struct kiln_filter){ KILN_IPPROTO_UDP, 53, 53 };
        r.filters[1] = (struct kiln_filter){ KILN_IPPROTO_TCP, 443, 443 };
        r.n_filters = 2;
        kiln_client_upsert_resource(c, &r);
        struct kiln_ip_addr c4 = ip("100.64.0.5"), g4 = ip("100.64.0.1");
        g_assert_cmpint(kiln_gateway_authorize(f->g, 0, "client-1", &c4, NULL, &r, 0), ==, 0);

        /* proxy IPs as the stub hands them out */
        struct kiln_ip_addr proxies[8];
        struct kiln_dns_stub *stub = kiln_dns_stub_new(kiln_client_resources(c), 1);
        g_assert_cmpuint(kiln_dns_stub_proxy_ips(stub, "app.corp.example", &r, proxies), ==, 8);
        kiln_dns_stub_free(stub);
        uint8_t q[128], pkt[512];
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, q, sizeof(q), 9, KILN_DNS_FLAG_RD);
        kiln_dns_add_question(&b, "app.corp.example", KILN_DNS_TYPE_A, 1);
        size_t ql = (size_t)kiln_dns_builder_finish(&b);
        struct kiln_packet_spec s = { .src = c4,
                                      .dst = ip("100.100.111.1"),
                                      .proto = KILN_IPPROTO_UDP,
                                      .sport = 999,
                                      .dport = 53,
                                      .payload = q,
                                      .payload_len = ql };
        size_t n = (size_t)kiln_packet_build(&s, pkt, sizeof(pkt));
        kiln_client_handle_tun_packet(c, 0, pkt, n);

        char proxy_s[64];
        kiln_ip_addr_format(&proxies[0], proxy_s, sizeof(proxy_s));
        n = make_packet(pkt, sizeof(pkt), "100.64.0.5", proxy_s, KILN_IPPROTO_TCP, 5000, 443, "hello");
        kiln_client_handle_tun_packet(c, 1, pkt, n);
        kiln_client_handle_authorized(c, 2, "res-dns", "gw-1", &g4, NULL);
        kiln_client_handle_gateway_connected(c, 3, "gw-1");

        /* Pump: client → gateway → (resolver) → gateway → client until quiet. */
        struct kiln_ip_addr real = ip("10.20.0.80"), real6 = ip("fd20::80");
        GPtrArray *to_tun = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        GPtrArray *client_tun = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        for (int round = 0; round < 10; round++) {
                struct kiln_client_action ca;
                gboolean any = FALSE;
                while (kiln_client_poll_action(c, &ca)) {
                        if (ca.type == KILN_CLIENT_SEND_TO_GATEWAY) {
                                kiln_gateway_handle_client_packet(f->g, 10, "client-1", ca.data, ca.len);
                                any = TRUE;
                        } else if (ca.type == KILN_CLIENT_WRITE_TUN) {
                                g_ptr_array_add(client_tun, g_bytes_new(ca.data, ca.len));
                        }
                }
                struct kiln_gateway_action ga;
                while (kiln_gateway_poll_action(f->g, &ga)) {
                        any = TRUE;
                        if (ga.type == KILN_GATEWAY_RESOLVE_DNS) {
                                g_assert_cmpstr(ga.domain, ==, "app.corp.example");
                                struct kiln_ip_addr addrs[2] = { real, real6 };
                                kiln_gateway_handle_dns_resolved(f->g, 20, ga.client_id, ga.resource_id,
                                                                 ga.domain, addrs, 2);
                        } else if (ga.type == KILN_GATEWAY_SEND_TO_CLIENT) {
                                kiln_client_handle_gateway_packet(c, 30, "gw-1", ga.data, ga.len);
                        } else if (ga.type == KILN_GATEWAY_WRITE_TUN) {
                                g_ptr_array_add(to_tun, g_bytes_new(ga.data, ga.len));
                        }
                }
                if (!any)
                        break;
        }
        /* the data packet reached the gateway's TUN, addressed to the real IP */
        g_assert_cmpuint(to_tun->len, ==, 1);
        gsize len;
        const uint8_t *d = g_bytes_get_data(to_tun->pdata[0], &len);
        struct kiln_packet p;
        g_assert_cmpint(kiln_packet_parse(d, len, &p), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.dst, &real));
        g_assert_cmpint(p.dport, ==, 443);
        g_assert_cmpint(p.sport, ==, 5000);
        g_assert_true(kiln_packet_checksums_ok(d, len));
        g_assert_cmpmem(p.l4 + 20, 5, "hello", 5);
        g_assert_cmpuint(kiln_gateway_n_nat_sessions(f->g, "client-1"), ==, 1);

        /* the server answers from the real IP; the client sees it from the proxy IP */
        n = make_packet(pkt, sizeof(pkt), "10.20.0.80", "100.64.0.5", KILN_IPPROTO_TCP, 443, 5000, "world");
        kiln_gateway_handle_tun_packet(f->g, 40, pkt, n);
        struct kiln_gateway_action ga;
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        g_assert_cmpint(ga.type, ==, KILN_GATEWAY_SEND_TO_CLIENT);
        g_assert_cmpint(kiln_packet_parse(ga.data, ga.len, &p), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.src, &proxies[0]));
        g_assert_true(kiln_packet_checksums_ok(ga.data, ga.len));
        kiln_client_handle_gateway_packet(c, 41, "gw-1", ga.data, ga.len);
        struct kiln_client_action ca;
        g_assert_true(kiln_client_poll_action(c, &ca));
        g_assert_cmpint(ca.type, ==, KILN_CLIENT_WRITE_TUN);

        /* an ICMP error about the flow is translated back too */
        uint8_t err[512];
        ssize_t en = kiln_packet_icmp_unreachable(d, len, KILN_ICMP_PROHIBITED, err, sizeof(err));
        kiln_gateway_handle_tun_packet(f->g, 42, err, (size_t)en);
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        g_assert_cmpint(kiln_packet_parse(ga.data, ga.len, &p), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&p.src, &proxies[0]));
        struct kiln_packet inner;
        g_assert_cmpint(kiln_packet_parse_embedded(p.l4 + 8, p.l4_len - 8, &inner), ==, 0);
        g_assert_true(kiln_ip_addr_equal(&inner.dst, &proxies[0]));
        g_assert_true(kiln_packet_checksums_ok(ga.data, ga.len));

        /* filters apply to proxy traffic: TCP 22 is prohibited */
        n = make_packet(pkt, sizeof(pkt), "100.64.0.5", proxy_s, KILN_IPPROTO_TCP, 5001, 22, NULL);
        kiln_gateway_handle_client_packet(f->g, 50, "client-1", pkt, n);
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        g_assert_cmpint(kiln_packet_parse(ga.data, ga.len, &p), ==, 0);
        g_assert_cmpint(p.icmp_code, ==, 13);

        /* NAT sessions: unconfirmed 60 s, UDP 120 s after a reply */
        n = make_packet(pkt, sizeof(pkt), "100.64.0.5", proxy_s, KILN_IPPROTO_UDP, 6000, 53, "q");
        kiln_gateway_handle_client_packet(f->g, 100 * SEC, "client-1", pkt, n);
        g_assert_cmpuint(kiln_gateway_n_nat_sessions(f->g, "client-1"), ==, 2);
        while (kiln_gateway_poll_action(f->g, &ga))
                ;
        n = make_packet(pkt, sizeof(pkt), "10.20.0.80", "100.64.0.5", KILN_IPPROTO_UDP, 53, 6000, "a");
        kiln_gateway_handle_tun_packet(f->g, 101 * SEC, pkt, n);
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        kiln_gateway_handle_tun_packet(f->g, 220 * SEC, pkt, n); /* 119 s later: still there */
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        kiln_gateway_handle_tun_packet(f->g, 341 * SEC, pkt, n); /* 121 s idle: expired, dropped */
        g_assert_false(kiln_gateway_poll_action(f->g, &ga));

        /* an ASSIGNED_IPS for a resource the client is not authorized for gets Inactive */
        struct kiln_p2p_message m = { .type = KILN_P2P_ASSIGNED_IPS, .n_proxy_ips = 1 };
        g_strlcpy(m.resource, "res-other", sizeof(m.resource));
        g_strlcpy(m.domain, "x.corp.example", sizeof(m.domain));
        m.proxy_ips[0] = proxies[1];
        n = (size_t)kiln_p2p_build(&m, pkt, sizeof(pkt));
        kiln_gateway_handle_client_packet(f->g, 400 * SEC, "client-1", pkt, n);
        g_assert_true(kiln_gateway_poll_action(f->g, &ga));
        struct kiln_p2p_message st;
        g_assert_cmpint(kiln_p2p_parse(ga.data, ga.len, &st), ==, 0);
        g_assert_cmpint(st.type, ==, KILN_P2P_DOMAIN_STATUS);
        g_assert_false(st.active);

        g_ptr_array_unref(to_tun);
        g_ptr_array_unref(client_tun);
        kiln_client_free(c);
}

static void test_non_public(void)
{
        const char *yes[] = { "10.1.1.1",   "192.168.0.1", "172.31.0.1",    "127.0.0.1", "169.254.1.1",
                              "100.64.0.1", "224.0.0.1",   "240.0.0.1",     "::1",       "fd00::1",
                              "fe80::1",    "ff02::1",     "::ffff:1.2.3.4" };
        const char *no[] = { "8.8.8.8", "172.32.0.1", "2001:db8::1", "2606:4700::1111" };
        for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
                struct kiln_ip_addr a = ip(yes[i]);
                if (!kiln_gateway_addr_is_non_public(&a))
                        g_error("%s should be non-public", yes[i]);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
                struct kiln_ip_addr a = ip(no[i]);
                if (kiln_gateway_addr_is_non_public(&a))
                        g_error("%s should be public", no[i]);
        }
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
        ADD("/tunnel/gateway-state/cidr-filters", test_cidr_filters);
        ADD("/tunnel/gateway-state/internet", test_internet);
        ADD("/tunnel/gateway-state/expiry-goodbye", test_expiry_goodbye);
        ADD("/tunnel/gateway-state/dns-nat-with-client", test_dns_nat_with_client);
        g_test_add_func("/tunnel/gateway-state/non-public", test_non_public);
        return g_test_run();
}
