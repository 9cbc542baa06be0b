/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/tunnel/dns-stub.h"
#include "test-util.h"

#define SEC 1000000000ull

struct fixture {
        struct kiln_resources *res;
        struct kiln_dns_stub *stub;
        struct kiln_dns_origin origin;
        uint8_t out[KILN_DNS_MESSAGE_MAX];
        struct kiln_dns_message m;
};

static void setup(struct fixture *f, gconstpointer data)
{
        f->res = kiln_resources_new();
        struct kiln_resource r = { .type = KILN_RESOURCE_DNS };
        g_strlcpy(r.id, "res-app", sizeof(r.id));
        g_strlcpy(r.address, "*.corp.example", sizeof(r.address));
        g_assert_cmpint(kiln_resources_upsert(f->res, &r), ==, 0);
        g_strlcpy(r.id, "res-v4", sizeof(r.id));
        g_strlcpy(r.address, "v4.only.example", sizeof(r.address));
        r.ip_stack = KILN_IP_STACK_IPV4_ONLY;
        g_assert_cmpint(kiln_resources_upsert(f->res, &r), ==, 0);
        f->stub = kiln_dns_stub_new(f->res, 42);
        struct kiln_dns_upstream up = { .addr = ip("192.0.2.53"), .port = 53 };
        g_assert_cmpint(kiln_dns_stub_set_upstreams(f->stub, &up, 1), ==, 0);
        f->origin.client = ip("100.64.0.5");
        kiln_dns_sentinel(4, 0, &f->origin.sentinel);
        f->origin.client_port = 40000;
}

static void teardown(struct fixture *f, gconstpointer data)
{
        kiln_dns_stub_free(f->stub);
        kiln_resources_free(f->res);
}

static size_t query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t type)
{
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, buf, cap, id, KILN_DNS_FLAG_RD);
        kiln_dns_add_question(&b, name, type, KILN_DNS_CLASS_IN);
        ssize_t n = kiln_dns_builder_finish(&b);
        g_assert_cmpint(n, >, 0);
        return (size_t)n;
}

static void ask(struct fixture *f, uint64_t now, const char *name, uint16_t type,
                struct kiln_dns_stub_result *r)
{
        uint8_t q[512];
        size_t n = query(q, sizeof(q), 0x4242, name, type);
        g_assert_cmpint(
            kiln_dns_stub_handle_query(f->stub, now, &f->origin, q, n, f->out, sizeof(f->out), r), ==, 0);
        if (r->verdict == KILN_DNS_STUB_ANSWER)
                g_assert_cmpint(kiln_dns_parse(f->out, r->len, &f->m), ==, 0);
}

static void test_resource_a_aaaa(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        ask(f, 0, "Web.corp.example", KILN_DNS_TYPE_A, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_ANSWER);
        g_assert_cmpstr(r.resource->id, ==, "res-app");
        g_assert_cmphex(f->m.id, ==, 0x4242);
        g_assert_true(f->m.flags & KILN_DNS_FLAG_QR);
        g_assert_cmpuint(f->m.n_answers, ==, 4);
        struct kiln_ip_addr first = { .family = 4 };
        memcpy(first.bytes, f->m.answers[0].addr, 4);
        for (unsigned i = 0; i < 4; i++) {
                struct kiln_ip_addr a = { .family = 4 };
                memcpy(a.bytes, f->m.answers[i].addr, 4);
                g_assert_true(kiln_addr_is_proxy(&a));
                g_assert_cmpuint(f->m.answers[i].ttl, ==, 1);
        }
        /* stable: asking again gives the same addresses; another name gets others */
        ask(f, 1, "web.corp.example", KILN_DNS_TYPE_A, &r);
        g_assert_cmpmem(f->m.answers[0].addr, 4, first.bytes, 4);
        ask(f, 2, "db.corp.example", KILN_DNS_TYPE_A, &r);
        g_assert_cmpint(memcmp(f->m.answers[0].addr, first.bytes, 4), !=, 0);

        ask(f, 3, "web.corp.example", KILN_DNS_TYPE_AAAA, &r);
        g_assert_cmpuint(f->m.n_answers, ==, 4);
        struct kiln_ip_addr v6 = { .family = 6 };
        memcpy(v6.bytes, f->m.answers[0].addr, 16);
        g_assert_true(kiln_addr_is_proxy(&v6));

        const char *fqdn, *rid;
        g_assert_true(kiln_dns_stub_proxy_lookup(f->stub, &first, &fqdn, &rid));
        g_assert_cmpstr(fqdn, ==, "web.corp.example");
        g_assert_cmpstr(rid, ==, "res-app");
        g_assert_true(kiln_dns_stub_proxy_lookup(f->stub, &v6, &fqdn, &rid));
        g_assert_cmpstr(fqdn, ==, "web.corp.example");

        /* ipv4_only resource: AAAA is an empty NOERROR */
        ask(f, 4, "v4.only.example", KILN_DNS_TYPE_AAAA, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_ANSWER);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, 0);
        g_assert_cmpuint(f->m.n_answers, ==, 0);
}

