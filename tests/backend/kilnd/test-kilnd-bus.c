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
#include "tests/support/ws-peer.h"

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
        const char *netns;   /* portal tests: kilnd and the portal run in it (test-kilnd-bus.sh) */
        GSubprocess *portal; /* portal tests */
        char *ws_url;
        gboolean setpriv; /* kilnd under setpriv with the unit's capability set */
        gboolean relays;  /* the portal hands out TURN credentials */
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

        if (f->netns) {
                g_ptr_array_add(argv, (char *)"ip");
                g_ptr_array_add(argv, (char *)"netns");
                g_ptr_array_add(argv, (char *)"exec");
                g_ptr_array_add(argv, (char *)f->netns);
        }
        if (f->setpriv) {
                /* What systemd does for CapabilityBoundingSet=/AmbientCapabilities=CAP_NET_ADMIN
                 * (test_unit_capabilities checks the unit says exactly that). */
                g_ptr_array_add(argv, (char *)"setpriv");
                g_ptr_array_add(argv, (char *)"--bounding-set=-all,+net_admin");
                g_ptr_array_add(argv, (char *)"--inh-caps=-all,+net_admin");
                g_ptr_array_add(argv, (char *)"--ambient-caps=-all,+net_admin");
        }
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
        if (f->portal) {
                g_subprocess_force_exit(f->portal);
                g_subprocess_wait(f->portal, NULL, NULL);
                g_clear_object(&f->portal);
        }
        g_free(f->ws_url);
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

/* ExportLogs into a pipe: what a GUI's export gets. */
static char *export_logs(Fixture *f)
{
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        GString *got = g_string_new(NULL);
        char buf[4096];
        ssize_t n;
        int p[2];

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
        return g_string_free(got, FALSE);
}

