/* SPDX-License-Identifier: MIT */
#include "tests/portal/portal.h"

#include <libsoup/soup.h>
#include <sodium.h>
#include <string.h>

#include "tests/portal/credentials.h"
#include "tests/portal/handshake.h"
#include "tests/portal/phoenix.h"
#include "tests/portal/signin.h"
#include "tests/portal/version.h"
#include "tests/portal/views.h"

/* The real portal closes a socket idle for 37 s; clients heartbeat every 10 s. */
#define IDLE_TIMEOUT_SECS 37
/* 100.64.0.0/11 and fd00:2021:1111::/107 both hold 2^21 addresses. */
#define POOL_BITS 21
#define POOL_SIZE (1u << POOL_BITS)

typedef struct {
        char *client_id;
        char *resource_id;
        gint64 expires_at;
} TpGrant;

typedef struct _TpSession TpSession;

struct _TpPortal {
        SoupServer *server;
        TpConfig *config;
        char *config_path;
        GHashTable *clients;   /* client id → TpSession* */
        GHashTable *gateways;  /* gateway id → TpSession* */
        GHashTable *pending;   /* ref → TpPending* */
        GHashTable *addresses; /* device key → pool index */
        GHashTable *used;      /* pool index → device key */
        GHashTable *psk_bases; /* device key → 32 random bytes */
        GHashTable *grants;    /* gateway id → GPtrArray of TpGrant*, for init resync */
};

struct _TpSession {
        TpPortal *portal;
        SoupWebsocketConnection *ws;
        TpRole role;
        char *account_slug;
        char *email;
        char *id;
        char *device_key;
        char *name;
        char *public_key;
        char *version;
        gboolean use_sites;
        char *ipv4;
        char *ipv6;
        gint64 expires_at;
        gboolean joined;
        guint expiry_timer;
        guint idle_timer;
        GHashTable *sent_resources; /* resource id → rendered JSON */
        GHashTable *sent_relays;    /* relay id → TRUE */
        char *sent_interface;
};

typedef struct {
        TpPortal *portal;
        char *ref;
        char *client_id;
        char *gateway_id;
        char *resource_id;
        JsonNode *client_payload; /* authorization_created for the client, ready to send */
        gint64 expires_at;
        guint timer;
} TpPending;

static void grant_free(TpGrant *g)
{
        g_free(g->client_id);
        g_free(g->resource_id);
        g_free(g);
}

static void pending_free(TpPending *p)
{
        g_clear_handle_id(&p->timer, g_source_remove);
        g_free(p->ref);
        g_free(p->client_id);
        g_free(p->gateway_id);
        g_free(p->resource_id);
        g_clear_pointer(&p->client_payload, json_node_unref);
        g_free(p);
}

static void psk_base_free(gpointer base)
{
        sodium_memzero(base, TP_PSK_BASE_LEN);
        g_free(base);
}

static gint64 now_secs(void)
{
        return g_get_real_time() / G_USEC_PER_SEC;
}

static const char *role_topic(TpRole role)
{
        return role == TP_ROLE_CLIENT ? "client" : "gateway";
}

/* ---- sending -------------------------------------------------------------------------------- */

static void session_send_text(TpSession *s, const char *text)
{
        if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                soup_websocket_connection_send_text(s->ws, text);
}

/* Pushes an event on the session's topic with a null ref; takes ownership of payload. */
static void session_push(TpSession *s, const char *event, JsonNode *payload)
{
        g_autofree char *text = tp_frame_build(role_topic(s->role), event, payload, FALSE, 0);

        g_debug("→ %s %s: %s", role_topic(s->role), s->id, event);
        session_send_text(s, text);
        json_node_unref(payload);
}

static void session_reply(TpSession *s, const char *topic, gint64 ref, const char *status,
                          JsonNode *response)
{
        g_autofree char *text = tp_frame_build_reply(topic, ref, status, response);

        session_send_text(s, text);
        if (response)
                json_node_unref(response);
}

static JsonNode *reason_object(const char *reason)
{
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "reason", reason);
        return json_node_init_object(json_node_alloc(), o);
}

static void session_disconnect(TpSession *s, const char *reason)
{
        if (s->joined)
                session_push(s, "disconnect", reason_object(reason));
        soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, reason);
}

/* ---- addresses and per-device secrets ----------------------------------------------------- */

static void allocate_addresses(TpPortal *p, TpSession *s)
{
        gpointer found;
        guint idx;

        if (g_hash_table_lookup_extended(p->addresses, s->device_key, NULL, &found)) {
                idx = GPOINTER_TO_UINT(found);
        } else {
                uint8_t digest[32];
                gsize len = sizeof(digest);
                g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);

                g_checksum_update(sum, (const guchar *)s->device_key, -1);
                g_checksum_get_digest(sum, digest, &len);
                /* Stable per device: start at a hash of its key, probe past collisions; skip
                 * the network and broadcast-looking ends of the pool. */
                idx = ((guint)digest[0] << 16 | (guint)digest[1] << 8 | digest[2]) % (POOL_SIZE - 2) + 1;
                while (g_hash_table_contains(p->used, GUINT_TO_POINTER(idx)))
                        idx = idx % (POOL_SIZE - 2) + 1;
                g_hash_table_insert(p->addresses, g_strdup(s->device_key), GUINT_TO_POINTER(idx));
                g_hash_table_insert(p->used, GUINT_TO_POINTER(idx), g_strdup(s->device_key));
        }
        {
                guint8 v4[4] = { 100, (guint8)(64 | (idx >> 16)), (guint8)(idx >> 8), (guint8)idx };
                guint8 v6[16] = { 0xfd,
                                  0x00,
                                  0x20,
                                  0x21,
                                  0x11,
                                  0x11,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  (guint8)(idx >> 16),
                                  (guint8)(idx >> 8),
                                  (guint8)idx };
                g_autoptr(GInetAddress) a4 = g_inet_address_new_from_bytes(v4, G_SOCKET_FAMILY_IPV4);
                g_autoptr(GInetAddress) a6 = g_inet_address_new_from_bytes(v6, G_SOCKET_FAMILY_IPV6);

                s->ipv4 = g_inet_address_to_string(a4);
                s->ipv6 = g_inet_address_to_string(a6);
        }
}

