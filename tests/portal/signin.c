/* SPDX-License-Identifier: MIT */
#include "tests/portal/signin.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "tests/portal/token.h"

#define COOKIE_NAME          "kiln_client_auth"
#define COOKIE_CONTEXT       "client-auth-cookie"
#define COOKIE_LIFETIME_SECS 120
#define STATE_MAX            256
#define FORM_FIELD_MAX       512

static const char page_style[] =
    "body{font-family:system-ui,-apple-system,'Cantarell','Noto Sans',sans-serif;background:#f4f4f6;"
    "color:#1d1d21;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}"
    "main{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem;"
    "width:22rem}"
    "h1{font-size:1.3rem;margin:0 0 .3rem}p.sub{color:#5c5c66;margin:0 0 1.5rem}"
    "label{display:block;font-weight:600;margin:.9rem 0 .3rem}"
    "input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem .7rem;"
    "border:1px solid #c8c8d0;border-radius:6px;font-size:1rem}"
    "button,a.button{display:block;width:100%;box-sizing:border-box;margin-top:1.4rem;padding:.65rem;"
    "border:0;border-radius:6px;background:#e0542c;color:#fff;font-size:1rem;font-weight:600;"
    "text-align:center;text-decoration:none;cursor:pointer}"
    ".error{background:#fde8e4;color:#9b2a0e;border-radius:6px;padding:.6rem .8rem;margin-bottom:.5rem}"
    "code{display:block;word-break:break-all;background:#f0f0f3;padding:.6rem;border-radius:6px}";

static void respond_html(SoupServerMessage *msg, guint status, const char *title, const char *head_extra,
                         const char *body)
{
        g_autofree char *esc_title = g_markup_escape_text(title, -1);
        char *page = g_strdup_printf(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<title>%s</title><style>%s</style>%s</head>\n<body><main>%s</main></body></html>\n",
            esc_title, page_style, head_extra ? head_extra : "", body);

        soup_server_message_set_response(msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE, page,
                                         strlen(page));
        soup_server_message_set_status(msg, status, NULL);
}

static void respond_message(SoupServerMessage *msg, guint status, const char *title, const char *text)
{
        g_autofree char *esc_title = g_markup_escape_text(title, -1);
        g_autofree char *esc_text = g_markup_escape_text(text, -1);
        g_autofree char *body = g_strdup_printf("<h1>%s</h1><p class=\"sub\">%s</p>", esc_title, esc_text);

        respond_html(msg, status, title, NULL, body);
}

static gboolean field_ok(const char *value, gsize max)
{
        return value && strlen(value) <= max && g_utf8_validate(value, -1, NULL);
}

static gboolean is_known_as(const char *as)
{
        return as && (g_str_equal(as, "client") || g_str_equal(as, "gui-client") ||
                      g_str_equal(as, "headless-client"));
}

/* gui-client (and the deprecated client) need a nonce and a state; headless-client has neither. */
static gboolean check_flow(const char *as, const char *nonce, const char *state, const char **ret_reason)
{
        if (!is_known_as(as)) {
                *ret_reason = "The \"as\" parameter must be gui-client, client or headless-client.";
                return FALSE;
        }
        if (g_str_equal(as, "headless-client"))
                return TRUE;
        if (!nonce || !nonce[0] || !tp_nonce_is_valid(nonce)) {
                *ret_reason = "The nonce must be 1 to 128 characters without a dot.";
                return FALSE;
        }
        if (!state || !state[0] || !field_ok(state, STATE_MAX)) {
                *ret_reason = "The state parameter is missing or too long.";
                return FALSE;
        }
        return TRUE;
}

