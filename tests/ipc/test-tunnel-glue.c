/* SPDX-License-Identifier: MIT */
/*
 * ipc/: the client side of dev.kiln.Tunnel1 as the GUI uses it — the generated
 * KilnDBusTunnel1 proxy, the error names mapped back to KILN_TUNNEL_ERROR codes, and the
 * documented ExportLogs recipe with a passed descriptor — against a mock kilnd driven by
 * glib-testing's GtDBusQueue on a private bus.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <libglib-testing/dbus-queue.h>

#include "ipc/kiln-tunnel-errors.h"
#include "kiln-tunnel-dbus.h"

#define NAME "dev.kiln.Tunnel"
#define PATH "/dev/kiln/Tunnel"

typedef struct {
        GtDBusQueue *queue;
        KilnDBusTunnel1 *proxy;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;

        f->queue = gt_dbus_queue_new();
        g_assert_true(gt_dbus_queue_connect(f->queue, &error));
        g_assert_no_error(error);
        gt_dbus_queue_own_name(f->queue, NAME);
        gt_dbus_queue_export_object(f->queue, PATH, kiln_dbus_tunnel1_interface_info(), &error);
        g_assert_no_error(error);
        /* Properties are tested separately; here the proxy must not send GetAll first. */
        f->proxy = kiln_dbus_tunnel1_proxy_new_sync(gt_dbus_queue_get_client_connection(f->queue),
                                                    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES, NAME, PATH,
                                                    NULL, &error);
        g_assert_no_error(error);
}

static void teardown(Fixture *f, gconstpointer data)
{
        g_clear_object(&f->proxy);
        gt_dbus_queue_disconnect(f->queue, TRUE);
        gt_dbus_queue_free(f->queue);
}

static void store_result(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GAsyncResult **out = user_data;

        *out = g_object_ref(result);
}

static GAsyncResult *wait_result(GAsyncResult **slot)
{
        while (!*slot)
                g_main_context_iteration(NULL, TRUE);
        return *slot;
}

static void test_sign_in_marshalling(Fixture *f, gconstpointer data)
{
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GDBusMethodInvocation) invocation = NULL;
        g_autoptr(GVariant) options = NULL;
        g_autoptr(GError) error = NULL;
        const char *token = NULL;
        const char *url = NULL;
        gboolean enabled = FALSE;

        kiln_dbus_tunnel1_call_sign_in(f->proxy, "nonce.fragment",
                                       g_variant_new_parsed("{'api-url': <'wss://portal.test/'>, "
                                                            "'internet-resource-enabled': <true>}"),
                                       NULL, store_result, &result);
        invocation = gt_dbus_queue_assert_pop_message(f->queue, PATH, "dev.kiln.Tunnel1", "SignIn",
                                                      "(&s@a{sv})", &token, &options);
        g_assert_cmpstr(token, ==, "nonce.fragment");
        g_assert_true(g_variant_lookup(options, "api-url", "&s", &url));
        g_assert_cmpstr(url, ==, "wss://portal.test/");
        g_assert_true(g_variant_lookup(options, "internet-resource-enabled", "b", &enabled));
        g_assert_true(enabled);
        g_dbus_method_invocation_return_value(invocation, NULL);

        g_assert_true(kiln_dbus_tunnel1_call_sign_in_finish(f->proxy, wait_result(&result), &error));
        g_assert_no_error(error);
}

static void test_error_names(Fixture *f, gconstpointer data)
{
        const struct {
                const char *name;
                int code;
        } cases[] = {
                { "dev.kiln.Tunnel1.Error.InvalidToken", KILN_TUNNEL_ERROR_INVALID_TOKEN },
                { "dev.kiln.Tunnel1.Error.InvalidOption", KILN_TUNNEL_ERROR_INVALID_OPTION },
                { "dev.kiln.Tunnel1.Error.InvalidUrl", KILN_TUNNEL_ERROR_INVALID_URL },
                { "dev.kiln.Tunnel1.Error.InvalidLogLevel", KILN_TUNNEL_ERROR_INVALID_LOG_LEVEL },
                { "dev.kiln.Tunnel1.Error.InvalidFileDescriptor", KILN_TUNNEL_ERROR_INVALID_FD },
                { "dev.kiln.Tunnel1.Error.LogsFailed", KILN_TUNNEL_ERROR_LOGS_FAILED },
                { "dev.kiln.Tunnel1.Error.SessionFailed", KILN_TUNNEL_ERROR_SESSION_FAILED },
                { "dev.kiln.Tunnel1.Error.ShuttingDown", KILN_TUNNEL_ERROR_SHUTTING_DOWN },
        };

        /* Registers the names on the client side, as a GUI does once at start-up. */
        (void)KILN_TUNNEL_ERROR;
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GAsyncResult) result = NULL;
                g_autoptr(GDBusMethodInvocation) invocation = NULL;
                g_autoptr(GError) error = NULL;
                g_autofree char *remote = NULL;
                const char *level = NULL;

                kiln_dbus_tunnel1_call_set_log_level(f->proxy, "loud", NULL, store_result, &result);
                invocation = gt_dbus_queue_assert_pop_message(f->queue, PATH, "dev.kiln.Tunnel1",
                                                              "SetLogLevel", "(&s)", &level);
                g_assert_cmpstr(level, ==, "loud");
                /* The wire name exactly as kilnd sends it (checked by test-kilnd-bus). */
                g_dbus_method_invocation_return_dbus_error(invocation, cases[i].name, "the reason");

                g_assert_false(
                    kiln_dbus_tunnel1_call_set_log_level_finish(f->proxy, wait_result(&result), &error));
                g_assert_error(error, KILN_TUNNEL_ERROR, cases[i].code);
                remote = g_dbus_error_get_remote_error(error);
                g_assert_cmpstr(remote, ==, cases[i].name);
                g_dbus_error_strip_remote_error(error);
                g_assert_cmpstr(error->message, ==, "the reason");
        }
}

