/* SPDX-License-Identifier: MIT */
/*
 * The client role's per-packet decisions (specs/firezone-data-plane.md §6.2–§6.5), sans-IO:
 * no sockets, no clock (every input carries `now` in nanoseconds of any monotonic clock), no
 * GLib, randomness from the seed.
 *
 * Wiring (the integrator's loop):
 *
 *   inputs                                             from
 *   kiln_client_upsert_resource / _remove_resource    portal init / resource_created_or_updated /
 *                                                      resource_deleted
 *   kiln_client_set_internet_enabled                  the user's toggle
 *   kiln_client_set_upstreams                         portal upstream_do53 or the system resolvers
 *   kiln_client_handle_tun_packet                     every IP packet read from the TUN
 *   kiln_client_handle_authorized                     portal authorization_created
 *   kiln_client_handle_authorization_failed           portal authorization_creation_failed
 *   kiln_client_handle_gateway_connected              WireGuard/ICE connection to the gateway is up
 *   kiln_client_handle_gateway_closed                 that connection failed or went away
 *   kiln_client_handle_gateway_packet                 every packet WireGuard decrypted from a gateway
 *   kiln_client_handle_dns_reply                      a reply from an upstream resolver socket
 *   kiln_client_handle_timeout                        when kiln_client_poll_timeout() is reached
 *
 *   outputs: after any input, drain kiln_client_poll_action() until it returns false:
 *   WRITE_TUN               write data/len to the TUN (DNS answers, ICMP prohibited, traffic
 *                           from gateways)
 *   REQUEST_AUTHORIZATION   send request_authorization{resource_id} to the portal (already
 *                           rate-limited to one per 2 s per resource)
 *   CONNECT_GATEWAY         create (or reuse) the WireGuard/ICE connection to gateway_id, whose
 *                           tunnel addresses are gateway_ipv4/_ipv6; answer later with
 *                           handle_gateway_connected or handle_gateway_closed
 *   SEND_TO_GATEWAY         encrypt data/len for gateway_id (data packets and p2p control)
 *   CLOSE_GATEWAY           the gateway said GOODBYE: drop the connection to gateway_id
 *   DNS_QUERY               send data/len to upstream over UDP, or over TCP when tcp is set
 *                           (frame with kiln_dns_tcp_frame, unframe the answer with
 *                           kiln_dns_tcp_unframe; a truncated UDP reply comes back as such a
 *                           TCP query); mark the socket with SO_MARK; feed the reply to
 *                           handle_dns_reply
 *   AUTHORIZATION_FAILED    tell the user layer: resource_id could not be reached, reason =
 *                           the portal's FailReason string
 *   DOMAIN_INACTIVE         the gateway could not resolve/NAT domain of resource_id
 *   DNS_RECORDS_CHANGED     a name got proxy IPs: persist kiln_client_dns_stub()'s record list
 *                           (kiln_dns_stub_n_records/_record) and seed it back after a
 *                           restart with kiln_dns_stub_seed_records, so proxy IPs stay stable
 * The data of an action stays valid until the next kiln_client_poll_action() or _free().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/tunnel/dns-stub.h"
#include "backend/tunnel/packet.h"
#include "backend/tunnel/resources.h"

#define KILN_CLIENT_AUTH_RETRY_NS        (2ull * 1000000000ull)
#define KILN_CLIENT_NAT_RETRY_NS         (2ull * 1000000000ull)
#define KILN_CLIENT_PENDING_AUTH_PACKETS 128
#define KILN_CLIENT_PENDING_PEER_PACKETS 128
#define KILN_CLIENT_PENDING_NAT_PACKETS  32
#define KILN_CLIENT_REASON_MAX           63

enum kiln_client_action_type {
        KILN_CLIENT_WRITE_TUN,
        KILN_CLIENT_REQUEST_AUTHORIZATION,
        KILN_CLIENT_CONNECT_GATEWAY,
        KILN_CLIENT_SEND_TO_GATEWAY,
        KILN_CLIENT_CLOSE_GATEWAY,
        KILN_CLIENT_DNS_QUERY,
        KILN_CLIENT_AUTHORIZATION_FAILED,
        KILN_CLIENT_DOMAIN_INACTIVE,
        KILN_CLIENT_DNS_RECORDS_CHANGED,
};

struct kiln_client_action {
        enum kiln_client_action_type type;
        const uint8_t *data;
        size_t len;
        char resource_id[KILN_ID_MAX + 1];
        char gateway_id[KILN_ID_MAX + 1];
        struct kiln_ip_addr gateway_ipv4, gateway_ipv6; /* CONNECT_GATEWAY */
        struct kiln_dns_upstream upstream;              /* DNS_QUERY */
        bool tcp;                                       /* DNS_QUERY */
        char reason[KILN_CLIENT_REASON_MAX + 1];        /* AUTHORIZATION_FAILED */
};

struct kiln_client_stats {
        uint64_t dropped_malformed, dropped_not_tunnel_source, dropped_unknown_resource, dropped_denied,
            dropped_unallowed_source, dropped_buffer_full, dns_answered, dns_forwarded;
};

struct kiln_client_config {
        struct kiln_ip_addr tun_ipv4, tun_ipv6; /* family 0 when absent */
        uint64_t seed;
};

struct kiln_client;

struct kiln_client *kiln_client_new(const struct kiln_client_config *config);
void kiln_client_free(struct kiln_client *c);

int kiln_client_upsert_resource(struct kiln_client *c, const struct kiln_resource *r);
int kiln_client_remove_resource(struct kiln_client *c, const char *resource_id);
void kiln_client_set_internet_enabled(struct kiln_client *c, bool enabled);
const struct kiln_resources *kiln_client_resources(const struct kiln_client *c);
struct kiln_dns_stub *kiln_client_dns_stub(struct kiln_client *c);
int kiln_client_set_upstreams(struct kiln_client *c, const struct kiln_dns_upstream *u, size_t n);

void kiln_client_handle_tun_packet(struct kiln_client *c, uint64_t now, const uint8_t *pkt, size_t len);
int kiln_client_handle_authorized(struct kiln_client *c, uint64_t now, const char *resource_id,
                                  const char *gateway_id, const struct kiln_ip_addr *gateway_ipv4,
                                  const struct kiln_ip_addr *gateway_ipv6);
void kiln_client_handle_authorization_failed(struct kiln_client *c, const char *resource_id,
                                             const char *reason);
void kiln_client_handle_gateway_connected(struct kiln_client *c, uint64_t now, const char *gateway_id);
void kiln_client_handle_gateway_closed(struct kiln_client *c, const char *gateway_id);
void kiln_client_handle_gateway_packet(struct kiln_client *c, uint64_t now, const char *gateway_id,
                                       const uint8_t *pkt, size_t len);
void kiln_client_handle_dns_reply(struct kiln_client *c, uint64_t now, const struct kiln_ip_addr *from,
                                  const uint8_t *reply, size_t len);
void kiln_client_handle_timeout(struct kiln_client *c, uint64_t now);

bool kiln_client_poll_action(struct kiln_client *c, struct kiln_client_action *ret);
/* UINT64_MAX when nothing is scheduled. */
uint64_t kiln_client_poll_timeout(const struct kiln_client *c);
const struct kiln_client_stats *kiln_client_stats(const struct kiln_client *c);