static void render_form(SoupServerMessage *msg, guint status, const TpAccount *account, const char *as,
                        const char *nonce, const char *state, const char *email, const char *error)
{
        g_autofree char *name = g_markup_escape_text(account->name, -1);
        g_autofree char *slug = g_uri_escape_string(account->slug, NULL, FALSE);
        g_autofree char *e_as = g_markup_escape_text(as, -1);
        g_autofree char *e_nonce = g_markup_escape_text(nonce ? nonce : "", -1);
        g_autofree char *e_state = g_markup_escape_text(state ? state : "", -1);
        g_autofree char *e_email = g_markup_escape_text(email ? email : "", -1);
        g_autofree char *e_error = error ? g_markup_escape_text(error, -1) : NULL;
        g_autofree char *error_html =
            e_error ? g_strdup_printf("<p class=\"error\" id=\"error\" role=\"alert\">%s</p>", e_error)
                    : g_strdup("");
        g_autofree char *body =
            g_strdup_printf("<h1>Sign in to %s</h1><p class=\"sub\">Use your email and password to connect "
                            "this device.</p>%s"
                            "<form method=\"post\" action=\"/%s\">"
                            "<input type=\"hidden\" name=\"as\" value=\"%s\">"
                            "<input type=\"hidden\" name=\"nonce\" value=\"%s\">"
                            "<input type=\"hidden\" name=\"state\" value=\"%s\">"
                            "<label for=\"email\">Email</label>"
                            "<input type=\"email\" id=\"email\" name=\"email\" value=\"%s\" "
                            "autocomplete=\"username\" required autofocus>"
                            "<label for=\"password\">Password</label>"
                            "<input type=\"password\" id=\"password\" name=\"password\" "
                            "autocomplete=\"current-password\" required>"
                            "<button type=\"submit\" id=\"sign-in\">Sign in</button></form>",
                            name, error_html, slug, e_as, e_nonce, e_state, e_email);

        respond_html(msg, status, "Sign in", NULL, body);
}

static char *signed_cookie_value(const TpConfig *config, const TpAccount *account, const TpUser *user,
                                 const char *fragment, const char *state, gint64 now)
{
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autofree char *json = NULL;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "account_slug");
        json_builder_add_string_value(b, account->slug);
        json_builder_set_member_name(b, "actor_name");
        json_builder_add_string_value(b, user->name);
        json_builder_set_member_name(b, "fragment");
        json_builder_add_string_value(b, fragment);
        json_builder_set_member_name(b, "identity_provider_identifier");
        json_builder_add_string_value(b, account->identity_provider_id);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, state);
        json_builder_set_member_name(b, "exp");
        json_builder_add_int_value(b, now + COOKIE_LIFETIME_SECS);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        json = json_to_string(root, FALSE);
        return tp_sign(config->secret, COOKIE_CONTEXT, json);
}

static void handle_post(SoupServerMessage *msg, const TpConfig *config, const TpAccount *account, gint64 now)
{
        SoupMessageBody *req = soup_server_message_get_request_body(msg);
        g_autoptr(GBytes) raw = soup_message_body_flatten(req);
        g_autofree char *text = g_strndup(g_bytes_get_data(raw, NULL), g_bytes_get_size(raw));
        g_autoptr(GHashTable) form = soup_form_decode(text);
        const char *as = g_hash_table_lookup(form, "as");
        const char *nonce = g_hash_table_lookup(form, "nonce");
        const char *state = g_hash_table_lookup(form, "state");
        const char *email = g_hash_table_lookup(form, "email");
        const char *password = g_hash_table_lookup(form, "password");
        const char *reason = NULL;
        const TpUser *user;
        g_autofree char *fragment = NULL;

        if (!check_flow(as, nonce, state, &reason)) {
                respond_message(msg, SOUP_STATUS_BAD_REQUEST, "Invalid sign-in request", reason);
                return;
        }
        if (!field_ok(email, FORM_FIELD_MAX) || !field_ok(password, FORM_FIELD_MAX)) {
                render_form(msg, SOUP_STATUS_BAD_REQUEST, account, as, nonce, state, NULL,
                            "Enter your email and password.");
                return;
        }
        user = tp_account_find_user(account, email);
        if (!user || strlen(user->password) != strlen(password) ||
            sodium_memcmp(user->password, password, strlen(password)) != 0) {
                g_message("sign-in to %s as %s: wrong email or password", account->slug, email);
                render_form(msg, SOUP_STATUS_UNAUTHORIZED, account, as, nonce, state, email,
                            "Invalid email or password.");
                return;
        }
        fragment = tp_token_issue_fragment(config->secret, account->slug, user->email,
                                           g_str_equal(as, "headless-client") ? "" : nonce, now,
                                           now + config->token_lifetime_secs);
        g_message("sign-in to %s as %s (%s): token issued, valid %" G_GINT64_FORMAT " s", account->slug,
                  user->email, as, config->token_lifetime_secs);
        if (g_str_equal(as, "headless-client")) {
                g_autofree char *e_fragment = g_markup_escape_text(fragment, -1);
                g_autofree char *body = g_strdup_printf(
                    "<h1>Signed in</h1><p class=\"sub\">Copy this token into the headless client:</p>"
                    "<code id=\"token\">%s</code>",
                    e_fragment);

                respond_html(msg, SOUP_STATUS_OK, "Signed in", NULL, body);
                return;
        }
        {
                g_autofree char *cookie_value =
                    signed_cookie_value(config, account, user, fragment, state, now);
                g_autofree char *slug = g_uri_escape_string(account->slug, NULL, FALSE);
                g_autofree char *cookie =
                    g_strdup_printf(COOKIE_NAME "=%s; Path=/%s/sign_in; Max-Age=%d; HttpOnly; "
                                                "SameSite=Lax",
                                    cookie_value, slug, COOKIE_LIFETIME_SECS);
                g_autofree char *target = g_strdup_printf("/%s/sign_in/client_redirect", slug);
                g_autofree char *head =
                    g_strdup_printf("<meta http-equiv=\"refresh\" content=\"0;url=%s\">", target);
                g_autofree char *e_name = g_markup_escape_text(user->name, -1);
                g_autofree char *body =
                    g_strdup_printf("<h1>Signed in as %s</h1><p class=\"sub\">Returning you to the app…</p>"
                                    "<a class=\"button\" id=\"open-app\" href=\"%s\">Open the app</a>",
                                    e_name, target);

                soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie",
                                            cookie);
                respond_html(msg, SOUP_STATUS_OK, "Signed in", head, body);
        }
}