static void test_export_logs(Fixture *f, gconstpointer data)
{
        g_autofree char *got = NULL;
        g_auto(GStrv) lines = NULL;

        SKIP_UNLESS_ROOT();
        call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", TRUE));
        got = export_logs(f);
        lines = g_strsplit(got, "\n", -1);
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
        g_assert_nonnull(strstr(got, "\"message\":\"internet resource toggled\""));
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

/* ---- against kiln-test-portal, inside the network namespace of test-kilnd-bus.sh --------------- */

#define R_WEB      "11111111-1111-4111-8111-111111111111"
#define R_LAN      "22222222-2222-4222-8222-222222222222"
#define R_NET      "33333333-3333-4333-8333-333333333333"
#define R_HIDDEN   "44444444-4444-4444-8444-444444444444"
#define SITE_1     "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define SECRET_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PORTAL_CONFIG                                                                                       \
        "{\"secret\":\"" SECRET_HEX "\",\"accounts\":[{\"slug\":\"acme\",\"name\":\"Acme Inc\","            \
        "\"users\":[{\"email\":\"alice@acme.test\",\"password\":\"a\",\"name\":\"Alice\"}],"                \
        "\"sites\":[{\"id\":\"" SITE_1 "\",\"name\":\"one\"}],"                                             \
        "\"resources\":[%s"                                                                                 \
        "{\"id\":\"" R_WEB "\",\"type\":\"dns\",\"name\":\"web\",\"address\":\"web.acme.test\","            \
        "\"address_description\":\"the web\",\"sites\":[\"one\"]},"                                         \
        "{\"id\":\"" R_NET "\",\"type\":\"internet\",\"name\":\"Internet\",\"sites\":[\"one\"]},"           \
        "{\"id\":\"" R_HIDDEN "\",\"type\":\"cidr\",\"name\":\"hidden\",\"address\":\"10.66.0.0/16\","      \
        "\"sites\":[\"one\"]}],"                                                                            \
        "\"policies\":[{\"users\":[\"alice@acme.test\"],\"resources\":[%s\"web\",\"Internet\"]}]}]}"
#define RES_LAN                                                                                             \
        "{\"id\":\"" R_LAN "\",\"type\":\"cidr\",\"name\":\"lan\",\"address\":\"10.9.0.0/16\","             \
        "\"sites\":[\"one\"]},"

#define RELAY_SECRET "kiln-hardening-relay-secret-7f3e"
#define RELAYS       ",\"relays\":[{\"addresses\":[\"127.0.0.1:3478\"],\"secret\":\"" RELAY_SECRET "\"}]}"

static void write_portal_config(Fixture *f, gboolean with_lan)
{
        g_autofree char *path = in_dir(f, "portal.json");
        g_autofree char *base =
            g_strdup_printf(PORTAL_CONFIG, with_lan ? RES_LAN : "", with_lan ? "\"lan\"," : "");
        g_autofree char *text = NULL;

        /* PORTAL_CONFIG ends with the top-level '}' */
        base[strlen(base) - 1] = '\0';
        text = g_strconcat(base, f->relays ? RELAYS : "}", NULL);

        g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static void setup_portal(Fixture *f, gconstpointer data)
{
        g_autofree char *config = NULL;
        g_autofree char *log = NULL;

        f->netns = g_getenv("KILN_TEST_NETNS");
        if (geteuid() != 0 || !f->netns)
                return;
        setup_bus(f, data);
        write_portal_config(f, TRUE);
        config = in_dir(f, "portal.json");
        log = in_dir(f, "portal.log");
        {
                const char *args[] = { "--config", config, "--port", "0", NULL };

                f->portal = kiln_test_portal_spawn(f->netns, args, log, &f->ws_url);
        }
}

#define SKIP_UNLESS_NETNS()                                                                                 \
        do {                                                                                                \
                if (kiln_test_skip_unless_root())                                                           \
                        return;                                                                             \
                if (!f->netns) {                                                                            \
                        g_test_skip("needs KILN_TEST_NETNS (run through test-kilnd-bus.sh)");               \
                        return;                                                                             \
                }                                                                                           \
        } while (0)

static char *issue_token(Fixture *f, const char *expires_in)
{
        const char *build_root = g_getenv("KILN_BUILD_ROOT");
        g_autofree char *exe =
            g_build_filename(build_root ? build_root : ".", "tests", "portal", "kiln-test-portal", NULL);
        g_autofree char *config = in_dir(f, "portal.json");
        const char *argv[] = { exe,         "--config", config,         "--issue-token", "alice@acme.test",
                               "--account", "acme",     "--expires-in", expires_in,      NULL };
        g_autofree char *out = NULL;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                                   NULL, &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        return g_strdup(g_strstrip(out));
}

/* Runs the main context for ms (signal subscriptions are dispatched there). */
static void pump(guint ms)
{
        gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;

        while (g_get_monotonic_time() < until)
                if (!g_main_context_iteration(NULL, FALSE))
                        g_usleep(5 * 1000);
}

static void on_properties_changed(GDBusConnection *c, const char *sender, const char *path,
                                  const char *iface, const char *signal, GVariant *params,
                                  gpointer user_data)
{
        GPtrArray *states = user_data;
        g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
        const char *state;

        if (g_variant_lookup(changed, "State", "&s", &state))
                g_ptr_array_add(states, g_strdup(state));
}

static void on_error_signal(GDBusConnection *c, const char *sender, const char *path, const char *iface,
                            const char *signal, GVariant *params, gpointer user_data)
{
        g_ptr_array_add(user_data, g_variant_ref(params));
}

/* The states kilnd went through, as PropertiesChanged told them, until `want` (≤ 15 s). */
static gboolean pump_until_state(Fixture *f, GPtrArray *states, const char *want)
{
        for (int i = 0; i < 1500; i++) {
                if (states->len && g_str_equal(g_ptr_array_index(states, states->len - 1), want))
                        return TRUE;
                pump(10);
        }
        return FALSE;
}

static GVariant *get_resources(Fixture *f)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
            f->conn, NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
            g_variant_new("(ss)", IFACE, "Resources"), NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        GVariant *value = NULL;

        g_assert_no_error(error);
        g_variant_get(reply, "(v)", &value);
        return value;
}

static GVariant *resource_by_id(GVariant *resources, const char *id)
{
        for (gsize i = 0; i < g_variant_n_children(resources); i++) {
                GVariant *r = g_variant_get_child_value(resources, i);
                const char *rid;

                if (g_variant_lookup(r, "id", "&s", &rid) && g_str_equal(rid, id))
                        return r;
                g_variant_unref(r);
        }
        return NULL;
}

static void assert_resource_status(GVariant *resources, const char *id, const char *type, const char *name,
                                   const char *address, const char *description, gboolean enabled,
                                   const char *site_status)
{
        g_autoptr(GVariant) r = resource_by_id(resources, id);
        g_autoptr(GVariant) sites = NULL;
        const char *s, *site_id, *site_name, *status;
        gboolean b;

        g_assert_nonnull(r);
        g_assert_true(g_variant_lookup(r, "type", "&s", &s));
        g_assert_cmpstr(s, ==, type);
        g_assert_true(g_variant_lookup(r, "name", "&s", &s));
        g_assert_cmpstr(s, ==, name);
        g_assert_true(g_variant_lookup(r, "address", "&s", &s));
        g_assert_cmpstr(s, ==, address);
        g_assert_true(g_variant_lookup(r, "address-description", "&s", &s));
        g_assert_cmpstr(s, ==, description);
        g_assert_true(g_variant_lookup(r, "enabled", "b", &b));
        g_assert_cmpint(b, ==, enabled);
        sites = g_variant_lookup_value(r, "sites", G_VARIANT_TYPE("a(sss)"));
        g_assert_nonnull(sites);
        g_assert_cmpuint(g_variant_n_children(sites), ==, 1);
        g_variant_get_child(sites, 0, "(&s&s&s)", &site_id, &site_name, &status);
        g_assert_cmpstr(site_id, ==, SITE_1);
        g_assert_cmpstr(site_name, ==, "one");
        g_assert_cmpstr(status, ==, site_status);
}

static void assert_resource(GVariant *resources, const char *id, const char *type, const char *name,
                            const char *address, const char *description, gboolean enabled)
{
        assert_resource_status(resources, id, type, name, address, description, enabled, "unknown");
}

/* `ip -n NETNS ARGS…` output, or NULL when it fails. */
static char *ip_in_netns(Fixture *f, const char *const *args)
{
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        char *out = NULL;
        int status;

        g_ptr_array_add(argv, (char *)"ip");
        g_ptr_array_add(argv, (char *)"-n");
        g_ptr_array_add(argv, (char *)f->netns);
        for (guint i = 0; args[i]; i++)
                g_ptr_array_add(argv, (char *)args[i]);
        g_ptr_array_add(argv, NULL);
        g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                                   G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                                   &status, NULL));
        if (!g_spawn_check_wait_status(status, NULL))
                g_clear_pointer(&out, g_free);
        return out;
}