static const uint8_t *psk_base(TpPortal *p, const char *device_key)
{
        uint8_t *base = g_hash_table_lookup(p->psk_bases, device_key);

        if (!base) {
                base = g_malloc(TP_PSK_BASE_LEN);
                randombytes_buf(base, TP_PSK_BASE_LEN);
                g_hash_table_insert(p->psk_bases, g_strdup(device_key), base);
        }
        return base;
}

/* ---- lookups against the current configuration ------------------------------------------- */

static const TpAccount *session_account(TpSession *s)
{
        return tp_config_find_account(s->portal->config, s->account_slug);
}

static const TpUser *session_user(TpSession *s)
{
        const TpAccount *a = session_account(s);

        return a && s->email ? tp_account_find_user(a, s->email) : NULL;
}

static const TpGateway *gateway_by_id(const TpAccount *a, const char *id)
{
        for (guint i = 0; a && i < a->gateways->len; i++) {
                const TpGateway *g = g_ptr_array_index(a->gateways, i);

                if (g_str_equal(g->id, id))
                        return g;
        }
        return NULL;
}

/* The resources this client's user may see, rendered, by id. */
static GHashTable *visible_resources(TpSession *s)
{
        GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        const TpAccount *a = session_account(s);
        const TpUser *u = session_user(s);

        for (guint i = 0; a && u && i < a->resources->len; i++) {
                const TpResource *r = g_ptr_array_index(a->resources, i);
                g_autoptr(JsonNode) view = NULL;

                if (!tp_account_user_may_access(a, u, r))
                        continue;
                view = tp_view_client_resource(r, s->use_sites);
                g_hash_table_insert(out, g_strdup(r->id), json_to_string(view, FALSE));
        }
        return out;
}

static JsonNode *parse_json(const char *text)
{
        return json_from_string(text, NULL);
}

static gint64 relay_expiry(TpSession *s)
{
        return s->role == TP_ROLE_CLIENT ? s->expires_at : TP_GATEWAY_RELAY_EXPIRY;
}

static void remember_relays(TpSession *s)
{
        g_hash_table_remove_all(s->sent_relays);
        for (guint i = 0; i < s->portal->config->relays->len; i++) {
                const TpRelay *r = g_ptr_array_index(s->portal->config->relays, i);

                g_hash_table_add(s->sent_relays, g_strdup(r->id));
        }
}

/* ---- init ---------------------------------------------------------------------------------- */

static void send_client_init(TpSession *s)
{
        const TpAccount *a = session_account(s);
        g_autoptr(GHashTable) resources = visible_resources(s);
        JsonObject *payload = json_object_new();
        JsonArray *list = json_array_new();
        JsonNode *interface = tp_view_client_interface(a, s->ipv4, s->ipv6);
        GHashTableIter it;
        gpointer id, text;

        g_hash_table_remove_all(s->sent_resources);
        g_hash_table_iter_init(&it, resources);
        while (g_hash_table_iter_next(&it, &id, &text)) {
                json_array_add_element(list, parse_json(text));
                g_hash_table_insert(s->sent_resources, g_strdup(id), g_strdup(text));
        }
        g_free(s->sent_interface);
        s->sent_interface = json_to_string(interface, FALSE);
        json_object_set_member(payload, "interface", interface);
        json_object_set_array_member(payload, "resources", list);
        json_object_set_member(payload, "relays",
                               tp_view_relays(s->portal->config, s->public_key, s->expires_at));
        json_object_set_array_member(payload, "authorizations", json_array_new());
        json_object_set_member(payload, "flow_logs", tp_view_flow_logs());
        remember_relays(s);
        session_push(s, "init", json_node_init_object(json_node_alloc(), payload));
}

static void send_gateway_init(TpSession *s)
{
        GPtrArray *grants = g_hash_table_lookup(s->portal->grants, s->id);
        JsonObject *payload = json_object_new();
        JsonObject *config = json_object_new();
        JsonArray *auths = json_array_new();
        gint64 now = now_secs();

        json_object_set_member(payload, "interface", tp_view_gateway_interface(s->ipv4, s->ipv6));
        json_object_set_boolean_member(config, "ipv4_masquerade_enabled", TRUE);
        json_object_set_boolean_member(config, "ipv6_masquerade_enabled", TRUE);
        json_object_set_object_member(payload, "config", config);
        json_object_set_member(payload, "relays",
                               tp_view_relays(s->portal->config, s->public_key, TP_GATEWAY_RELAY_EXPIRY));
        json_object_set_string_member(payload, "account_slug", s->account_slug);
        for (guint i = 0; grants && i < grants->len; i++) {
                const TpGrant *g = g_ptr_array_index(grants, i);
                JsonObject *o;

                if (g->expires_at <= now)
                        continue;
                o = json_object_new();
                json_object_set_string_member(o, "client_id", g->client_id);
                json_object_set_string_member(o, "resource_id", g->resource_id);
                json_object_set_int_member(o, "expires_at", g->expires_at);
                json_array_add_object_element(auths, o);
        }
        json_object_set_array_member(payload, "authorizations", auths);
        json_object_set_member(payload, "flow_logs", tp_view_flow_logs());
        remember_relays(s);
        session_push(s, "init", json_node_init_object(json_node_alloc(), payload));
}

