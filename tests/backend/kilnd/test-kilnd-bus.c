/* SPDX-License-Identifier: MIT */
/*
 * The built kilnd against a private system-like dbus-daemon that loads the real
 * resources/kilnd/dev.kiln.Tunnel.conf policy: READY=1 on a test NOTIFY_SOCKET, validation,
 * sign-in/out, the session-owner rule with a caller that is killed, the policy (a caller
 * outside group kiln is refused, one inside is served), log level, export, clear, rotation,
 * SIGTERM, a second kilnd, and the peer-to-peer socket mode.
 *
 * Bus tests need root (own the name as root, run callers as another user).  The wrapper
 * test-kilnd-bus.sh creates the kiln group when it is missing and removes it afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "tests/support/test-support.h"

#define IFACE "dev.kiln.Tunnel1"
#define NAME  "dev.kiln.Tunnel"
#define PATH  "/dev/kiln/Tunnel"
#define TOKEN "TOKEN-nonce-5f1d2a.fragment-9b8c7d6e5f4a3b2c1d0e"

typedef struct {
        char *dir;
        char *address;
        GPid bus_pid;
        GPid kilnd_pid;
        int notify_fd;
        GDBusConnection *conn;
} Fixture;

static char *kilnd_path(void)
{
        const char *build = g_getenv("KILN_BUILD_ROOT");

        return g_build_filename(build ? build : ".", "backend", "kilnd", "kilnd", NULL);
}

static char *in_dir(Fixture *f, const char *name)
{
        return g_build_filename(f->dir, name, NULL);
}

/* Waits for pid to exit; returns its wait status, or -1 after timeout_ms. */
static int wait_exit(GPid pid, int timeout_ms)
{
        for (int waited = 0; waited <= timeout_ms; waited += 20) {
                int status;
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return status;
                g_usleep(20 * 1000);
        }
        return -1;
}

static void stop_process(GPid *pid)
{
        if (*pid <= 0)
                return;
        kill(*pid, SIGKILL);
        (void)waitpid(*pid, NULL, 0);
        *pid = 0;
}

static int bind_notify_socket(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        g_assert_cmpint(fd, >=, 0);
        g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
        return fd;
}

