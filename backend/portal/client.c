/* SPDX-License-Identifier: MIT */
#include "backend/portal/client.h"

#include <libsoup/soup.h>
#include <sodium.h>

#include "backend/portal/phoenix.h"

struct _KilnPortalClient {
        GObject parent_instance;

        char *api_url;
        char *external_id;
        char *name;
        char *device_serial;
        char *device_uuid;
        char *authorization; /* "Bearer …"; wiped on finalize */
        char *user_agent;
        uint8_t public_key[WG_KEY_LEN];

        KilnPortalSessionConfig config;
        KilnPortalSession *session;
        SoupSession *soup;
        GCancellable *cancellable; /* the dial in flight */
        SoupWebsocketConnection *ws;
        guint timeout_id;
        KilnPortalState state;
};

G_DEFINE_FINAL_TYPE(KilnPortalClient, kiln_portal_client, G_TYPE_OBJECT)

enum {
        PROP_0,
        PROP_STATE,
        N_PROPS
};
enum {
        SIGNAL_MESSAGE,
        SIGNAL_JOINED,
        SIGNAL_HICCUP,
        SIGNAL_SIGN_IN_REQUIRED,
        SIGNAL_FATAL_ERROR,
        N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void process(KilnPortalClient *self);

static void drop_socket(KilnPortalClient *self)
{
        if (self->cancellable) {
                g_cancellable_cancel(self->cancellable);
                g_clear_object(&self->cancellable);
        }
        if (self->ws) {
                g_signal_handlers_disconnect_by_data(self->ws, self);
                if (soup_websocket_connection_get_state(self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                        soup_websocket_connection_close(self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
                g_clear_object(&self->ws);
        }
}

static void on_ws_message(SoupWebsocketConnection *ws, int type, GBytes *message, KilnPortalClient *self)
{
        gsize len;
        const char *data = g_bytes_get_data(message, &len);

        /* Binary frames are ignored, as Firezone does; pings are answered by libsoup. */
        if (type != SOUP_WEBSOCKET_DATA_TEXT)
                return;
        kiln_portal_session_handle_text(self->session, g_get_monotonic_time(), data ? data : "", len);
        process(self);
}

static void on_ws_closed(SoupWebsocketConnection *ws, KilnPortalClient *self)
{
        g_autofree char *reason =
            g_strdup_printf("close code %u", soup_websocket_connection_get_close_code(ws));

        kiln_portal_session_handle_closed(self->session, g_get_monotonic_time(), reason);
        process(self);
}

static void on_ws_error(SoupWebsocketConnection *ws, GError *error, KilnPortalClient *self)
{
        g_debug("portal: WebSocket error: %s", error->message);
}

typedef struct {
        KilnPortalClient *self;
        SoupMessage *msg;
} ProbeData;

/*
 * libsoup 3.2 discards the body of a refused WebSocket upgrade, but a 401's problem+json code
 * decides between "sign in again" and a plain error: ask once more, as a plain request with
 * the same upgrade headers, and read the body this time.
 */
static void on_probe_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autofree ProbeData *data = user_data;
        g_autoptr(KilnPortalClient) self = data->self;
        g_autoptr(SoupMessage) msg = data->msg;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
        gsize len = 0;
        const char *bytes = body ? g_bytes_get_data(body, &len) : NULL;
        guint status = soup_message_get_status(msg);

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        g_clear_object(&self->cancellable);
        /* If the portal now accepts the upgrade after all, treat it as a retryable hiccup. */
        kiln_portal_session_handle_refused(
            self->session, g_get_monotonic_time(), status == 401 ? 401 : 0,
            soup_message_headers_get_content_type(soup_message_get_response_headers(msg), NULL), bytes, len,
            NULL, g_get_real_time() / G_USEC_PER_SEC, "HTTP 401 Unauthorized");
        process(self);
}

static SoupMessage *build_message(KilnPortalClient *self, GError **error)
{
        KilnPortalLoginParams params = {
                .api_url = self->api_url,
                .external_id = self->external_id,
                .name = self->name,
                .device_serial = self->device_serial,
                .device_uuid = self->device_uuid,
        };
        g_autofree char *url = kiln_portal_login_url(&params, self->public_key, error);
        g_autofree char *host = NULL;
        SoupMessageHeaders *headers;
        SoupMessage *msg;

        if (!url)
                return NULL;
        msg = soup_message_new(SOUP_METHOD_GET, url);
        if (!msg) {
                g_set_error(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_INVALID, "bad portal URL %s", url);
                return NULL;
        }
        headers = soup_message_get_request_headers(msg);
        host = kiln_portal_host_header(url);
        soup_message_headers_replace(headers, "Host", host);
        soup_message_headers_replace(headers, "User-Agent", self->user_agent);
        if (self->authorization)
                soup_message_headers_replace(headers, "X-Authorization", self->authorization);
        return msg;
}

static void on_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnPortalClient) self = user_data;
        g_autoptr(GError) error = NULL;
        SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
        SoupWebsocketConnection *ws =
            soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
        guint status = msg ? soup_message_get_status(msg) : 0;

        if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        if (!ws && status == 401) {
                ProbeData *data = g_new0(ProbeData, 1);
                g_autoptr(GError) build_error = NULL;

                data->self = g_object_ref(self);
                data->msg = build_message(self, &build_error);
                if (data->msg) {
                        soup_websocket_client_prepare_handshake(data->msg, NULL, NULL, NULL);
                        soup_session_send_and_read_async(self->soup, data->msg, G_PRIORITY_DEFAULT,
                                                         self->cancellable, on_probe_done, data);
                        return;
                }
                g_object_unref(data->self);
                g_free(data);
        }
        g_clear_object(&self->cancellable);
        if (!ws) {
                SoupMessageHeaders *response = msg ? soup_message_get_response_headers(msg) : NULL;

                kiln_portal_session_handle_refused(
                    self->session, g_get_monotonic_time(), status >= 100 ? status : 0,
                    response ? soup_message_headers_get_content_type(response, NULL) : NULL, NULL, 0,
                    response ? soup_message_headers_get_one(response, "Retry-After") : NULL,
                    g_get_real_time() / G_USEC_PER_SEC, error->message);
                process(self);
                return;
        }
        self->ws = ws;
        soup_websocket_connection_set_max_incoming_payload_size(ws, KILN_PHOENIX_MAX_FRAME);
        soup_websocket_connection_set_keepalive_interval(ws, 0);
        g_signal_connect(ws, "message", G_CALLBACK(on_ws_message), self);
        g_signal_connect(ws, "closed", G_CALLBACK(on_ws_closed), self);
        g_signal_connect(ws, "error", G_CALLBACK(on_ws_error), self);
        kiln_portal_session_handle_open(self->session, g_get_monotonic_time());
        process(self);
}

static void dial(KilnPortalClient *self)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(SoupMessage) msg = NULL;