/* The interface addresses the portal sent, from kilnd's "init" log line. */
static void logged_init_addresses(Fixture *f, char **ret_ipv4, char **ret_ipv6)
{
        g_autofree char *logs = read_logs(f);
        g_auto(GStrv) lines = g_strsplit(logs, "\n", -1);

        for (guint i = 0; lines[i]; i++) {
                g_autoptr(JsonParser) parser = json_parser_new();
                JsonObject *o, *fields;

                if (!strstr(lines[i], "\"message\":\"init\"") ||
                    !json_parser_load_from_data(parser, lines[i], -1, NULL))
                        continue;
                o = json_node_get_object(json_parser_get_root(parser));
                fields = json_object_get_object_member(o, "fields");
                *ret_ipv4 = g_strdup(json_object_get_string_member(fields, "ipv4"));
                *ret_ipv6 = g_strdup(json_object_get_string_member(fields, "ipv6"));
                return;
        }
        g_error("no init line in kilnd's log");
}

/* "ADDRESS/PREFIX" of every address (link-local included) on tun-kiln in the namespace, or NULL when absent. */
static GPtrArray *tun_addresses(Fixture *f)
{
        const char *argv[] = { "ip", "-n", f->netns, "-j", "addr", "show", "dev", "tun-kiln", NULL };
        g_autofree char *out = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        GPtrArray *list;
        JsonArray *links, *infos;
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                                   &status, NULL));
        if (!g_spawn_check_wait_status(status, NULL))
                return NULL;
        g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
        links = json_node_get_array(json_parser_get_root(parser));
        g_assert_cmpuint(json_array_get_length(links), ==, 1);
        g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(links, 0), "mtu"), ==,
                        1280);
        infos = json_object_get_array_member(json_array_get_object_element(links, 0), "addr_info");
        list = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < json_array_get_length(infos); i++) {
                JsonObject *a = json_array_get_object_element(infos, i);

                g_ptr_array_add(list, g_strdup_printf("%s/%" G_GINT64_FORMAT,
                                                      json_object_get_string_member(a, "local"),
                                                      json_object_get_int_member(a, "prefixlen")));
        }
        return list;
}

