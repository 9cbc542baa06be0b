/* SPDX-License-Identifier: MIT */
#include "backend/portal/gateway-messages.h"

#include <string.h>

#include <sodium.h>

#include "backend/portal/json-fields.h"
#include "backend/portal/messages-private.h"

static const KilnPortalEventName events[] = {
        { "init", KILN_PORTAL_GATEWAY_INIT },
        { "create_authorization", KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION },
        { "ice_candidates", KILN_PORTAL_GATEWAY_ICE_CANDIDATES },
        { "invalidate_ice_candidates", KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES },
        { "reject_access", KILN_PORTAL_GATEWAY_REJECT_ACCESS },
        { "resource_updated", KILN_PORTAL_GATEWAY_RESOURCE_UPDATED },
        { "relays_presence", KILN_PORTAL_GATEWAY_RELAYS_PRESENCE },
        { "disconnect", KILN_PORTAL_GATEWAY_DISCONNECT },
};

/* Known to Firezone's portal but not part of the v2 gateway protocol Kiln speaks. */
static const char *const skipped_events[] = {
        "access_authorization_expiry_updated", /* obsolete */
        "authorize_flow",                      /* v1 name of create_authorization */
        "allow_access",                        /* pre-1.4 clients */
        "request_connection",                  /* pre-1.4 clients */
};

/* ---- value types ---- */

static void gateway_resource_free(KilnPortalGatewayResource *r)
{
        if (!r)
                return;
        g_free(r->id);
        g_free(r->name);
        g_free(r->address);
        g_clear_pointer(&r->filters, g_array_unref);
        g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalGatewayResource, gateway_resource_free)

static gboolean parse_gateway_resource(JsonNode *node, KilnPortalGatewayResource **ret, GError **error)
{
        g_autoptr(KilnPortalGatewayResource) r = g_new0(KilnPortalGatewayResource, 1);
        g_autofree char *type = NULL, *address = NULL;
        JsonObject *o = NULL;

        if (!kiln_json_as_object(node, "\"resource\"", &o, error) ||
            !kiln_json_get_string(o, "type", &type, error))
                return FALSE;
        if (g_str_equal(type, "dns")) {
                r->type = KILN_PORTAL_RESOURCE_DNS;
        } else if (g_str_equal(type, "cidr")) {
                r->type = KILN_PORTAL_RESOURCE_CIDR;
        } else if (g_str_equal(type, "internet")) {
                r->type = KILN_PORTAL_RESOURCE_INTERNET;
        } else {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                            "resource type \"%s\" is unknown", type);
                return FALSE;
        }
        if (!kiln_json_get_uuid(o, "id", &r->id, error) || !kiln_portal_parse_filters(o, &r->filters, error))
                return FALSE;
        switch (r->type) {
        case KILN_PORTAL_RESOURCE_DNS:
                if (!kiln_json_get_string(o, "address", &r->address, error) ||
                    !kiln_json_get_string(o, "name", &r->name, error))
                        return FALSE;
                if (r->address[0] == '\0')
                        return kiln_json_fail(error, "\"address\" is empty");
                break;
        case KILN_PORTAL_RESOURCE_CIDR:
                if (!kiln_json_get_string(o, "address", &address, error))
                        return FALSE;
                if (!kiln_json_parse_cidr(address, G_SOCKET_FAMILY_INVALID, &r->address))
                        return kiln_json_fail(error, "\"address\" is not a CIDR network without host bits");
                if (!kiln_json_get_string(o, "name", &r->name, error))
                        return FALSE;
                break;
        default:
                if (kiln_json_is_null_or_absent(json_object_get_member(o, "name")))
                        r->name = g_strdup("Internet Resource");
                else if (!kiln_json_get_string(o, "name", &r->name, error))
                        return FALSE;
                break;
        }
        *ret = g_steal_pointer(&r);
        return TRUE;
}

static void gateway_init_free(KilnPortalGatewayInit *init)
{
        if (!init)
                return;
        kiln_portal_interface_free(init->interface);
        g_clear_pointer(&init->relays, g_ptr_array_unref);
        g_clear_pointer(&init->authorizations, g_ptr_array_unref);
        g_free(init->account_slug);
        g_free(init->flow_logs.api_url);
        g_free(init);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalGatewayInit, gateway_init_free)