/* The first datagram on the notify socket, within 10 s. */
static char *receive_notify(Fixture *f)
{
        struct pollfd p = { .fd = f->notify_fd, .events = POLLIN };
        char buf[512];
        ssize_t n;

        if (poll(&p, 1, 10000) != 1)
                return NULL;
        n = recv(f->notify_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return g_strdup(buf);
}

/* Children die with the test, even when it aborts, so that meson never waits on their pipes. */
static void die_with_parent(gpointer data)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GPid spawn(const char *const *argv, const char *const *extra_env)
{
        g_auto(GStrv) env = g_get_environ();
        g_autoptr(GError) error = NULL;
        GPid pid = 0;

        for (guint i = 0; extra_env && extra_env[i]; i += 2)
                env = g_environ_setenv(env, extra_env[i], extra_env[i + 1], TRUE);
        g_assert_true(g_spawn_async(NULL, (char **)argv, env,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, die_with_parent, NULL,
                                    &pid, &error));
        g_assert_no_error(error);
        return pid;
}

static void write_bus_config(Fixture *f)
{
        g_autofree char *policy = kiln_test_source_path("resources/kilnd/dev.kiln.Tunnel.conf");
        g_autofree char *socket = in_dir(f, "bus");
        g_autofree char *conf = NULL;
        g_autofree char *path = in_dir(f, "bus.conf");

        /* The essentials of Debian's system.conf, plus the real kilnd policy. */
        conf = g_strdup_printf(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
            " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
            "<busconfig>\n"
            "  <type>system</type>\n"
            "  <listen>unix:path=%s</listen>\n"
            "  <auth>EXTERNAL</auth>\n"
            "  <policy context=\"default\">\n"
            "    <allow user=\"*\"/>\n"
            "    <deny own=\"*\"/>\n"
            "    <deny send_type=\"method_call\"/>\n"
            "    <allow send_type=\"signal\"/>\n"
            "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
            "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
            "    <allow receive_type=\"method_call\"/>\n"
            "    <allow receive_type=\"method_return\"/>\n"
            "    <allow receive_type=\"error\"/>\n"
            "    <allow receive_type=\"signal\"/>\n"
            "    <allow send_destination=\"org.freedesktop.DBus\" "
            "send_interface=\"org.freedesktop.DBus\"/>\n"
            "    <allow send_destination=\"org.freedesktop.DBus\"\n"
            "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
            "    <allow send_destination=\"org.freedesktop.DBus\"\n"
            "           send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
            "  </policy>\n"
            "  <include>%s</include>\n"
            "</busconfig>\n",
            socket, policy);
        g_assert_true(g_file_set_contents(path, conf, -1, NULL));
}

static void start_kilnd(Fixture *f, const char *const *extra_args)
{
        g_autofree char *exe = kilnd_path();
        g_autofree char *log_dir = in_dir(f, "log");
        g_autofree char *state_dir = in_dir(f, "state");
        g_autofree char *notify = in_dir(f, "notify");
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        const char *env[] = { "NOTIFY_SOCKET", notify, NULL };

        g_ptr_array_add(argv, exe);
        g_ptr_array_add(argv, (char *)"--quiet");
        g_ptr_array_add(argv, (char *)"--log-dir");
        g_ptr_array_add(argv, log_dir);
        g_ptr_array_add(argv, (char *)"--state-dir");
        g_ptr_array_add(argv, state_dir);
        for (guint i = 0; extra_args[i]; i++)
                g_ptr_array_add(argv, (char *)extra_args[i]);
        g_ptr_array_add(argv, NULL);
        f->kilnd_pid = spawn((const char *const *)argv->pdata, env);
}

static void fixture_dirs(Fixture *f)
{
        g_autofree char *notify = NULL;
        g_autofree char *state = NULL;

        f->dir = g_dir_make_tmp("kilnd-bus-XXXXXX", NULL);
        /* The unprivileged caller must reach the bus socket inside. */
        g_assert_cmpint(chmod(f->dir, 0755), ==, 0);
        state = in_dir(f, "state");
        g_assert_cmpint(g_mkdir(state, 0750), ==, 0);
        notify = in_dir(f, "notify");
        f->notify_fd = bind_notify_socket(notify);
}

static void setup_bus(Fixture *f, gconstpointer data)
{
        const char *extra = data;
        g_autofree char *conf = NULL;
        g_autofree char *socket = NULL;
        g_autofree char *ready = NULL;
        g_autofree char *bus_arg = NULL;
        g_autoptr(GError) error = NULL;

        if (geteuid() != 0)
                return;
        fixture_dirs(f);
        write_bus_config(f);
        conf = in_dir(f, "bus.conf");
        socket = in_dir(f, "bus");
        f->address = g_strconcat("unix:path=", socket, NULL);
        {
                g_autofree char *conf_arg = g_strconcat("--config-file=", conf, NULL);
                const char *argv[] = { "dbus-daemon", "--nofork", "--nopidfile", conf_arg, NULL };
                f->bus_pid = spawn(argv, NULL);
        }
        for (int i = 0; i < 500 && !g_file_test(socket, G_FILE_TEST_EXISTS); i++)
                g_usleep(10 * 1000);
        g_assert_true(g_file_test(socket, G_FILE_TEST_EXISTS));

        bus_arg = g_strdup(f->address);
        {
                const char *args[] = { "--bus-address", bus_arg, "--log-file-size",    "4096",
                                       "--log-files",   "2",     extra ? extra : NULL, NULL };
                start_kilnd(f, args);
        }
        ready = receive_notify(f);
        g_assert_nonnull(ready);
        g_assert_nonnull(strstr(ready, "READY=1"));

        f->conn = g_dbus_connection_new_for_address_sync(f->address,
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                             G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
        g_assert_no_error(error);
}

static void remove_tree(const char *dir)
{
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                        remove_tree(p);
                else
                        g_unlink(p);
        }
        g_rmdir(dir);
}

static void teardown(Fixture *f, gconstpointer data)
{
        g_clear_object(&f->conn);
        stop_process(&f->kilnd_pid);
        stop_process(&f->bus_pid);
        if (f->notify_fd > 0)
                close(f->notify_fd);
        if (f->dir)
                remove_tree(f->dir);
        g_free(f->dir);
        g_free(f->address);
}

static GVariant *call(Fixture *f, const char *method, GVariant *params, GError **error)
{
        return g_dbus_connection_call_sync(f->conn, NAME, PATH, IFACE, method, params, NULL,
                                           G_DBUS_CALL_FLAGS_NONE, 5000, NULL, error);
}

static void call_ok(Fixture *f, const char *method, GVariant *params)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = call(f, method, params, &error);

        g_assert_no_error(error);
}