static gboolean ptr_array_has(GPtrArray *a, const char *s)
{
        return g_ptr_array_find_with_equal_func(a, s, g_str_equal, NULL);
}

static void test_portal_session(Fixture *f, gconstpointer data)
{
        g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GVariant) resources = NULL;
        g_autoptr(GPtrArray) addresses = NULL;
        g_autoptr(GPtrArray) after = NULL;
        g_autofree char *token = NULL;
        g_autofree char *ipv4 = NULL, *ipv6 = NULL, *want4 = NULL, *want6 = NULL;
        g_autofree char *logs = NULL;
        g_autofree char *portal_log = NULL;
        g_autofree char *portal_logs = NULL;
        gint64 signed_in;
        guint sub;

        SKIP_UNLESS_NETNS();
        token = issue_token(f, "3600");
        sub = g_dbus_connection_signal_subscribe(f->conn, NAME, "org.freedesktop.DBus.Properties",
                                                 "PropertiesChanged", PATH, IFACE, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 on_properties_changed, states, NULL);
        signed_in = g_get_monotonic_time();
        call_ok(f, "SignIn",
                g_variant_new_parsed("(%s, {'api-url': <%s>, 'account-slug': <'acme'>})", token, f->ws_url));
        g_assert_true(pump_until_state(f, states, "connected"));
        g_test_message("SignIn -> connected in %.0f ms",
                       (double)(g_get_monotonic_time() - signed_in) / 1000);
        g_assert_cmpstr(g_ptr_array_index(states, 0), ==, "connecting");
        g_assert_false(ptr_array_has(states, "error"));
        g_assert_false(ptr_array_has(states, "signed-out"));

        /* Exactly what the policy grants: web, lan and the Internet resource (off by default),
         * not "hidden". */
        resources = get_resources(f);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 3);
        assert_resource(resources, R_WEB, "dns", "web", "web.acme.test", "the web", TRUE);
        assert_resource(resources, R_LAN, "cidr", "lan", "10.9.0.0/16", "", TRUE);
        assert_resource(resources, R_NET, "internet", "Internet Resource", "", "", FALSE);
        g_assert_null(resource_by_id(resources, R_HIDDEN));
        g_clear_pointer(&resources, g_variant_unref);
        call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", TRUE));
        resources = get_resources(f);
        assert_resource(resources, R_NET, "internet", "Internet Resource", "", "", TRUE);
        g_clear_pointer(&resources, g_variant_unref);
        /* The toggle reaches the routes: default routes through tun-kiln in the Internet table. */
        {
                const char *args[] = { "route", "show", "table", "0x2021fd02", NULL };
                g_autofree char *routes = ip_in_netns(f, args);

                g_assert_nonnull(routes);
                g_assert_nonnull(strstr(routes, "default dev tun-kiln"));
        }

        /* tun-kiln in the namespace (not on the host), with the interface addresses from init. */
        logged_init_addresses(f, &ipv4, &ipv6);
        want4 = g_strconcat(ipv4, "/32", NULL);
        want6 = g_strconcat(ipv6, "/128", NULL);
        addresses = tun_addresses(f);
        g_assert_nonnull(addresses);
        g_assert_cmpuint(addresses->len, ==, 2);
        g_assert_true(ptr_array_has(addresses, want4));
        g_assert_true(ptr_array_has(addresses, want6));
        g_assert_false(g_file_test("/sys/class/net/tun-kiln", G_FILE_TEST_EXISTS));

        /* A packet to lan: kilnd asks the portal, which has no gateway online for site one:
         * ResourceUnreachable(lan, "offline") and the site's status "offline" in Resources. */
        {
                g_autoptr(GPtrArray) unreachable =
                    g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
                guint usub = g_dbus_connection_signal_subscribe(f->conn, NAME, IFACE, "ResourceUnreachable",
                                                                PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                                on_error_signal, unreachable, NULL);
                const char *ping[] = { "ip",  "netns", "exec",     f->netns, "ping",
                                       "-c1", "-W1",   "10.9.0.1", NULL };
                const char *id, *reason, *text;

                g_assert_true(g_spawn_sync(NULL, (char **)ping, NULL,
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                               G_SPAWN_STDERR_TO_DEV_NULL,
                                           NULL, NULL, NULL, NULL, NULL, NULL));
                for (int i = 0; i < 1000 && unreachable->len == 0; i++)
                        pump(10);
                g_assert_cmpuint(unreachable->len, >=, 1);
                g_variant_get(g_ptr_array_index(unreachable, 0), "(&s&s&s)", &id, &reason, &text);
                g_assert_cmpstr(id, ==, R_LAN);
                g_assert_cmpstr(reason, ==, "offline");
                g_dbus_connection_signal_unsubscribe(f->conn, usub);
                resources = get_resources(f);
                assert_resource_status(resources, R_LAN, "cidr", "lan", "10.9.0.0/16", "", TRUE, "offline");
                g_clear_pointer(&resources, g_variant_unref);
        }

        /* lan removed from the portal's file and reloaded: Resources follows. */
        write_portal_config(f, FALSE);
        g_subprocess_send_signal(f->portal, SIGHUP);
        for (int i = 0; i < 500; i++) {
                g_clear_pointer(&resources, g_variant_unref);
                resources = get_resources(f);
                if (g_variant_n_children(resources) == 2)
                        break;
                g_usleep(20 * 1000);
        }
        g_assert_cmpuint(g_variant_n_children(resources), ==, 2);
        g_assert_null(resource_by_id(resources, R_LAN));
        /* web shares site one, which the portal just said is offline. */
        assert_resource_status(resources, R_WEB, "dns", "web", "web.acme.test", "the web", TRUE, "offline");

        call_ok(f, "SignOut", NULL);
        g_assert_true(pump_until_state(f, states, "signed-out"));
        after = tun_addresses(f);
        g_assert_null(after);
        g_clear_pointer(&resources, g_variant_unref);
        resources = get_resources(f);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 0);

        logs = read_logs(f);
        g_assert_nonnull(strstr(logs, "\"message\":\"tunnel device removed\""));
        g_assert_null(strstr(logs, token));
        /* The portal's own log neither (it sees the token on every upgrade). */
        portal_log = in_dir(f, "portal.log");
        g_assert_true(g_file_get_contents(portal_log, &portal_logs, NULL, NULL));
        g_assert_null(strstr(portal_logs, token));
        g_dbus_connection_signal_unsubscribe(f->conn, sub);
}