        drop_socket(self);
        msg = build_message(self, &error);
        if (!msg) {
                kiln_portal_session_handle_refused(self->session, g_get_monotonic_time(), 0, NULL, NULL, 0,
                                                   NULL, 0, error->message);
                return;
        }
        self->cancellable = g_cancellable_new();
        soup_session_websocket_connect_async(self->soup, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                             self->cancellable, on_connected, g_object_ref(self));
}

static gboolean on_timeout(gpointer user_data)
{
        KilnPortalClient *self = user_data;

        self->timeout_id = 0;
        kiln_portal_session_handle_timeout(self->session, g_get_monotonic_time());
        process(self);
        return G_SOURCE_REMOVE;
}

static void set_state(KilnPortalClient *self)
{
        KilnPortalState state = kiln_portal_session_get_state(self->session);

        if (state == self->state)
                return;
        self->state = state;
        g_object_notify_by_pspec(G_OBJECT(self), properties[PROP_STATE]);
}

/* Carries out the session's actions, then re-arms its timer.  Signal handlers may re-enter. */
static void process(KilnPortalClient *self)
{
        KilnPortalAction *action;
        gint64 deadline;

        g_object_ref(self);
        while ((action = kiln_portal_session_poll_action(self->session))) {
                g_autoptr(KilnPortalAction) a = action;

                switch (a->kind) {
                case KILN_PORTAL_ACTION_DIAL:
                        dial(self);
                        break;
                case KILN_PORTAL_ACTION_SEND:
                        if (self->ws &&
                            soup_websocket_connection_get_state(self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
                                soup_websocket_connection_send_text(self->ws, a->text);
                        break;
                case KILN_PORTAL_ACTION_CLOSE:
                        drop_socket(self);
                        break;
                case KILN_PORTAL_ACTION_JOINED:
                        set_state(self);
                        g_signal_emit(self, signals[SIGNAL_JOINED], 0);
                        break;
                case KILN_PORTAL_ACTION_MESSAGE:
                        g_signal_emit(self, signals[SIGNAL_MESSAGE],
                                      g_quark_from_static_string(kiln_portal_message_event_name(a->message)),
                                      a->message);
                        break;
                case KILN_PORTAL_ACTION_HICCUP:
                        set_state(self);
                        g_signal_emit(self, signals[SIGNAL_HICCUP], 0, a->text, (guint)(a->delay_us / 1000));
                        break;
                case KILN_PORTAL_ACTION_FATAL:
                        set_state(self);
                        if (a->fatal == KILN_PORTAL_FATAL_SIGN_IN_REQUIRED)
                                g_signal_emit(self, signals[SIGNAL_SIGN_IN_REQUIRED], 0, a->text);
                        g_signal_emit(self, signals[SIGNAL_FATAL_ERROR], 0, (int)a->fatal, a->text);
                        break;
                }
        }
        set_state(self);
        g_clear_handle_id(&self->timeout_id, g_source_remove);
        deadline = kiln_portal_session_poll_timeout(self->session);
        if (deadline != G_MAXINT64) {
                gint64 wait = deadline - g_get_monotonic_time();

                self->timeout_id =
                    g_timeout_add((guint)CLAMP((wait + 999) / 1000, 0, G_MAXINT32), on_timeout, self);
        }
        g_object_unref(self);
}

KilnPortalClient *kiln_portal_client_new(const KilnPortalLoginParams *params, const char *token,
                                         const uint8_t public_key[static WG_KEY_LEN], GError **error)
{
        g_autoptr(KilnPortalClient) self = g_object_new(KILN_TYPE_PORTAL_CLIENT, NULL);
        g_autofree char *url = NULL;
        KilnPortalSessionConfig config = {
                .seed = g_random_int(),
                .max_partition_us = KILN_PORTAL_GUI_MAX_PARTITION_US,
        };

        /* Fail early on a URL that can never work. */
        url = kiln_portal_login_url(params, public_key, error);
        if (!url)
                return NULL;
        self->api_url = g_strdup(params->api_url);
        self->external_id = g_strdup(params->external_id);
        self->name = g_strdup(params->name);
        self->device_serial = g_strdup(params->device_serial);
        self->device_uuid = g_strdup(params->device_uuid);
        self->authorization = kiln_portal_authorization_header(token);
        self->user_agent = kiln_portal_user_agent_for_host();
        memcpy(self->public_key, public_key, WG_KEY_LEN);
        self->config = config;
        self->session = kiln_portal_session_new(&config);
        return g_steal_pointer(&self);
}

void kiln_portal_client_set_heartbeat_interval(KilnPortalClient *self, guint interval_ms)
{
        KilnPortalSessionConfig config = self->config;

        g_return_if_fail(kiln_portal_session_get_state(self->session) == KILN_PORTAL_STATE_IDLE);
        config.heartbeat_interval_us = (gint64)interval_ms * 1000;
        kiln_portal_session_free(self->session);
        self->config = config;
        self->session = kiln_portal_session_new(&config);
}

void kiln_portal_client_start(KilnPortalClient *self)
{
        kiln_portal_session_start(self->session, g_get_monotonic_time());
        process(self);
}

void kiln_portal_client_stop(KilnPortalClient *self)
{
        kiln_portal_session_stop(self->session);
        process(self);
}

void kiln_portal_client_reset(KilnPortalClient *self, const uint8_t public_key[static WG_KEY_LEN])
{
        memcpy(self->public_key, public_key, WG_KEY_LEN);
        kiln_portal_session_reset(self->session, g_get_monotonic_time());
        process(self);
}

gboolean kiln_portal_client_send(KilnPortalClient *self, const char *event, JsonNode *payload)
{
        gboolean queued = kiln_portal_session_send(self->session, event, payload);

        process(self);
        return queued;
}

KilnPortalState kiln_portal_client_get_state(KilnPortalClient *self)
{
        return self->state;
}

static void kiln_portal_client_dispose(GObject *object)
{
        KilnPortalClient *self = KILN_PORTAL_CLIENT(object);

        g_clear_handle_id(&self->timeout_id, g_source_remove);
        drop_socket(self);
        g_clear_object(&self->soup);
        G_OBJECT_CLASS(kiln_portal_client_parent_class)->dispose(object);
}

static void kiln_portal_client_finalize(GObject *object)
{
        KilnPortalClient *self = KILN_PORTAL_CLIENT(object);

        if (self->authorization)
                sodium_memzero(self->authorization, strlen(self->authorization));
        g_free(self->authorization);
        g_free(self->api_url);
        g_free(self->external_id);
        g_free(self->name);
        g_free(self->device_serial);
        g_free(self->device_uuid);
        g_free(self->user_agent);
        kiln_portal_session_free(self->session);
        G_OBJECT_CLASS(kiln_portal_client_parent_class)->finalize(object);
}

static void kiln_portal_client_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
        KilnPortalClient *self = KILN_PORTAL_CLIENT(object);

        switch (prop_id) {
        case PROP_STATE:
                g_value_set_int(value, self->state);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void kiln_portal_client_class_init(KilnPortalClientClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->dispose = kiln_portal_client_dispose;
        object_class->finalize = kiln_portal_client_finalize;
        object_class->get_property = kiln_portal_client_get_property;

        properties[PROP_STATE] =
            g_param_spec_int("state", NULL, NULL, KILN_PORTAL_STATE_IDLE, KILN_PORTAL_STATE_FAILED,
                             KILN_PORTAL_STATE_IDLE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        g_object_class_install_properties(object_class, N_PROPS, properties);

        signals[SIGNAL_MESSAGE] =
            g_signal_new("message", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0, NULL,
                         NULL, NULL, G_TYPE_NONE, 1, KILN_TYPE_PORTAL_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);
        signals[SIGNAL_JOINED] = g_signal_new("joined", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                              NULL, NULL, G_TYPE_NONE, 0);
        signals[SIGNAL_HICCUP] = g_signal_new("hiccup", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                              NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
        signals[SIGNAL_SIGN_IN_REQUIRED] =
            g_signal_new("sign-in-required", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                         NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
        signals[SIGNAL_FATAL_ERROR] =
            g_signal_new("fatal-error", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                         G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
}

static void kiln_portal_client_init(KilnPortalClient *self)
{
        /* TLS is verified against the system trust store (GIO's default database).  Firezone's
         * upgrade request has no permessage-deflate and no Accept-Encoding, so those features go. */
        self->soup = soup_session_new_with_options("timeout", 15, "idle-timeout", 0, NULL);
        soup_session_remove_feature_by_type(self->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
        soup_session_remove_feature_by_type(self->soup, SOUP_TYPE_CONTENT_DECODER);
        self->state = KILN_PORTAL_STATE_IDLE;
}