static gboolean get_required_bool(JsonObject *o, const char *key, gboolean *ret, GError **error)
{
        if (!json_object_has_member(o, key))
                return kiln_json_fail(error, "\"%s\" is missing", key);
        return kiln_json_get_bool_default(o, key, ret, error);
}

static gboolean parse_gateway_init(JsonObject *o, KilnPortalGatewayInit **ret, GError **error)
{
        g_autoptr(KilnPortalGatewayInit) init = g_new0(KilnPortalGatewayInit, 1);
        JsonArray *relays = NULL, *authorizations = NULL;
        JsonObject *config = NULL;

        if (!kiln_portal_parse_interface(json_object_get_member(o, "interface"), &init->interface, error)) {
                kiln_json_prefix(error, "interface");
                return FALSE;
        }
        if (!json_object_has_member(o, "config"))
                return kiln_json_fail(error, "\"config\" is missing");
        if (!kiln_json_as_object(json_object_get_member(o, "config"), "\"config\"", &config, error))
                return FALSE;
        if (!get_required_bool(config, "ipv4_masquerade_enabled", &init->ipv4_masquerade_enabled, error) ||
            !get_required_bool(config, "ipv6_masquerade_enabled", &init->ipv6_masquerade_enabled, error)) {
                kiln_json_prefix(error, "config");
                return FALSE;
        }
        if (!kiln_portal_parse_flow_logs(o, &init->flow_logs, error) ||
            !kiln_json_get_opt_string(o, "account_slug", &init->account_slug, error) ||
            !kiln_json_get_array(o, "relays", FALSE, KILN_PORTAL_MAX_LIST, &relays, error) ||
            !kiln_json_get_array(o, "authorizations", FALSE, KILN_PORTAL_MAX_RESOURCES, &authorizations,
                                 error) ||
            !kiln_portal_parse_relays(relays, &init->relays, error) ||
            !kiln_portal_parse_authorizations(authorizations, &init->authorizations, error))
                return FALSE;
        *ret = g_steal_pointer(&init);
        return TRUE;
}

static void gateway_client_clear(KilnPortalGatewayClient *c)
{
        g_free(c->id);
        g_free(c->ipv4);
        g_free(c->ipv6);
        g_free(c->version);
        g_free(c->device_os_name);
        g_free(c->device_os_version);
        g_free(c->device_serial);
        g_free(c->device_uuid);
        sodium_memzero(c, sizeof(*c));
}

static gboolean parse_gateway_client(JsonObject *o, KilnPortalGatewayClient *c, GError **error)
{
        JsonObject *co = NULL;

        if (!kiln_json_as_object(json_object_get_member(o, "client"), "\"client\"", &co, error) ||
            !kiln_json_get_uuid(co, "id", &c->id, error) ||
            !kiln_json_get_key(co, "public_key", c->public_key, error) ||
            !kiln_json_get_key(co, "preshared_key", c->preshared_key, error) ||
            !kiln_json_get_ip(co, "ipv4", G_SOCKET_FAMILY_IPV4, &c->ipv4, error) ||
            !kiln_json_get_ip(co, "ipv6", G_SOCKET_FAMILY_IPV6, &c->ipv6, error) ||
            !kiln_json_get_opt_string(co, "version", &c->version, error) ||
            !kiln_json_get_opt_string(co, "device_os_name", &c->device_os_name, error) ||
            !kiln_json_get_opt_string(co, "device_os_version", &c->device_os_version, error) ||
            !kiln_json_get_opt_string(co, "device_serial", &c->device_serial, error) ||
            !kiln_json_get_opt_string(co, "device_uuid", &c->device_uuid, error)) {
                kiln_json_prefix(error, "client");
                return FALSE;
        }
        return TRUE;
}

static void create_authorization_free(KilnPortalCreateAuthorization *a)
{
        if (!a)
                return;
        g_free(a->ref);
        gateway_resource_free(a->resource);
        gateway_client_clear(&a->client);
        kiln_portal_ice_credentials_clear(&a->client_ice_credentials);
        kiln_portal_ice_credentials_clear(&a->gateway_ice_credentials);
        kiln_portal_ingest_token_clear(&a->ingest_token);
        g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalCreateAuthorization, create_authorization_free)