static void test_portal_expired_token(Fixture *f, gconstpointer data)
{
        g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
        g_autofree char *token = NULL;
        g_autofree char *logs = NULL;
        const char *message;
        gboolean requires_sign_in;
        guint sub, err_sub;

        SKIP_UNLESS_NETNS();
        token = issue_token(f, "-60");
        sub = g_dbus_connection_signal_subscribe(f->conn, NAME, "org.freedesktop.DBus.Properties",
                                                 "PropertiesChanged", PATH, IFACE, G_DBUS_SIGNAL_FLAGS_NONE,
                                                 on_properties_changed, states, NULL);
        err_sub =
            g_dbus_connection_signal_subscribe(f->conn, NAME, IFACE, "Error", PATH, NULL,
                                               G_DBUS_SIGNAL_FLAGS_NONE, on_error_signal, errors, NULL);
        call_ok(f, "SignIn", g_variant_new_parsed("(%s, {'api-url': <%s>})", token, f->ws_url));
        g_assert_true(pump_until_state(f, states, "signed-out"));
        pump(100);
        g_assert_cmpuint(errors->len, ==, 1);
        g_variant_get(g_ptr_array_index(errors, 0), "(&sb)", &message, &requires_sign_in);
        g_assert_true(requires_sign_in);
        g_test_message("Error(%s, requires_sign_in=true)", message);
        g_assert_false(ptr_array_has(states, "connected"));
        g_assert_null(tun_addresses(f));
        logs = read_logs(f);
        g_assert_null(strstr(logs, token));
        g_dbus_connection_signal_unsubscribe(f->conn, sub);
        g_dbus_connection_signal_unsubscribe(f->conn, err_sub);
}

#define CAP_NET_ADMIN_MASK (G_GUINT64_CONSTANT(1) << 12)