/* ---- authorizations ------------------------------------------------------------------------ */

static void push_failure(TpSession *client, const char *resource_id, const char *reason)
{
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "resource_id", resource_id);
        json_object_set_string_member(o, "reason", reason);
        session_push(client, "authorization_creation_failed", json_node_init_object(json_node_alloc(), o));
}

static gboolean pending_timed_out(gpointer data)
{
        TpPending *p = data;
        TpSession *client = g_hash_table_lookup(p->portal->clients, p->client_id);

        p->timer = 0;
        g_message("authorization %s: gateway %s did not confirm in time", p->ref, p->gateway_id);
        if (client)
                push_failure(client, p->resource_id, "offline");
        g_hash_table_remove(p->portal->pending, p->ref);
        return G_SOURCE_REMOVE;
}

static gboolean id_in_array(JsonArray *ids, const char *id)
{
        for (guint i = 0; ids && i < json_array_get_length(ids); i++) {
                JsonNode *n = json_array_get_element(ids, i);

                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
                    g_str_equal(json_node_get_string(n), id))
                        return TRUE;
        }
        return FALSE;
}

/* A connected gateway of one of the resource's sites whose version serves this client,
 * preferring those the client already has a tunnel with (multiplexing, as the real portal
 * does).  ret_reason says why there is none: "offline" or "version_mismatch". */
static TpSession *pick_gateway(TpPortal *p, TpSession *client, const TpAccount *a, const TpResource *r,
                               JsonArray *connected, const char **ret_reason)
{
        TpSession *fallback = NULL;
        gboolean any_online = FALSE;

        for (guint i = 0; i < a->gateways->len; i++) {
                const TpGateway *g = g_ptr_array_index(a->gateways, i);
                TpSession *gs = g_hash_table_lookup(p->gateways, g->id);

                if (!gs || !gs->joined || !g_ptr_array_find(r->sites, g->site, NULL))
                        continue;
                any_online = TRUE;
                if (!tp_gateway_compatible(client->version, gs->version))
                        continue;
                if (id_in_array(connected, g->id))
                        return gs;
                if (!fallback)
                        fallback = gs;
        }
        *ret_reason = any_online ? "version_mismatch" : "offline";
        return fallback;
}

static JsonNode *ice_object(const char *username, const char *password)
{
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "username", username);
        json_object_set_string_member(o, "password", password);
        return json_node_init_object(json_node_alloc(), o);
}

static const char *string_member(JsonNode *payload, const char *member)
{
        JsonNode *n;

        if (!payload || !JSON_NODE_HOLDS_OBJECT(payload))
                return NULL;
        n = json_object_get_member(json_node_get_object(payload), member);
        if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(n);
}

