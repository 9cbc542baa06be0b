/* SPDX-License-Identifier: MIT */
/*
 * The value types both roles' message models share (control-plane spec §3.1, §4): filters,
 * the interface, relays and relays_presence, ICE credentials and candidates, the flow-log
 * ingest token, flow_logs and the init authorizations.  Parsers follow messages.h's rules;
 * the add_* helpers write the normalized JSON of kiln-portal-decode.
 */
#pragma once

#include "backend/portal/messages.h"

G_BEGIN_DECLS

/* A bad filter rejects its owner: dropping it could leave an empty list ("all traffic"). */
gboolean kiln_portal_parse_filters(JsonObject *o, GArray **ret, GError **error);
gboolean kiln_portal_parse_interface(JsonNode *node, KilnPortalInterface **ret, GError **error);
void kiln_portal_interface_free(KilnPortalInterface *i);
gboolean kiln_portal_parse_relays(JsonArray *array, GPtrArray **ret, GError **error);
void kiln_portal_relay_free(KilnPortalRelay *relay);
gboolean kiln_portal_parse_relays_presence(JsonObject *o, KilnPortalRelaysPresence **ret, GError **error);
void kiln_portal_relays_presence_free(KilnPortalRelaysPresence *p);
gboolean kiln_portal_parse_ice_credentials(JsonObject *o, const char *key, KilnPortalIceCredentials *ret,
                                           GError **error);
void kiln_portal_ice_credentials_clear(KilnPortalIceCredentials *c);
/* The "flow_logs_ingest_token" member of o. */
gboolean kiln_portal_parse_ingest_token(JsonObject *o, KilnPortalIngestToken *ret, GError **error);
void kiln_portal_ingest_token_clear(KilnPortalIngestToken *t);
/* peer_key is "gateway_id" or "client_id"; bad candidates are skipped alone. */
gboolean kiln_portal_parse_ice_candidates(JsonObject *o, const char *peer_key, KilnPortalIceCandidates **ret,
                                          GError **error);
void kiln_portal_ice_candidates_free(KilnPortalIceCandidates *c);
/* The required "flow_logs" member of o. */
gboolean kiln_portal_parse_flow_logs(JsonObject *o, KilnPortalFlowLogs *ret, GError **error);
/* [{client_id, resource_id, expires_at}]; array may be NULL (absent). */
gboolean kiln_portal_parse_authorizations(JsonArray *array, GPtrArray **ret, GError **error);
void kiln_portal_authorization_free(KilnPortalAuthorization *a);
gboolean kiln_portal_is_domain_name(const char *name);

/* {"reason": "token_expired"}: the only disconnect reason Firezone parses. */
gboolean kiln_portal_parse_disconnect(JsonObject *o, char **ret, GError **error);

/* Event name ⇄ message kind tables. */
typedef struct {
        const char *event;
        int kind;
} KilnPortalEventName;
const char *kiln_portal_event_name(const KilnPortalEventName *table, gsize n, int kind);
gboolean kiln_portal_event_kind(const KilnPortalEventName *table, gsize n, const char *event, int *ret);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalInterface, kiln_portal_interface_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalRelay, kiln_portal_relay_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(KilnPortalIngestToken, kiln_portal_ingest_token_clear)

void kiln_portal_add_filters(JsonBuilder *b, GArray *filters);
void kiln_portal_add_interface(JsonBuilder *b, const KilnPortalInterface *i);
void kiln_portal_add_relays(JsonBuilder *b, const char *key, GPtrArray *relays);
void kiln_portal_add_ice_credentials(JsonBuilder *b, const char *key, const KilnPortalIceCredentials *c);
void kiln_portal_add_ingest_token(JsonBuilder *b, const KilnPortalIngestToken *t);
void kiln_portal_add_authorizations(JsonBuilder *b, GPtrArray *authorizations);
void kiln_portal_add_flow_logs(JsonBuilder *b, const KilnPortalFlowLogs *f);
/* "candidates": [...]; FALSE (the builder left mid-array) when one is not an SDP candidate. */
gboolean kiln_portal_add_candidates(JsonBuilder *b, const char *const *candidates, GError **error);

G_END_DECLS
