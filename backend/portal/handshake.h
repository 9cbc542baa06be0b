/* SPDX-License-Identifier: MIT */
/*
 * The HTTP side of connecting to the portal (control-plane spec §1): the v2 login URL and its
 * query, the upgrade headers (X-Authorization, User-Agent, Host), what a refused upgrade's HTTP
 * status and problem+json body mean, and Retry-After.  Pure functions, no IO.
 */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "backend/crypto/encoding.h"

G_BEGIN_DECLS

/* The component/version the portal parses from the User-Agent; it gates features on it. */
#define KILN_PORTAL_COMPONENT      "gui-client"
#define KILN_PORTAL_CLIENT_VERSION "1.5.17"
/* Gateways at Firezone's HEAD are 1.6.x; the portal pairs them with 1.5.x clients. */
#define KILN_PORTAL_GATEWAY_COMPONENT "gateway"
#define KILN_PORTAL_GATEWAY_VERSION   "1.6.0"

/* Which side of the protocol this connection speaks: path, topic, query, User-Agent, events. */
typedef enum {
        KILN_PORTAL_ROLE_CLIENT,
        KILN_PORTAL_ROLE_GATEWAY,
} KilnPortalRole;

/* "client" or "gateway": the Phoenix topic, and the path's first segment. */
const char *kiln_portal_role_topic(KilnPortalRole role);

typedef struct {
        KilnPortalRole role;       /* zero: the client */
        const char *api_url;       /* e.g. "wss://api.firezone.dev/" or "ws://127.0.0.1:8081" */
        const char *external_id;   /* already hashed, see kiln_device_id_external_id() */
        const char *name;          /* nullable: the portal makes one up */
        const char *device_serial; /* nullable; omitted when "123456789"; never sent by a gateway */
        const char *device_uuid;   /* nullable; never sent by a gateway */
} KilnPortalLoginParams;

/*
 * <ws|wss>://host:port/…/client/v2/websocket?external_id=…&name=…&device_serial=…&device_uuid=…
 * &public_key=…, form-urlencoded in that order; a gateway's is /gateway/v2/websocket?external_id=…
 * &name=…&public_key=… (spec §4.1).  http/ws become ws and https/wss become wss;
 * a URL without a port gets 443 even for ws:// (Firezone's quirk); the base query is dropped.
 */
char *kiln_portal_login_url(const KilnPortalLoginParams *params, const uint8_t public_key[static WG_KEY_LEN],
                            GError **error);

/* The Host header: the URL's host only, without the port, as Firezone sends it. */
char *kiln_portal_host_header(const char *login_url);

/* "Bearer <token>" with every whitespace character removed; NULL (omit the header) without a token. */
char *kiln_portal_authorization_header(const char *token);

/*
 * "{os_type}/{os_version} gui-client/1.5.17 ({arch}; {kernel_release})".  os_version is made
 * semver-like (24.04 → 24.4.0) and non-ASCII characters and spaces inside a token are dropped.
 */
char *kiln_portal_user_agent(const char *os_type, const char *os_version, const char *arch,
                             const char *kernel_release);
/* The same with the role's component: "gateway/1.6.0" for a gateway. */
char *kiln_portal_user_agent_for_role(KilnPortalRole role, const char *os_type, const char *os_version,
                                      const char *arch, const char *kernel_release);
/* The same for this machine: /etc/os-release ID and VERSION_ID, uname(2). */
char *kiln_portal_user_agent_for_host(void);
char *kiln_portal_user_agent_for_host_role(KilnPortalRole role);

typedef enum {
        KILN_PORTAL_UPGRADE_RETRY,            /* a hiccup: back off and try again */
        KILN_PORTAL_UPGRADE_SIGN_IN_REQUIRED, /* 401 invalid_token / missing_token */
        KILN_PORTAL_UPGRADE_AUTH_FAILED,      /* any other 401: fatal, but no sign-in prompt */
} KilnPortalUpgradeVerdict;

/*
 * What a refused upgrade means (spec §1.4): only HTTP 401 is fatal.  content_type and body
 * may be NULL.  ret_detail gets the problem's detail (or code) when there is one.
 */
KilnPortalUpgradeVerdict kiln_portal_classify_refused_upgrade(guint status, const char *content_type,
                                                              const char *body, gsize body_len,
                                                              char **ret_detail);

/* Retry-After: integer seconds or an IMF-fixdate (a past date means 0).  FALSE when unparseable. */
gboolean kiln_portal_parse_retry_after(const char *value, gint64 now_unix, guint64 *ret_seconds);

G_END_DECLS