static JsonArray *array_member(JsonNode *payload, const char *member)
{
        JsonNode *n;

        if (!payload || !JSON_NODE_HOLDS_OBJECT(payload))
                return NULL;
        n = json_object_get_member(json_node_get_object(payload), member);
        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static void handle_request_authorization(TpSession *s, JsonNode *payload)
{
        TpPortal *p = s->portal;
        const char *resource_id = string_member(payload, "resource_id");
        const TpAccount *a = session_account(s);
        const TpUser *u = session_user(s);
        const TpResource *r = resource_id && a ? tp_account_find_resource(a, resource_id) : NULL;
        TpSession *gs;
        const TpGateway *g;
        TpPending *pending;
        TpIceCredentials ice;
        TpIngestClaims claims;
        g_autofree char *psk = NULL;
        g_autofree char *client_token = NULL;
        g_autofree char *gateway_token = NULL;
        g_autofree char *auth_id = NULL;
        uint8_t ref_bytes[18];
        JsonObject *client_msg, *gateway_msg, *client_info, *subject;
        const char *reason = "offline";
        gint64 now = now_secs();

        if (!resource_id) {
                g_message("client %s: request_authorization without resource_id", s->id);
                return;
        }
        g_message("client %s: request_authorization for %s", s->id, resource_id);
        if (!r || !u || !tp_account_user_may_access(a, u, r)) {
                push_failure(s, resource_id, "not_found");
                return;
        }
        gs = pick_gateway(p, s, a, r, array_member(payload, "connected_gateway_ids"), &reason);
        if (!gs) {
                push_failure(s, resource_id, reason);
                return;
        }
        g = gateway_by_id(a, gs->id);
        if (!g) {
                push_failure(s, resource_id, "offline");
                return;
        }

        tp_ice_credentials(&ice, s->id, s->public_key, gs->id, gs->public_key);
        psk = tp_psk(psk_base(p, s->device_key), psk_base(p, gs->device_key), s->id, gs->id, s->public_key,
                     gs->public_key);
        randombytes_buf(ref_bytes, sizeof(ref_bytes));
        auth_id = tp_uuid_from_name("authorization", psk);
        claims = (TpIngestClaims){
                .role = "initiator",
                .account = a,
                .user = u,
                .resource = r,
                .client_id = s->id,
                .client_version = s->version,
                .gateway_id = gs->id,
                .authorization_id = auth_id,
                .authorized_at = now,
                .expires_at = s->expires_at,
        };
        client_token = tp_ingest_token(&claims);
        claims.role = "responder";
        gateway_token = tp_ingest_token(&claims);

        pending = g_new0(TpPending, 1);
        pending->portal = p;
        pending->ref = tp_base64url_encode(ref_bytes, sizeof(ref_bytes));
        pending->client_id = g_strdup(s->id);
        pending->gateway_id = g_strdup(gs->id);
        pending->resource_id = g_strdup(r->id);
        pending->expires_at = s->expires_at;

        client_msg = json_object_new();
        json_object_set_string_member(client_msg, "resource_id", r->id);
        json_object_set_string_member(client_msg, "gateway_id", gs->id);
        json_object_set_string_member(client_msg, "gateway_public_key", gs->public_key);
        json_object_set_string_member(client_msg, "gateway_ipv4", gs->ipv4);
        json_object_set_string_member(client_msg, "gateway_ipv6", gs->ipv6);
        json_object_set_string_member(client_msg, s->use_sites ? "site_id" : "gateway_group_id",
                                      g->site->id);
        json_object_set_string_member(client_msg, "preshared_key", psk);
        json_object_set_member(client_msg, "client_ice_credentials",
                               ice_object(ice.initiator_username, ice.initiator_password));
        json_object_set_member(client_msg, "gateway_ice_credentials",
                               ice_object(ice.receiver_username, ice.receiver_password));
        json_object_set_boolean_member(client_msg, "use_iceless", FALSE);
        json_object_set_string_member(client_msg, "flow_logs_ingest_token", client_token);
        pending->client_payload = json_node_init_object(json_node_alloc(), client_msg);

        gateway_msg = json_object_new();
        json_object_set_string_member(gateway_msg, "ref", pending->ref);
        json_object_set_member(gateway_msg, "resource", tp_view_gateway_resource(r));
        client_info = json_object_new();
        json_object_set_string_member(client_info, "id", s->id);
        json_object_set_string_member(client_info, "public_key", s->public_key);
        json_object_set_string_member(client_info, "preshared_key", psk);
        json_object_set_string_member(client_info, "ipv4", s->ipv4);
        json_object_set_string_member(client_info, "ipv6", s->ipv6);
        json_object_set_string_member(client_info, "version", s->version);
        json_object_set_null_member(client_info, "device_serial");
        json_object_set_null_member(client_info, "device_os_name");
        json_object_set_null_member(client_info, "device_os_version");
        json_object_set_null_member(client_info, "device_uuid");
        json_object_set_null_member(client_info, "firebase_installation_id");
        json_object_set_null_member(client_info, "identifier_for_vendor");
        json_object_set_object_member(gateway_msg, "client", client_info);
        json_object_set_member(gateway_msg, "client_ice_credentials",
                               ice_object(ice.initiator_username, ice.initiator_password));
        json_object_set_member(gateway_msg, "gateway_ice_credentials",
                               ice_object(ice.receiver_username, ice.receiver_password));
        json_object_set_int_member(gateway_msg, "expires_at", s->expires_at);
        json_object_set_boolean_member(gateway_msg, "use_iceless", FALSE);
        json_object_set_string_member(gateway_msg, "flow_logs_ingest_token", gateway_token);
        subject = json_object_new();
        {
                g_autofree char *actor_id = tp_uuid_from_name("actor", u->email);

                json_object_set_string_member(subject, "actor_id", actor_id);
        }
        json_object_set_string_member(subject, "actor_name", u->name);
        json_object_set_string_member(subject, "actor_email", u->email);
        json_object_set_string_member(subject, "auth_provider_id", a->identity_provider_id);
        json_object_set_object_member(gateway_msg, "subject", subject);

        pending->timer =
            g_timeout_add_seconds((guint)p->config->authorization_timeout_secs, pending_timed_out, pending);
        g_hash_table_insert(p->pending, pending->ref, pending);
        g_message("client %s asks for %s; create_authorization %s to gateway %s", s->id, r->name,
                  pending->ref, gs->id);
        session_push(gs, "create_authorization", json_node_init_object(json_node_alloc(), gateway_msg));
        sodium_memzero(psk, strlen(psk));
}

static void record_grant(TpPortal *p, const TpPending *pending)
{
        GPtrArray *grants = g_hash_table_lookup(p->grants, pending->gateway_id);
        TpGrant *g;

        if (!grants) {
                grants = g_ptr_array_new_with_free_func((GDestroyNotify)grant_free);
                g_hash_table_insert(p->grants, g_strdup(pending->gateway_id), grants);
        }
        for (guint i = 0; i < grants->len; i++) {
                g = g_ptr_array_index(grants, i);
                if (g_str_equal(g->client_id, pending->client_id) &&
                    g_str_equal(g->resource_id, pending->resource_id)) {
                        g->expires_at = pending->expires_at;
                        return;
                }
        }
        g = g_new0(TpGrant, 1);
        g->client_id = g_strdup(pending->client_id);
        g->resource_id = g_strdup(pending->resource_id);
        g->expires_at = pending->expires_at;
        g_ptr_array_add(grants, g);
}

static void handle_gateway_authorization_created(TpSession *gs, const TpFrame *f)
{
        TpPortal *p = gs->portal;
        const char *ref = string_member(f->payload, "ref");
        TpPending *pending = ref ? g_hash_table_lookup(p->pending, ref) : NULL;
        TpSession *client;

        if (!pending || !g_str_equal(pending->gateway_id, gs->id)) {
                if (f->has_ref)
                        session_reply(gs, f->topic, f->ref, "error", reason_object("invalid_ref"));
                return;
        }
        if (f->has_ref)
                session_reply(gs, f->topic, f->ref, "ok", NULL);
        record_grant(p, pending);
        client = g_hash_table_lookup(p->clients, pending->client_id);
        if (client) {
                g_message("gateway %s confirmed %s; authorization_created to client %s", gs->id, ref,
                          client->id);
                session_push(client, "authorization_created", json_node_ref(pending->client_payload));
        }
        g_hash_table_remove(p->pending, ref);
}

/* Forwards candidate strings only; anything else in the array is dropped here already. */
static JsonNode *candidates_copy(JsonArray *in)
{
        JsonArray *out = json_array_new();

        for (guint i = 0; in && i < json_array_get_length(in); i++) {
                JsonNode *n = json_array_get_element(in, i);

                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
                        json_array_add_string_element(out, json_node_get_string(n));
        }
        return json_node_init_array(json_node_alloc(), out);
}

static void forward_candidates(TpSession *to, const char *id_member, const char *id, const char *event,
                               JsonArray *candidates)
{
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, id_member, id);
        json_object_set_member(o, "candidates", candidates_copy(candidates));
        session_push(to, event, json_node_init_object(json_node_alloc(), o));
}