static void test_ptr_https_misc(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        ask(f, 0, "web.corp.example", KILN_DNS_TYPE_A, &r);
        char ptr[64];
        g_snprintf(ptr, sizeof(ptr), "%u.%u.%u.%u.in-addr.arpa", f->m.answers[1].addr[3],
                   f->m.answers[1].addr[2], f->m.answers[1].addr[1], f->m.answers[1].addr[0]);
        ask(f, 0, ptr, KILN_DNS_TYPE_PTR, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_ANSWER);
        g_assert_cmpuint(f->m.n_answers, ==, 1);
        g_assert_cmpstr(f->m.answers[0].target, ==, "web.corp.example");
        ask(f, 0, "1.1.127.100.in-addr.arpa", KILN_DNS_TYPE_PTR, &r);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, KILN_DNS_RCODE_NXDOMAIN);

        ask(f, 0, "web.corp.example", KILN_DNS_TYPE_HTTPS, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_ANSWER);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, 0);
        g_assert_cmpuint(f->m.n_answers, ==, 0);

        ask(f, 0, "use-application-dns.net", KILN_DNS_TYPE_A, &r);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, KILN_DNS_RCODE_NXDOMAIN);

        ask(f, 0, "_ldap._tcp.corp.example", KILN_DNS_TYPE_SRV, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_FORWARD); /* "_ldap._tcp" is two labels: no match */
        ask(f, 0, "srv.corp.example", KILN_DNS_TYPE_SRV, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_FORWARD_SITE);
        g_assert_cmpstr(r.resource->id, ==, "res-app");
}