static gboolean parse_create_authorization(JsonObject *o, KilnPortalCreateAuthorization **ret,
                                           GError **error)
{
        g_autoptr(KilnPortalCreateAuthorization) a = g_new0(KilnPortalCreateAuthorization, 1);

        if (!kiln_json_node_string(json_object_get_member(o, "ref"), "ref", KILN_PORTAL_MAX_TOKEN, &a->ref,
                                   error))
                return FALSE;
        if (a->ref[0] == '\0')
                return kiln_json_fail(error, "\"ref\" is empty");
        if (!parse_gateway_resource(json_object_get_member(o, "resource"), &a->resource, error)) {
                /* An unknown resource type makes the whole authorization unusable, not skippable. */
                if (error && *error)
                        (*error)->code = KILN_PORTAL_ERROR_INVALID;
                kiln_json_prefix(error, "resource");
                return FALSE;
        }
        if (!parse_gateway_client(o, &a->client, error) ||
            !kiln_portal_parse_ice_credentials(o, "client_ice_credentials", &a->client_ice_credentials,
                                               error) ||
            !kiln_portal_parse_ice_credentials(o, "gateway_ice_credentials", &a->gateway_ice_credentials,
                                               error) ||
            !kiln_json_get_bool_default(o, "use_iceless", &a->use_iceless, error))
                return FALSE;
        if (!kiln_json_get_opt_u64(o, "expires_at", &a->expires_at, error))
                return FALSE;
        if (!kiln_portal_parse_ingest_token(o, &a->ingest_token, error))
                return FALSE;
        *ret = g_steal_pointer(&a);
        return TRUE;
}

static void reject_access_free(KilnPortalRejectAccess *r)
{
        if (!r)
                return;
        g_free(r->client_id);
        g_free(r->resource_id);
        g_free(r);
}

static gboolean parse_reject_access(JsonObject *o, KilnPortalRejectAccess **ret, GError **error)
{
        KilnPortalRejectAccess r = { 0 };

        if (!kiln_json_get_uuid(o, "client_id", &r.client_id, error) ||
            !kiln_json_get_uuid(o, "resource_id", &r.resource_id, error)) {
                g_free(r.client_id);
                return FALSE;
        }
        *ret = g_memdup2(&r, sizeof(r));
        return TRUE;
}

/* ---- the message ---- */

const char *kiln_portal_gateway_message_event_name(const KilnPortalGatewayMessage *message)
{
        return kiln_portal_event_name(events, G_N_ELEMENTS(events), (int)message->kind);
}

static void message_clear(KilnPortalGatewayMessage *m)
{
        switch (m->kind) {
        case KILN_PORTAL_GATEWAY_INIT:
                gateway_init_free(m->init);
                break;
        case KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION:
                create_authorization_free(m->create_authorization);
                break;
        case KILN_PORTAL_GATEWAY_ICE_CANDIDATES:
        case KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES:
                kiln_portal_ice_candidates_free(m->ice_candidates);
                break;
        case KILN_PORTAL_GATEWAY_REJECT_ACCESS:
                reject_access_free(m->reject_access);
                break;
        case KILN_PORTAL_GATEWAY_RESOURCE_UPDATED:
                gateway_resource_free(m->resource);
                break;
        case KILN_PORTAL_GATEWAY_RELAYS_PRESENCE:
                kiln_portal_relays_presence_free(m->relays_presence);
                break;
        case KILN_PORTAL_GATEWAY_DISCONNECT:
                g_free(m->disconnect_reason);
                break;
        }
}

static gboolean parse_payload(KilnPortalGatewayMessage *m, JsonNode *payload, GError **error)
{
        JsonObject *o = NULL;

        if (!kiln_json_as_object(payload, "payload", &o, error))
                return FALSE;
        switch (m->kind) {
        case KILN_PORTAL_GATEWAY_INIT:
                return parse_gateway_init(o, &m->init, error);
        case KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION:
                return parse_create_authorization(o, &m->create_authorization, error);
        case KILN_PORTAL_GATEWAY_ICE_CANDIDATES:
        case KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES:
                return kiln_portal_parse_ice_candidates(o, "client_id", &m->ice_candidates, error);
        case KILN_PORTAL_GATEWAY_REJECT_ACCESS:
                return parse_reject_access(o, &m->reject_access, error);
        case KILN_PORTAL_GATEWAY_RESOURCE_UPDATED:
                return parse_gateway_resource(payload, &m->resource, error);
        case KILN_PORTAL_GATEWAY_RELAYS_PRESENCE:
                return kiln_portal_parse_relays_presence(o, &m->relays_presence, error);
        case KILN_PORTAL_GATEWAY_DISCONNECT:
                return kiln_portal_parse_disconnect(o, &m->disconnect_reason, error);
        }
        return TRUE;
}

