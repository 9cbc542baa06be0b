/* SPDX-License-Identifier: MIT */
/*
 * The v2 client ⇄ portal message model (control-plane spec §3): every portal → client event
 * parsed into plain C structs, and every client → portal payload built.  Lenient where
 * Firezone is lenient (unknown resource types, one bad resource, filter or ICE candidate is
 * skipped alone; "sites"/"gateway_groups" and "site_id"/"gateway_group_id" both accepted),
 * strict where it is strict (init needs flow_logs, authorizations need a parseable ingest
 * token, keys decode to exactly 32 bytes).  Every peer-controlled size is bounded.
 */
#pragma once

#include <stdint.h>

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "backend/crypto/encoding.h"
#include "backend/portal/phoenix.h"

G_BEGIN_DECLS

enum {
        KILN_PORTAL_MAX_STRING = 1024, /* names, addresses, descriptions, credentials */
        KILN_PORTAL_MAX_TOKEN = 8192,  /* the flow-log ingest JWT */
        KILN_PORTAL_MAX_RESOURCES = 10000,
        KILN_PORTAL_MAX_LIST = 256, /* sites, filters, relays, DNS servers, candidates, ids … */
};

#define KILN_PORTAL_TOPIC_CLIENT "client"

typedef enum {
        KILN_PORTAL_FILTER_TCP,
        KILN_PORTAL_FILTER_UDP,
        KILN_PORTAL_FILTER_ICMP,
} KilnPortalFilterProtocol;

typedef struct {
        KilnPortalFilterProtocol protocol;
        guint16 port_range_start; /* 0 and 65535 for icmp */
        guint16 port_range_end;
} KilnPortalFilter;

typedef struct {
        char *id;
        char *name;
} KilnPortalSite;

typedef enum {
        KILN_PORTAL_IP_STACK_DUAL,
        KILN_PORTAL_IP_STACK_IPV4_ONLY,
        KILN_PORTAL_IP_STACK_IPV6_ONLY,
} KilnPortalIpStack;

typedef enum {
        KILN_PORTAL_RESOURCE_DNS,
        KILN_PORTAL_RESOURCE_CIDR,
        KILN_PORTAL_RESOURCE_INTERNET,
        KILN_PORTAL_RESOURCE_STATIC_DEVICE_POOL,
        KILN_PORTAL_RESOURCE_DYNAMIC_DEVICE_POOL,
} KilnPortalResourceType;

typedef struct {
        char *client_id;
        char *ipv4; /* "a.b.c.d/32" */
        char *ipv6; /* "x::y/128" */
} KilnPortalPoolDevice;

typedef struct {
        KilnPortalResourceType type;
        char *id;
        char *name;
        char *address;              /* DNS pattern, or canonical CIDR; NULL for internet and static pools */
        char *address_description;  /* nullable */
        GPtrArray *sites;           /* KilnPortalSite */
        GArray *filters;            /* KilnPortalFilter; empty = all traffic */
        KilnPortalIpStack ip_stack; /* dns only; dual elsewhere */
        GPtrArray *devices;         /* KilnPortalPoolDevice; static pools only */
} KilnPortalResource;

typedef struct {
        char *ipv4;
        char *ipv6;
        GPtrArray *upstream_do53; /* IP address strings */
        GPtrArray *upstream_doh;  /* URL strings */
        GPtrArray *upstream_dns;  /* legacy "ip:port" strings; used only when upstream_do53 is empty */
        char *search_domain;      /* nullable */
} KilnPortalInterface;

typedef enum {
        KILN_PORTAL_RELAY_TURN,
        KILN_PORTAL_RELAY_STUN,
} KilnPortalRelayType;

typedef struct {
        KilnPortalRelayType type;
        char *id;
        char *addr; /* "ip:port" or "[ipv6]:port" */
        char *username;
        char *password;
        gint64 expires_at; /* unix seconds; 0 for stun */
} KilnPortalRelay;

typedef struct {
        char *client_id;
        char *resource_id;
        guint64 expires_at;
} KilnPortalAuthorization;

typedef struct {
        char *api_url;
        guint64 upload_interval_secs; /* 0 disables uploads */
        guint64 upload_batch_size;    /* 0 means the default */
} KilnPortalFlowLogs;

typedef struct {
        KilnPortalInterface *interface;
        GPtrArray *resources; /* KilnPortalResource; unknown types and bad entries skipped */
        GPtrArray *relays;    /* KilnPortalRelay */
        GPtrArray *authorizations;
        KilnPortalFlowLogs flow_logs;
} KilnPortalInit;

typedef struct {
        GPtrArray *disconnected_ids;
        GPtrArray *connected; /* KilnPortalRelay */
} KilnPortalRelaysPresence;

typedef struct {
        char *username;
        char *password;
} KilnPortalIceCredentials;

