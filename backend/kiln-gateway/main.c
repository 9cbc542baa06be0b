/* SPDX-License-Identifier: MIT */
/*
 * kiln-gateway --api-url URL [--token-file F | env KILN_GATEWAY_TOKEN] [--log-dir D]
 *              [--state-dir D] [--interface NAME] [--name NAME] [--port PORT] [--log-level LEVEL]
 *
 * Connects to the portal as a gateway (/gateway/v2/websocket, topic "gateway"), brings up the
 * TUN with the addresses from init plus forwarding and masquerade, keeps the per-client
 * authorizations in step with the portal, answers create_authorization, and runs the data path
 * (ICE, WireGuard, filters, DNS-resource NAT) on the TUN and a UDP socket.  SIGTERM/SIGINT
 * tear everything down and exit 0; a fatal portal error (bad token, …) exits 1.
 */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "backend/crypto/keys.h"
#include "backend/kiln-gateway/linux-platform.h"
#include "backend/kiln-gateway/engine-connections.h"
#include "backend/kiln-gateway/session.h"
#include "backend/log/log.h"
#include "backend/portal/client.h"
#include "backend/portal/device-id.h"

#define TARGET          "kiln_gateway::main"
#define TOKEN_ENV       "KILN_GATEWAY_TOKEN"
#define MAX_TOKEN_BYTES 8192

typedef struct {
        GMainLoop *loop;
        KilnLogger *logger;
        int exit_code;
        KilnGatewayLinuxPlatform *platform;
        KilnGatewayEngineConnections *connections;
        char *ipv4, *ipv6; /* the TUN addresses the data path runs with */
} Gateway;

/* The platform, with the data path started on the TUN once init has brought it up. */
static gboolean configure(gpointer data, const char *ipv4, const char *ipv6, GError **error)
{
        Gateway *gw = data;

        /* New addresses would mean a new TUN under the running data path: a restart (by the
         * service manager) applies them instead. */
        if (gw->ipv4 && (g_strcmp0(gw->ipv4, ipv4) != 0 || g_strcmp0(gw->ipv6, ipv6) != 0)) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                    "the portal changed the tunnel addresses; restart to apply them");
                return FALSE;
        }
        if (!kiln_gateway_linux_platform_ops.configure(gw->platform, ipv4, ipv6, error) ||
            !kiln_gateway_engine_connections_start(
                gw->connections, kiln_gateway_linux_platform_get_tun_fd(gw->platform), error))
                return FALSE;
        g_free(gw->ipv4);
        g_free(gw->ipv6);
        gw->ipv4 = g_strdup(ipv4);
        gw->ipv6 = g_strdup(ipv6);
        return TRUE;
}

static void teardown(gpointer data)
{
        Gateway *gw = data;

        /* The loop's TUN thread must be gone before the fd closes; queued revokes run first. */
        kiln_gateway_engine_connections_stop(gw->connections);
        kiln_gateway_linux_platform_ops.teardown(gw->platform);
}

static const KilnGatewayPlatformOps platform_ops = { .configure = configure, .teardown = teardown };

static gboolean on_signal(gpointer data)
{
        Gateway *gw = data;

        kiln_log(gw->logger, KILN_LOG_INFO, TARGET, "stopping on signal");
        g_main_loop_quit(gw->loop);
        return G_SOURCE_CONTINUE;
}

static void on_fatal(KilnPortalClient *client, int kind, const char *detail, Gateway *gw)
{
        (void)client;
        kiln_log(gw->logger, KILN_LOG_ERROR, TARGET, "portal connection failed for good",
                 KILN_LOG_INT("kind", kind), KILN_LOG_STR("detail", detail));
        gw->exit_code = 1;
        g_main_loop_quit(gw->loop);
}

static void on_session_fatal(KilnGatewaySession *session, const char *detail, Gateway *gw)
{
        (void)session;
        (void)detail;
        gw->exit_code = 1;
        g_main_loop_quit(gw->loop);
}

static void on_hiccup(KilnPortalClient *client, const char *reason, guint delay_ms, Gateway *gw)
{
        (void)client;
        kiln_log(gw->logger, KILN_LOG_WARN, TARGET, "portal connection interrupted",
                 KILN_LOG_STR("reason", reason), KILN_LOG_INT("retry_in_ms", delay_ms));
}

static void on_joined(KilnPortalClient *client, Gateway *gw)
{
        (void)client;
        kiln_log(gw->logger, KILN_LOG_INFO, TARGET, "joined the portal's gateway channel");
}

static void on_gateway_message(KilnPortalClient *client, KilnPortalGatewayMessage *message,
                               KilnGatewaySession *session)
{
        (void)client;
        kiln_gateway_session_handle_message(session, message);
}

