/* SPDX-License-Identifier: MIT */
/* The test portal's configuration: accounts with their users, sites, gateways, resources and
 * policies; TURN relays (coturn with a static auth secret); lifetimes; the listen address.
 * The JSON schema is documented in tests/portal/README.md.  Loading validates everything, so a
 * reload either yields a complete new configuration or an error and no change. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tests/portal/token.h"

typedef struct {
        char *id;
        char *name;
} TpSite;

typedef struct {
        char *id;
        char *name;
        char *token;
        const TpSite *site;
} TpGateway;

typedef struct {
        char *email;
        char *password;
        char *name;
} TpUser;

typedef struct {
        char *id;
        char *type; /* "dns", "cidr" or "internet" */
        char *name;
        char *address;             /* NULL for internet */
        char *address_description; /* may be NULL */
        char *ip_stack;            /* dns only: "dual", "ipv4_only", "ipv6_only" */
        JsonNode *filters;         /* array of wire-format Filter objects */
        GPtrArray *sites;          /* const TpSite* */
} TpResource;

typedef struct {
        GPtrArray *users;     /* const TpUser*; NULL means every user of the account */
        GPtrArray *resources; /* const TpResource* */
} TpPolicy;

typedef struct {
        char *id;
        char *slug;
        char *name;
        char *identity_provider_id;
        GPtrArray *upstream_do53; /* char* IP addresses */
        char *search_domain;
        GPtrArray *users;     /* TpUser* */
        GPtrArray *sites;     /* TpSite* */
        GPtrArray *gateways;  /* TpGateway* */
        GPtrArray *resources; /* TpResource* */
        GPtrArray *policies;  /* TpPolicy* */
} TpAccount;

typedef struct {
        char *id;
        GPtrArray *addresses; /* "ip:port" / "[ip6]:port" */
        char *secret;
        char *realm;
} TpRelay;

typedef struct {
        char *listen_address;
        guint listen_port;
        gint64 token_lifetime_secs;
        gint64 authorization_timeout_secs;
        gboolean has_secret;
        uint8_t secret[TP_SECRET_LEN];
        GPtrArray *accounts; /* TpAccount* */
        GPtrArray *relays;   /* TpRelay* */
} TpConfig;

TpConfig *tp_config_load_data(const char *data, gssize len, GError **error);
TpConfig *tp_config_load_file(const char *path, GError **error);
void tp_config_free(TpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TpConfig, tp_config_free)

const TpAccount *tp_config_find_account(const TpConfig *config, const char *slug);
const TpUser *tp_account_find_user(const TpAccount *account, const char *email);
const TpResource *tp_account_find_resource(const TpAccount *account, const char *id);
/* The gateway whose token this is, in constant time per candidate; ret_account gets its account. */
const TpGateway *tp_config_find_gateway_by_token(const TpConfig *config, const char *token,
                                                 const TpAccount **ret_account);

/* Whether a policy grants the user the resource. */
gboolean tp_account_user_may_access(const TpAccount *account, const TpUser *user,
                                    const TpResource *resource);
