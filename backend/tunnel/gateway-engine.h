/* SPDX-License-Identifier: MIT */
/*
 * The gateway's whole tunnel engine, sans-IO and GLib-free: the mirror of client-engine.h.
 * Authorizations from the portal create (or reuse) the connection to a client, ICE
 * controlled and WireGuard responder, and feed the gateway state machine (gateway-state.h:
 * per-client authorizations with expiry, filters, the DNS-resource NAT, ICMP replies).
 *
 * kiln-gateway's loop (`now`: any monotonic clock in ns):
 *
 *   portal create_authorization / authorize_flow      kiln_gateway_engine_authorize(e, &auth, now)
 *   portal reject_access / expiry                     kiln_gateway_engine_revoke(e, client, resource, now)
 *   portal resource_updated                           kiln_gateway_engine_update_resource(e, &res)
 *   portal ice_candidates / invalidate_ice_candidates kiln_gateway_engine_add/remove_candidate(e, client, sdp, now)
 *   portal init / relays_presence                     kiln_gateway_engine_upsert_relay / _remove_relay
 *   TUN packet read                                   kiln_gateway_engine_handle_tun_packet(e, pkt, len, now)
 *   UDP datagram received                             kiln_gateway_engine_handle_datagram(e, &local, &from, buf, len, now)
 *   RESOLVE_DNS answered                              kiln_gateway_engine_handle_dns_resolved(...)
 *   kiln_gateway_engine_poll_timeout() reached        kiln_gateway_engine_handle_timeout(e, now)
 *
 *   after any of them:
 *   while (kiln_gateway_engine_poll_transmit(e, &t, now))  sendto(t.dst) from t.src
 *   while (kiln_gateway_engine_poll_output(e, &o))         act on o (see enum below)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/tunnel/gateway-state.h"
#include "backend/tunnel/node.h"

enum kiln_gateway_output_type {
        KILN_GATEWAY_OUTPUT_TUN,                   /* write data/len to the TUN */
        KILN_GATEWAY_OUTPUT_CANDIDATE,             /* send sdp for client_id to the portal
                                                    * (broadcast_ice_candidates) */
        KILN_GATEWAY_OUTPUT_CANDIDATE_INVALIDATED, /* broadcast_invalidated_ice_candidates */
        KILN_GATEWAY_OUTPUT_RESOLVE_DNS,           /* resolve domain (A + AAAA) for client_id/resource_id,
                                                    * answer with handle_dns_resolved */
        KILN_GATEWAY_OUTPUT_CLIENT_CONNECTED,      /* client_id: WireGuard session up; via_relay */
        KILN_GATEWAY_OUTPUT_CLIENT_FAILED,         /* client_id: connection gone (reason) */
};

struct kiln_gateway_output {
        enum kiln_gateway_output_type type;
        const uint8_t *data;
        size_t len;
        char client_id[KILN_ID_MAX + 1];
        char resource_id[KILN_ID_MAX + 1];
        char domain[KILN_RESOURCE_ADDRESS_MAX + 1];
        char sdp[ICE_CANDIDATE_SDP_MAX];
        bool via_relay;
        uint64_t time_to_connect;
        char reason[96];
};

/* The fields of Firezone's create_authorization (gateway side) the engine needs. */
struct kiln_gateway_authorization {
        const char *client_id;
        uint8_t client_public_key[WG_KEY_LEN];
        uint8_t preshared_key[WG_KEY_LEN];
        /* ICE: the gateway's own credentials (local) and the client's (remote). */
        const char *gateway_ufrag, *gateway_pwd;
        const char *client_ufrag, *client_pwd;
        struct kiln_ip_addr client_ipv4, client_ipv6; /* the client's tunnel addresses */
        const struct kiln_resource *resource;
        uint64_t expires_at; /* in `now` time; 0 = never */
};

struct kiln_gateway_engine_config {
        uint64_t seed;
        bool deterministic;         /* tests: WireGuard keys and indices from the seed too */
        const uint8_t *private_key; /* NULL: a fresh one (its public key goes to the portal) */
};

struct kiln_gateway_engine;

struct kiln_gateway_engine *kiln_gateway_engine_new(const struct kiln_gateway_engine_config *cfg,
                                                    uint64_t now);
void kiln_gateway_engine_free(struct kiln_gateway_engine *e);
void kiln_gateway_engine_public_key(const struct kiln_gateway_engine *e, uint8_t ret[static WG_KEY_LEN]);
struct kiln_gateway *kiln_gateway_engine_state(struct kiln_gateway_engine *e);
struct kiln_node *kiln_gateway_engine_node(struct kiln_gateway_engine *e);

int kiln_gateway_engine_upsert_relay(struct kiln_gateway_engine *e, const struct kiln_node_relay *relay,
                                     uint64_t now);
void kiln_gateway_engine_remove_relay(struct kiln_gateway_engine *e, const char *relay_id);

/* Sets up (or keeps, when key/PSK/credentials are unchanged) the connection to the client
 * and records the authorization.  0 or a negative errno (nothing changed then). */
int kiln_gateway_engine_authorize(struct kiln_gateway_engine *e, const struct kiln_gateway_authorization *a,
                                  uint64_t now);
void kiln_gateway_engine_revoke(struct kiln_gateway_engine *e, const char *client_id,
                                const char *resource_id, uint64_t now);
void kiln_gateway_engine_update_resource(struct kiln_gateway_engine *e,
                                         const struct kiln_resource *resource);
int kiln_gateway_engine_add_candidate(struct kiln_gateway_engine *e, const char *client_id, const char *sdp,
                                      uint64_t now);
int kiln_gateway_engine_remove_candidate(struct kiln_gateway_engine *e, const char *client_id,
                                         const char *sdp, uint64_t now);

void kiln_gateway_engine_handle_tun_packet(struct kiln_gateway_engine *e, const uint8_t *pkt, size_t len,
                                           uint64_t now);
void kiln_gateway_engine_handle_datagram(struct kiln_gateway_engine *e, const struct ice_addr *local,
                                         const struct ice_addr *from, const uint8_t *buf, size_t len,
                                         uint64_t now);
void kiln_gateway_engine_handle_dns_resolved(struct kiln_gateway_engine *e, const char *client_id,
                                             const char *resource_id, const char *domain,
                                             const struct kiln_ip_addr *addrs, size_t n, uint64_t now);
void kiln_gateway_engine_handle_timeout(struct kiln_gateway_engine *e, uint64_t now);
uint64_t kiln_gateway_engine_poll_timeout(const struct kiln_gateway_engine *e);

bool kiln_gateway_engine_poll_transmit(struct kiln_gateway_engine *e, struct ice_transmit *ret,
                                       uint64_t now);
/* The output's data stays valid until the next poll or free. */
bool kiln_gateway_engine_poll_output(struct kiln_gateway_engine *e, struct kiln_gateway_output *ret);