/* One "CapXxx:" mask of /proc/PID/status. */
static guint64 proc_caps(GPid pid, const char *field)
{
        g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
        g_autofree char *status = NULL;
        g_autofree char *key = g_strconcat("\n", field, ":\t", NULL);
        const char *at;

        g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
        at = strstr(status, key);
        g_assert_nonnull(at);
        return g_ascii_strtoull(at + strlen(key), NULL, 16);
}

static void setup_portal_setpriv(Fixture *f, gconstpointer data)
{
        f->setpriv = TRUE;
        setup_portal(f, data);
}

static void sign_in_connected(Fixture *f, GPtrArray *states, const char *token)
{
        guint sub = g_dbus_connection_signal_subscribe(
            f->conn, NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", PATH, IFACE,
            G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, states, NULL);

        call_ok(f, "SignIn",
                g_variant_new_parsed("(%s, {'api-url': <%s>, 'account-slug': <'acme'>})", token, f->ws_url));
        g_assert_true(pump_until_state(f, states, "connected"));
        g_dbus_connection_signal_unsubscribe(f->conn, sub);
}

/* kilnd as the unit starts it (CapabilityBoundingSet= and AmbientCapabilities=CAP_NET_ADMIN):
 * CAP_NET_ADMIN is its only capability in every set, and with it alone kilnd still serves the
 * bus, signs in, creates tun-kiln and removes it again. */
static void test_capabilities(Fixture *f, gconstpointer data)
{
        g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) addresses = NULL;
        g_autofree char *token = NULL;
        g_autofree char *setpriv = g_find_program_in_path("setpriv");
        static const char *const fields[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };

        SKIP_UNLESS_NETNS();
        g_assert_nonnull(setpriv);
        for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
                guint64 caps = proc_caps(f->kilnd_pid, fields[i]);

                g_test_message("kilnd %s: %016" G_GINT64_MODIFIER "x", fields[i], caps);
                g_assert_cmphex(caps, ==, CAP_NET_ADMIN_MASK);
        }
        token = issue_token(f, "3600");
        sign_in_connected(f, states, token);
        addresses = tun_addresses(f);
        g_assert_nonnull(addresses);
        g_assert_cmpuint(addresses->len, ==, 2);
        g_assert_cmphex(proc_caps(f->kilnd_pid, "CapEff"), ==, CAP_NET_ADMIN_MASK);
        call_ok(f, "SignOut", NULL);
        g_assert_true(wait_state(f, "signed-out"));
        g_assert_null(tun_addresses(f));
}

/* The shipped unit grants exactly that set, once, and cannot regain more. */
static void test_unit_capabilities(void)
{
        g_autofree char *path = kiln_test_source_path("resources/kilnd/kilnd.service.in");
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;
        guint bounding = 0, ambient = 0, nnp = 0;

        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        lines = g_strsplit(text, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
                char *eq = strchr(lines[i], '=');
                g_auto(GStrv) values = NULL;
                g_autofree char *key = NULL;

                if (lines[i][0] == '#' || !eq)
                        continue;
                key = g_strndup(lines[i], (gsize)(eq - lines[i]));
                values = g_strsplit_set(eq + 1, " \t", -1);
                if (g_str_equal(key, "CapabilityBoundingSet") || g_str_equal(key, "AmbientCapabilities")) {
                        guint n = 0;

                        for (guint v = 0; values[v]; v++) {
                                if (!values[v][0])
                                        continue;
                                g_assert_cmpstr(values[v], ==, "CAP_NET_ADMIN");
                                n++;
                        }
                        g_assert_cmpuint(n, ==, 1);
                        if (g_str_equal(key, "AmbientCapabilities"))
                                ambient++;
                        else
                                bounding++;
                } else if (g_str_equal(key, "NoNewPrivileges")) {
                        g_assert_cmpstr(eq + 1, ==, "true");
                        nnp++;
                } else {
                        /* nothing else may hand out capabilities */
                        g_assert_false(g_str_has_prefix(key, "Capabilit"));
                        g_assert_cmpstr(key, !=, "SecureBits");
                }
        }
        g_assert_cmpuint(bounding, ==, 1);
        g_assert_cmpuint(ambient, ==, 1);
        g_assert_cmpuint(nnp, ==, 1);
}

static void setup_portal_trace(Fixture *f, gconstpointer data)
{
        f->relays = TRUE;
        setup_portal(f, "--log-level=trace");
}