static GVariant *get_all(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        GVariant *reply = g_dbus_connection_call_sync(f->conn, NAME, PATH, "org.freedesktop.DBus.Properties",
                                                      "GetAll", g_variant_new("(s)", IFACE), NULL,
                                                      G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);

        g_assert_no_error(error);
        return reply;
}

static char *get_string(Fixture *f, const char *prop)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
            f->conn, NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
            g_variant_new("(ss)", IFACE, prop), NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        g_autoptr(GVariant) value = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &value);
        return g_variant_dup_string(value, NULL);
}

/* Polls the State property until it is `want`, for up to 10 s. */
static gboolean wait_state(Fixture *f, const char *want)
{
        for (int i = 0; i < 500; i++) {
                g_autofree char *state = get_string(f, "State");
                if (g_strcmp0(state, want) == 0)
                        return TRUE;
                g_usleep(20 * 1000);
        }
        return FALSE;
}

static char *read_logs(Fixture *f)
{
        g_autofree char *dir = in_dir(f, "log");
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        GString *all = g_string_new(NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(dir, name, NULL);
                g_autofree char *contents = NULL;
                if (g_file_get_contents(p, &contents, NULL, NULL))
                        g_string_append(all, contents);
        }
        return g_string_free(all, FALSE);
}

static void assert_remote_error(GError *error, const char *name)
{
        g_autofree char *remote = NULL;

        g_assert_nonnull(error);
        remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, name);
}

#define SKIP_UNLESS_ROOT()                                                                                  \
        do {                                                                                                \
                if (kiln_test_skip_unless_root())                                                           \
                        return;                                                                             \
        } while (0)

static void test_ready_and_properties(Fixture *f, gconstpointer data)
{
        g_autofree char *state = NULL;
        g_autofree char *version = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) owner = NULL;

        SKIP_UNLESS_ROOT();
        owner = g_dbus_connection_call_sync(
            f->conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
            g_variant_new("(s)", NAME), NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        g_assert_no_error(error);
        state = get_string(f, "State");
        g_assert_cmpstr(state, ==, "signed-out");
        version = get_string(f, "Version");
        g_assert_cmpstr(version, ==, KILN_VERSION);
}

static void test_bad_arguments(Fixture *f, gconstpointer data)
{
        g_autoptr(GVariant) before = NULL;
        g_autoptr(GVariant) after = NULL;
        const struct {
                const char *method;
                const char *params;
                const char *error;
        } cases[] = {
                { "SignIn", "('', @a{sv} {})", "dev.kiln.Tunnel1.Error.InvalidToken" },
                { "SignIn", "('a b', @a{sv} {})", "dev.kiln.Tunnel1.Error.InvalidToken" },
                { "SignIn", "('tok', {'nope': <true>})", "dev.kiln.Tunnel1.Error.InvalidOption" },
                { "SignIn", "('tok', {'internet-resource-enabled': <'x'>})",
                  "dev.kiln.Tunnel1.Error.InvalidOption" },
                { "SignIn", "('tok', {'api-url': <'file:///etc/passwd'>})",
                  "dev.kiln.Tunnel1.Error.InvalidUrl" },
                { "SetLogLevel", "('chatty',)", "dev.kiln.Tunnel1.Error.InvalidLogLevel" },
                { "ExportLogs", "(@h 3,)", "dev.kiln.Tunnel1.Error.InvalidFileDescriptor" },
                /* Wrong signatures are refused by GDBus itself, before kilnd sees them. */
                { "SetInternetResourceEnabled", "('yes',)", "org.freedesktop.DBus.Error.InvalidArgs" },
        };

        SKIP_UNLESS_ROOT();
        before = get_all(f);
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GVariant) reply = call(
                    f, cases[i].method, g_variant_parse(NULL, cases[i].params, NULL, NULL, NULL), &error);
                g_assert_null(reply);
                assert_remote_error(error, cases[i].error);
        }
        after = get_all(f);
        g_assert_true(g_variant_equal(before, after));
}