static void test_forward(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        uint8_t q[512];
        size_t n = query(q, sizeof(q), 0x7777, "www.example.org", KILN_DNS_TYPE_A);
        g_assert_cmpint(
            kiln_dns_stub_handle_query(f->stub, 10 * SEC, &f->origin, q, n, f->out, sizeof(f->out), &r), ==,
            0);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_FORWARD);
        g_assert_cmpuint(r.len, ==, n);
        struct kiln_ip_addr up = ip("192.0.2.53");
        g_assert_true(kiln_ip_addr_equal(&r.upstream.addr, &up));
        uint16_t wire = (uint16_t)(f->out[0] << 8 | f->out[1]);
        g_assert_cmpuint(wire, ==, r.forward_id);
        g_assert_cmpmem(f->out + 2, n - 2, q + 2, n - 2);

        /* The upstream answers with the wire id. */
        uint8_t reply[512];
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, reply, sizeof(reply), wire,
                              KILN_DNS_FLAG_QR | KILN_DNS_FLAG_RD | KILN_DNS_FLAG_RA);
        kiln_dns_add_question(&b, "www.example.org", KILN_DNS_TYPE_A, KILN_DNS_CLASS_IN);
        const uint8_t a[4] = { 192, 0, 2, 80 };
        kiln_dns_add_rr(&b, "www.example.org", KILN_DNS_TYPE_A, 300, a, 4);
        size_t rl = (size_t)kiln_dns_builder_finish(&b);

        uint8_t back[512];
        size_t back_len;
        struct kiln_dns_origin o;
        struct kiln_dns_upstream retry;
        struct kiln_ip_addr spoof = ip("192.0.2.99");
        g_assert_cmpint(kiln_dns_stub_handle_reply(f->stub, 10 * SEC, &spoof, reply, rl, back, sizeof(back),
                                                   &back_len, &o, &retry),
                        ==, -ENOENT);
        g_assert_cmpint(kiln_dns_stub_handle_reply(f->stub, 10 * SEC, &up, reply, rl, back, sizeof(back),
                                                   &back_len, &o, &retry),
                        ==, 0);
        g_assert_cmpuint(back_len, ==, rl);
        g_assert_cmpint(back[0] << 8 | back[1], ==, 0x7777);
        g_assert_true(kiln_ip_addr_equal(&o.client, &f->origin.client));
        g_assert_cmpint(o.client_port, ==, 40000);
        /* only once */
        g_assert_cmpint(kiln_dns_stub_handle_reply(f->stub, 10 * SEC, &up, reply, rl, back, sizeof(back),
                                                   &back_len, &o, &retry),
                        ==, -ENOENT);
}

static void test_truncated_retry_tcp(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        ask(f, 0, "big.example.org", KILN_DNS_TYPE_TXT, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_FORWARD);
        uint8_t sent[512];
        memcpy(sent, f->out, r.len);
        size_t sent_len = r.len;

        uint8_t reply[512], back[512];
        struct kiln_dns_builder b;
        kiln_dns_builder_init(&b, reply, sizeof(reply), r.forward_id, KILN_DNS_FLAG_QR | KILN_DNS_FLAG_TC);
        kiln_dns_add_question(&b, "big.example.org", KILN_DNS_TYPE_TXT, KILN_DNS_CLASS_IN);
        size_t rl = (size_t)kiln_dns_builder_finish(&b);
        size_t n;
        struct kiln_dns_origin o;
        struct kiln_dns_upstream up;
        struct kiln_ip_addr from = ip("192.0.2.53");
        g_assert_cmpint(
            kiln_dns_stub_handle_reply(f->stub, 1 * SEC, &from, reply, rl, back, sizeof(back), &n, &o, &up),
            ==, KILN_DNS_STUB_RETRY_TCP);
        g_assert_cmpmem(back, n, sent, sent_len); /* the same query, for TCP */
        g_assert_true(kiln_ip_addr_equal(&up.addr, &from));

        /* The TCP answer (also with TC, which no longer matters) completes the query. */
        g_assert_cmpint(
            kiln_dns_stub_handle_reply(f->stub, 2 * SEC, &from, reply, rl, back, sizeof(back), &n, &o, &up),
            ==, 0);
        g_assert_cmpint(back[0] << 8 | back[1], ==, 0x4242);
        g_assert_cmpint(o.client_port, ==, 40000);
}

static void test_timeout_and_no_upstream(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        ask(f, 0, "www.example.org", KILN_DNS_TYPE_A, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_FORWARD);
        g_assert_cmpuint(kiln_dns_stub_next_timeout(f->stub), ==, KILN_DNS_STUB_QUERY_TIMEOUT_NS);
        uint8_t out[512];
        size_t n;
        struct kiln_dns_origin o;
        g_assert_cmpint(kiln_dns_stub_poll_expired(f->stub, 4 * SEC, out, sizeof(out), &n, &o), ==, -EAGAIN);
        g_assert_cmpint(kiln_dns_stub_poll_expired(f->stub, 5 * SEC, out, sizeof(out), &n, &o), ==, 0);
        g_assert_cmpint(kiln_dns_parse(out, n, &f->m), ==, 0);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, KILN_DNS_RCODE_SERVFAIL);
        g_assert_cmphex(f->m.id, ==, 0x4242);
        g_assert_cmpuint(kiln_dns_stub_next_timeout(f->stub), ==, UINT64_MAX);

        kiln_dns_sentinel(4, 3, &f->origin.sentinel); /* no upstream behind sentinel 4 */
        ask(f, 0, "www.example.org", KILN_DNS_TYPE_A, &r);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_ANSWER);
        g_assert_cmpint(kiln_dns_rcode(&f->m), ==, KILN_DNS_RCODE_SERVFAIL);
}

