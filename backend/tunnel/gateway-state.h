/* SPDX-License-Identifier: MIT */
/*
 * The gateway role's per-packet decisions (specs/firezone-data-plane.md §6.4, §6.6, §8),
 * sans-IO: every input carries `now` (nanoseconds of any monotonic clock); no sockets, no GLib.
 *
 * Wiring (kiln-gateway's loop):
 *
 *   inputs                                      from
 *   kiln_gateway_authorize                      portal create_authorization (after the
 *                                               connection to the client is set up), init's
 *                                               authorizations
 *   kiln_gateway_revoke                         portal reject_access
 *   kiln_gateway_update_resource                portal resource_updated
 *   kiln_gateway_handle_client_packet           every packet WireGuard decrypted from a client
 *   kiln_gateway_handle_tun_packet              every packet read from the gateway's TUN
 *   kiln_gateway_handle_dns_resolved            the answer to a RESOLVE_DNS action
 *   kiln_gateway_handle_timeout                 when kiln_gateway_poll_timeout() is reached
 *
 *   outputs: drain kiln_gateway_poll_action() after every input:
 *   WRITE_TUN        write data/len to the TUN (the kernel forwards and masquerades it)
 *   SEND_TO_CLIENT   encrypt data/len for client_id (replies, ICMP errors, DOMAIN_STATUS,
 *                    GOODBYE); the gateway does not buffer: drop it if still connecting
 *   RESOLVE_DNS      resolve domain (A and AAAA, 10 s timeout) for client_id/resource_id and
 *                    call kiln_gateway_handle_dns_resolved with the addresses (none = failure)
 *   CLOSE_CLIENT     the client's last authorization ended (a GOODBYE was queued just before)
 *                    or the client said GOODBYE;
 *                    drop the connection to client_id
 * Action data stays valid until the next kiln_gateway_poll_action() or _free().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/tunnel/packet.h"
#include "backend/tunnel/resources.h"

#define KILN_NS_PER_SEC                 1000000000ull
#define KILN_GATEWAY_NAT_TCP_NS         ((2ull * 3600 + 4 * 60) * KILN_NS_PER_SEC)
#define KILN_GATEWAY_NAT_UDP_NS         (120ull * KILN_NS_PER_SEC)
#define KILN_GATEWAY_NAT_ICMP_NS        (120ull * KILN_NS_PER_SEC)
#define KILN_GATEWAY_NAT_UNCONFIRMED_NS (60ull * KILN_NS_PER_SEC)
#define KILN_GATEWAY_NAT_FIN_NS         (5ull * KILN_NS_PER_SEC)
#define KILN_GATEWAY_TICK_NS            (1ull * KILN_NS_PER_SEC)
#define KILN_GATEWAY_MAX_NAT_SESSIONS   65536 /* per client */
#define KILN_GATEWAY_MAX_REAL_IPS       32

enum kiln_gateway_action_type {
        KILN_GATEWAY_WRITE_TUN,
        KILN_GATEWAY_SEND_TO_CLIENT,
        KILN_GATEWAY_RESOLVE_DNS,
        KILN_GATEWAY_CLOSE_CLIENT,
};

struct kiln_gateway_action {
        enum kiln_gateway_action_type type;
        const uint8_t *data;
        size_t len;
        char client_id[KILN_ID_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
};

struct kiln_gateway_stats {
        uint64_t dropped_malformed, dropped_not_client_source, dropped_no_peer, dropped_unauthorized_source,
            dropped_expired_nat, dropped_icmp_error_from_client, prohibited, net_unreachable;
};

struct kiln_gateway;

struct kiln_gateway *kiln_gateway_new(void);
void kiln_gateway_free(struct kiln_gateway *g);

/* expires_at: in `now` time, 0 = never.  The client is created on its first authorization. */
int kiln_gateway_authorize(struct kiln_gateway *g, uint64_t now, const char *client_id,
                           const struct kiln_ip_addr *client_ipv4, const struct kiln_ip_addr *client_ipv6,
                           const struct kiln_resource *resource, uint64_t expires_at);
void kiln_gateway_revoke(struct kiln_gateway *g, uint64_t now, const char *client_id,
                         const char *resource_id);
void kiln_gateway_update_resource(struct kiln_gateway *g, const struct kiln_resource *resource);

void kiln_gateway_handle_client_packet(struct kiln_gateway *g, uint64_t now, const char *client_id,
                                       const uint8_t *pkt, size_t len);
void kiln_gateway_handle_tun_packet(struct kiln_gateway *g, uint64_t now, const uint8_t *pkt, size_t len);
void kiln_gateway_handle_dns_resolved(struct kiln_gateway *g, uint64_t now, const char *client_id,
                                      const char *resource_id, const char *domain,
                                      const struct kiln_ip_addr *addrs, size_t n);
void kiln_gateway_handle_timeout(struct kiln_gateway *g, uint64_t now);

bool kiln_gateway_poll_action(struct kiln_gateway *g, struct kiln_gateway_action *ret);
uint64_t kiln_gateway_poll_timeout(const struct kiln_gateway *g);
size_t kiln_gateway_n_clients(const struct kiln_gateway *g);
size_t kiln_gateway_n_nat_sessions(const struct kiln_gateway *g, const char *client_id);
const struct kiln_gateway_stats *kiln_gateway_stats(const struct kiln_gateway *g);

/* Internet-resource destinations the gateway refuses (spec §6.6): private, loopback,
 * link-local, CGNAT, multicast, 240/4, IPv6 loopback/ULA/link-local/multicast/v4-mapped. */
bool kiln_gateway_addr_is_non_public(const struct kiln_ip_addr *a);