static char *cookie_from_request(SoupServerMessage *msg)
{
        const char *header =
            soup_message_headers_get_list(soup_server_message_get_request_headers(msg), "Cookie");
        g_auto(GStrv) parts = NULL;

        if (!header)
                return NULL;
        parts = g_strsplit(header, ";", -1);
        for (int i = 0; parts[i]; i++) {
                const char *p = parts[i];

                while (*p == ' ')
                        p++;
                if (g_str_has_prefix(p, COOKIE_NAME "="))
                        return g_strdup(p + strlen(COOKIE_NAME "="));
        }
        return NULL;
}

static const char *json_string(JsonObject *o, const char *member)
{
        JsonNode *n = json_object_get_member(o, member);

        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
                   ? json_node_get_string(n)
                   : NULL;
}

static void handle_client_redirect(SoupServerMessage *msg, const TpConfig *config, const TpAccount *account,
                                   gint64 now)
{
        g_autofree char *cookie = cookie_from_request(msg);
        g_autofree char *json = cookie ? tp_unsign(config->secret, COOKIE_CONTEXT, cookie) : NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autofree char *query = NULL;
        g_autofree char *url = NULL;
        g_autofree char *e_url = NULL;
        g_autofree char *js_url = NULL;
        g_autofree char *body = NULL;
        g_autofree char *clear = NULL;
        g_autofree char *slug = g_uri_escape_string(account->slug, NULL, FALSE);
        JsonObject *o;
        JsonNode *exp;
        const char *actor_name, *fragment, *idp, *state, *cookie_slug;

        if (!json || !json_parser_load_from_data(parser, json, -1, NULL) || !json_parser_get_root(parser) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                respond_message(msg, SOUP_STATUS_BAD_REQUEST, "Sign-in expired",
                                "This sign-in link is no longer valid. Start again from the app.");
                return;
        }
        o = json_node_get_object(json_parser_get_root(parser));
        exp = json_object_get_member(o, "exp");
        actor_name = json_string(o, "actor_name");
        fragment = json_string(o, "fragment");
        idp = json_string(o, "identity_provider_identifier");
        state = json_string(o, "state");
        cookie_slug = json_string(o, "account_slug");
        if (!exp || json_node_get_value_type(exp) != G_TYPE_INT64 || json_node_get_int(exp) < now ||
            !actor_name || !fragment || !idp || !state || g_strcmp0(cookie_slug, account->slug) != 0) {
                respond_message(msg, SOUP_STATUS_BAD_REQUEST, "Sign-in expired",
                                "This sign-in link is no longer valid. Start again from the app.");
                return;
        }
        query = soup_form_encode("account_name", account->name, "account_slug", account->slug, "actor_name",
                                 actor_name, "fragment", fragment, "identity_provider_identifier", idp,
                                 "state", state, NULL);
        url = g_strdup_printf(TP_CLIENT_HANDLER "handle_client_sign_in_callback?%s", query);
        e_url = g_markup_escape_text(url, -1);
        /* The URL is form-encoded, so it holds no quote or backslash that could end the JS string. */
        js_url = g_strescape(url, NULL);
        body = g_strdup_printf(
            "<h1>Signed in</h1><p class=\"sub\">If the app did not open, use this button.</p>"
            "<a class=\"button\" id=\"open-app\" href=\"%s\">Open the app</a>"
            "<script>window.location.replace(\"%s\");</script>",
            e_url, js_url);
        clear = g_strdup_printf(COOKIE_NAME "=; Path=/%s/sign_in; Max-Age=0; HttpOnly; SameSite=Lax", slug);
        soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie", clear);
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location", url);
        respond_html(msg, SOUP_STATUS_FOUND, "Signed in", NULL, body);
}

