/* SPDX-License-Identifier: MIT */
#include "tests/portal/handshake.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "backend/crypto/encoding.h"
#include "tests/portal/version.h"

void tp_problem_clear(TpProblem *problem)
{
        g_clear_pointer(&problem->detail, g_free);
        problem->status = 0;
        problem->code = NULL;
}

void tp_connect_info_clear(TpConnectInfo *info)
{
        g_clear_pointer(&info->external_id, g_free);
        g_clear_pointer(&info->name, g_free);
        g_clear_pointer(&info->public_key, g_free);
        g_clear_pointer(&info->component, g_free);
        g_clear_pointer(&info->version, g_free);
        info->account = NULL;
        info->user = NULL;
        info->gateway = NULL;
}

char *tp_problem_to_json(const TpProblem *problem)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        const char *title = problem->status == 401   ? "Unauthorized"
                            : problem->status == 409 ? "Conflict"
                            : problem->status == 400 ? "Bad Request"
                                                     : "Error";

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, "about:blank");
        json_builder_set_member_name(b, "title");
        json_builder_add_string_value(b, title);
        json_builder_set_member_name(b, "status");
        json_builder_add_int_value(b, problem->status);
        json_builder_set_member_name(b, "detail");
        json_builder_add_string_value(b, problem->detail);
        json_builder_set_member_name(b, "code");
        json_builder_add_string_value(b, problem->code);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        return json_to_string(root, FALSE);
}

static gboolean refuse(TpProblem *p, guint status, const char *code, const char *detail)
{
        p->status = status;
        p->code = code;
        p->detail = g_strdup(detail);
        return FALSE;
}

/* All whitespace is dropped from the token, as the Rust client does before sending it. */
static char *extract_token(GHashTable *query, const char *x_authorization)
{
        const char *raw = NULL;
        GString *token;

        if (x_authorization && g_str_has_prefix(x_authorization, "Bearer "))
                raw = x_authorization + strlen("Bearer ");
        else if (query)
                raw = g_hash_table_lookup(query, "token");
        if (!raw)
                return NULL;
        token = g_string_new(NULL);
        for (const char *p = raw; *p; p++)
                if (!g_ascii_isspace(*p))
                        g_string_append_c(token, *p);
        if (token->len == 0) {
                g_string_free(token, TRUE);
                return NULL;
        }
        return g_string_free(token, FALSE);
}

/* The portal takes the version from the first space-separated token with a known component prefix. */
static gboolean parse_user_agent(TpRole role, const char *ua, char **ret_component, char **ret_version)
{
        static const char *const client_components[] = { "connlib",      "headless-client", "gui-client",
                                                         "apple-client", "android-client",  NULL };
        static const char *const gateway_components[] = { "gateway", NULL };
        const char *const *wanted = role == TP_ROLE_CLIENT ? client_components : gateway_components;
        g_auto(GStrv) tokens = NULL;
        guint v[3];

        if (!ua || strlen(ua) > 1024)
                return FALSE;
        tokens = g_strsplit(ua, " ", -1);
        for (int i = 0; tokens[i]; i++) {
                const char *slash = strchr(tokens[i], '/');
                g_autofree char *component = NULL;

                if (!slash)
                        continue;
                component = g_strndup(tokens[i], slash - tokens[i]);
                if (!g_strv_contains(wanted, component))
                        continue;
                if (!tp_version_parse(slash + 1, v))
                        return FALSE;
                *ret_component = g_steal_pointer(&component);
                *ret_version = g_strdup(slash + 1);
                return TRUE;
        }
        return FALSE;
}

static const char *param(GHashTable *query, const char *name)
{
        const char *v = query ? g_hash_table_lookup(query, name) : NULL;

        return v && v[0] ? v : NULL;
}

static gboolean check_token(const TpConfig *config, TpRole role, const char *token, gint64 now,
                            TpConnectInfo *info, TpProblem *p)
{
        g_auto(TpTokenClaims) claims = { 0 };
        TpTokenResult r;

        if (role == TP_ROLE_GATEWAY) {
                info->gateway = tp_config_find_gateway_by_token(config, token, &info->account);
                return info->gateway ? TRUE : refuse(p, 401, "invalid_token", "Invalid token");
        }
        r = tp_token_verify(config->secret, token, now, &claims);
        if (r != TP_TOKEN_OK)
                return refuse(p, 401, "invalid_token", "Invalid token");
        info->account = tp_config_find_account(config, claims.account_slug);
        info->user = info->account ? tp_account_find_user(info->account, claims.email) : NULL;
        if (!info->user)
                return refuse(p, 401, "invalid_token", "Invalid token");
        info->expires_at = claims.expires_at;
        return TRUE;
}

gboolean tp_handshake_check(const TpConfig *config, TpRole role, GHashTable *query,
                            const char *x_authorization, const char *user_agent, gint64 now,
                            TpConnectInfo *ret_info, TpProblem *ret_problem)
{
        g_auto(TpConnectInfo) info = { .role = role };
        g_autofree char *token = extract_token(query, x_authorization);
        const char *external_id = param(query, "external_id");
        const char *public_key = param(query, "public_key");
        const char *name = param(query, "name");
        uint8_t key[WG_KEY_LEN];

        if (!token)
                return refuse(ret_problem, 401, "missing_token", "Missing token");
        if (!check_token(config, role, token, now, &info, ret_problem))
                return FALSE;
        if (!parse_user_agent(role, user_agent, &info.component, &info.version))
                return refuse(ret_problem, 400, "invalid_connect_params", "user_agent is invalid");
        if (!external_id)
                external_id = param(query, "firezone_id");
        if (!external_id)
                return refuse(ret_problem, 400, "invalid_connect_params", "external_id can't be blank");
        if (strlen(external_id) > TP_PARAM_MAX)
                return refuse(ret_problem, 400, "invalid_connect_params", "external_id is too long");
        if (!public_key)
                return refuse(ret_problem, 400, "invalid_connect_params", "public_key can't be blank");
        if (strlen(public_key) != 44 || key_from_base64(key, public_key) != 0)
                return refuse(ret_problem, 400, "invalid_connect_params", "public_key is invalid");
        if (name && (strlen(name) > TP_PARAM_MAX || !g_utf8_validate(name, -1, NULL)))
                return refuse(ret_problem, 400, "invalid_connect_params", "name is too long");

        info.external_id = g_strdup(external_id);
        info.public_key = g_strdup(public_key);
        info.name =
            name ? g_strdup(name)
                 : g_strdup_printf("%s-%.8s", role == TP_ROLE_CLIENT ? "client" : "gateway", external_id);
        *ret_info = info;
        memset(&info, 0, sizeof(info));
        return TRUE;
}