/* The flow-log ingest token: opaque Bearer credential whose claims must parse (spec §3.1). */
typedef struct {
        char *raw;
        char *role; /* "initiator" or "responder" */
        gboolean uploads_enabled;
        char *resource_id;
        guint64 exp;
} KilnPortalIngestToken;

typedef struct {
        char *resource_id;
        char *gateway_id;
        uint8_t gateway_public_key[WG_KEY_LEN];
        char *gateway_ipv4;
        char *gateway_ipv6;
        char *site_id;
        uint8_t preshared_key[WG_KEY_LEN]; /* secret: wiped on free, never printed */
        KilnPortalIceCredentials client_ice_credentials;
        KilnPortalIceCredentials gateway_ice_credentials;
        gboolean use_iceless;
        KilnPortalIngestToken ingest_token;
} KilnPortalAuthorizationCreated;

typedef enum {
        KILN_PORTAL_FAIL_NOT_FOUND,
        KILN_PORTAL_FAIL_OFFLINE,
        KILN_PORTAL_FAIL_VERSION_MISMATCH,
        KILN_PORTAL_FAIL_FORBIDDEN,
        KILN_PORTAL_FAIL_DISABLED,
        KILN_PORTAL_FAIL_AMBIGUOUS_ADDRESS,
        KILN_PORTAL_FAIL_MISSING_ADDRESS,
        KILN_PORTAL_FAIL_INVALID_ADDRESS,
        KILN_PORTAL_FAIL_UNKNOWN,
} KilnPortalFailReason;

typedef enum {
        KILN_PORTAL_VIOLATED_REMOTE_IP_LOCATION_REGION,
        KILN_PORTAL_VIOLATED_REMOTE_IP,
        KILN_PORTAL_VIOLATED_PROVIDER_ID,
        KILN_PORTAL_VIOLATED_CURRENT_UTC_DATETIME,
        KILN_PORTAL_VIOLATED_CLIENT_VERIFIED,
        KILN_PORTAL_VIOLATED_UNKNOWN,
} KilnPortalViolatedProperty;

typedef struct {
        char *resource_id;
        KilnPortalFailReason reason;
        GArray *violated_properties; /* KilnPortalViolatedProperty */
} KilnPortalAuthorizationFailed;

/* ice_candidates, invalidate_ice_candidates and their client-to-client counterparts. */
typedef struct {
        char *peer_id;         /* gateway_id, or client_id for the client_* events */
        GPtrArray *candidates; /* SDP candidate strings; invalid ones skipped alone */
} KilnPortalIceCandidates;

typedef enum {
        KILN_PORTAL_ICE_ROLE_CONTROLLING,
        KILN_PORTAL_ICE_ROLE_CONTROLLED,
} KilnPortalIceRole;

/* client_device_access_authorized: a client-to-client (device pool) connection was approved. */
typedef struct {
        char *client_id;
        char *client_name;
        uint8_t client_public_key[WG_KEY_LEN];
        char *client_ipv4;
        char *client_ipv6;
        uint8_t preshared_key[WG_KEY_LEN]; /* secret: wiped on free, never printed */
        KilnPortalIceCredentials local_ice_credentials;
        KilnPortalIceCredentials remote_ice_credentials;
        KilnPortalIceRole ice_role;
        gboolean use_iceless;
        char *resource_id;  /* the target side's authorizing resource, else NULL */
        GArray *filters;    /* its filters (KilnPortalFilter); empty on the initiating side */
        guint64 expires_at; /* 0 when absent */
        KilnPortalIngestToken ingest_token;
} KilnPortalDeviceAccessAuthorized;

/*
 * The small device-pool events share these fields; each event fills the ones it carries:
 * client_ice_candidate_error {client_id, reason}, client_device_access_denied {client_id?,
 * ipv4?, ipv6?, resource_id?, reason}, resource_filters_updated {resource_id (the "id"),
 * filters}, reject_access {client_id, resource_id}, device_pool_domain_resolved {resource_id,
 * domain, ipv4, ipv6}, device_pool_domain_resolution_failed {resource_id, domain, reason}.
 */
typedef struct {
        char *client_id;
        char *resource_id;
        char *domain;
        char *ipv4;
        char *ipv6;
        gboolean has_reason;
        KilnPortalFailReason reason;
        GArray *filters;
} KilnPortalPeerEvent;

typedef enum {
        KILN_PORTAL_MESSAGE_INIT,
        KILN_PORTAL_MESSAGE_CONFIG_CHANGED,
        KILN_PORTAL_MESSAGE_RESOURCE_CREATED_OR_UPDATED,
        KILN_PORTAL_MESSAGE_RESOURCE_DELETED,
        KILN_PORTAL_MESSAGE_RELAYS_PRESENCE,
        KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATED,
        KILN_PORTAL_MESSAGE_AUTHORIZATION_CREATION_FAILED,
        KILN_PORTAL_MESSAGE_ICE_CANDIDATES,
        KILN_PORTAL_MESSAGE_INVALIDATE_ICE_CANDIDATES,
        KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATES,
        KILN_PORTAL_MESSAGE_INVALIDATE_CLIENT_ICE_CANDIDATES,
        KILN_PORTAL_MESSAGE_CLIENT_ICE_CANDIDATE_ERROR,
        KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_AUTHORIZED,
        KILN_PORTAL_MESSAGE_CLIENT_DEVICE_ACCESS_DENIED,
        KILN_PORTAL_MESSAGE_RESOURCE_FILTERS_UPDATED,
        KILN_PORTAL_MESSAGE_REJECT_ACCESS,
        KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLVED,
        KILN_PORTAL_MESSAGE_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED,
        KILN_PORTAL_MESSAGE_DISCONNECT,
} KilnPortalMessageKind;