static void render_account_list(SoupServerMessage *msg, const TpConfig *config)
{
        const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
        g_autoptr(GString) body =
            g_string_new("<h1>Choose your account</h1><p class=\"sub\">Accounts on this portal:</p>");

        for (guint i = 0; i < config->accounts->len; i++) {
                const TpAccount *a = g_ptr_array_index(config->accounts, i);
                g_autofree char *slug = g_uri_escape_string(a->slug, NULL, FALSE);
                g_autofree char *href = g_strdup_printf("/%s%s%s", slug, q ? "?" : "", q ? q : "");
                g_autofree char *e_href = g_markup_escape_text(href, -1);
                g_autofree char *e_name = g_markup_escape_text(a->name, -1);

                g_string_append_printf(body, "<a class=\"button\" href=\"%s\">%s</a>", e_href, e_name);
        }
        respond_html(msg, SOUP_STATUS_OK, "Choose your account", NULL, body->str);
}

gboolean tp_signin_handle(SoupServerMessage *msg, const char *path, const TpConfig *config, gint64 now)
{
        const char *method = soup_server_message_get_method(msg);
        g_auto(GStrv) segments = NULL;
        const TpAccount *account;
        guint n;

        if (g_str_equal(path, "/")) {
                if (!g_str_equal(method, "GET"))
                        return FALSE;
                render_account_list(msg, config);
                return TRUE;
        }
        segments = g_strsplit(path + 1, "/", -1);
        n = g_strv_length(segments);
        account = tp_config_find_account(config, segments[0]);
        if (!account)
                return FALSE;
        if (n == 1 && g_str_equal(method, "GET")) {
                GHashTable *query = NULL;
                const char *q = g_uri_get_query(soup_server_message_get_uri(msg));
                g_autoptr(GHashTable) owned = q ? soup_form_decode(q) : NULL;
                const char *reason = NULL;
                const char *as, *nonce, *state;

                query = owned;
                as = query ? g_hash_table_lookup(query, "as") : NULL;
                nonce = query ? g_hash_table_lookup(query, "nonce") : NULL;
                state = query ? g_hash_table_lookup(query, "state") : NULL;
                if (!check_flow(as, nonce, state, &reason))
                        respond_message(msg, SOUP_STATUS_BAD_REQUEST, "Invalid sign-in request", reason);
                else
                        render_form(msg, SOUP_STATUS_OK, account, as, nonce, state, NULL, NULL);
                return TRUE;
        }
        if (n == 1 && g_str_equal(method, "POST")) {
                handle_post(msg, config, account, now);
                return TRUE;
        }
        if (n == 3 && g_str_equal(segments[1], "sign_in") && g_str_equal(segments[2], "client_redirect") &&
            g_str_equal(method, "GET")) {
                handle_client_redirect(msg, config, account, now);
                return TRUE;
        }
        return FALSE;
}
