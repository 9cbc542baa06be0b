/* SPDX-License-Identifier: MIT */
/*
 * The v2 gateway ⇄ portal message model (control-plane spec §4, §5): every portal → gateway
 * event on topic "gateway" parsed into plain C structs, and every gateway → portal payload
 * built.  Same rules and limits as messages.h: unknown events and a resource_updated of an
 * unknown type are skipped (KILN_PORTAL_ERROR_UNKNOWN_EVENT); a bad ICE candidate is dropped
 * alone; init needs config and flow_logs; create_authorization needs a parseable ingest token
 * and keys that decode to exactly 32 bytes.  v1 names (authorize_flow, flow_authorized) and
 * the pre-1.4 allow_access / request_connection are not v2 events and are skipped.
 */
#pragma once

#include <stdint.h>

#include "backend/portal/messages.h"

G_BEGIN_DECLS

#define KILN_PORTAL_TOPIC_GATEWAY "gateway"

/* A resource as a gateway sees it: no sites, no ip_stack. */
typedef struct {
        KilnPortalResourceType type; /* DNS, CIDR or INTERNET */
        char *id;
        char *name;
        char *address;   /* DNS pattern or canonical CIDR; NULL for internet */
        GArray *filters; /* KilnPortalFilter; empty = all traffic */
} KilnPortalGatewayResource;

typedef struct {
        KilnPortalInterface *interface; /* ipv4 and ipv6 of the gateway's TUN */
        gboolean ipv4_masquerade_enabled;
        gboolean ipv6_masquerade_enabled;
        GPtrArray *relays;         /* KilnPortalRelay */
        char *account_slug;        /* nullable */
        GPtrArray *authorizations; /* KilnPortalAuthorization: currently valid client access to resync */
        KilnPortalFlowLogs flow_logs;
} KilnPortalGatewayInit;

/* The initiating client, as create_authorization describes it. */
typedef struct {
        char *id;
        uint8_t public_key[WG_KEY_LEN];
        uint8_t preshared_key[WG_KEY_LEN]; /* secret: wiped on free, never printed */
        char *ipv4;
        char *ipv6;
        char *version; /* nullable; the rest of the device fields are informational */
        char *device_os_name;
        char *device_os_version;
        char *device_serial;
        char *device_uuid;
} KilnPortalGatewayClient;

typedef struct {
        char *ref; /* opaque signed string, echoed in authorization_created */
        KilnPortalGatewayResource *resource;
        KilnPortalGatewayClient client;
        KilnPortalIceCredentials client_ice_credentials;  /* the remote's */
        KilnPortalIceCredentials gateway_ice_credentials; /* ours (local) */
        guint64 expires_at;                               /* unix seconds; 0 = no expiry (null) */
        gboolean use_iceless;
        KilnPortalIngestToken ingest_token;
} KilnPortalCreateAuthorization;

typedef struct {
        char *client_id;
        char *resource_id;
} KilnPortalRejectAccess;

typedef enum {
        KILN_PORTAL_GATEWAY_INIT,
        KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION,
        KILN_PORTAL_GATEWAY_ICE_CANDIDATES,
        KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES,
        KILN_PORTAL_GATEWAY_REJECT_ACCESS,
        KILN_PORTAL_GATEWAY_RESOURCE_UPDATED,
        KILN_PORTAL_GATEWAY_RELAYS_PRESENCE,
        KILN_PORTAL_GATEWAY_DISCONNECT,
} KilnPortalGatewayMessageKind;

/* A parsed portal → gateway event.  Reference-counted, immutable once parsed. */
typedef struct {
        KilnPortalGatewayMessageKind kind;
        union {
                KilnPortalGatewayInit *init;
                KilnPortalCreateAuthorization *create_authorization;
                KilnPortalIceCandidates *ice_candidates; /* peer_id is the client_id */
                KilnPortalRejectAccess *reject_access;
                KilnPortalGatewayResource *resource; /* resource_updated */
                KilnPortalRelaysPresence *relays_presence;
                char *disconnect_reason; /* always "token_expired" */
        };
} KilnPortalGatewayMessage;

#define KILN_TYPE_PORTAL_GATEWAY_MESSAGE (kiln_portal_gateway_message_get_type())
GType kiln_portal_gateway_message_get_type(void);

gboolean kiln_portal_gateway_message_parse(const char *event, JsonNode *payload,
                                           KilnPortalGatewayMessage **ret_message, GError **error);
KilnPortalGatewayMessage *kiln_portal_gateway_message_ref(KilnPortalGatewayMessage *message);
void kiln_portal_gateway_message_unref(KilnPortalGatewayMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalGatewayMessage, kiln_portal_gateway_message_unref)

const char *kiln_portal_gateway_message_event_name(const KilnPortalGatewayMessage *message);

/* What the gateway understood, as normalized JSON {"event":…, …}; the PSK and raw token left out. */
JsonNode *kiln_portal_gateway_message_to_json(const KilnPortalGatewayMessage *message);

/* Gateway → portal (v2 event names, spec §4.3).  set_snownet_capabilities and no_relays are
 * built with messages.h's builders. */
#define KILN_PORTAL_EVENT_AUTHORIZATION_CREATED                "authorization_created"
#define KILN_PORTAL_EVENT_BROADCAST_ICE_CANDIDATES             "broadcast_ice_candidates"
#define KILN_PORTAL_EVENT_BROADCAST_INVALIDATED_ICE_CANDIDATES "broadcast_invalidated_ice_candidates"

/* {"ref": ref}: confirms a create_authorization. */
JsonNode *kiln_portal_build_authorization_created(const char *ref, GError **error);
/* {"client_ids": [...], "candidates": [...]} for both broadcast events. */
JsonNode *kiln_portal_build_broadcast_ice_candidates(const char *const *client_ids,
                                                     const char *const *candidates, GError **error);

G_END_DECLS
