/* SPDX-License-Identifier: MIT */
/* kiln-test-portal: a small Firezone-compatible control plane for Kiln's tests and demo.
 *
 *   kiln-test-portal --config FILE [--listen ADDRESS] [--port PORT]
 *       serves sign-in and the client/gateway WebSockets; prints "listening on URL" when ready;
 *       SIGHUP re-reads FILE; SIGINT/SIGTERM stop it.
 *   kiln-test-portal --config FILE --issue-token EMAIL --account SLUG [--nonce N] [--expires-in S]
 *       prints a client token (nonce ‖ fragment) that a portal with the same "secret" accepts,
 *       for tests that skip the browser. */
#include <glib-unix.h>
#include <sodium.h>
#include <stdio.h>

#include "tests/portal/portal.h"

static gboolean on_hup(gpointer data)
{
        g_autoptr(GError) error = NULL;

        if (!tp_portal_reload(data, &error))
                g_warning("configuration reload rejected, keeping the old one: %s", error->message);
        return G_SOURCE_CONTINUE;
}

static gboolean on_quit(gpointer data)
{
        g_main_loop_quit(data);
        return G_SOURCE_CONTINUE;
}

static int issue_token(const TpConfig *config, const char *email, const char *slug, const char *nonce,
                       gint64 expires_in)
{
        const TpAccount *account = slug ? tp_config_find_account(config, slug) : NULL;
        const TpUser *user = account ? tp_account_find_user(account, email) : NULL;
        gint64 now = g_get_real_time() / G_USEC_PER_SEC;
        g_autofree char *generated = NULL;
        g_autofree char *fragment = NULL;

        if (!config->has_secret) {
                g_printerr(
                    "--issue-token needs a \"secret\" in the configuration, or no portal would accept it\n");
                return 2;
        }
        if (!user) {
                g_printerr("no user %s in account %s\n", email, slug ? slug : "(none: use --account)");
                return 2;
        }
        if (!nonce) {
                uint8_t raw[32];

                randombytes_buf(raw, sizeof(raw));
                generated = g_malloc(sizeof(raw) * 2 + 1);
                sodium_bin2hex(generated, sizeof(raw) * 2 + 1, raw, sizeof(raw));
                nonce = generated;
        }
        if (!tp_nonce_is_valid(nonce)) {
                g_printerr("the nonce must be at most 128 characters without '.'\n");
                return 2;
        }
        fragment = tp_token_issue_fragment(config->secret, account->slug, user->email, nonce, now,
                                           now + (expires_in ? expires_in : config->token_lifetime_secs));
        printf("%s%s\n", nonce, fragment);
        return 0;
}

int main(int argc, char **argv)
{
        g_autofree char *config_path = NULL;
        g_autofree char *listen = NULL;
        g_autofree char *issue_email = NULL;
        g_autofree char *issue_account = NULL;
        g_autofree char *issue_nonce = NULL;
        gint64 expires_in = 0;
        int port = -1;
        const GOptionEntry entries[] = {
                { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (JSON)",
                  "FILE" },
                { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Listen address (overrides the file)",
                  "IP" },
                { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Listen port, 0 = ephemeral (overrides the file)",
                  "PORT" },
                { "issue-token", 0, 0, G_OPTION_ARG_STRING, &issue_email,
                  "Print a client token for EMAIL and exit", "EMAIL" },
                { "account", 0, 0, G_OPTION_ARG_STRING, &issue_account, "Account slug for --issue-token",
                  "SLUG" },
                { "nonce", 0, 0, G_OPTION_ARG_STRING, &issue_nonce,
                  "Nonce for --issue-token (default: random)", "NONCE" },
                { "expires-in", 0, 0, G_OPTION_ARG_INT64, &expires_in,
                  "Lifetime for --issue-token in seconds (default: token_lifetime_secs; may be negative)",
                  "SECS" },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- Firezone-compatible test portal for Kiln");
        g_autoptr(GError) error = NULL;
        g_autoptr(TpConfig) config = NULL;
        g_autoptr(TpPortal) portal = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        g_autofree char *url = NULL;
        g_autofree char *address = NULL;
        guint listen_port;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                g_printerr("%s\n", error->message);
                return 2;
        }
        if (!config_path) {
                g_printerr("--config FILE is required\n");
                return 2;
        }
        if (sodium_init() < 0) {
                g_printerr("libsodium failed to initialise\n");
                return 1;
        }
        config = tp_config_load_file(config_path, &error);
        if (!config) {
                g_printerr("%s\n", error->message);
                return 1;
        }
        if (issue_email)
                return issue_token(config, issue_email, issue_account, issue_nonce, expires_in);
        if (port > 65535) {
                g_printerr("--port must be 0..65535\n");
                return 2;
        }

        address = g_strdup(listen ? listen : config->listen_address);
        listen_port = port >= 0 ? (guint)port : config->listen_port;
        portal = tp_portal_new(g_steal_pointer(&config), config_path);
        if (!tp_portal_listen(portal, address, listen_port, &url, &error)) {
                g_printerr("cannot listen on %s port %u: %s\n", address, listen_port, error->message);
                return 1;
        }
        loop = g_main_loop_new(NULL, FALSE);
        g_unix_signal_add(SIGHUP, on_hup, portal);
        g_unix_signal_add(SIGINT, on_quit, loop);
        g_unix_signal_add(SIGTERM, on_quit, loop);
        printf("listening on %s\n", url);
        fflush(stdout);
        g_main_loop_run(loop);
        return 0;
}