static void test_export_logs_fd(Fixture *f, gconstpointer data)
{
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GDBusMethodInvocation) invocation = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GError) error = NULL;
        GUnixFDList *received;
        gint32 handle = -1;
        char buf[64] = { 0 };
        int p[2], fd;

        /* The recipe documented in ipc/README.md: the generated call has no fd list, so the
         * GUI goes through GDBusProxy with one. */
        g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
        g_assert_cmpint(g_unix_fd_list_append(fds, p[1], NULL), ==, 0);
        close(p[1]);
        g_dbus_proxy_call_with_unix_fd_list(G_DBUS_PROXY(f->proxy), "ExportLogs", g_variant_new("(h)", 0),
                                            G_DBUS_CALL_FLAGS_NONE, -1, fds, NULL, store_result, &result);
        g_clear_object(&fds);

        invocation = gt_dbus_queue_assert_pop_message(f->queue, PATH, "dev.kiln.Tunnel1", "ExportLogs",
                                                      "(h)", &handle);
        g_assert_cmpint(handle, ==, 0);
        received = g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
        g_assert_nonnull(received);
        fd = g_unix_fd_list_get(received, handle, &error);
        g_assert_no_error(error);
        g_assert_cmpint(write(fd, "{\"level\":\"info\"}\n", 17), ==, 17);
        close(fd);
        g_dbus_method_invocation_return_value(invocation, NULL);

        reply = g_dbus_proxy_call_with_unix_fd_list_finish(G_DBUS_PROXY(f->proxy), NULL,
                                                           wait_result(&result), &error);
        g_assert_no_error(error);
        g_assert_cmpint(read(p[0], buf, sizeof(buf) - 1), ==, 17);
        g_assert_cmpstr(buf, ==, "{\"level\":\"info\"}\n");
        close(p[0]);
}

static void test_properties(Fixture *f, gconstpointer data)
{
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GDBusMethodInvocation) invocation = NULL;
        g_autoptr(KilnDBusTunnel1) proxy = NULL;
        g_autoptr(GVariant) resources = NULL;
        g_autoptr(GError) error = NULL;
        const char *iface = NULL;

        /* A proxy that loads properties asks for all of them once. */
        kiln_dbus_tunnel1_proxy_new(gt_dbus_queue_get_client_connection(f->queue), G_DBUS_PROXY_FLAGS_NONE,
                                    NAME, PATH, NULL, store_result, &result);
        invocation = gt_dbus_queue_assert_pop_message(f->queue, PATH, "org.freedesktop.DBus.Properties",
                                                      "GetAll", "(&s)", &iface);
        g_assert_cmpstr(iface, ==, "dev.kiln.Tunnel1");
        g_dbus_method_invocation_return_value(
            invocation,
            g_variant_new_parsed("({'State': <'connecting'>, 'Version': <'9.9'>, "
                                 "'InternetResourceEnabled': <true>, 'Resources': <@aa{sv} [{'id': "
                                 "<'r1'>, 'type': <'dns'>}]>},)"));
        proxy = kiln_dbus_tunnel1_proxy_new_finish(wait_result(&result), &error);
        g_assert_no_error(error);
        g_assert_cmpstr(kiln_dbus_tunnel1_get_state(proxy), ==, "connecting");
        g_assert_cmpstr(kiln_dbus_tunnel1_get_version(proxy), ==, "9.9");
        g_assert_true(kiln_dbus_tunnel1_get_internet_resource_enabled(proxy));
        resources = kiln_dbus_tunnel1_dup_resources(proxy);
        g_assert_cmpuint(g_variant_n_children(resources), ==, 1);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/ipc/tunnel/" name, Fixture, NULL, setup, fn, teardown)
        ADD("sign-in-marshalling", test_sign_in_marshalling);
        ADD("error-names", test_error_names);
        ADD("export-logs-fd", test_export_logs_fd);
        ADD("properties", test_properties);
        return g_test_run();
}
