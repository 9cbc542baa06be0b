/* SPDX-License-Identifier: MIT */
/*
 * kilnd: Kiln's privileged helper.  Serves dev.kiln.Tunnel1 as dev.kiln.Tunnel on the system
 * bus (or a session bus, a bus at an address, or peer-to-peer on a Unix socket), tells systemd
 * READY=1 once the name is owned, and on SIGTERM/SIGINT stops the session, releases the name
 * and exits 0.  With --headless it runs one session from a token without D-Bus (headless.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <sodium.h>

#include "backend/kilnd/daemon.h"
#include "backend/kilnd/dns-control.h"
#include "backend/kilnd/notify.h"
#include "backend/kilnd/headless.h"
#include "backend/kilnd/portal-session.h"
#include "backend/kilnd/validate.h"
#include "backend/platform/routes.h"
#include "backend/portal/device-id.h"
#include "backend/log/log.h"

#define T_MAIN              "kilnd"
#define SHUTDOWN_TIMEOUT_MS 4000

typedef struct {
        GMainLoop *loop;
        KilnLogger *logger;
        KilnDaemon *daemon;
        GDBusConnection *bus;
        GDBusServer *server;
        char *socket_path;
        guint name_id;
        int exit_code;
        gboolean stopping;
} Kilnd;

static void quit(Kilnd *k, int code)
{
        if (code != 0 && k->exit_code == 0)
                k->exit_code = code;
        g_main_loop_quit(k->loop);
}

static void shutdown_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Kilnd *k = user_data;
        g_autoptr(GError) error = NULL;

        if (!kiln_daemon_shutdown_finish(KILN_DAEMON(source), result, &error))
                kiln_log(k->logger, KILN_LOG_WARN, T_MAIN, "session stop incomplete",
                         KILN_LOG_STR("error", error->message));
        quit(k, 0);
}

static void begin_shutdown(Kilnd *k, const char *why)
{
        if (k->stopping)
                return;
        k->stopping = TRUE;
        kiln_log(k->logger, KILN_LOG_INFO, T_MAIN, "shutting down", KILN_LOG_STR("reason", why));
        (void)kilnd_notify("STOPPING=1");
        kiln_daemon_shutdown_async(k->daemon, SHUTDOWN_TIMEOUT_MS, shutdown_done, k);
}

static gboolean on_sigterm(gpointer user_data)
{
        begin_shutdown(user_data, "SIGTERM");
        return G_SOURCE_CONTINUE;
}

static gboolean on_sigint(gpointer user_data)
{
        begin_shutdown(user_data, "SIGINT");
        return G_SOURCE_CONTINUE;
}

static void ready(Kilnd *k, const char *where)
{
        int r = kilnd_notify("READY=1\nSTATUS=serving dev.kiln.Tunnel1");

        kiln_log(k->logger, KILN_LOG_INFO, T_MAIN, "ready", KILN_LOG_STR("on", where),
                 KILN_LOG_BOOL("notified_systemd", r > 0));
        if (r < 0)
                kiln_log(k->logger, KILN_LOG_WARN, T_MAIN, "sd_notify failed",
                         KILN_LOG_STR("error", g_strerror(-r)));
}

static void name_acquired(GDBusConnection *connection, const char *name, gpointer user_data)
{
        ready(user_data, name);
}

static void name_lost(GDBusConnection *connection, const char *name, gpointer user_data)
{
        Kilnd *k = user_data;

        if (k->stopping)
                return;
        /* Either another kilnd owns it or the policy forbids us: both are fatal for a service. */
        kiln_log(k->logger, KILN_LOG_ERROR, T_MAIN, "could not own the bus name (another kilnd? policy?)",
                 KILN_LOG_STR("name", name));
        quit(k, 1);
}

static void bus_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                       gpointer user_data)
{
        Kilnd *k = user_data;

        if (k->stopping)
                return;
        kiln_log(k->logger, KILN_LOG_ERROR, T_MAIN, "lost the bus connection",
                 KILN_LOG_STR("error", error ? error->message : "closed"));
        quit(k, 1);
}

