/* SPDX-License-Identifier: MIT */
/*
 * backend/kilnd/daemon: the dev.kiln.Tunnel1 glue in-process, over a peer-to-peer D-Bus
 * connection on a socketpair (the bus-level rules — policy, unique-name watch — are covered by
 * test-kilnd-bus against a real dbus-daemon).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <sodium.h>

#include "backend/kilnd/daemon.h"
#include "backend/kilnd/portal-session.h"

#define IFACE     "dev.kiln.Tunnel1"
#define TOKEN     "nonce-0123456789.fragment-ABCDEFGHIJ"

#define DEVICE_ID "6f1c2c9e-1b7a-4d1e-9a53-0c2a4d7e8f10"

typedef struct {
        char *dir;
        KilnLogger *logger;
        KilnPortalBackedSession *session;
        KilnDaemon *daemon;
        GDBusConnection *server;
        GDBusConnection *client;
} Fixture;

static void connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GDBusConnection **out = user_data;
        g_autoptr(GError) error = NULL;

        *out = g_dbus_connection_new_finish(result, &error);
        g_assert_no_error(error);
}

/* A connected pair of peer-to-peer connections: (server side, client side). */
static void connection_pair(GDBusConnection **ret_server, GDBusConnection **ret_client)
{
        g_autofree char *guid = g_dbus_generate_guid();
        g_autoptr(GSocket) s0 = NULL, s1 = NULL;
        g_autoptr(GSocketConnection) c0 = NULL, c1 = NULL;
        GDBusConnection *server = NULL, *client = NULL;
        int sv[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
        s0 = g_socket_new_from_fd(sv[0], NULL);
        s1 = g_socket_new_from_fd(sv[1], NULL);
        c0 = g_socket_connection_factory_create_connection(s0);
        c1 = g_socket_connection_factory_create_connection(s1);
        g_dbus_connection_new(G_IO_STREAM(c0), guid, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL,
                              NULL, connected, &server);
        g_dbus_connection_new(G_IO_STREAM(c1), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
                              NULL, connected, &client);
        while (!server || !client)
                g_main_context_iteration(NULL, TRUE);
        *ret_server = server;
        *ret_client = client;
}

static void setup(Fixture *f, gconstpointer data)
{
        KilnLogConfig config = {
                .name = "kilnd", .max_file_size = 64 * 1024, .max_files = 2, .level = KILN_LOG_INFO
        };
        g_autoptr(GError) error = NULL;

        f->dir = g_dir_make_tmp("kilnd-daemon-XXXXXX", NULL);
        config.dir = f->dir;
        g_assert_cmpint(kiln_logger_open(&config, &f->logger), ==, 0);
        f->session = kiln_portal_backed_session_new(f->logger, DEVICE_ID);
        f->daemon = kiln_daemon_new(f->logger, KILN_SESSION(f->session), DEVICE_ID);
        connection_pair(&f->server, &f->client);
        g_assert_true(kiln_daemon_export(f->daemon, f->server, &error));
        g_assert_no_error(error);
}

static void teardown(Fixture *f, gconstpointer data)
{
        g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
        const char *name;

        g_clear_object(&f->client);
        g_clear_object(&f->daemon);
        g_clear_object(&f->session);
        g_clear_object(&f->server);
        kiln_logger_free(f->logger);
        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(f->dir, name, NULL);
                g_unlink(p);
        }
        g_rmdir(f->dir);
        g_free(f->dir);
}

typedef struct {
        gboolean done;
        GVariant *reply;
        GError *error;
} Call;

static void call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        Call *c = user_data;

        c->reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), NULL, result,
                                                                   &c->error);
        c->done = TRUE;
}

/* Calls on the client side while the daemon answers on this thread's main context. */
static GVariant *call_full(GDBusConnection *conn, const char *iface, const char *method, GVariant *params,
                           GUnixFDList *fds, GError **error)
{
        Call c = { 0 };

        g_dbus_connection_call_with_unix_fd_list(conn, NULL, KILN_TUNNEL_OBJECT_PATH, iface, method, params,
                                                 NULL, G_DBUS_CALL_FLAGS_NONE, 5000, fds, NULL, call_done,
                                                 &c);
        while (!c.done)
                g_main_context_iteration(NULL, TRUE);
        if (c.error)
                g_propagate_error(error, c.error);
        return c.reply;
}

static GVariant *call(Fixture *f, const char *method, GVariant *params, GError **error)
{
        return call_full(f->client, IFACE, method, params, NULL, error);
}