static void test_sign_in_out(Fixture *f, gconstpointer data)
{
        g_autofree char *logs = NULL;
        g_autofree char *slug = NULL;

        SKIP_UNLESS_ROOT();
        call_ok(f, "SignIn",
                g_variant_new_parsed(
                    "(%s, {'api-url': <'wss://127.0.0.1:1/?x=1'>, 'account-slug': <'acme'>})", TOKEN));
        g_assert_true(wait_state(f, "connecting"));
        slug = get_string(f, "AccountSlug");
        g_assert_cmpstr(slug, ==, "acme");
        call_ok(f, "SignOut", NULL);
        g_assert_true(wait_state(f, "signed-out"));

        logs = read_logs(f);
        g_assert_nonnull(strstr(logs, "\"message\":\"signing in\""));
        g_assert_nonnull(strstr(logs, "\"token\":\"<redacted>\""));
        g_assert_null(strstr(logs, TOKEN));
        g_assert_null(strstr(logs, "fragment-9b8c7d6e5f4a3b2c1d0e"));
}

/* Helper mode: sign in on ADDRESS, say so on stdout, then wait to be killed. */
static int sign_in_and_wait(const char *address)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) conn = g_dbus_connection_new_for_address_sync(
            address,
            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
            NULL, NULL, &error);
        g_autoptr(GVariant) reply = NULL;

        if (!conn)
                return 1;
        reply = g_dbus_connection_call_sync(conn, NAME, PATH, IFACE, "SignIn",
                                            g_variant_new_parsed("(%s, @a{sv} {})", TOKEN), NULL,
                                            G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        if (!reply)
                return 1;
        for (;;)
                pause();
}

static void test_owner_vanishes(Fixture *f, gconstpointer data)
{
        g_autofree char *self = NULL;
        GPid gui;

        SKIP_UNLESS_ROOT();
        self = g_file_read_link("/proc/self/exe", NULL);
        {
                const char *argv[] = { self, "--sign-in-and-wait", f->address, NULL };
                gui = spawn(argv, NULL);
        }
        /* A second GUI (this connection) sees the owner's session. */
        g_assert_true(wait_state(f, "connecting"));
        kill(gui, SIGKILL);
        g_assert_cmpint(wait_exit(gui, 5000), !=, -1);
        g_assert_true(wait_state(f, "signed-out"));
        {
                g_autofree char *logs = read_logs(f);
                g_assert_nonnull(strstr(logs, "session owner left the bus"));
        }
}

/* Runs `gdbus call` as uid/gid 65534 with the given supplementary group ("" = none). */
static gboolean call_as_nobody(Fixture *f, const char *group, const char *method, const char *arg1,
                               const char *arg2, char **ret_out, char **ret_err)
{
        g_autofree char *groups_arg = g_strdup_printf("--groups=%s", group);
        const char *argv[] = { "setpriv",
                               "--reuid=65534",
                               "--regid=65534",
                               group[0] ? groups_arg : "--clear-groups",
                               "gdbus",
                               "call",
                               "--address",
                               f->address,
                               "--dest",
                               NAME,
                               "--object-path",
                               PATH,
                               "--method",
                               method,
                               arg1,
                               arg2,
                               NULL };
        g_autoptr(GError) error = NULL;
        int status = -1;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, ret_out,
                                   ret_err, &status, &error));
        g_assert_no_error(error);
        return g_spawn_check_wait_status(status, NULL);
}