static void on_portal_send(KilnGatewaySession *session, const char *event, JsonNode *payload,
                           KilnPortalClient *client)
{
        (void)session;
        kiln_portal_client_send(client, event, payload);
}

/* GLib's messages (the portal session's skipped events, library warnings) go to the log too;
 * debug messages only from Kiln's own code, which logs without a domain. */
static void on_glib_log(const char *domain, GLogLevelFlags flags, const char *message, gpointer data)
{
        KilnLogLevel level = (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) ? KILN_LOG_ERROR
                             : (flags & G_LOG_LEVEL_WARNING)                      ? KILN_LOG_WARN
                             : (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) ? KILN_LOG_INFO
                                                                                  : KILN_LOG_DEBUG;

        if (level == KILN_LOG_DEBUG && domain)
                return;
        kiln_log(data, level, domain ? domain : "kiln_gateway::glib", message);
}

/* The token with surrounding whitespace removed; the file is read once and never logged. */
static char *read_token(const char *path, GError **error)
{
        g_autofree char *contents = NULL;
        gsize len;

        if (!path) {
                const char *env = g_getenv(TOKEN_ENV);

                if (!env || !*env) {
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                    "no token: give --token-file or set " TOKEN_ENV);
                        return NULL;
                }
                contents = g_strdup(env);
                /* Children (iptables) need not see it. */
                g_unsetenv(TOKEN_ENV);
        } else if (!g_file_get_contents(path, &contents, &len, error)) {
                return NULL;
        } else if (len > MAX_TOKEN_BYTES) {
                sodium_memzero(contents, len);
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the token file is over %d bytes",
                            MAX_TOKEN_BYTES);
                return NULL;
        }
        g_strstrip(contents);
        if (!*contents) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the token is empty");
                return NULL;
        }
        return g_steal_pointer(&contents);
}

static void wipe_string(char *s)
{
        if (s)
                sodium_memzero(s, strlen(s));
}

