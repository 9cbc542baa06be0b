/* SPDX-License-Identifier: MIT */
/* JSON renderings of configuration objects in the shapes the portal sends
 * (specs/firezone-control-plane.md §3.1, §3.3, §4): client and gateway resources, the interface,
 * TURN relays with coturn credentials, flow-log settings and flow-log ingest tokens. */
#pragma once

#include <json-glib/json-glib.h>

#include "tests/portal/config.h"

/* Expiry of gateway relay credentials: 2038-01-01, as the real portal. */
#define TP_GATEWAY_RELAY_EXPIRY G_GINT64_CONSTANT(2145916800)

/* Sites go under "sites", or "gateway_groups" for clients too old for the new name. */
JsonNode *tp_view_client_resource(const TpResource *resource, gboolean use_sites);
JsonNode *tp_view_gateway_resource(const TpResource *resource);
JsonNode *tp_view_client_interface(const TpAccount *account, const char *ipv4, const char *ipv6);
JsonNode *tp_view_gateway_interface(const char *ipv4, const char *ipv6);
JsonNode *tp_view_flow_logs(void);

/* One "turn" entry per relay address, credentials salted with the peer's public key. */
void tp_view_add_relays(JsonArray *out, const TpRelay *relay, const char *public_key, gint64 expires);
JsonNode *tp_view_relays(const TpConfig *config, const char *public_key, gint64 expires);

typedef struct {
        const char *role; /* "initiator" or "responder" */
        const TpAccount *account;
        const TpUser *user;
        const TpResource *resource;
        const char *client_id;
        const char *client_version;
        const char *gateway_id;
        const char *authorization_id;
        gint64 authorized_at;
        gint64 expires_at;
} TpIngestClaims;

/* An HS256 JWT with every claim the Rust client requires, signed with the throwaway test key. */
char *tp_ingest_token(const TpIngestClaims *claims);
