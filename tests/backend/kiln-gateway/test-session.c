/* SPDX-License-Identifier: MIT */
/*
 * KilnGatewaySession driven without the network: portal events as parsed frames, a platform
 * that records what it is asked to do, and connections that record calls.  Checks init →
 * configure + relays + resync, create_authorization → connection + authorization_created,
 * reject_access / resync / resource_updated → the data path (which owns expiry), ICE candidates
 * both ways, shutdown → revoke + teardown.
 */
#include <string.h>

#include "backend/kiln-gateway/session.h"
#include "backend/portal/phoenix.h"
#include "tests/support/test-support.h"

#define CLIENT   "3b8a1d6c-5f3e-4b53-9d0e-22c0e3f5d0a1"
#define RESOURCE "ea6570d1-47c7-49d2-9dc3-efff1c0c9e0b"

/* ---- recording connections ---- */

#define TEST_TYPE_CONNECTIONS (test_connections_get_type())
G_DECLARE_FINAL_TYPE(TestConnections, test_connections, TEST, CONNECTIONS, GObject)

struct _TestConnections {
        GObject parent_instance;
        GPtrArray *calls; /* "authorize CLIENT RESOURCE", "add CLIENT N", "revoke CLIENT RESOURCE", … */
        gboolean refuse;
};

static void record(KilnGatewayConnections *c, char *call)
{
        g_ptr_array_add(TEST_CONNECTIONS(c)->calls, call);
}

static gboolean t_authorize(KilnGatewayConnections *c, const KilnPortalCreateAuthorization *auth,
                            const struct kiln_resource *resource, GError **error)
{
        if (TEST_CONNECTIONS(c)->refuse) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "refused");
                return FALSE;
        }
        record(c, g_strdup_printf("authorize %s %s", auth->client.id, resource->id));
        return TRUE;
}

static void t_renew(KilnGatewayConnections *c, const char *client_id, const char *ipv4, const char *ipv6,
                    const struct kiln_resource *resource, guint64 expires_at)
{
        record(c, g_strdup_printf("renew %s %s %s %s %" G_GUINT64_FORMAT, client_id, ipv4, ipv6 ? ipv6 : "-",
                                  resource->id, expires_at));
}

static void t_revoke(KilnGatewayConnections *c, const char *client_id, const char *resource_id)
{
        record(c, g_strdup_printf("revoke %s %s", client_id, resource_id));
}

static void t_update(KilnGatewayConnections *c, const struct kiln_resource *resource)
{
        record(c, g_strdup_printf("update %s %u", resource->id, (unsigned)resource->n_filters));
}

static void t_add(KilnGatewayConnections *c, const char *id, GPtrArray *candidates)
{
        record(c, g_strdup_printf("add %s %u", id, candidates->len));
}

static void t_remove(KilnGatewayConnections *c, const char *id, GPtrArray *candidates)
{
        record(c, g_strdup_printf("remove %s %u", id, candidates->len));
}

static void t_relays(KilnGatewayConnections *c, GPtrArray *connected, GPtrArray *gone)
{
        record(c, g_strdup_printf("relays %u %d", connected->len, gone ? (int)gone->len : -1));
}

static void test_connections_iface_init(KilnGatewayConnectionsInterface *iface)
{
        iface->authorize = t_authorize;
        iface->renew = t_renew;
        iface->revoke = t_revoke;
        iface->update_resource = t_update;
        iface->add_candidates = t_add;
        iface->remove_candidates = t_remove;
        iface->set_relays = t_relays;
}

G_DEFINE_FINAL_TYPE_WITH_CODE(TestConnections, test_connections, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_GATEWAY_CONNECTIONS,
                                                    test_connections_iface_init))

static void test_connections_finalize(GObject *o)
{
        g_ptr_array_unref(TEST_CONNECTIONS(o)->calls);
        G_OBJECT_CLASS(test_connections_parent_class)->finalize(o);
}

static void test_connections_class_init(TestConnectionsClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = test_connections_finalize;
}

static void test_connections_init(TestConnections *self)
{
        self->calls = g_ptr_array_new_with_free_func(g_free);
}

/* ---- recording platform ---- */

typedef struct {
        GPtrArray *calls;
        gboolean fail;
} Platform;

static gboolean p_configure(gpointer data, const char *ipv4, const char *ipv6, GError **error)
{
        Platform *p = data;

        if (p->fail) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "no TUN");
                return FALSE;
        }
        g_ptr_array_add(p->calls, g_strdup_printf("configure %s %s", ipv4, ipv6));
        return TRUE;
}

static void p_teardown(gpointer data)
{
        g_ptr_array_add(((Platform *)data)->calls, g_strdup("teardown"));
}