static void test_policy(Fixture *f, gconstpointer data)
{
        g_autofree char *gid = NULL;
        g_autofree char *level = NULL;
        struct group *grp;

        SKIP_UNLESS_ROOT();
        grp = getgrnam("kiln");
        g_assert_nonnull(grp);
        gid = g_strdup_printf("%u", (unsigned)grp->gr_gid);

        /* Outside the group: neither properties nor methods. */
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_false(call_as_nobody(f, "", "org.freedesktop.DBus.Properties.Get", "'" IFACE "'",
                                              "'State'", &out, &err));
                g_assert_nonnull(strstr(err, "org.freedesktop.DBus.Error.AccessDenied"));
        }
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_false(call_as_nobody(f, "", IFACE ".SetLogLevel", "'trace'", NULL, &out, &err));
                g_assert_nonnull(strstr(err, "org.freedesktop.DBus.Error.AccessDenied"));
        }
        level = get_string(f, "LogLevel");
        g_assert_cmpstr(level, ==, "info");

        /* In group kiln: served. */
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_true(call_as_nobody(f, gid, "org.freedesktop.DBus.Properties.Get", "'" IFACE "'",
                                             "'State'", &out, &err));
                g_assert_nonnull(strstr(out, "signed-out"));
        }
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_true(call_as_nobody(f, gid, IFACE ".SetLogLevel", "'trace'", NULL, &out, &err));
        }
        g_free(level);
        level = get_string(f, "LogLevel");
        g_assert_cmpstr(level, ==, "trace");
        /* Even in the group, a bad argument is a named error. */
        {
                g_autofree char *out = NULL, *err = NULL;
                g_assert_false(call_as_nobody(f, gid, IFACE ".SetLogLevel", "'loud'", NULL, &out, &err));
                g_assert_nonnull(strstr(err, "dev.kiln.Tunnel1.Error.InvalidLogLevel"));
        }
}

static guint count_level(const char *logs, const char *level)
{
        g_autofree char *needle = g_strdup_printf("\"level\":\"%s\"", level);
        guint n = 0;

        for (const char *p = logs; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void test_log_level(Fixture *f, gconstpointer data)
{
        g_autofree char *before = NULL;
        g_autofree char *after = NULL;

        SKIP_UNLESS_ROOT();
        before = read_logs(f);
        g_assert_cmpuint(count_level(before, "debug"), ==, 0);
        call_ok(f, "SetLogLevel", g_variant_new("(s)", "debug"));
        call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", TRUE));
        after = read_logs(f);
        g_assert_cmpuint(count_level(after, "debug"), >=, 1);
        g_assert_nonnull(strstr(
            after, "\"message\":\"method call\",\"fields\":{\"method\":\"SetInternetResourceEnabled\""));
}

static void test_export_logs(Fixture *f, gconstpointer data)
{
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GString) got = g_string_new(NULL);
        g_auto(GStrv) lines = NULL;
        char buf[4096];
        ssize_t n;
        int p[2];

        SKIP_UNLESS_ROOT();
        call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", TRUE));
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(g_unix_fd_list_append(fds, p[1], NULL), ==, 0);
        close(p[1]);
        /* The logs here are far below a pipe's buffer, so reading after the reply is safe. */
        reply = g_dbus_connection_call_with_unix_fd_list_sync(
            f->conn, NAME, PATH, IFACE, "ExportLogs", g_variant_new("(h)", 0), NULL, G_DBUS_CALL_FLAGS_NONE,
            5000, fds, NULL, NULL, &error);
        g_assert_no_error(error);
        g_clear_object(&fds);
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
                g_string_append_len(got, buf, n);
        close(p[0]);

        lines = g_strsplit(got->str, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), >=, 3);
        g_assert_cmpstr(lines[g_strv_length(lines) - 1], ==, "");
        for (guint i = 0; lines[i + 1]; i++) {
                g_autoptr(JsonParser) parser = json_parser_new();
                JsonObject *o;
                g_assert_true(json_parser_load_from_data(parser, lines[i], -1, NULL));
                o = json_node_get_object(json_parser_get_root(parser));
                g_assert_true(json_object_has_member(o, "time"));
                g_assert_true(json_object_has_member(o, "level"));
                g_assert_true(json_object_has_member(o, "target"));
                g_assert_true(json_object_has_member(o, "fields"));
        }
        g_assert_true(g_str_has_prefix(lines[0], "{\"time\":"));
        g_assert_nonnull(strstr(lines[0], "\"message\":\"starting\""));
        g_assert_nonnull(strstr(got->str, "\"message\":\"internet resource toggled\""));
}