static int serve_bus(Kilnd *k, const char *bus_type, const char *address)
{
        g_autoptr(GError) error = NULL;

        if (address) {
                k->bus = g_dbus_connection_new_for_address_sync(
                    address,
                    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                    NULL, NULL, &error);
        } else {
                k->bus = g_bus_get_sync(
                    strcmp(bus_type, "session") == 0 ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, &error);
        }
        if (!k->bus) {
                kiln_log(k->logger, KILN_LOG_ERROR, T_MAIN, "cannot connect to the bus",
                         KILN_LOG_STR("error", error->message));
                return -ENOTCONN;
        }
        g_dbus_connection_set_exit_on_close(k->bus, FALSE);
        g_signal_connect(k->bus, "closed", G_CALLBACK(bus_closed), k);
        if (!kiln_daemon_export(k->daemon, k->bus, &error)) {
                kiln_log(k->logger, KILN_LOG_ERROR, T_MAIN, "cannot export the object",
                         KILN_LOG_STR("error", error->message));
                return -EIO;
        }
        k->name_id =
            g_bus_own_name_on_connection(k->bus, KILN_TUNNEL_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                         name_acquired, name_lost, k, NULL);
        return 0;
}

/* Peer-to-peer: only root and kilnd's own user may talk to it, and only by EXTERNAL (credentials). */
static gboolean allow_mechanism(GDBusAuthObserver *observer, const char *mechanism, gpointer user_data)
{
        return g_strcmp0(mechanism, "EXTERNAL") == 0;
}

static gboolean authorize_peer(GDBusAuthObserver *observer, GIOStream *stream, GCredentials *credentials,
                               gpointer user_data)
{
        Kilnd *k = user_data;
        uid_t uid = credentials ? g_credentials_get_unix_user(credentials, NULL) : (uid_t)-1;
        gboolean ok = uid == 0 || uid == geteuid();

        if (!ok)
                kiln_log(k->logger, KILN_LOG_WARN, T_MAIN, "refused a peer",
                         KILN_LOG_INT("uid", (gint64)uid));
        return ok;
}

static void peer_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                        gpointer user_data)
{
        Kilnd *k = user_data;

        kiln_log(k->logger, KILN_LOG_DEBUG, T_MAIN, "peer disconnected");
        kiln_daemon_unexport(k->daemon, connection);
        g_signal_handlers_disconnect_by_func(connection, peer_closed, k);
        g_object_unref(connection);
}

static gboolean new_peer(GDBusServer *server, GDBusConnection *connection, gpointer user_data)
{
        Kilnd *k = user_data;
        g_autoptr(GError) error = NULL;

        if (k->stopping)
                return FALSE;
        if (!kiln_daemon_export(k->daemon, connection, &error)) {
                kiln_log(k->logger, KILN_LOG_WARN, T_MAIN, "cannot export to a peer",
                         KILN_LOG_STR("error", error->message));
                return FALSE;
        }
        kiln_log(k->logger, KILN_LOG_DEBUG, T_MAIN, "peer connected");
        g_signal_connect(g_object_ref(connection), "closed", G_CALLBACK(peer_closed), k);
        return TRUE;
}

static int serve_p2p(Kilnd *k, const char *path)
{
        g_autoptr(GDBusAuthObserver) observer = g_dbus_auth_observer_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *guid = g_dbus_generate_guid();
        g_autofree char *escaped = g_dbus_address_escape_value(path);
        g_autofree char *address = g_strconcat("unix:path=", escaped, NULL);

        g_signal_connect(observer, "allow-mechanism", G_CALLBACK(allow_mechanism), k);
        g_signal_connect(observer, "authorize-authenticated-peer", G_CALLBACK(authorize_peer), k);
        /* A stale socket of an earlier run would make the bind fail. */
        (void)unlink(path);
        k->server = g_dbus_server_new_sync(address, G_DBUS_SERVER_FLAGS_NONE, guid, observer, NULL, &error);
        if (!k->server) {
                kiln_log(k->logger, KILN_LOG_ERROR, T_MAIN, "cannot listen", KILN_LOG_STR("socket", path),
                         KILN_LOG_STR("error", error->message));
                return -EADDRNOTAVAIL;
        }
        (void)chmod(path, 0660);
        k->socket_path = g_strdup(path);
        g_signal_connect(k->server, "new-connection", G_CALLBACK(new_peer), k);
        g_dbus_server_start(k->server);
        ready(k, path);
        return 0;
}