static void handle_client_candidates(TpSession *s, JsonNode *payload, const char *event)
{
        const char *gateway_id = string_member(payload, "gateway_id");
        TpSession *gs = gateway_id ? g_hash_table_lookup(s->portal->gateways, gateway_id) : NULL;

        if (!gs || !gs->joined || !g_str_equal(gs->account_slug, s->account_slug))
                return;
        forward_candidates(gs, "client_id", s->id, event, array_member(payload, "candidates"));
}

static void handle_gateway_candidates(TpSession *gs, JsonNode *payload, const char *event)
{
        JsonArray *ids = array_member(payload, "client_ids");

        for (guint i = 0; ids && i < json_array_get_length(ids); i++) {
                JsonNode *n = json_array_get_element(ids, i);
                TpSession *c;

                if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
                        continue;
                c = g_hash_table_lookup(gs->portal->clients, json_node_get_string(n));
                if (c && c->joined && g_str_equal(c->account_slug, gs->account_slug))
                        forward_candidates(c, "gateway_id", gs->id, event,
                                           array_member(payload, "candidates"));
        }
}

static void push_all_relays(TpSession *s)
{
        JsonObject *o = json_object_new();

        json_object_set_array_member(o, "disconnected_ids", json_array_new());
        json_object_set_member(o, "connected",
                               tp_view_relays(s->portal->config, s->public_key, relay_expiry(s)));
        remember_relays(s);
        session_push(s, "relays_presence", json_node_init_object(json_node_alloc(), o));
}

/* ---- frames -------------------------------------------------------------------------------- */

static void handle_channel_message(TpSession *s, const TpFrame *f)
{
        if (s->role == TP_ROLE_CLIENT) {
                if (g_str_equal(f->event, "request_authorization"))
                        handle_request_authorization(s, f->payload);
                else if (g_str_equal(f->event, "new_gateway_ice_candidates"))
                        handle_client_candidates(s, f->payload, "ice_candidates");
                else if (g_str_equal(f->event, "invalidate_gateway_ice_candidates"))
                        handle_client_candidates(s, f->payload, "invalidate_ice_candidates");
                else if (g_str_equal(f->event, "no_relays"))
                        push_all_relays(s);
                else if (!g_str_equal(f->event, "set_snownet_capabilities") && f->has_ref)
                        session_reply(s, f->topic, f->ref, "error", reason_object("unknown_message"));
                return;
        }
        if (g_str_equal(f->event, "authorization_created"))
                handle_gateway_authorization_created(s, f);
        else if (g_str_equal(f->event, "broadcast_ice_candidates"))
                handle_gateway_candidates(s, f->payload, "ice_candidates");
        else if (g_str_equal(f->event, "broadcast_invalidated_ice_candidates"))
                handle_gateway_candidates(s, f->payload, "invalidate_ice_candidates");
        else if (g_str_equal(f->event, "no_relays"))
                push_all_relays(s);
        else if (!g_str_equal(f->event, "set_snownet_capabilities") && f->has_ref)
                session_reply(s, f->topic, f->ref, "error", reason_object("unknown_message"));
}

static void handle_frame(TpSession *s, const TpFrame *f)
{
        const char *topic = role_topic(s->role);

        if (g_str_equal(f->topic, "phoenix")) {
                if (g_str_equal(f->event, "heartbeat") && f->has_ref)
                        session_reply(s, "phoenix", f->ref, "ok", NULL);
                return;
        }
        if (!g_str_equal(f->topic, topic)) {
                if (f->has_ref)
                        session_reply(s, f->topic, f->ref, "error", reason_object("unmatched topic"));
                return;
        }
        if (g_str_equal(f->event, "phx_join")) {
                if (f->has_ref)
                        session_reply(s, topic, f->ref, "ok", NULL);
                s->joined = TRUE;
                if (s->role == TP_ROLE_CLIENT)
                        send_client_init(s);
                else
                        send_gateway_init(s);
                return;
        }
        if (!s->joined) {
                if (f->has_ref)
                        session_reply(s, f->topic, f->ref, "error", reason_object("unmatched topic"));
                return;
        }
        if (g_str_equal(f->event, "phx_leave")) {
                s->joined = FALSE;
                if (f->has_ref)
                        session_reply(s, topic, f->ref, "ok", NULL);
                return;
        }
        handle_channel_message(s, f);
}