static void test_clear_and_rotation(Fixture *f, gconstpointer data)
{
        g_autofree char *current = NULL;
        g_autofree char *rotated1 = NULL;
        g_autofree char *rotated2 = NULL;
        g_autofree char *rotated3 = NULL;
        g_autofree char *contents = NULL;
        struct stat st;

        SKIP_UNLESS_ROOT();
        current = g_build_filename(f->dir, "log", "kilnd.log", NULL);
        rotated1 = g_strconcat(current, ".1", NULL);
        rotated2 = g_strconcat(current, ".2", NULL);
        rotated3 = g_strconcat(current, ".3", NULL);

        /* kilnd runs with --log-file-size 4096 --log-files 2: the cap is 12 KiB in 3 files. */
        for (int i = 0; i < 150; i++)
                call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", i % 2));
        g_assert_cmpint(stat(current, &st), ==, 0);
        g_assert_cmpint(st.st_size, <=, 4096);
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
        g_assert_cmpint(stat(rotated1, &st), ==, 0);
        g_assert_cmpint(st.st_size, <=, 4096);
        g_assert_cmpint(st.st_size, >, 3000);
        g_assert_cmpint(stat(rotated2, &st), ==, 0);
        g_assert_cmpint(stat(rotated3, &st), ==, -1);

        call_ok(f, "ClearLogs", NULL);
        g_assert_cmpint(stat(rotated1, &st), ==, -1);
        g_assert_cmpint(stat(rotated2, &st), ==, -1);
        g_assert_true(g_file_get_contents(current, &contents, NULL, NULL));
        /* Only the line recording the clear; the file kept being written from its start. */
        g_assert_true(g_str_has_prefix(contents, "{\"time\":"));
        g_assert_nonnull(strstr(contents, "\"message\":\"logs cleared\""));
        g_assert_cmpstr(strchr(contents, '\n'), ==, "\n");
}

static void test_sigterm(Fixture *f, gconstpointer data)
{
        g_autofree char *logs = NULL;
        g_autofree char *stopping = NULL;
        int status;

        SKIP_UNLESS_ROOT();
        call_ok(f, "SignIn", g_variant_new_parsed("(%s, @a{sv} {})", TOKEN));
        g_assert_true(wait_state(f, "connecting"));
        kill(f->kilnd_pid, SIGTERM);
        status = wait_exit(f->kilnd_pid, 5000);
        g_assert_cmpint(status, !=, -1);
        f->kilnd_pid = 0;
        if (WIFSIGNALED(status))
                g_test_message("kilnd died of signal %d", WTERMSIG(status));
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        stopping = receive_notify(f);
        g_assert_cmpstr(stopping, ==, "STOPPING=1");

        logs = read_logs(f);
        g_assert_nonnull(strstr(logs, "\"state\":\"signed-out\""));
        g_assert_nonnull(strstr(logs, "\"message\":\"stopped\",\"fields\":{\"exit_code\":0}"));
        g_assert_null(strstr(logs, TOKEN));
}

static void test_second_instance(Fixture *f, gconstpointer data)
{
        g_autofree char *exe = kilnd_path();
        g_autofree char *log_dir = in_dir(f, "log2");
        g_autofree char *state_dir = in_dir(f, "state");
        const char *argv[] = { exe,     "--quiet",     "--bus-address", f->address, "--log-dir",
                               log_dir, "--state-dir", state_dir,       NULL };
        int status;
        GPid pid;

        SKIP_UNLESS_ROOT();
        pid = spawn(argv, NULL);
        status = wait_exit(pid, 5000);
        g_assert_cmpint(status, !=, -1);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
}

/* Peer-to-peer mode needs no bus and no root. */
static void setup_p2p(Fixture *f, gconstpointer data)
{
        g_autofree char *sock = NULL;
        g_autofree char *ready = NULL;

        fixture_dirs(f);
        sock = in_dir(f, "p2p.sock");
        {
                const char *args[] = { "--p2p-socket", sock, NULL };
                start_kilnd(f, args);
        }
        ready = receive_notify(f);
        g_assert_nonnull(ready);
        g_assert_nonnull(strstr(ready, "READY=1"));
        f->address = g_strconcat("unix:path=", sock, NULL);
}

