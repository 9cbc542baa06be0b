/* SPDX-License-Identifier: MIT */
/*
 * The client's stub resolver on the sentinel addresses (specs/firezone-data-plane.md §6.2).
 * Sans-IO: it takes DNS payloads the client state machine took out of TUN packets and says
 * what to do with each:
 *   ANSWER        the reply is in the caller's buffer (resource A/AAAA with 4+4 stable proxy
 *                 IPs and TTL 1 s, empty HTTPS for resources, PTR of proxy IPs, NXDOMAIN for
 *                 use-application-dns.net, SERVFAIL when the sentinel has no upstream);
 *   FORWARD       send the buffer (same query, fresh id) to result.upstream over UDP and pass
 *                 the reply to kiln_dns_stub_handle_reply(); a truncated reply makes that
 *                 return KILN_DNS_STUB_RETRY_TCP with the query to send again over TCP (frame
 *                 it with kiln_dns_tcp_frame(), unframe the answer, pass it in the same way);
 *   FORWARD_SITE  SRV/TXT for a resource name: the spec sends these through the tunnel to the
 *                 resource's gateway at its tunnel IP port 53535 (result.resource_id says which);
 *                 the buffer holds the query with a fresh id, the reply also goes to
 *                 kiln_dns_stub_handle_reply();
 *   DROP          not a query we answer (a response, or garbage): nothing is sent.
 * Sentinel i (0-based) is 100.100.111.(i+1) and fd00:2021:1111:8000:100:100:111:(i+1); it
 * stands for upstream i.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/tunnel/dns-message.h"
#include "backend/tunnel/packet.h"
#include "backend/tunnel/resources.h"

#define KILN_DNS_STUB_MAX_UPSTREAMS        16
#define KILN_DNS_STUB_MAX_PENDING          1000
#define KILN_DNS_STUB_QUERY_TIMEOUT_NS     (5ull * 1000000000ull)
#define KILN_DNS_STUB_PROXY_IPS_PER_FAMILY 4
#define KILN_DNS_STUB_TTL                  1
#define KILN_DNS_STUB_MAX_NAMES            65536
#define KILN_DNS_PORT                      53
#define KILN_GATEWAY_DNS_PORT              53535

struct kiln_dns_upstream {
        struct kiln_ip_addr addr;
        uint16_t port;
};

/* Who asked: where the reply has to go back to, as an IP packet on the TUN. */
struct kiln_dns_origin {
        struct kiln_ip_addr client, sentinel;
        uint16_t client_port;
        bool tcp;
};

enum kiln_dns_stub_verdict {
        KILN_DNS_STUB_ANSWER,
        KILN_DNS_STUB_FORWARD,
        KILN_DNS_STUB_FORWARD_SITE,
        KILN_DNS_STUB_DROP,
};

struct kiln_dns_stub_result {
        enum kiln_dns_stub_verdict verdict;
        size_t len;                        /* bytes written to the caller's buffer */
        struct kiln_dns_upstream upstream; /* FORWARD */
        uint16_t forward_id;               /* FORWARD, FORWARD_SITE: the id on the wire */
        /* Set when the question named a DNS resource (ANSWER or FORWARD_SITE), so the client
         * refreshes the gateway's NAT for it (spec §6.4 "Recreating"). */
        const struct kiln_resource *resource;
        char fqdn[KILN_DNS_NAME_MAX + 1];
};

struct kiln_dns_stub;

struct kiln_dns_stub *kiln_dns_stub_new(const struct kiln_resources *resources, uint64_t seed);
void kiln_dns_stub_free(struct kiln_dns_stub *s);

int kiln_dns_stub_set_upstreams(struct kiln_dns_stub *s, const struct kiln_dns_upstream *u, size_t n);
size_t kiln_dns_stub_n_upstreams(const struct kiln_dns_stub *s);
/* Sentinel address of upstream index i in the given family (4 or 6). */
void kiln_dns_sentinel(uint8_t family, unsigned i, struct kiln_ip_addr *ret);

/* out needs KILN_DNS_MESSAGE_MAX bytes to be safe; the query is copied for forwarding. */
int kiln_dns_stub_handle_query(struct kiln_dns_stub *s, uint64_t now_ns,
                               const struct kiln_dns_origin *origin, const uint8_t *query, size_t len,
                               uint8_t *out, size_t cap, struct kiln_dns_stub_result *ret);

#define KILN_DNS_STUB_RETRY_TCP 1

/* An upstream's (or a gateway's) reply: matched by id, source and question.  Returns 0 with
 * the reply (original id restored) in out for *ret_origin; KILN_DNS_STUB_RETRY_TCP with the
 * query in out to resend over TCP to *ret_tcp_upstream (the UDP reply was truncated);
 * -ENOENT for unknown/expired/spoofed replies (dropped), -EBADMSG for garbage. */
int kiln_dns_stub_handle_reply(struct kiln_dns_stub *s, uint64_t now_ns, const struct kiln_ip_addr *from,
                               const uint8_t *reply, size_t len, uint8_t *out, size_t cap, size_t *ret_len,
                               struct kiln_dns_origin *ret_origin,
                               struct kiln_dns_upstream *ret_tcp_upstream);

/* Forwarded queries whose time is up get a SERVFAIL for their origin: one per call, -EAGAIN
 * when none is due. */
int kiln_dns_stub_poll_expired(struct kiln_dns_stub *s, uint64_t now_ns, uint8_t *out, size_t cap,
                               size_t *ret_len, struct kiln_dns_origin *ret_origin);
/* The earliest expiry of a forwarded query, UINT64_MAX when none. */
uint64_t kiln_dns_stub_next_timeout(const struct kiln_dns_stub *s);

/* The FQDN and resource a proxy IP was handed out for; false if it never was. */
bool kiln_dns_stub_proxy_lookup(const struct kiln_dns_stub *s, const struct kiln_ip_addr *proxy,
                                const char **ret_fqdn, const char **ret_resource_id);
/* Proxy IPs survive restarts (spec §6.2): name i of this list always owns the i-th block of
 * 4 + 4 addresses.  Export the list when kiln_dns_stub_take_records_changed() says so and
 * seed a new stub with it before its first query.  Seeding fails with -EBUSY once names exist,
 * -EINVAL for a bad name (nothing seeded then). */
size_t kiln_dns_stub_n_records(const struct kiln_dns_stub *s);
const char *kiln_dns_stub_record(const struct kiln_dns_stub *s, size_t i);
int kiln_dns_stub_seed_records(struct kiln_dns_stub *s, const char *const *fqdns, size_t n);
bool kiln_dns_stub_take_records_changed(struct kiln_dns_stub *s);

/* The 4 v4 + 4 v6 proxy IPs of a name (allocated on first use); returns how many, in
 * address order v4 then v6, limited by the resource's ip_stack. */
unsigned kiln_dns_stub_proxy_ips(struct kiln_dns_stub *s, const char *fqdn, const struct kiln_resource *r,
                                 struct kiln_ip_addr out[static 8]);
