/* SPDX-License-Identifier: MIT */
#include "tests/portal/views.h"

#include <string.h>

#include "tests/portal/credentials.h"

/* The key Firezone's own tests sign ingest tokens with; clients never verify the signature. */
#define INGEST_TEST_KEY "flow-log-ingest-test-key"

static void add_string_or_null(JsonBuilder *b, const char *member, const char *value)
{
        json_builder_set_member_name(b, member);
        if (value)
                json_builder_add_string_value(b, value);
        else
                json_builder_add_null_value(b);
}

static void add_sites(JsonBuilder *b, const TpResource *r, gboolean use_sites)
{
        json_builder_set_member_name(b, use_sites ? "sites" : "gateway_groups");
        json_builder_begin_array(b);
        for (guint i = 0; i < r->sites->len; i++) {
                const TpSite *s = g_ptr_array_index(r->sites, i);

                json_builder_begin_object(b);
                add_string_or_null(b, "id", s->id);
                add_string_or_null(b, "name", s->name);
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
}

JsonNode *tp_view_client_resource(const TpResource *r, gboolean use_sites)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string_or_null(b, "id", r->id);
        add_string_or_null(b, "type", r->type);
        if (g_str_equal(r->type, "internet")) {
                json_builder_set_member_name(b, "can_be_disabled");
                json_builder_add_boolean_value(b, TRUE);
        } else {
                add_string_or_null(b, "address", r->address);
                add_string_or_null(b, "name", r->name);
                add_string_or_null(b, "address_description", r->address_description);
                json_builder_set_member_name(b, "filters");
                json_builder_add_value(b, json_node_copy(r->filters));
        }
        if (r->ip_stack)
                add_string_or_null(b, "ip_stack", r->ip_stack);
        add_sites(b, r, use_sites);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *tp_view_gateway_resource(const TpResource *r)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string_or_null(b, "id", r->id);
        add_string_or_null(b, "type", r->type);
        if (r->address)
                add_string_or_null(b, "address", r->address);
        add_string_or_null(b, "name", r->name);
        json_builder_set_member_name(b, "filters");
        json_builder_add_value(b, json_node_copy(r->filters));
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *tp_view_client_interface(const TpAccount *account, const char *ipv4, const char *ipv6)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string_or_null(b, "ipv4", ipv4);
        add_string_or_null(b, "ipv6", ipv6);
        json_builder_set_member_name(b, "upstream_do53");
        json_builder_begin_array(b);
        for (guint i = 0; i < account->upstream_do53->len; i++) {
                json_builder_begin_object(b);
                add_string_or_null(b, "ip", g_ptr_array_index(account->upstream_do53, i));
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_set_member_name(b, "upstream_doh");
        json_builder_begin_array(b);
        json_builder_end_array(b);
        add_string_or_null(b, "search_domain", account->search_domain);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *tp_view_gateway_interface(const char *ipv4, const char *ipv6)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        add_string_or_null(b, "ipv4", ipv4);
        add_string_or_null(b, "ipv6", ipv6);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

JsonNode *tp_view_flow_logs(void)
{
        g_autoptr(JsonBuilder) b = json_builder_new();

        /* Uploads off: the test portal has no flow-log ingest service. */
        json_builder_begin_object(b);
        add_string_or_null(b, "api_url", "http://127.0.0.1/");
        json_builder_set_member_name(b, "upload_interval_secs");
        json_builder_add_int_value(b, 0);
        json_builder_set_member_name(b, "upload_batch_size");
        json_builder_add_int_value(b, 0);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void tp_view_add_relays(JsonArray *out, const TpRelay *relay, const char *public_key, gint64 expires)
{
        g_autofree char *salt = tp_turn_salt(public_key);
        g_autofree char *username = NULL;
        g_autofree char *password = NULL;

        tp_turn_credentials(relay->secret, expires, salt, &username, &password);
        for (guint i = 0; i < relay->addresses->len; i++) {
                JsonObject *o = json_object_new();

                json_object_set_string_member(o, "type", "turn");
                json_object_set_string_member(o, "id", relay->id);
                json_object_set_string_member(o, "addr", g_ptr_array_index(relay->addresses, i));
                json_object_set_string_member(o, "username", username);
                json_object_set_string_member(o, "password", password);
                json_object_set_int_member(o, "expires_at", expires);
                json_array_add_object_element(out, o);
        }
}

JsonNode *tp_view_relays(const TpConfig *config, const char *public_key, gint64 expires)
{
        JsonArray *arr = json_array_new();

        for (guint i = 0; i < config->relays->len; i++)
                tp_view_add_relays(arr, g_ptr_array_index(config->relays, i), public_key, expires);
        return json_node_init_array(json_node_alloc(), arr);
}

static char *b64url_json(JsonBuilder *b)
{
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        g_autofree char *text = json_to_string(root, FALSE);

        return tp_base64url_encode((const uint8_t *)text, strlen(text));
}

/* "2026-07-06T12:00:00.000000Z", as Elixir renders a DateTime. */
static char *rfc3339(gint64 unix_secs)
{
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_secs);

        return t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%S.000000Z")
                 : g_strdup("1970-01-01T00:00:00.000000Z");
}

char *tp_ingest_token(const TpIngestClaims *c)
{
        g_autoptr(JsonBuilder) h = json_builder_new();
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(GHmac) hmac =
            g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)INGEST_TEST_KEY, strlen(INGEST_TEST_KEY));
        g_autofree char *header = NULL;
        g_autofree char *payload = NULL;
        g_autofree char *signature = NULL;
        g_autofree char *signing_input = NULL;
        g_autofree char *actor_id = tp_uuid_from_name("actor", c->user->email);
        g_autofree char *policy_key = g_strdup_printf("%s:%s", c->account->slug, c->resource->id);
        g_autofree char *policy_id = tp_uuid_from_name("policy", policy_key);
        g_autofree char *authorized_at = rfc3339(c->authorized_at);
        g_autofree char *expires_at = rfc3339(c->expires_at);
        uint8_t digest[32];
        gsize digest_len = sizeof(digest);

        json_builder_begin_object(h);
        add_string_or_null(h, "alg", "HS256");
        add_string_or_null(h, "typ", "JWT");
        json_builder_end_object(h);
        header = b64url_json(h);

        json_builder_begin_object(b);
        add_string_or_null(b, "account_id", c->account->id);
        json_builder_set_member_name(b, "iat");
        json_builder_add_int_value(b, c->authorized_at);
        json_builder_set_member_name(b, "exp");
        json_builder_add_int_value(b, c->expires_at);
        json_builder_set_member_name(b, "uploads_enabled");
        json_builder_add_boolean_value(b, FALSE);
        add_string_or_null(b, "role", c->role);
        add_string_or_null(b, "initiator_device_id", c->client_id);
        add_string_or_null(b, "responder_device_id", c->gateway_id);
        add_string_or_null(b, "policy_authorization_id", c->authorization_id);
        add_string_or_null(b, "policy_id", policy_id);
        add_string_or_null(b, "resource_id", c->resource->id);
        add_string_or_null(b, "resource_name", c->resource->name);
        add_string_or_null(b, "resource_address", c->resource->address);
        add_string_or_null(b, "initiator_actor_id", actor_id);
        add_string_or_null(b, "initiator_actor_name", c->user->name);
        add_string_or_null(b, "initiator_actor_email", c->user->email);
        add_string_or_null(b, "initiator_client_version", c->client_version);
        /* Timestamps, unlike iat/exp, are RFC 3339 strings: Firezone's claims are DateTime<Utc>. */
        add_string_or_null(b, "authorized_at", authorized_at);
        add_string_or_null(b, "authorization_expires_at", expires_at);
        json_builder_end_object(b);
        payload = b64url_json(b);

        signing_input = g_strdup_printf("%s.%s", header, payload);
        g_hmac_update(hmac, (const guchar *)signing_input, -1);
        g_hmac_get_digest(hmac, digest, &digest_len);
        signature = tp_base64url_encode(digest, sizeof(digest));
        return g_strdup_printf("%s.%s", signing_input, signature);
}