int main(int argc, char *argv[])
{
        g_autofree char *api_url = NULL, *token_file = NULL, *log_dir = NULL, *state_dir = NULL;
        g_autofree char *interface = NULL, *name = NULL, *level_name = NULL;
        gint port = 0;
        g_autofree char *token = NULL, *id_path = NULL, *device_id = NULL, *external_id = NULL;
        g_autofree char *public_b64 = g_malloc(WG_KEY_LEN_BASE64);
        g_autoptr(GOptionContext) context = g_option_context_new("- Kiln's Firezone-compatible gateway");
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnPortalClient) client = NULL;
        g_autoptr(KilnGatewaySession) session = NULL;
        uint8_t private_key[WG_KEY_LEN], public_key[WG_KEY_LEN];
        KilnLogConfig config = { .name = "kiln-gateway", .to_stderr = TRUE, .level = KILN_LOG_INFO };
        KilnPortalLoginParams params = { .role = KILN_PORTAL_ROLE_GATEWAY };
        Gateway gw = { 0 };
        int r;
        GOptionEntry entries[] = {
                { "api-url", 0, 0, G_OPTION_ARG_STRING, &api_url,
                  "Portal API URL, e.g. wss://api.firezone.dev", "URL" },
                { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
                  "File holding the gateway token (else $" TOKEN_ENV ")", "FILE" },
                { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir, "Directory for kiln-gateway.log",
                  "DIR" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
                  "Directory for the gateway id (default $STATE_DIRECTORY or /var/lib/kiln-gateway)",
                  "DIR" },
                { "interface", 0, 0, G_OPTION_ARG_STRING, &interface, "TUN device name (default tun-kiln)",
                  "NAME" },
                { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Name shown in the portal (default: host name)",
                  "NAME" },
                { "port", 0, 0, G_OPTION_ARG_INT, &port, "UDP port for WireGuard and ICE (default: any)",
                  "PORT" },
                { "log-level", 0, 0, G_OPTION_ARG_STRING, &level_name, "error, warn, info, debug or trace",
                  "LEVEL" },
                G_OPTION_ENTRY_NULL,
        };

        g_option_context_add_main_entries(context, entries, NULL);
        if (!g_option_context_parse(context, &argc, &argv, &error) || argc > 1 || !api_url) {
                fprintf(stderr, "kiln-gateway: %s\n",
                        error      ? error->message
                        : argc > 1 ? "unexpected arguments"
                                   : "--api-url is required");
                return 2;
        }
        if (port < 0 || port > G_MAXUINT16) {
                fprintf(stderr, "kiln-gateway: --port must be 0 to 65535\n");
                return 2;
        }
        if (level_name && kiln_log_level_from_string(level_name, &config.level) < 0) {
                fprintf(stderr, "kiln-gateway: unknown log level \"%s\"\n", level_name);
                return 2;
        }
        token = read_token(token_file, &error);
        if (!token) {
                fprintf(stderr, "kiln-gateway: %s\n", error->message);
                return 2;
        }
        if (kiln_crypto_init() < 0) {
                fprintf(stderr, "kiln-gateway: libsodium failed to initialise\n");
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);

        if (!log_dir)
                log_dir = g_strdup(g_getenv("LOGS_DIRECTORY"));
        config.dir = log_dir;
        r = kiln_logger_open(&config, &gw.logger);
        if (r < 0) {
                fprintf(stderr, "kiln-gateway: cannot open the log in %s: %s\n", log_dir, g_strerror(-r));
                return 1;
        }
        kiln_logger_add_secret(gw.logger, token);
        g_log_set_default_handler(on_glib_log, gw.logger);

        if (!state_dir)
                state_dir = g_strdup(g_getenv("STATE_DIRECTORY") ? g_getenv("STATE_DIRECTORY")
                                                                 : "/var/lib/kiln-gateway");
        id_path = g_build_filename(state_dir, "gateway-id.json", NULL);
        if (!kiln_device_id_load_or_create(id_path, &device_id, &error)) {
                kiln_log(gw.logger, KILN_LOG_ERROR, TARGET, "no gateway id",
                         KILN_LOG_STR("error", error->message));
                gw.exit_code = 1;
                goto out;
        }
        external_id = kiln_device_id_external_id(device_id);

        /* A fresh key per run, in memory only: the portal learns it from the public_key param. */
        curve25519_generate_secret(private_key);
        curve25519_generate_public(public_key, private_key);
        key_to_base64(public_b64, public_key);

        params.api_url = api_url;
        params.external_id = external_id;
        params.name = name ? name : g_get_host_name();
        client = kiln_portal_client_new(&params, token, public_key, &error);
        if (!client) {
                kiln_log(gw.logger, KILN_LOG_ERROR, TARGET, "bad portal settings",
                         KILN_LOG_STR("error", error->message));
                gw.exit_code = 2;
                goto out;
        }
        gw.connections = kiln_gateway_engine_connections_new(private_key, (guint16)port, gw.logger, &error);
        if (!gw.connections) {
                kiln_log(gw.logger, KILN_LOG_ERROR, TARGET, "no data path",
                         KILN_LOG_STR("error", error->message));
                gw.exit_code = 1;
                goto out;
        }
        gw.loop = g_main_loop_new(NULL, FALSE);
        gw.platform = kiln_gateway_linux_platform_new(interface ? interface : "tun-kiln", gw.logger);
        session = kiln_gateway_session_new(KILN_GATEWAY_CONNECTIONS(gw.connections), &platform_ops, &gw,
                                           gw.logger);
        g_signal_connect(client, "gateway-message", G_CALLBACK(on_gateway_message), session);
        g_signal_connect(client, "fatal-error", G_CALLBACK(on_fatal), &gw);
        g_signal_connect(client, "hiccup", G_CALLBACK(on_hiccup), &gw);
        g_signal_connect(client, "joined", G_CALLBACK(on_joined), &gw);
        g_signal_connect(session, "portal-send", G_CALLBACK(on_portal_send), client);
        g_signal_connect(session, "fatal-error", G_CALLBACK(on_session_fatal), &gw);
        g_unix_signal_add(SIGTERM, on_signal, &gw);
        g_unix_signal_add(SIGINT, on_signal, &gw);

        kiln_log(gw.logger, KILN_LOG_INFO, TARGET, "starting", KILN_LOG_INT("pid", getpid()),
                 KILN_LOG_STR("api_url", api_url), KILN_LOG_STR("external_id", external_id),
                 KILN_LOG_STR("public_key", public_b64), KILN_LOG_SECRET("token"));
        kiln_portal_client_start(client);
        g_main_loop_run(gw.loop);

        kiln_gateway_session_shutdown(session);
        kiln_portal_client_stop(client);
        kiln_log(gw.logger, KILN_LOG_INFO, TARGET, "stopped", KILN_LOG_INT("exit_code", gw.exit_code));
out:
        sodium_memzero(private_key, sizeof(private_key));
        wipe_string(token);
        g_clear_pointer(&gw.loop, g_main_loop_unref);
        g_clear_object(&session);
        if (gw.connections)
                kiln_gateway_engine_connections_stop(gw.connections);
        g_clear_object(&gw.connections);
        g_clear_pointer(&gw.platform, kiln_gateway_linux_platform_free);
        g_free(gw.ipv4);
        g_free(gw.ipv6);
        g_clear_object(&client);
        kiln_logger_free(gw.logger);
        return gw.exit_code;
}