/* A parsed portal → client event.  Reference-counted, immutable once parsed. */
typedef struct {
        KilnPortalMessageKind kind;
        union {
                KilnPortalInit *init;
                KilnPortalInterface *interface; /* config_changed */
                KilnPortalResource *resource;   /* resource_created_or_updated */
                char *resource_id;              /* resource_deleted */
                KilnPortalRelaysPresence *relays_presence;
                KilnPortalAuthorizationCreated *authorization_created;
                KilnPortalAuthorizationFailed *authorization_failed;
                KilnPortalIceCandidates *ice_candidates; /* all four candidate events */
                KilnPortalDeviceAccessAuthorized *device_access_authorized;
                KilnPortalPeerEvent *peer_event; /* the other device-pool events */
                char *disconnect_reason;         /* always "token_expired" */
        };
} KilnPortalMessage;

#define KILN_TYPE_PORTAL_MESSAGE (kiln_portal_message_get_type())
GType kiln_portal_message_get_type(void);

/*
 * Parses the event of a "client" topic frame.  The obsolete access_authorization_expiry_updated
 * is skipped like an unknown event.  Unknown events (and events whose payload
 * Firezone cannot parse, such as a disconnect with a reason other than token_expired) fail
 * with KILN_PORTAL_ERROR_UNKNOWN_EVENT or _INVALID and the reason; the caller skips them.
 */
gboolean kiln_portal_message_parse(const char *event, JsonNode *payload, KilnPortalMessage **ret_message,
                                   GError **error);
KilnPortalMessage *kiln_portal_message_ref(KilnPortalMessage *message);
void kiln_portal_message_unref(KilnPortalMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalMessage, kiln_portal_message_unref)

const char *kiln_portal_message_event_name(const KilnPortalMessage *message);

/*
 * What the client understood, as normalized JSON: {"event":…, …fields…}.  Secrets are not
 * included (the PSK and the raw ingest token are replaced by their lengths / claims).
 */
JsonNode *kiln_portal_message_to_json(const KilnPortalMessage *message);

const char *kiln_portal_fail_reason_to_string(KilnPortalFailReason reason);
const char *kiln_portal_resource_type_to_string(KilnPortalResourceType type);

/* Validators shared with the builders and the session. */
gboolean kiln_portal_is_uuid(const char *text);
gboolean kiln_portal_is_ice_candidate(const char *text);

/* Client → portal (v2 event names, spec §3.2).  Each returns the payload; NULL + error on bad input. */
#define KILN_PORTAL_EVENT_SET_SNOWNET_CAPABILITIES          "set_snownet_capabilities"
#define KILN_PORTAL_EVENT_REQUEST_AUTHORIZATION             "request_authorization"
#define KILN_PORTAL_EVENT_NEW_GATEWAY_ICE_CANDIDATES        "new_gateway_ice_candidates"
#define KILN_PORTAL_EVENT_INVALIDATE_GATEWAY_ICE_CANDIDATES "invalidate_gateway_ice_candidates"
#define KILN_PORTAL_EVENT_NEW_CLIENT_ICE_CANDIDATES         "new_client_ice_candidates"
#define KILN_PORTAL_EVENT_INVALIDATE_CLIENT_ICE_CANDIDATES  "invalidate_client_ice_candidates"
#define KILN_PORTAL_EVENT_NO_RELAYS                         "no_relays"
#define KILN_PORTAL_EVENT_RESOLVE_DEVICE_POOL_DOMAIN        "resolve_device_pool_domain"

JsonNode *kiln_portal_build_set_snownet_capabilities(gboolean iceless);
/* ipv4/ipv6 only for device-pool resources; giving both is the portal's ambiguous_address. */
JsonNode *kiln_portal_build_request_authorization(const char *resource_id,
                                                  const char *const *connected_gateway_ids, const char *ipv4,
                                                  const char *ipv6, GError **error);
/* peer_key is "gateway_id" or "client_id". */
JsonNode *kiln_portal_build_ice_candidates(const char *peer_key, const char *peer_id,
                                           const char *const *candidates, GError **error);
JsonNode *kiln_portal_build_no_relays(void);
JsonNode *kiln_portal_build_resolve_device_pool_domain(const char *resource_id, const char *domain,
                                                       GError **error);

G_END_DECLS