static const KilnGatewayPlatformOps platform_ops = { p_configure, p_teardown };

/* ---- fixture ---- */

typedef struct {
        TestConnections *connections;
        Platform platform;
        KilnGatewaySession *session;
        GPtrArray *sent; /* "event payload-json" */
} Fixture;

static void on_send(KilnGatewaySession *s, const char *event, JsonNode *payload, Fixture *f)
{
        g_autofree char *text = kiln_json_to_string(payload);

        (void)s;
        g_ptr_array_add(f->sent, g_strdup_printf("%s %s", event, text));
}

static void setup(Fixture *f, gconstpointer data)
{
        (void)data;
        f->connections = g_object_new(TEST_TYPE_CONNECTIONS, NULL);
        f->platform.calls = g_ptr_array_new_with_free_func(g_free);
        f->sent = g_ptr_array_new_with_free_func(g_free);
        f->session = kiln_gateway_session_new(KILN_GATEWAY_CONNECTIONS(f->connections), &platform_ops,
                                              &f->platform, NULL);
        g_signal_connect(f->session, "portal-send", G_CALLBACK(on_send), f);
}

static void teardown(Fixture *f, gconstpointer data)
{
        (void)data;
        g_object_unref(f->session);
        g_object_unref(f->connections);
        g_ptr_array_unref(f->platform.calls);
        g_ptr_array_unref(f->sent);
}

/* Feeds a frame (a conformance frame file, or literal JSON) to the session. */
static void feed_json(Fixture *f, const char *json)
{
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        g_autoptr(KilnPortalGatewayMessage) m = NULL;
        g_autoptr(GError) error = NULL;

        g_assert_true(kiln_phoenix_frame_parse(json, strlen(json), &frame, &error));
        g_assert_true(kiln_portal_gateway_message_parse(frame->event, frame->payload, &m, &error));
        kiln_gateway_session_handle_message(f->session, m);
}

static void feed(Fixture *f, const char *name)
{
        g_autofree char *relative = g_strdup_printf("tests/backend/portal/frames/gateway/%s.json", name);
        g_autofree char *path = kiln_test_source_path(relative);
        g_autofree char *json = NULL;

        g_assert_true(g_file_get_contents(path, &json, NULL, NULL));
        feed_json(f, json);
}

static gboolean has(GPtrArray *calls, const char *call)
{
        for (guint i = 0; i < calls->len; i++)
                if (g_str_equal(g_ptr_array_index(calls, i), call))
                        return TRUE;
        return FALSE;
}

static const char *calls_at(GPtrArray *calls, guint i)
{
        g_assert_cmpuint(i, <, calls->len);
        return g_ptr_array_index(calls, i);
}

/* A create_authorization for CLIENT → RESOURCE (tcp/80, udp/53, icmp) expiring at expires_at. */
static char *create_authorization(gint64 expires_at)
{
        g_autofree char *path =
            kiln_test_source_path("tests/backend/portal/frames/gateway/create-authorization.json");
        g_autofree char *json = NULL;
        g_autoptr(JsonNode) root = NULL;

        g_assert_true(g_file_get_contents(path, &json, NULL, NULL));
        root = json_from_string(json, NULL);
        json_object_set_int_member(json_object_get_object_member(json_node_get_object(root), "payload"),
                                   "expires_at", expires_at);
        return kiln_json_to_string(root);
}

static void test_init_configures(Fixture *f, gconstpointer data)
{
        (void)data;
        feed(f, "init");
        g_assert_true(kiln_gateway_session_is_configured(f->session));
        g_assert_cmpstr(calls_at(f->platform.calls, 0), ==,
                        "configure 100.115.164.78 fd00:2021:1111::2c:f6ab");
        g_assert_true(has(f->connections->calls, "relays 2 -1"));
        /* The init lists an authorization the session never saw: nothing to resync, no client. */
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 0);
        kiln_gateway_session_shutdown(f->session);
        g_assert_cmpstr(calls_at(f->platform.calls, 1), ==, "teardown");
}

static void on_fatal(char **ret, const char *detail)
{
        *ret = g_strdup(detail);
}

static void test_init_failure_is_not_configured(Fixture *f, gconstpointer data)
{
        g_autofree char *fatal = NULL;

        (void)data;
        f->platform.fail = TRUE;
        g_signal_connect_swapped(f->session, "fatal-error", G_CALLBACK(on_fatal), &fatal);
        feed(f, "init");
        g_assert_false(kiln_gateway_session_is_configured(f->session));
        g_assert_cmpstr(fatal, ==, "no TUN");
        kiln_gateway_session_shutdown(f->session);
        g_assert_cmpuint(f->platform.calls->len, ==, 0);
}