/* Where `needle` (or, for long ones, any 12-character piece of it) occurs in text, or NULL. */
static const char *find_secret(const char *text, const char *needle)
{
        size_t len = strlen(needle);

        if (len <= 12)
                return strstr(text, needle);
        for (size_t i = 0; i + 12 <= len; i++) {
                g_autofree char *piece = g_strndup(needle + i, 12);
                const char *at = strstr(text, piece);

                if (at)
                        return at;
        }
        return NULL;
}

/* Every base64 value of `chars` characters ending in one '=' in text: 44 for a 32-byte key,
 * 28 for a 20-byte HMAC-SHA1 (a TURN password). */
static GPtrArray *base64_values(const char *text, guint chars)
{
        g_autofree char *pattern = g_strdup_printf("(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{%u}=", chars - 1);
        g_autoptr(GRegex) re = g_regex_new(pattern, 0, 0, NULL);
        g_autoptr(GMatchInfo) m = NULL;
        GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);

        g_regex_match(re, text, 0, &m);
        while (g_match_info_matches(m)) {
                g_ptr_array_add(keys, g_match_info_fetch(m, 0));
                g_match_info_next(m, NULL);
        }
        return keys;
}

/* Values of log fields named "...public..." (kilnd logs its public key at sign-in). */
static GHashTable *logged_public_values(const char *logs)
{
        GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_auto(GStrv) lines = g_strsplit(logs, "\n", -1);

        for (guint i = 0; lines[i]; i++) {
                g_autoptr(JsonParser) parser = json_parser_new();
                JsonObject *fields;
                g_autoptr(GList) members = NULL;

                if (!lines[i][0] || !json_parser_load_from_data(parser, lines[i], -1, NULL) ||
                    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                        continue;
                fields = json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)),
                                                       "fields");
                if (!fields)
                        continue;
                members = json_object_get_members(fields);
                for (GList *m = members; m; m = m->next) {
                        JsonNode *v = json_object_get_member(fields, m->data);

                        if (strstr(m->data, "public") && JSON_NODE_HOLDS_VALUE(v) &&
                            json_node_get_value_type(v) == G_TYPE_STRING)
                                g_hash_table_add(set, g_strdup(json_node_get_string(v)));
                }
        }
        return set;
}

/* The TURN password the portal derives for a username (coturn's use-auth-secret). */
static char *turn_password(const char *username)
{
        g_autoptr(GHmac) hmac =
            g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)RELAY_SECRET, strlen(RELAY_SECRET));
        guint8 digest[20];
        gsize len = sizeof(digest);

        g_hmac_update(hmac, (const guchar *)username, -1);
        g_hmac_get_digest(hmac, digest, &len);
        return g_base64_encode(digest, len);
}

/* A whole session at log level trace (sign-in with a known token, init with TURN credentials,
 * resources, sign-out): no log file and no ExportLogs output holds the token or a piece of it,
 * the relay secret, a TURN password, or a 32-byte key other than kilnd's public key. */
