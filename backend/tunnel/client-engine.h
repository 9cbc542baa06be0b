/* SPDX-License-Identifier: MIT */
/*
 * The client's whole tunnel engine, sans-IO: the portal's parsed events and the TUN's packets
 * go in; packets for the TUN, datagrams for the UDP socket, portal messages, DNS queries and
 * user-facing events come out.  It glues the client state machine (client-state.h: resources,
 * DNS stub, filters, authorizations, buffering) to the connection layer (node.h: WireGuard +
 * ICE + TURN per gateway on one socket), as Firezone's ClientState does with snownet.
 *
 * kilnd's loop (any monotonic clock in ns for `now`):
 *
 *   portal event parsed          kiln_client_engine_handle_portal(e, msg, now)
 *   TUN packet read              kiln_client_engine_handle_tun_packet(e, pkt, len, now)
 *   UDP datagram received        kiln_client_engine_handle_datagram(e, &local, &from, buf, len, now)
 *   upstream DNS answer          kiln_client_engine_handle_dns_reply(e, &from, buf, len, now)
 *   kiln_client_engine_poll_timeout() reached   kiln_client_engine_handle_timeout(e, now)
 *
 *   after any of them:
 *   while (kiln_client_engine_poll_transmit(e, &t, now))  sendto(t.dst) from t.src (family 0: any)
 *   while (kiln_client_engine_poll_output(e, &o))         act on o (see enum below)
 *
 * The engine needs the portal's `init` before it routes anything (it carries the tunnel
 * addresses); TUN packets before that are dropped.  The portal's TURN relays come from init
 * and relays_presence.  GLib appears only on the portal side (the parsed messages in, the
 * built payloads out); the packet path is plain C.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/portal/messages.h"
#include "backend/tunnel/client-state.h"
#include "backend/tunnel/node.h"

G_BEGIN_DECLS

enum kiln_client_output_type {
        KILN_CLIENT_OUTPUT_TUN,               /* write data/len to the TUN */
        KILN_CLIENT_OUTPUT_PORTAL,            /* send event/payload to the portal (payload is borrowed:
                                       * valid until the next poll; ref it to keep it) */
        KILN_CLIENT_OUTPUT_DNS_QUERY,         /* send data/len to upstream (tcp: framed, see client-state.h),
                                       * SO_MARK'ed; feed the answer to handle_dns_reply */
        KILN_CLIENT_OUTPUT_GATEWAY_CONNECTED, /* gateway_id reachable; via_relay, time_to_connect */
        KILN_CLIENT_OUTPUT_GATEWAY_PATH_CHANGED,
        KILN_CLIENT_OUTPUT_GATEWAY_FAILED,       /* gateway_id: reason */
        KILN_CLIENT_OUTPUT_AUTHORIZATION_FAILED, /* resource_id: reason (the portal's FailReason) */
        KILN_CLIENT_OUTPUT_DOMAIN_INACTIVE,      /* resource_id: the gateway could not resolve it */
        KILN_CLIENT_OUTPUT_DNS_RECORDS_CHANGED,  /* persist the stub's records (client-state.h) */
};

struct kiln_client_output {
        enum kiln_client_output_type type;
        const uint8_t *data;
        size_t len;
        const char *event; /* PORTAL: a KILN_PORTAL_EVENT_* name */
        JsonNode *payload; /* PORTAL */
        char resource_id[KILN_ID_MAX + 1];
        char gateway_id[KILN_ID_MAX + 1];
        struct kiln_dns_upstream upstream; /* DNS_QUERY */
        bool tcp;                          /* DNS_QUERY */
        bool via_relay;                    /* GATEWAY_CONNECTED, GATEWAY_PATH_CHANGED */
        uint64_t time_to_connect;          /* GATEWAY_CONNECTED: connection start → WireGuard session */
        char reason[96];
};

struct kiln_client_engine_config {
        uint64_t seed;
        bool deterministic; /* tests: WireGuard keys and indices from the seed too */
        const uint8_t
            *private_key; /* NULL: a fresh one (send kiln_client_engine_public_key to the portal) */
};

struct kiln_client_engine;

struct kiln_client_engine *kiln_client_engine_new(const struct kiln_client_engine_config *cfg, uint64_t now);
void kiln_client_engine_free(struct kiln_client_engine *e);

void kiln_client_engine_public_key(const struct kiln_client_engine *e, uint8_t ret[static WG_KEY_LEN]);
/* NULL before init. */
struct kiln_client *kiln_client_engine_state(struct kiln_client_engine *e);
struct kiln_node *kiln_client_engine_node(struct kiln_client_engine *e);
/* Resolvers used when the portal gives no upstream_do53 (the system's, sentinels excluded). */
int kiln_client_engine_set_system_upstreams(struct kiln_client_engine *e, const struct kiln_dns_upstream *u,
                                            size_t n);
/* Network change: drops every gateway connection, restarts the relay allocations (rebind the
 * UDP socket first) and takes a new WireGuard key; send kiln_client_engine_public_key() to
 * the portal (it reconnects with the new key).  Packets then authorize again. */
int kiln_client_engine_reset(struct kiln_client_engine *e, uint64_t now);
void kiln_client_engine_set_internet_enabled(struct kiln_client_engine *e, bool enabled);
/* Shutdown: a p2p GOODBYE (spec §6.4) to every gateway with an established connection, so it
 * drops the connection at once; the datagrams come out of poll_transmit.  Returns how many. */
size_t kiln_client_engine_goodbye(struct kiln_client_engine *e, uint64_t now);

/* 0, or a negative errno when the event could not be applied (the session goes on). */
int kiln_client_engine_handle_portal(struct kiln_client_engine *e, const KilnPortalMessage *msg,
                                     uint64_t now);
void kiln_client_engine_handle_tun_packet(struct kiln_client_engine *e, const uint8_t *pkt, size_t len,
                                          uint64_t now);
void kiln_client_engine_handle_datagram(struct kiln_client_engine *e, const struct ice_addr *local,
                                        const struct ice_addr *from, const uint8_t *buf, size_t len,
                                        uint64_t now);
void kiln_client_engine_handle_dns_reply(struct kiln_client_engine *e, const struct kiln_ip_addr *from,
                                         const uint8_t *reply, size_t len, uint64_t now);
void kiln_client_engine_handle_timeout(struct kiln_client_engine *e, uint64_t now);
uint64_t kiln_client_engine_poll_timeout(const struct kiln_client_engine *e);

bool kiln_client_engine_poll_transmit(struct kiln_client_engine *e, struct ice_transmit *ret, uint64_t now);
/* The output's data stays valid until the next poll or free. */
bool kiln_client_engine_poll_output(struct kiln_client_engine *e, struct kiln_client_output *ret);

/* Relay "ip:port" / "[ipv6]:port" as the portal sends it. */
int kiln_relay_addr_parse(const char *text, struct ice_addr *ret);
/* A portal resource in the client's table form; -EOPNOTSUPP for device pools. */
int kiln_resource_from_portal(const KilnPortalResource *in, struct kiln_resource *ret);

G_END_DECLS