static void test_records_persist(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        ask(f, 0, "one.corp.example", KILN_DNS_TYPE_A, &r);
        ask(f, 0, "two.corp.example", KILN_DNS_TYPE_A, &r);
        uint8_t two[4];
        memcpy(two, f->m.answers[0].addr, 4);
        g_assert_true(kiln_dns_stub_take_records_changed(f->stub));
        g_assert_false(kiln_dns_stub_take_records_changed(f->stub));
        ask(f, 0, "two.corp.example", KILN_DNS_TYPE_A, &r);
        g_assert_false(kiln_dns_stub_take_records_changed(f->stub)); /* nothing new */
        g_assert_cmpuint(kiln_dns_stub_n_records(f->stub), ==, 2);
        g_autofree char *s0 = g_strdup(kiln_dns_stub_record(f->stub, 0));
        g_autofree char *s1 = g_strdup(kiln_dns_stub_record(f->stub, 1));
        const char *saved[] = { s0, s1 };
        g_assert_cmpstr(s1, ==, "two.corp.example");
        g_assert_null(kiln_dns_stub_record(f->stub, 2));

        /* "restart": a new stub seeded with the list hands out the same addresses */
        struct kiln_dns_stub *again = kiln_dns_stub_new(f->res, 99);
        g_assert_cmpint(kiln_dns_stub_seed_records(again, saved, 2), ==, 0);
        kiln_dns_stub_free(f->stub);
        f->stub = again;
        struct kiln_dns_upstream up = { .addr = ip("192.0.2.53"), .port = 53 };
        kiln_dns_stub_set_upstreams(f->stub, &up, 1);
        ask(f, 0, "two.corp.example", KILN_DNS_TYPE_A, &r);
        g_assert_cmpmem(f->m.answers[0].addr, 4, two, 4);
        g_assert_cmpint(kiln_dns_stub_seed_records(again, saved, 2), ==, -EBUSY);
        struct kiln_dns_stub *bad = kiln_dns_stub_new(f->res, 1);
        const char *wild[] = { "*.corp.example" };
        g_assert_cmpint(kiln_dns_stub_seed_records(bad, wild, 1), ==, -EINVAL);
        g_assert_cmpuint(kiln_dns_stub_n_records(bad), ==, 0);
        kiln_dns_stub_free(bad);
}

static void test_garbage(struct fixture *f, gconstpointer data)
{
        struct kiln_dns_stub_result r;
        const uint8_t junk[5] = { 1, 2, 3, 4, 5 };
        g_assert_cmpint(kiln_dns_stub_handle_query(f->stub, 0, &f->origin, junk, sizeof(junk), f->out,
                                                   sizeof(f->out), &r),
                        ==, 0);
        g_assert_cmpint(r.verdict, ==, KILN_DNS_STUB_DROP);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)
        ADD("/tunnel/dns-stub/resource-a-aaaa", test_resource_a_aaaa);
        ADD("/tunnel/dns-stub/ptr-https-misc", test_ptr_https_misc);
        ADD("/tunnel/dns-stub/forward", test_forward);
        ADD("/tunnel/dns-stub/truncated-retry-tcp", test_truncated_retry_tcp);
        ADD("/tunnel/dns-stub/timeout-and-no-upstream", test_timeout_and_no_upstream);
        ADD("/tunnel/dns-stub/records-persist", test_records_persist);
        ADD("/tunnel/dns-stub/garbage", test_garbage);
        return g_test_run();
}
