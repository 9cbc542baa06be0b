/* SPDX-License-Identifier: MIT */
/*
 * The portal's side of one client ↔ gateway authorization, for the engine tests: ids, the
 * client's init (from real portal JSON), the gateway's authorization and the client's
 * authorization_created with matching keys, PSK and ICE credentials.
 */
#pragma once

#include "backend/portal/messages.h"
#include "backend/tunnel/gateway-engine.h"

#define PLAY_CLIENT_ID   "5b1f8a4e-0c1d-4e7a-9a53-1f6a8e2b7c01"
#define PLAY_GATEWAY_ID  "d263d490-a0bb-452a-8990-01d27a1f1144"
#define PLAY_SITE_ID     "bf56f32d-7b2c-4f5d-a784-788977d014a4"
#define PLAY_RELAY_ID    "0a133356-7a9e-4b9a-b413-0d95a5720fd8"
#define PLAY_RES_CIDR    "73037362-715d-4a83-a749-f18eadd970e6"
#define PLAY_RES_DNS     "03000143-e25e-45c7-aafb-144990e57dcd"
#define PLAY_CLIENT_IP4  "100.64.0.1"
#define PLAY_CLIENT_IP6  "fd00:2021:1111::1"
#define PLAY_GATEWAY_IP4 "100.64.0.2"
#define PLAY_CIDR        "10.100.0.0/24" /* udp port 7 and icmp allowed */
#define PLAY_DNS_NAME    "app.corp.test"
#define PLAY_ECHO_PORT   7

/* Parses a portal event payload as the client's session would; asserts it parses. */
KilnPortalMessage *play_message(const char *event, const char *json);
/* The client's init: both resources, one TURN relay at relay_addr ("ip:port") with the
 * given credentials, upstream DNS 192.0.2.53. */
KilnPortalMessage *play_init(const char *relay_addr, const char *username, const char *password);
/* The resource as the gateway's portal messages describe it. */
void play_gateway_resource(struct kiln_resource *ret, const char *resource_id);
/* The gateway's side of the authorization; `res` backs ret->resource. */
void play_gateway_authorization(struct kiln_gateway_authorization *ret, struct kiln_resource *res,
                                const char *resource_id, const uint8_t client_key[static WG_KEY_LEN],
                                const uint8_t psk[static WG_KEY_LEN]);
/* The client's authorization_created for the same authorization. */
KilnPortalMessage *play_authorization_created(const char *resource_id,
                                              const uint8_t gateway_key[static WG_KEY_LEN],
                                              const uint8_t psk[static WG_KEY_LEN]);
/* ice_candidates from the gateway, one SDP string. */
KilnPortalMessage *play_gateway_candidate(const char *sdp, bool invalidate);