static GDBusConnection *p2p_connect(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        GDBusConnection *c = g_dbus_connection_new_for_address_sync(
            f->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, NULL, &error);

        g_assert_no_error(error);
        return c;
}

static char *p2p_state(GDBusConnection *c)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
            c, NULL, PATH, "org.freedesktop.DBus.Properties", "Get", g_variant_new("(ss)", IFACE, "State"),
            NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        g_autoptr(GVariant) value = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &value);
        return g_variant_dup_string(value, NULL);
}

static void test_p2p(Fixture *f, gconstpointer data)
{
        g_autoptr(GDBusConnection) gui = p2p_connect(f);
        g_autoptr(GDBusConnection) other = p2p_connect(f);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autofree char *state = NULL;
        gboolean signed_out = FALSE;
        int status;

        reply = g_dbus_connection_call_sync(gui, NULL, PATH, IFACE, "SignIn",
                                            g_variant_new_parsed("(%s, @a{sv} {})", TOKEN), NULL,
                                            G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        g_assert_no_error(error);
        state = p2p_state(other);
        g_assert_cmpstr(state, ==, "connecting");

        /* The owner's connection closing ends the session. */
        g_assert_true(g_dbus_connection_close_sync(gui, NULL, NULL));
        for (int i = 0; i < 500 && !signed_out; i++) {
                g_autofree char *s = p2p_state(other);
                signed_out = g_strcmp0(s, "signed-out") == 0;
                if (!signed_out)
                        g_usleep(20 * 1000);
        }
        g_assert_true(signed_out);

        kill(f->kilnd_pid, SIGTERM);
        status = wait_exit(f->kilnd_pid, 5000);
        f->kilnd_pid = 0;
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        {
                g_autofree char *sock = in_dir(f, "p2p.sock");
                g_assert_false(g_file_test(sock, G_FILE_TEST_EXISTS));
        }
}

static void test_cli(void)
{
        g_autofree char *exe = kilnd_path();
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        int status;

        {
                const char *argv[] = { exe, "--version", NULL };
                g_assert_true(
                    g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, NULL, &status, NULL));
                g_assert_true(g_spawn_check_wait_status(status, NULL));
                g_assert_cmpstr(out, ==, "kilnd " KILN_VERSION "\n");
        }
        g_clear_pointer(&out, g_free);
        {
                const char *argv[] = { exe, "--help", NULL };
                g_assert_true(
                    g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, NULL, &status, NULL));
                g_assert_true(g_spawn_check_wait_status(status, NULL));
                g_assert_nonnull(strstr(out, "--p2p-socket"));
                g_assert_nonnull(strstr(out, "--log-dir"));
                g_assert_nonnull(strstr(out, "--state-dir"));
        }
        {
                const char *argv[] = { exe, "--bus", "dbus", NULL };
                g_assert_true(
                    g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL, &err, &status, NULL));
                g_assert_true(WIFEXITED(status));
                g_assert_cmpint(WEXITSTATUS(status), ==, 2);
                g_assert_nonnull(strstr(err, "--bus must be system or session"));
        }
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "--sign-in-and-wait") == 0)
                return sign_in_and_wait(argv[2]);

        g_test_init(&argc, &argv, NULL);
#define ADD_BUS(name, fn) g_test_add("/kilnd/bus/" name, Fixture, NULL, setup_bus, fn, teardown)
        ADD_BUS("ready-and-properties", test_ready_and_properties);
        ADD_BUS("bad-arguments", test_bad_arguments);
        ADD_BUS("sign-in-out", test_sign_in_out);
        ADD_BUS("owner-vanishes", test_owner_vanishes);
        ADD_BUS("policy", test_policy);
        ADD_BUS("log-level", test_log_level);
        ADD_BUS("export-logs", test_export_logs);
        ADD_BUS("clear-and-rotation", test_clear_and_rotation);
        ADD_BUS("sigterm", test_sigterm);
        ADD_BUS("second-instance", test_second_instance);
        g_test_add("/kilnd/p2p/sign-in-owner-close-sigterm", Fixture, NULL, setup_p2p, test_p2p, teardown);
        g_test_add_func("/kilnd/cli", test_cli);
        return g_test_run();
}