static gboolean lookup_event(const char *event, KilnPortalGatewayMessageKind *ret, GError **error)
{
        for (gsize i = 0; i < G_N_ELEMENTS(skipped_events); i++)
                if (g_str_equal(event, skipped_events[i]))
                        return g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT,
                                           "event \"%s\" is not part of the v2 gateway protocol", event),
                               FALSE;
        int kind;

        if (kiln_portal_event_kind(events, G_N_ELEMENTS(events), event, &kind)) {
                *ret = (KilnPortalGatewayMessageKind)kind;
                return TRUE;
        }
        g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT, "event \"%s\" is unknown",
                    event);
        return FALSE;
}

gboolean kiln_portal_gateway_message_parse(const char *event, JsonNode *payload,
                                           KilnPortalGatewayMessage **ret_message, GError **error)
{
        KilnPortalGatewayMessage *m;
        KilnPortalGatewayMessageKind kind;

        if (!lookup_event(event, &kind, error))
                return FALSE;
        m = g_rc_box_new0(KilnPortalGatewayMessage);
        m->kind = kind;
        if (!parse_payload(m, payload, error)) {
                kiln_json_prefix(error, "%s", event);
                kiln_portal_gateway_message_unref(m);
                return FALSE;
        }
        *ret_message = m;
        return TRUE;
}

KilnPortalGatewayMessage *kiln_portal_gateway_message_ref(KilnPortalGatewayMessage *message)
{
        return g_rc_box_acquire(message);
}

void kiln_portal_gateway_message_unref(KilnPortalGatewayMessage *message)
{
        if (message)
                g_rc_box_release_full(message, (GDestroyNotify)message_clear);
}

G_DEFINE_BOXED_TYPE(KilnPortalGatewayMessage, kiln_portal_gateway_message, kiln_portal_gateway_message_ref,
                    kiln_portal_gateway_message_unref)

/* ---- normalized JSON ---- */

static void add_gateway_resource(JsonBuilder *b, const char *key, const KilnPortalGatewayResource *r)
{
        json_builder_set_member_name(b, key);
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "id", r->id);
        kiln_json_add_string_or_null(b, "type", kiln_portal_resource_type_to_string(r->type));
        kiln_json_add_string_or_null(b, "name", r->name);
        kiln_json_add_string_or_null(b, "address", r->address);
        kiln_portal_add_filters(b, r->filters);
        json_builder_end_object(b);
}

static void add_create_authorization(JsonBuilder *b, const KilnPortalCreateAuthorization *a)
{
        char public_key[WG_KEY_LEN_BASE64];

        key_to_base64(public_key, a->client.public_key);
        kiln_json_add_string_or_null(b, "ref", a->ref);
        add_gateway_resource(b, "resource", a->resource);
        json_builder_set_member_name(b, "client");
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "id", a->client.id);
        kiln_json_add_string_or_null(b, "public_key", public_key);
        json_builder_set_member_name(b, "preshared_key_bytes");
        json_builder_add_int_value(b, WG_KEY_LEN);
        kiln_json_add_string_or_null(b, "ipv4", a->client.ipv4);
        kiln_json_add_string_or_null(b, "ipv6", a->client.ipv6);
        kiln_json_add_string_or_null(b, "version", a->client.version);
        kiln_json_add_string_or_null(b, "device_os_name", a->client.device_os_name);
        kiln_json_add_string_or_null(b, "device_os_version", a->client.device_os_version);
        kiln_json_add_string_or_null(b, "device_serial", a->client.device_serial);
        kiln_json_add_string_or_null(b, "device_uuid", a->client.device_uuid);
        json_builder_end_object(b);
        kiln_portal_add_ice_credentials(b, "client_ice_credentials", &a->client_ice_credentials);
        kiln_portal_add_ice_credentials(b, "gateway_ice_credentials", &a->gateway_ice_credentials);
        json_builder_set_member_name(b, "expires_at");
        if (a->expires_at)
                json_builder_add_int_value(b, (gint64)a->expires_at);
        else
                json_builder_add_null_value(b);
        json_builder_set_member_name(b, "use_iceless");
        json_builder_add_boolean_value(b, a->use_iceless);
        kiln_portal_add_ingest_token(b, &a->ingest_token);
}