static gboolean idle_timed_out(gpointer data)
{
        TpSession *s = data;

        s->idle_timer = 0;
        g_message("%s %s: idle for %d s, closing", role_topic(s->role), s->id, IDLE_TIMEOUT_SECS);
        soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "idle");
        return G_SOURCE_REMOVE;
}

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
        TpSession *s = data;
        g_auto(TpFrame) frame = { 0 };
        g_autoptr(GError) error = NULL;
        gsize len;
        const char *text = g_bytes_get_data(message, &len);

        g_clear_handle_id(&s->idle_timer, g_source_remove);
        s->idle_timer = g_timeout_add_seconds(IDLE_TIMEOUT_SECS, idle_timed_out, s);
        if (type != SOUP_WEBSOCKET_DATA_TEXT)
                return;
        if (!tp_frame_parse(text ? text : "", len, &frame, &error)) {
                g_message("%s %s: dropped frame: %s", role_topic(s->role), s->id, error->message);
                return;
        }
        g_debug("← %s %s: %s %s", role_topic(s->role), s->id, frame.topic, frame.event);
        handle_frame(s, &frame);
}

/* ---- session lifecycle --------------------------------------------------------------------- */

static void session_free(TpSession *s)
{
        g_clear_handle_id(&s->expiry_timer, g_source_remove);
        g_clear_handle_id(&s->idle_timer, g_source_remove);
        g_signal_handlers_disconnect_by_data(s->ws, s);
        g_clear_object(&s->ws);
        g_free(s->account_slug);
        g_free(s->email);
        g_free(s->id);
        g_free(s->device_key);
        g_free(s->name);
        g_free(s->public_key);
        g_free(s->version);
        g_free(s->ipv4);
        g_free(s->ipv6);
        g_free(s->sent_interface);
        g_clear_pointer(&s->sent_resources, g_hash_table_unref);
        g_clear_pointer(&s->sent_relays, g_hash_table_unref);
        g_free(s);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data)
{
        TpSession *s = data;
        GHashTable *table = s->role == TP_ROLE_CLIENT ? s->portal->clients : s->portal->gateways;

        g_message("%s %s (%s) disconnected", role_topic(s->role), s->id, s->name);
        if (g_hash_table_lookup(table, s->id) == s)
                g_hash_table_remove(table, s->id);
        else
                session_free(s);
}

static gboolean token_expired(gpointer data)
{
        TpSession *s = data;

        s->expiry_timer = 0;
        g_message("client %s: token expired", s->id);
        session_disconnect(s, "token_expired");
        return G_SOURCE_REMOVE;
}

static GHashTable *request_query(SoupServerMessage *msg)
{
        const char *q = g_uri_get_query(soup_server_message_get_uri(msg));

        return q ? soup_form_decode(q) : NULL;
}

static TpRole path_role(const char *path)
{
        return g_str_has_prefix(path, "/client/") ? TP_ROLE_CLIENT : TP_ROLE_GATEWAY;
}

static gboolean check_upgrade(TpPortal *p, SoupServerMessage *msg, const char *path, TpConnectInfo *ret_info,
                              TpProblem *ret_problem)
{
        SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
        g_autoptr(GHashTable) query = request_query(msg);

        if (!tp_handshake_check(
                p->config, path_role(path), query, soup_message_headers_get_one(h, "X-Authorization"),
                soup_message_headers_get_one(h, "User-Agent"), now_secs(), ret_info, ret_problem))
                return FALSE;
        if (ret_info->role == TP_ROLE_GATEWAY && g_hash_table_contains(p->gateways, ret_info->gateway->id)) {
                tp_connect_info_clear(ret_info);
                ret_problem->status = 409;
                ret_problem->code = "gateway_already_connected";
                ret_problem->detail = g_strdup("Gateway already connected");
                return FALSE;
        }
        return TRUE;
}

/* Runs before the WebSocket handshake: a refusal set here stops the upgrade. */
static void websocket_precheck(SoupServer *server, SoupServerMessage *msg, const char *path,
                               GHashTable *query, gpointer data)
{
        g_auto(TpConnectInfo) info = { 0 };
        g_auto(TpProblem) problem = { 0 };
        g_autofree char *body = NULL;

        if (check_upgrade(data, msg, path, &info, &problem))
                return;
        g_message("refused %s upgrade: %u %s (%s)", path, problem.status, problem.code, problem.detail);
        body = tp_problem_to_json(&problem);
        soup_server_message_set_response(msg, "application/problem+json", SOUP_MEMORY_COPY, body,
                                         strlen(body));
        soup_server_message_set_status(msg, problem.status, NULL);
}