static void call_ok(Fixture *f, const char *method, GVariant *params)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = call(f, method, params, &error);

        g_assert_no_error(error);
}

static GVariant *get_all(GDBusConnection *conn)
{
        g_autoptr(GError) error = NULL;
        GVariant *reply = call_full(conn, "org.freedesktop.DBus.Properties", "GetAll",
                                    g_variant_new("(s)", IFACE), NULL, &error);

        g_assert_no_error(error);
        return reply;
}

static char *get_string(GDBusConnection *conn, const char *prop)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = call_full(conn, "org.freedesktop.DBus.Properties", "Get",
                                              g_variant_new("(ss)", IFACE, prop), NULL, &error);
        g_autoptr(GVariant) value = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &value);
        return g_variant_dup_string(value, NULL);
}

static gboolean get_bool(GDBusConnection *conn, const char *prop)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = call_full(conn, "org.freedesktop.DBus.Properties", "Get",
                                              g_variant_new("(ss)", IFACE, prop), NULL, &error);
        g_autoptr(GVariant) value = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &value);
        return g_variant_get_boolean(value);
}

static void assert_remote_error(GError *error, const char *name, const char *fragment)
{
        g_autofree char *remote = NULL;

        g_assert_nonnull(error);
        g_assert_true(g_dbus_error_is_remote_error(error));
        remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, name);
        g_assert_nonnull(strstr(error->message, fragment));
}

static char *log_contents(Fixture *f)
{
        char *contents = NULL;

        g_assert_true(g_file_get_contents(kiln_logger_get_path(f->logger), &contents, NULL, NULL));
        return contents;
}

static void test_properties(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) all = get_all(f->client);
        g_autoptr(GVariant) props = g_variant_get_child_value(all, 0);
        g_autoptr(GVariantDict) d = g_variant_dict_new(props);
        g_autoptr(GVariant) resources =
            g_variant_dict_lookup_value(d, "Resources", G_VARIANT_TYPE("aa{sv}"));
        const char *s;
        gboolean b = TRUE;

        g_assert_true(g_variant_dict_lookup(d, "State", "&s", &s));
        g_assert_cmpstr(s, ==, "signed-out");
        g_assert_true(g_variant_dict_lookup(d, "Version", "&s", &s));
        g_assert_cmpstr(s, ==, KILN_VERSION);
        g_assert_true(g_variant_dict_lookup(d, "DeviceId", "&s", &s));
        g_assert_cmpstr(s, ==, DEVICE_ID);
        g_assert_true(g_variant_dict_lookup(d, "LogLevel", "&s", &s));
        g_assert_cmpstr(s, ==, "info");
        g_assert_true(g_variant_dict_lookup(d, "InternetResourceEnabled", "b", &b));
        g_assert_false(b);
        g_assert_nonnull(resources);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 0);
}

static void test_bad_calls(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) before = get_all(f->client);
        g_autoptr(GVariant) after = NULL;
        const struct {
                const char *method;
                const char *params;
                const char *error;
                const char *fragment;
        } cases[] = {
                { "SignIn", "('', @a{sv} {})", "dev.kiln.Tunnel1.Error.InvalidToken", "empty" },
                { "SignIn", "('two words', @a{sv} {})", "dev.kiln.Tunnel1.Error.InvalidToken",
                  "position 3" },
                { "SignIn", "('tok', {'colour': <'red'>})", "dev.kiln.Tunnel1.Error.InvalidOption",
                  "colour" },
                { "SignIn", "('tok', {'api-url': <1>})", "dev.kiln.Tunnel1.Error.InvalidOption",
                  "type 's'" },
                { "SignIn", "('tok', {'api-url': <'ftp://h/'>})", "dev.kiln.Tunnel1.Error.InvalidUrl",
                  "ftp" },
                { "SignIn", "('tok', {'account-slug': <'../x'>})", "dev.kiln.Tunnel1.Error.InvalidOption",
                  "account-slug" },
                { "SetLogLevel", "('loud',)", "dev.kiln.Tunnel1.Error.InvalidLogLevel", "loud" },
                { "SetLogLevel", "('',)", "dev.kiln.Tunnel1.Error.InvalidLogLevel", "not one of" },
                { "ExportLogs", "(@h 0,)", "dev.kiln.Tunnel1.Error.InvalidFileDescriptor", "handle 0" },
                { "ExportLogs", "(@h -1,)", "dev.kiln.Tunnel1.Error.InvalidFileDescriptor", "handle -1" },
        };

        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                GVariant *params = g_variant_parse(NULL, cases[i].params, NULL, NULL, NULL);
                g_autoptr(GVariant) reply = NULL;

                g_assert_nonnull(params);
                reply = call(f, cases[i].method, params, &error);
                g_assert_null(reply);
                assert_remote_error(error, cases[i].error, cases[i].fragment);
        }

        /* A descriptor open for reading only cannot receive the logs. */
        {
                g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) reply = NULL;
                int p[2];

                g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
                g_assert_cmpint(g_unix_fd_list_append(fds, p[0], NULL), ==, 0);
                close(p[0]);
                close(p[1]);
                reply = call_full(f->client, IFACE, "ExportLogs", g_variant_new("(h)", 0), fds, &error);
                assert_remote_error(error, "dev.kiln.Tunnel1.Error.InvalidFileDescriptor",
                                    "not open for writing");
        }

        after = get_all(f->client);
        g_assert_true(g_variant_equal(before, after));
        g_assert_cmpint(kiln_session_get_state(KILN_SESSION(f->session)), ==, KILN_SESSION_SIGNED_OUT);
}