JsonNode *kiln_portal_gateway_message_to_json(const KilnPortalGatewayMessage *m)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "event", kiln_portal_gateway_message_event_name(m));
        switch (m->kind) {
        case KILN_PORTAL_GATEWAY_INIT:
                json_builder_set_member_name(b, "interface");
                json_builder_begin_object(b);
                kiln_json_add_string_or_null(b, "ipv4", m->init->interface->ipv4);
                kiln_json_add_string_or_null(b, "ipv6", m->init->interface->ipv6);
                json_builder_end_object(b);
                json_builder_set_member_name(b, "config");
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "ipv4_masquerade_enabled");
                json_builder_add_boolean_value(b, m->init->ipv4_masquerade_enabled);
                json_builder_set_member_name(b, "ipv6_masquerade_enabled");
                json_builder_add_boolean_value(b, m->init->ipv6_masquerade_enabled);
                json_builder_end_object(b);
                kiln_json_add_string_or_null(b, "account_slug", m->init->account_slug);
                kiln_portal_add_relays(b, "relays", m->init->relays);
                kiln_portal_add_authorizations(b, m->init->authorizations);
                kiln_portal_add_flow_logs(b, &m->init->flow_logs);
                break;
        case KILN_PORTAL_GATEWAY_CREATE_AUTHORIZATION:
                add_create_authorization(b, m->create_authorization);
                break;
        case KILN_PORTAL_GATEWAY_ICE_CANDIDATES:
        case KILN_PORTAL_GATEWAY_INVALIDATE_ICE_CANDIDATES:
                kiln_json_add_string_or_null(b, "client_id", m->ice_candidates->peer_id);
                kiln_json_add_strings(b, "candidates", m->ice_candidates->candidates);
                break;
        case KILN_PORTAL_GATEWAY_REJECT_ACCESS:
                kiln_json_add_string_or_null(b, "client_id", m->reject_access->client_id);
                kiln_json_add_string_or_null(b, "resource_id", m->reject_access->resource_id);
                break;
        case KILN_PORTAL_GATEWAY_RESOURCE_UPDATED:
                add_gateway_resource(b, "resource", m->resource);
                break;
        case KILN_PORTAL_GATEWAY_RELAYS_PRESENCE:
                kiln_json_add_strings(b, "disconnected_ids", m->relays_presence->disconnected_ids);
                kiln_portal_add_relays(b, "connected", m->relays_presence->connected);
                break;
        case KILN_PORTAL_GATEWAY_DISCONNECT:
                kiln_json_add_string_or_null(b, "reason", m->disconnect_reason);
                break;
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

/* ---- gateway → portal ---- */

JsonNode *kiln_portal_build_authorization_created(const char *ref, GError **error)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        if (!ref || !*ref || strlen(ref) > KILN_PORTAL_MAX_TOKEN)
                return kiln_json_fail(error, "ref is empty or too long"), NULL;
        json_builder_begin_object(b);
        kiln_json_add_string_or_null(b, "ref", ref);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *kiln_portal_build_broadcast_ice_candidates(const char *const *client_ids,
                                                     const char *const *candidates, GError **error)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "client_ids");
        json_builder_begin_array(b);
        for (gsize i = 0; client_ids && client_ids[i]; i++) {
                if (!kiln_portal_is_uuid(client_ids[i]) || i >= KILN_PORTAL_MAX_LIST)
                        return kiln_json_fail(error, "client id %" G_GSIZE_FORMAT " is not a UUID", i), NULL;
                json_builder_add_string_value(b, client_ids[i]);
        }
        json_builder_end_array(b);
        if (!kiln_portal_add_candidates(b, candidates, error))
                return NULL;
        json_builder_end_object(b);
        return json_builder_get_root(b);
}