static void websocket_opened(SoupServer *server, SoupServerMessage *msg, const char *path,
                             SoupWebsocketConnection *ws, gpointer data)
{
        TpPortal *p = data;
        g_auto(TpConnectInfo) info = { 0 };
        g_auto(TpProblem) problem = { 0 };
        TpSession *s, *old;
        GHashTable *table;

        /* A reload or a racing gateway socket may have come between the precheck and here. */
        if (!check_upgrade(p, msg, path, &info, &problem)) {
                g_message("closing %s socket after the upgrade: %s", path, problem.detail);
                soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, problem.code);
                return;
        }
        s = g_new0(TpSession, 1);
        s->portal = p;
        s->ws = g_object_ref(ws);
        s->role = info.role;
        s->account_slug = g_strdup(info.account->slug);
        s->name = g_strdup(info.name);
        s->public_key = g_strdup(info.public_key);
        s->version = g_strdup(info.version);
        s->use_sites = tp_client_uses_sites(info.component, info.version);
        s->sent_resources = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        s->sent_relays = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (s->role == TP_ROLE_CLIENT) {
                s->email = g_strdup(info.user->email);
                s->device_key = g_strdup_printf("client:%s:%s", info.account->slug, info.external_id);
                s->id = tp_uuid_from_name("client", s->device_key + strlen("client:"));
                s->expires_at = info.expires_at;
                table = p->clients;
        } else {
                s->id = g_strdup(info.gateway->id);
                s->device_key = g_strdup_printf("gateway:%s", info.gateway->id);
                table = p->gateways;
        }
        allocate_addresses(p, s);
        g_signal_connect(ws, "message", G_CALLBACK(on_message), s);
        g_signal_connect(ws, "closed", G_CALLBACK(on_closed), s);
        s->idle_timer = g_timeout_add_seconds(IDLE_TIMEOUT_SECS, idle_timed_out, s);
        if (s->role == TP_ROLE_CLIENT) {
                gint64 left = s->expires_at - now_secs();

                s->expiry_timer = g_timeout_add_seconds((guint)CLAMP(left, 0, G_MAXINT32), token_expired, s);
        }
        old = g_hash_table_lookup(table, s->id);
        if (old) {
                /* The same device connected again: the newer socket wins, as a reconnect. */
                g_hash_table_steal(table, s->id);
                soup_websocket_connection_close(old->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "replaced");
        }
        g_hash_table_insert(table, s->id, s);
        g_message("%s %s (%s, %s/%s) connected: %s %s", role_topic(s->role), s->id, s->name, info.component,
                  s->version, s->ipv4, s->ipv6);
}

/* ---- reload -------------------------------------------------------------------------------- */

static void push_resource_diff(TpSession *s)
{
        g_autoptr(GHashTable) now = visible_resources(s);
        GHashTableIter it;
        gpointer id, text;

        g_hash_table_iter_init(&it, s->sent_resources);
        while (g_hash_table_iter_next(&it, &id, &text)) {
                if (g_hash_table_contains(now, id))
                        continue;
                session_push(s, "resource_deleted", json_node_init_string(json_node_alloc(), id));
                g_hash_table_iter_remove(&it);
        }
        g_hash_table_iter_init(&it, now);
        while (g_hash_table_iter_next(&it, &id, &text)) {
                const char *before = g_hash_table_lookup(s->sent_resources, id);

                if (before && g_str_equal(before, text))
                        continue;
                session_push(s, "resource_created_or_updated", parse_json(text));
                g_hash_table_insert(s->sent_resources, g_strdup(id), g_strdup(text));
        }
}

static void push_interface_diff(TpSession *s)
{
        g_autoptr(JsonNode) interface = tp_view_client_interface(session_account(s), s->ipv4, s->ipv6);
        g_autofree char *text = json_to_string(interface, FALSE);
        JsonObject *o;

        if (s->sent_interface && g_str_equal(s->sent_interface, text))
                return;
        g_free(s->sent_interface);
        s->sent_interface = g_steal_pointer(&text);
        o = json_object_new();
        json_object_set_member(o, "interface", json_node_ref(interface));
        session_push(s, "config_changed", json_node_init_object(json_node_alloc(), o));
}

static void push_relay_diff(TpSession *s)
{
        const TpConfig *c = s->portal->config;
        JsonArray *gone = json_array_new();
        JsonArray *came = json_array_new();
        g_autoptr(GHashTable) current = g_hash_table_new(g_str_hash, g_str_equal);
        GHashTableIter it;
        gpointer id;
        JsonObject *o;

        for (guint i = 0; i < c->relays->len; i++) {
                const TpRelay *r = g_ptr_array_index(c->relays, i);

                g_hash_table_add(current, r->id);
                if (!g_hash_table_contains(s->sent_relays, r->id))
                        tp_view_add_relays(came, r, s->public_key, relay_expiry(s));
        }
        g_hash_table_iter_init(&it, s->sent_relays);
        while (g_hash_table_iter_next(&it, &id, NULL))
                if (!g_hash_table_contains(current, id))
                        json_array_add_string_element(gone, id);
        if (json_array_get_length(gone) == 0 && json_array_get_length(came) == 0) {
                json_array_unref(gone);
                json_array_unref(came);
                return;
        }
        remember_relays(s);
        o = json_object_new();
        json_object_set_array_member(o, "disconnected_ids", gone);
        json_object_set_array_member(o, "connected", came);
        session_push(s, "relays_presence", json_node_init_object(json_node_alloc(), o));
}

/* Gateways hear about changes to resources they hold grants for: resource_updated when it
 * changed, reject_access when it is gone. */
static void push_gateway_resource_diff(TpSession *gs, const TpConfig *old_config)
{
        GPtrArray *grants = g_hash_table_lookup(gs->portal->grants, gs->id);
        const TpAccount *old_account = tp_config_find_account(old_config, gs->account_slug);
        const TpAccount *a = session_account(gs);
        g_autoptr(GHashTable) updated = g_hash_table_new(g_str_hash, g_str_equal);

        for (guint i = 0; grants && i < grants->len;) {
                TpGrant *g = g_ptr_array_index(grants, i);
                const TpResource *before =
                    old_account ? tp_account_find_resource(old_account, g->resource_id) : NULL;
                const TpResource *after = tp_account_find_resource(a, g->resource_id);
                JsonObject *o;

                if (!after) {
                        o = json_object_new();
                        json_object_set_string_member(o, "client_id", g->client_id);
                        json_object_set_string_member(o, "resource_id", g->resource_id);
                        session_push(gs, "reject_access", json_node_init_object(json_node_alloc(), o));
                        g_ptr_array_remove_index(grants, i);
                        continue;
                }
                i++;
                if (before && !g_hash_table_contains(updated, after->id)) {
                        g_autoptr(JsonNode) vb = tp_view_gateway_resource(before);
                        g_autoptr(JsonNode) va = tp_view_gateway_resource(after);

                        if (!json_node_equal(vb, va)) {
                                g_hash_table_add(updated, after->id);
                                session_push(gs, "resource_updated", json_node_ref(va));
                        }
                }
        }
}