static void test_sign_in_out(Fixture *f, gconstpointer data)
{
        g_autofree char *state = NULL;
        g_autofree char *slug = NULL;
        g_autofree char *actor = NULL;
        g_autofree char *logs = NULL;

        call_ok(f, "SignIn",
                g_variant_new_parsed("(%s, {'api-url': <'ws://127.0.0.1:9/'>, 'account-slug': <'acme'>, "
                                     "'actor-name': <'Ada'>, 'internet-resource-enabled': <true>})",
                                     TOKEN));
        state = get_string(f->client, "State");
        g_assert_cmpstr(state, ==, "connecting");
        slug = get_string(f->client, "AccountSlug");
        g_assert_cmpstr(slug, ==, "acme");
        actor = get_string(f->client, "ActorName");
        g_assert_cmpstr(actor, ==, "Ada");
        g_assert_true(get_bool(f->client, "InternetResourceEnabled"));

        call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", FALSE));
        g_assert_false(get_bool(f->client, "InternetResourceEnabled"));

        call_ok(f, "SignOut", NULL);
        g_free(state);
        state = get_string(f->client, "State");
        g_assert_cmpstr(state, ==, "signed-out");

        logs = log_contents(f);
        g_assert_nonnull(strstr(logs, "signing in"));
        g_assert_nonnull(strstr(logs, "\"token\":\"<redacted>\""));
        g_assert_null(strstr(logs, TOKEN));
}

static void test_owner_connection_closes(Fixture *f, gconstpointer data)
{
        g_autoptr(GDBusConnection) server2 = NULL;
        g_autoptr(GDBusConnection) gui = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL;

        connection_pair(&server2, &gui);
        g_assert_true(kiln_daemon_export(f->daemon, server2, &error));
        {
                g_autoptr(GVariant) reply = call_full(
                    gui, IFACE, "SignIn", g_variant_new_parsed("(%s, @a{sv} {})", TOKEN), NULL, &error);
                g_assert_no_error(error);
        }
        /* The other client (a second GUI) reads the current state. */
        state = get_string(f->client, "State");
        g_assert_cmpstr(state, ==, "connecting");

        g_assert_true(g_dbus_connection_close_sync(gui, NULL, &error));
        while (kiln_session_get_state(KILN_SESSION(f->session)) != KILN_SESSION_SIGNED_OUT)
                g_main_context_iteration(NULL, TRUE);
        g_free(state);
        state = get_string(f->client, "State");
        g_assert_cmpstr(state, ==, "signed-out");
        kiln_daemon_unexport(f->daemon, server2);
}

static void on_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                      const char *name, GVariant *params, gpointer user_data)
{
        GPtrArray *seen = user_data;
        g_autofree char *printed = g_variant_print(params, FALSE);

        g_ptr_array_add(seen, g_strdup_printf("%s %s", name, printed));
}