static void test_authorization_answered(Fixture *f, gconstpointer data)
{
        g_autofree char *frame = create_authorization(g_get_real_time() / G_USEC_PER_SEC + 3600);

        (void)data;
        feed(f, "init");
        feed_json(f, frame);
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 1);
        g_assert_true(has(f->connections->calls, "authorize " CLIENT " " RESOURCE));
        g_assert_cmpuint(f->sent->len, ==, 1);
        g_assert_cmpstr(
            calls_at(f->sent, 0), ==,
            "authorization_created {\"ref\":\"SFMyNTY.g2gDaAJtAAAAJGMzYTE0YTdlLTdmYTQtNGU5Ni05NTQ0LTRmY2MxNm"
            "ZkNzFlYm0AAAAkMzM4MzI3OTYtZDRiNS00YjVjLWI0ZDUtYzk0MjE4NmY3YzFmbgYAkPVoIJoBYgABUYA.8tKHYX0tuhj_"
            "mxKcLcg4jXYzc5UVDd-NWHmR_QjqJ6I\"}");

        /* The client's ICE candidates reach the connection; ours go to the portal. */
        feed(f, "ice-candidates");
        g_assert_true(has(f->connections->calls, "add " CLIENT " 2"));
        feed(f, "invalidate-ice-candidates");
        g_assert_true(has(f->connections->calls, "remove " CLIENT " 1"));
        {
                const char *const local[] = { "candidate:1 1 udp 2130706431 10.0.0.2 51820 typ host", NULL };

                g_signal_emit_by_name(f->connections, "new-candidates", CLIENT, local);
                g_signal_emit_by_name(f->connections, "invalidated-candidates", CLIENT, local);
        }
        g_assert_cmpstr(calls_at(f->sent, 1), ==,
                        "broadcast_ice_candidates {\"client_ids\":[\"" CLIENT
                        "\"],\"candidates\":[\"candidate:1 1 udp 2130706431 10.0.0.2 51820 typ host\"]}");
        g_assert_true(g_str_has_prefix(calls_at(f->sent, 2), "broadcast_invalidated_ice_candidates {"));

        /* reject_access of its only resource: the data path revokes it (GOODBYE, close). */
        feed(f, "reject-access");
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 0);
        g_assert_cmpstr(calls_at(f->connections->calls, f->connections->calls->len - 1), ==,
                        "revoke " CLIENT " " RESOURCE);
}

static void test_refused_connection_not_answered(Fixture *f, gconstpointer data)
{
        g_autofree char *frame = create_authorization(0);

        (void)data;
        f->connections->refuse = TRUE;
        feed_json(f, frame);
        g_assert_cmpuint(f->sent->len, ==, 0);
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 0);
}

static void test_init_resync_revokes(Fixture *f, gconstpointer data)
{
        g_autofree char *frame = create_authorization(0);

        (void)data;
        feed_json(f, frame);
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 1);
        /* init-minimal lists no authorizations: the portal no longer grants this one. */
        feed(f, "init-minimal");
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 0);
        g_assert_true(has(f->connections->calls, "revoke " CLIENT " " RESOURCE));
}

static void test_init_resync_keeps(Fixture *f, gconstpointer data)
{
        g_autofree char *frame = create_authorization(0);

        (void)data;
        feed_json(f, frame);
        /* init lists CLIENT → RESOURCE: the authorization stays (with the portal's expiry). */
        feed(f, "init");
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 1);
        g_assert_false(has(f->connections->calls, "revoke " CLIENT " " RESOURCE));
        g_assert_true(has(f->connections->calls,
                          "renew " CLIENT " 100.93.81.151 fd00:2021:1111::a:bd8d " RESOURCE " 1785434400"));
}

static void test_resource_updated(Fixture *f, gconstpointer data)
{
        g_autofree char *frame = create_authorization(0);

        (void)data;
        feed_json(f, frame);
        feed(f, "resource-updated");
        g_assert_cmpuint(kiln_gateway_session_n_clients(f->session), ==, 1);
        g_assert_true(g_str_has_prefix(calls_at(f->connections->calls, f->connections->calls->len - 1),
                                       "update " RESOURCE " "));
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/kiln-gateway/session/" path, Fixture, NULL, setup, fn, teardown)
        ADD("init-configures", test_init_configures);
        ADD("init-failure", test_init_failure_is_not_configured);
        ADD("authorization-answered", test_authorization_answered);
        ADD("refused-connection", test_refused_connection_not_answered);
        ADD("init-resync-revokes", test_init_resync_revokes);
        ADD("init-resync-keeps", test_init_resync_keeps);
        ADD("resource-updated", test_resource_updated);
        return g_test_run();
}