static void stop_serving(Kilnd *k)
{
        if (k->name_id) {
                g_bus_unown_name(k->name_id);
                k->name_id = 0;
        }
        if (k->bus) {
                kiln_daemon_unexport(k->daemon, k->bus);
                /* Pushes the name release and last signals out before we exit. */
                (void)g_dbus_connection_flush_sync(k->bus, NULL, NULL);
                g_signal_handlers_disconnect_by_data(k->bus, k);
                g_clear_object(&k->bus);
        }
        if (k->server) {
                g_dbus_server_stop(k->server);
                g_clear_object(&k->server);
                (void)unlink(k->socket_path);
                g_clear_pointer(&k->socket_path, g_free);
        }
}

/* Removing a rule that is not there succeeds, so this is a no-op after a clean exit. */
static int remove_stale_rules(void)
{
        struct kiln_routes *routes;
        int r = kiln_routes_new(0, &routes);
        if (r < 0)
                return r;
        r = kiln_routes_remove_rules(routes, 3);
        kiln_routes_free(routes);
        return r;
}

int main(int argc, char **argv)
{
        g_autofree char *bus_type = NULL;
        g_autofree char *bus_address = NULL;
        g_autofree char *p2p_socket = NULL;
        g_autofree char *log_dir = NULL;
        g_autofree char *state_dir = NULL;
        g_autofree char *log_level = NULL;
        gint64 log_file_size = 4 * 1024 * 1024;
        int log_files = 4;
        g_autofree char *api_url = NULL;
        g_autofree char *token_file = NULL;
        g_autofree char *dns_control = NULL;
        gboolean version = FALSE, quiet = FALSE, headless = FALSE, internet_resource = FALSE;
        const GOptionEntry entries[] = {
                { "headless", 0, 0, G_OPTION_ARG_NONE, &headless,
                  "Run one session without D-Bus, token from $KILN_TOKEN or --token-file", NULL },
                { "api-url", 0, 0, G_OPTION_ARG_STRING, &api_url,
                  "Headless: portal API URL (default " KILN_DEFAULT_API_URL ")", "URL" },
                { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
                  "Headless: file with the token, mode 0600 or 0400 (else $KILN_TOKEN)", "PATH" },
                { "activate-internet-resource", 0, 0, G_OPTION_ARG_NONE, &internet_resource,
                  "Headless: enable the Internet resource", NULL },
                { "dns-control", 0, 0, G_OPTION_ARG_STRING, &dns_control,
                  "auto (default: systemd-resolved if running, else /etc/resolv.conf), resolved, "
                  "resolv-conf or disabled",
                  "MODE" },
                { "bus", 0, 0, G_OPTION_ARG_STRING, &bus_type,
                  "Bus to serve on: system (default) or session", "system|session" },
                { "bus-address", 0, 0, G_OPTION_ARG_STRING, &bus_address,
                  "Serve on the message bus at ADDRESS", "ADDRESS" },
                { "p2p-socket", 0, 0, G_OPTION_ARG_FILENAME, &p2p_socket,
                  "Serve peer-to-peer on a Unix socket instead of a bus (tests, development)", "PATH" },
                { "log-dir", 0, 0, G_OPTION_ARG_FILENAME, &log_dir,
                  "Log directory (default $LOGS_DIRECTORY or /var/log/kiln)", "DIR" },
                { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
                  "State directory with the device id (default $STATE_DIRECTORY or /var/lib/kiln)", "DIR" },
                { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
                  "error, warn, info (default), debug or trace", "LEVEL" },
                { "log-file-size", 0, 0, G_OPTION_ARG_INT64, &log_file_size,
                  "Bytes per log file before rotating (default 4 MiB)", "BYTES" },
                { "log-files", 0, 0, G_OPTION_ARG_INT, &log_files,
                  "Rotated log files kept besides the current one (default 4)", "N" },
                { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Do not copy log lines to stderr", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) context = g_option_context_new("- Kiln's privileged tunnel service");
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnPortalBackedSession) session = NULL;
        g_autofree char *device_id_path = NULL;
        g_autofree char *device_id = NULL;
        char *token = NULL;
        KilnLogConfig config = { 0 };
        Kilnd k = { 0 };
        int r;

        g_option_context_add_main_entries(context, entries, NULL);
        g_option_context_set_summary(context,
                                     "Serves dev.kiln.Tunnel1 at /dev/kiln/Tunnel as dev.kiln.Tunnel.");
        if (!g_option_context_parse(context, &argc, &argv, &error)) {
                fprintf(stderr, "kilnd: %s\n", error->message);
                return 2;
        }
        if (version) {
                printf("kilnd %s\n", KILN_VERSION);
                return 0;
        }
        if (argc > 1) {
                fprintf(stderr, "kilnd: unexpected argument '%s'\n", argv[1]);
                return 2;
        }
        if (bus_type && strcmp(bus_type, "system") != 0 && strcmp(bus_type, "session") != 0) {
                fprintf(stderr, "kilnd: --bus must be system or session\n");
                return 2;
        }
        if (headless && (p2p_socket || bus_address || bus_type)) {
                fprintf(stderr,
                        "kilnd: --headless runs without D-Bus: drop --bus, --bus-address, --p2p-socket\n");
                return 2;
        }
        if (!headless && (api_url || token_file || internet_resource)) {
                fprintf(stderr,
                        "kilnd: --api-url, --token-file and --activate-internet-resource need --headless\n");
                return 2;
        }
        if ((p2p_socket ? 1 : 0) + (bus_address ? 1 : 0) + (bus_type ? 1 : 0) > 1) {
                fprintf(stderr, "kilnd: --bus, --bus-address and --p2p-socket exclude each other\n");
                return 2;
        }
        if (dns_control && !kilnd_dns_control_mode_valid(dns_control)) {
                fprintf(stderr, "kilnd: --dns-control must be auto, resolved, resolv-conf or disabled\n");
                return 2;
        }
        if (log_file_size < 1024 || log_files < 0 || log_files > 100) {
                fprintf(stderr, "kilnd: --log-file-size must be ≥ 1024 and --log-files 0..100\n");
                return 2;
        }
        if (log_level && kiln_log_level_from_string(log_level, &config.level) < 0) {
                fprintf(stderr, "kilnd: unknown log level '%s'\n", log_level);
                return 2;
        }
        if (!log_level)
                config.level = KILN_LOG_INFO;
        if (!log_dir)
                log_dir =
                    g_strdup(g_getenv("LOGS_DIRECTORY") ? g_getenv("LOGS_DIRECTORY") : "/var/log/kiln");
        if (!state_dir)
                state_dir =
                    g_strdup(g_getenv("STATE_DIRECTORY") ? g_getenv("STATE_DIRECTORY") : "/var/lib/kiln");

        if (sodium_init() < 0) {
                fprintf(stderr, "kilnd: libsodium failed to initialise\n");
                return 1;
        }
        /* Exporting logs into a pipe whose reader went away must be an error, not a death. */
        signal(SIGPIPE, SIG_IGN);

        config.dir = log_dir;
        config.name = "kilnd";
        config.group = "kiln";
        config.max_file_size = (uint64_t)log_file_size;
        config.max_files = (unsigned)log_files;
        config.to_stderr = !quiet;
        r = kiln_logger_open(&config, &k.logger);
        if (r < 0) {
                fprintf(stderr, "kilnd: cannot open the log in %s: %s\n", log_dir, g_strerror(-r));
                return 1;
        }
        kiln_log(k.logger, KILN_LOG_INFO, T_MAIN, "starting", KILN_LOG_STR("version", KILN_VERSION),
                 KILN_LOG_INT("pid", getpid()), KILN_LOG_STR("log", kiln_logger_get_path(k.logger)),
                 KILN_LOG_STR("level", kiln_log_level_to_string(config.level)));

        device_id_path = g_build_filename(state_dir, "device-id.json", NULL);
        if (!kiln_device_id_load_or_create(device_id_path, &device_id, &error)) {
                kiln_log(k.logger, KILN_LOG_ERROR, T_MAIN, "no device id",
                         KILN_LOG_STR("error", error->message));
                kiln_logger_free(k.logger);
                return 1;
        }
        /* A kilnd killed while its resolv.conf was in place: the original comes back first. */
        r = kilnd_dns_control_recover(state_dir);
        if (r > 0)
                kiln_log(k.logger, KILN_LOG_WARN, T_MAIN,
                         "restored /etc/resolv.conf left behind by a previous run");
        else if (r < 0)
                kiln_log(k.logger, KILN_LOG_ERROR, T_MAIN,
                         "cannot restore /etc/resolv.conf from the crash state",
                         KILN_LOG_STR("error", g_strerror(-r)));
        /* Its policy rules too: the routes went with its device, the rules outlive it. */
        r = remove_stale_rules();
        if (r < 0)
                kiln_log(k.logger, KILN_LOG_ERROR, T_MAIN,
                         "cannot remove the policy rules of a previous run",
                         KILN_LOG_STR("error", g_strerror(-r)));
        session = kiln_portal_backed_session_new(k.logger, device_id);
        kiln_portal_backed_session_set_platform(session, state_dir, dns_control ? dns_control : "auto");
        if (headless) {
                KilnSessionOptions options = {
                        .api_url = api_url ? api_url : (char *)KILN_DEFAULT_API_URL,
                        .internet_resource_enabled = internet_resource,
                        .has_internet_resource_enabled = TRUE,
                };
                const char *env_token = g_getenv("KILN_TOKEN");

                /* Firezone's order: the environment first, then the file. */
                if (env_token && *env_token) {
                        token = sodium_malloc(strlen(env_token) + 1);
                        if (token)
                                memcpy(token, env_token, strlen(env_token) + 1);
                        g_unsetenv("KILN_TOKEN");
                } else if (token_file) {
                        token = kilnd_read_token_file(token_file, &error);
                } else {
                        g_set_error_literal(&error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                                            "no token: set KILN_TOKEN or pass --token-file");
                }
                if (token &&
                    (!kiln_validate_url(options.api_url, &error) || !kiln_validate_token(token, &error)))
                        g_clear_pointer(&token, kilnd_token_free);
                if (!token) {
                        fprintf(stderr, "kilnd: %s\n",
                                error ? error->message : "out of locked memory for the token");
                        kiln_logger_free(k.logger);
                        return 2;
                }
                r = kilnd_run_headless(k.logger, KILN_SESSION(session), token, &options);
                kilnd_token_free(token);
                g_clear_object(&session);
                kiln_logger_free(k.logger);
                return r;
        }

        k.loop = g_main_loop_new(NULL, FALSE);
        k.daemon = kiln_daemon_new(k.logger, KILN_SESSION(session), device_id);
        g_unix_signal_add(SIGTERM, on_sigterm, &k);
        g_unix_signal_add(SIGINT, on_sigint, &k);

        if (p2p_socket)
                r = serve_p2p(&k, p2p_socket);
        else
                r = serve_bus(&k, bus_type ? bus_type : "system", bus_address);
        if (r < 0)
                k.exit_code = 1;
        else
                g_main_loop_run(k.loop);

        if (kiln_session_get_state(KILN_SESSION(session)) != KILN_SESSION_SIGNED_OUT)
                kiln_session_stop(KILN_SESSION(session));
        stop_serving(&k);
        kiln_log(k.logger, KILN_LOG_INFO, T_MAIN, "stopped", KILN_LOG_INT("exit_code", k.exit_code));
        g_clear_object(&k.daemon);
        g_main_loop_unref(k.loop);
        kiln_logger_free(k.logger);
        return k.exit_code;
}