static void test_session_signals(Fixture *f, gconstpointer data)
{
        g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GVariant) resources = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        guint id = g_dbus_connection_signal_subscribe(f->client, NULL, IFACE, NULL, KILN_TUNNEL_OBJECT_PATH,
                                                      NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal, seen, NULL);
        GVariantBuilder b;

        call_ok(f, "SignIn", g_variant_new_parsed("(%s, @a{sv} {})", TOKEN));
        g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
        g_variant_builder_add_parsed(&b, "{'id': <'r1'>, 'type': <'cidr'>, 'name': <'Lab'>}");
        kiln_session_emit_resources_changed(KILN_SESSION(f->session), g_variant_builder_end(&b));
        kiln_session_emit_resource_unreachable(KILN_SESSION(f->session), "r1", "offline",
                                               "all gateways offline");
        kiln_session_emit_error(KILN_SESSION(f->session), "token expired", TRUE);
        while (seen->len < 2)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpstr(seen->pdata[0], ==, "ResourceUnreachable ('r1', 'offline', 'all gateways offline')");
        g_assert_cmpstr(seen->pdata[1], ==, "Error ('token expired', true)");

        reply = call_full(f->client, "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new("(ss)", IFACE, "Resources"), NULL, &error);
        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &resources);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 1);

        /* A session that ends on its own leaves no resources behind. */
        call_ok(f, "SignOut", NULL);
        g_clear_pointer(&reply, g_variant_unref);
        g_clear_pointer(&resources, g_variant_unref);
        reply = call_full(f->client, "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new("(ss)", IFACE, "Resources"), NULL, &error);
        g_variant_get(reply, "(v)", &resources);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 0);
        g_dbus_connection_signal_unsubscribe(f->client, id);
}

static void test_log_level(Fixture *f, gconstpointer data)
{
        g_autofree char *level = NULL;

        call_ok(f, "SetLogLevel", g_variant_new("(s)", "debug"));
        level = get_string(f->client, "LogLevel");
        g_assert_cmpstr(level, ==, "debug");
        g_assert_cmpint(kiln_logger_get_level(f->logger), ==, KILN_LOG_DEBUG);
}

static void test_export_clear(Fixture *f, gconstpointer data)
{
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autofree char *expected = NULL;
        g_autofree char *exported = NULL;
        g_autofree char *after = NULL;
        char path[] = "/tmp/kilnd-export-XXXXXX";
        int fd = g_mkstemp(path);

        for (int i = 0; i < 3; i++)
                kiln_log(f->logger, KILN_LOG_INFO, "test", "before export", KILN_LOG_INT("seq", i));
        expected = log_contents(f);
        g_assert_cmpint(g_unix_fd_list_append(fds, fd, NULL), ==, 0);
        close(fd);
        reply = call_full(f->client, IFACE, "ExportLogs", g_variant_new("(h)", 0), fds, &error);
        g_assert_no_error(error);
        g_assert_true(g_file_get_contents(path, &exported, NULL, NULL));
        g_unlink(path);
        /* Everything up to the call; the "logs exported" line comes after the copy. */
        g_assert_cmpstr(exported, ==, expected);
        g_assert_nonnull(strstr(exported, "{\"time\":"));
        g_assert_nonnull(strstr(exported, "\"message\":\"before export\",\"fields\":{\"seq\":2}}\n"));

        call_ok(f, "ClearLogs", NULL);
        after = log_contents(f);
        g_assert_null(strstr(after, "logs exported"));
        g_assert_nonnull(strstr(after, "logs cleared"));
        /* Exactly one line: the one recording the clear. */
        g_assert_cmpstr(strchr(after, '\n'), ==, "\n");
}

static void shutdown_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        gboolean *done = user_data;
        g_autoptr(GError) error = NULL;

        g_assert_true(kiln_daemon_shutdown_finish(KILN_DAEMON(source), result, &error));
        g_assert_no_error(error);
        *done = TRUE;
}

static void test_shutdown(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        gboolean done = FALSE;

        call_ok(f, "SignIn", g_variant_new_parsed("(%s, @a{sv} {})", TOKEN));
        kiln_daemon_shutdown_async(f->daemon, 2000, shutdown_done, &done);
        while (!done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_cmpint(kiln_session_get_state(KILN_SESSION(f->session)), ==, KILN_SESSION_SIGNED_OUT);
        reply = call(f, "SignIn", g_variant_new_parsed("(%s, @a{sv} {})", TOKEN), &error);
        assert_remote_error(error, "dev.kiln.Tunnel1.Error.ShuttingDown", "shutting down");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(sodium_init(), >=, 0);
#define ADD(name, fn) g_test_add("/kilnd/daemon/" name, Fixture, NULL, setup, fn, teardown)
        ADD("properties", test_properties);
        ADD("bad-calls", test_bad_calls);
        ADD("sign-in-out", test_sign_in_out);
        ADD("owner-connection-closes", test_owner_connection_closes);
        ADD("session-signals", test_session_signals);
        ADD("log-level", test_log_level);
        ADD("export-clear", test_export_clear);
        ADD("shutdown", test_shutdown);
        return g_test_run();
}