gboolean tp_portal_reload(TpPortal *p, GError **error)
{
        g_autoptr(TpConfig) fresh = tp_config_load_file(p->config_path, error);
        g_autoptr(TpConfig) old = NULL;
        g_autoptr(GPtrArray) sessions = g_ptr_array_new();
        GHashTableIter it;
        gpointer value;

        if (!fresh)
                return FALSE;
        if (!fresh->has_secret)
                memcpy(fresh->secret, p->config->secret, TP_SECRET_LEN);
        old = g_steal_pointer(&p->config);
        p->config = g_steal_pointer(&fresh);
        if (g_strcmp0(old->listen_address, p->config->listen_address) != 0 ||
            old->listen_port != p->config->listen_port)
                g_message("reload: the listen address changes only on restart");

        /* Disconnecting may free sessions, so collect them first. */
        g_hash_table_iter_init(&it, p->clients);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_ptr_array_add(sessions, value);
        g_hash_table_iter_init(&it, p->gateways);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_ptr_array_add(sessions, value);
        for (guint i = 0; i < sessions->len; i++) {
                TpSession *s = g_ptr_array_index(sessions, i);

                if (s->role == TP_ROLE_CLIENT && !session_user(s)) {
                        session_disconnect(s, "token_expired");
                        continue;
                }
                if (s->role == TP_ROLE_GATEWAY && !gateway_by_id(session_account(s), s->id)) {
                        session_disconnect(s, "token_expired");
                        continue;
                }
                if (!s->joined)
                        continue;
                if (s->role == TP_ROLE_CLIENT) {
                        push_interface_diff(s);
                        push_resource_diff(s);
                } else {
                        push_gateway_resource_diff(s, old);
                }
                push_relay_diff(s);
        }
        g_message("configuration reloaded from %s: %u accounts, %u relays", p->config_path,
                  p->config->accounts->len, p->config->relays->len);
        return TRUE;
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static void http_default(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                         gpointer data)
{
        TpPortal *p = data;
        static const char not_found[] = "not found\n";

        if (tp_signin_handle(msg, path, p->config, now_secs()))
                return;
        soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC, not_found,
                                         strlen(not_found));
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
}

TpPortal *tp_portal_new(TpConfig *config, const char *config_path)
{
        TpPortal *p = g_new0(TpPortal, 1);
        static const char *const paths[] = { "/client/v2/websocket", "/gateway/v2/websocket" };

        p->config = config;
        p->config_path = g_strdup(config_path);
        p->clients = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)session_free);
        p->gateways = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)session_free);
        p->pending = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pending_free);
        p->addresses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        p->used = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        p->psk_bases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, psk_base_free);
        p->grants =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
        p->server = soup_server_new("server-header", "kiln-test-portal", NULL);
        /* Firezone's portal negotiates no extensions and the Rust client offers none. */
        soup_server_remove_websocket_extension(p->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
        for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
                soup_server_add_early_handler(p->server, paths[i], websocket_precheck, p, NULL);
                soup_server_add_websocket_handler(p->server, paths[i], NULL, NULL, websocket_opened, p,
                                                  NULL);
        }
        soup_server_add_handler(p->server, NULL, http_default, p, NULL);
        return p;
}

void tp_portal_free(TpPortal *p)
{
        if (!p)
                return;
        soup_server_disconnect(p->server);
        g_clear_pointer(&p->pending, g_hash_table_unref);
        g_clear_pointer(&p->clients, g_hash_table_unref);
        g_clear_pointer(&p->gateways, g_hash_table_unref);
        g_clear_pointer(&p->addresses, g_hash_table_unref);
        g_clear_pointer(&p->used, g_hash_table_unref);
        g_clear_pointer(&p->psk_bases, g_hash_table_unref);
        g_clear_pointer(&p->grants, g_hash_table_unref);
        g_clear_object(&p->server);
        tp_config_free(p->config);
        g_free(p->config_path);
        g_free(p);
}

gboolean tp_portal_listen(TpPortal *p, const char *address, guint port, char **ret_url, GError **error)
{
        g_autoptr(GInetAddress) ip = g_inet_address_new_from_string(address);
        g_autoptr(GSocketAddress) sa = NULL;
        GSList *uris;
        g_autofree char *host = NULL;
        int bound_port;

        if (!ip) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "listen address \"%s\" is not an IP", address);
                return FALSE;
        }
        sa = g_inet_socket_address_new(ip, port);
        if (!soup_server_listen(p->server, sa, 0, error))
                return FALSE;
        uris = soup_server_get_uris(p->server);
        bound_port = uris ? g_uri_get_port(uris->data) : (int)port;
        g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
        host = g_inet_address_get_family(ip) == G_SOCKET_FAMILY_IPV6 ? g_strdup_printf("[%s]", address)
                                                                     : g_strdup(address);
        *ret_url = g_strdup_printf("http://%s:%d", host, bound_port);
        return TRUE;
}