static void test_no_secrets(Fixture *f, gconstpointer data)
{
        g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) keys = NULL;
        g_autoptr(GRegex) user_re = NULL;
        g_autoptr(GMatchInfo) m = NULL;
        g_autofree char *token = NULL;
        g_autofree char *logs = NULL, *exported = NULL, *portal_logs = NULL, *portal_log = NULL;
        g_autofree char *all = NULL;
        g_autoptr(GPtrArray) hmacs = NULL;
        g_autoptr(GHashTable) public = NULL;
        guint users = 0;

        /* the scanners find what they look for */
        keys = base64_values(
            "k=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\" p=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 44);
        g_assert_cmpuint(keys->len, ==, 1);
        g_clear_pointer(&keys, g_ptr_array_unref);
        SKIP_UNLESS_NETNS();
        token = issue_token(f, "3600");
        sign_in_connected(f, states, token);
        pump(300);
        call_ok(f, "SignOut", NULL);
        g_assert_true(wait_state(f, "signed-out"));
        logs = read_logs(f);
        exported = export_logs(f);
        /* kilnd logged its configured level at start */
        g_assert_nonnull(strstr(logs, "\"level\":\"trace\""));
        all = g_strconcat(logs, "\n", exported, NULL);
        portal_log = in_dir(f, "portal.log");
        g_assert_true(g_file_get_contents(portal_log, &portal_logs, NULL, NULL));

        g_assert_null(find_secret(all, token));
        g_assert_null(find_secret(portal_logs, token));
        g_assert_null(strstr(all, RELAY_SECRET));
        g_assert_null(strstr(portal_logs, RELAY_SECRET));
        /* TURN usernames ("expiry:salt") may be logged; the passwords derived from them not. */
        user_re = g_regex_new("[0-9]{10}:[A-Za-z0-9_-]{4,}", 0, 0, NULL);
        g_regex_match(user_re, all, 0, &m);
        while (g_match_info_matches(m)) {
                g_autofree char *user = g_match_info_fetch(m, 0);
                g_autofree char *password = turn_password(user);

                g_assert_null(strstr(all, password));
                users++;
                g_match_info_next(m, NULL);
        }
        hmacs = base64_values(all, 28);
        g_assert_cmpuint(hmacs->len, ==, 0);
        /* The only 32-byte keys kilnd may print are public keys, in fields that say so. */
        public = logged_public_values(all);
        keys = base64_values(all, 44);
        for (guint i = 0; i < keys->len; i++) {
                const char *key = g_ptr_array_index(keys, i);

                if (!g_hash_table_contains(public, key))
                        g_error("a 32-byte key that is not logged as a public key is in kilnd's logs: %.6s…",
                                key);
        }
        g_test_message("%zu bytes of trace logs and export checked: token, relay secret, no HMAC-SHA1 in "
                       "base64, %u TURN usernames' passwords, %u keys (public)",
                       strlen(all), users, keys->len);
}

static void setup_bus_umask(Fixture *f, gconstpointer data)
{
        /* kilnd's unit has UMask=0077 */
        mode_t old = umask(0077);

        setup_bus(f, data);
        umask(old);
}

static mode_t mode_of(const char *path)
{
        struct stat st;

        g_assert_cmpint(lstat(path, &st), ==, 0);
        g_assert_cmpuint(st.st_uid, ==, 0);
        return st.st_mode & 07777;
}

/* What kilnd creates, under the unit's umask: log files root-owned 0640 (readable by group
 * kiln, nobody else), a log directory closed to others, and the device id 0644 (not secret;
 * Firezone's is world-readable too) in a state directory only root may write. */
static void test_file_modes(Fixture *f, gconstpointer data)
{
        g_autofree char *log_dir = in_dir(f, "log");
        g_autofree char *state_dir = in_dir(f, "state");
        g_autofree char *device_id = g_build_filename(state_dir, "device-id.json", NULL);
        g_autoptr(GDir) d = NULL;
        const char *name;
        guint files = 0;

        SKIP_UNLESS_ROOT();
        /* something to log, and a rotation so that more than one file exists */
        for (int i = 0; i < 40; i++)
                call_ok(f, "SetInternetResourceEnabled", g_variant_new("(b)", i % 2 == 0));
        g_assert_cmpuint(mode_of(log_dir) & 0027, ==, 0);
        d = g_dir_open(log_dir, 0, NULL);
        g_assert_nonnull(d);
        while ((name = g_dir_read_name(d))) {
                g_autofree char *p = g_build_filename(log_dir, name, NULL);

                g_test_message("%s: %04o", name, (unsigned)mode_of(p));
                g_assert_cmpuint(mode_of(p), ==, 0640);
                files++;
        }
        g_assert_cmpuint(files, >=, 2);
        g_assert_cmpuint(mode_of(state_dir) & 0022, ==, 0);
        g_assert_cmpuint(mode_of(device_id), ==, 0644);
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
        g_test_add("/kilnd/portal/sign-in-resources-sign-out", Fixture, NULL, setup_portal,
                   test_portal_session, teardown);
        g_test_add("/kilnd/portal/expired-token", Fixture, NULL, setup_portal, test_portal_expired_token,
                   teardown);
        g_test_add("/kilnd/hardening/capabilities", Fixture, NULL, setup_portal_setpriv, test_capabilities,
                   teardown);
        g_test_add_func("/kilnd/hardening/unit-capabilities", test_unit_capabilities);
        g_test_add("/kilnd/hardening/file-modes", Fixture, NULL, setup_bus_umask, test_file_modes, teardown);
        g_test_add("/kilnd/hardening/no-secrets", Fixture, NULL, setup_portal_trace, test_no_secrets,
                   teardown);
        return g_test_run();
}
