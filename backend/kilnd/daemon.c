/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>

#include "backend/kilnd/validate.h"
#include "ipc/kiln-tunnel-errors.h"

#define T_DBUS    "kilnd::dbus"
#define T_SESSION "kilnd::session"

struct _KilnDaemon {
        GObject parent_instance;
        KilnLogger *logger;
        KilnSession *session;
        KilnDBusTunnel1 *skeleton;
        gboolean shutting_down;

        /* The session owner: its connection, and a watch on its unique name on a bus (none
         * peer-to-peer, where the connection closing is the signal). */
        GDBusConnection *owner_connection;
        guint owner_watch;
        gulong owner_closed_id;
};

G_DEFINE_FINAL_TYPE(KilnDaemon, kiln_daemon, G_TYPE_OBJECT)

static GVariant *empty_resources(void)
{
        return g_variant_new_array(G_VARIANT_TYPE_VARDICT, NULL, 0);
}

static void forget_owner(KilnDaemon *self)
{
        if (self->owner_watch) {
                g_bus_unwatch_name(self->owner_watch);
                self->owner_watch = 0;
        }
        if (self->owner_connection && self->owner_closed_id)
                g_signal_handler_disconnect(self->owner_connection, self->owner_closed_id);
        self->owner_closed_id = 0;
        g_clear_object(&self->owner_connection);
}

/* Everything a session leaves behind in kilnd once it is over. */
static void session_over(KilnDaemon *self)
{
        forget_owner(self);
        kiln_logger_clear_secrets(self->logger);
        kiln_dbus_tunnel1_set_resources(self->skeleton, empty_resources());
        kiln_dbus_tunnel1_set_actor_name(self->skeleton, "");
}

static void end_session(KilnDaemon *self, const char *why)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_SESSION, "ending the session", KILN_LOG_STR("reason", why));
        forget_owner(self);
        kiln_session_stop(self->session);
        if (kiln_session_get_state(self->session) == KILN_SESSION_SIGNED_OUT)
                session_over(self);
}

static void owner_vanished(GDBusConnection *connection, const char *name, gpointer user_data)
{
        KilnDaemon *self = user_data;

        kiln_log(self->logger, KILN_LOG_INFO, T_DBUS, "session owner left the bus",
                 KILN_LOG_STR("owner", name));
        end_session(self, "owner vanished");
}

static void owner_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                         gpointer user_data)
{
        KilnDaemon *self = user_data;

        kiln_log(self->logger, KILN_LOG_INFO, T_DBUS, "session owner's connection closed");
        end_session(self, "owner connection closed");
}

static void take_owner(KilnDaemon *self, GDBusMethodInvocation *invocation)
{
        GDBusConnection *connection = g_dbus_method_invocation_get_connection(invocation);
        const char *sender = g_dbus_method_invocation_get_sender(invocation);

        forget_owner(self);
        self->owner_connection = g_object_ref(connection);
        self->owner_closed_id = g_signal_connect(connection, "closed", G_CALLBACK(owner_closed), self);
        if (sender) {
                /* Watching a unique name that is already gone calls owner_vanished at once. */
                self->owner_watch = g_bus_watch_name_on_connection(
                    connection, sender, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, owner_vanished, self, NULL);
        }
}

static const char *caller(GDBusMethodInvocation *invocation)
{
        const char *sender = g_dbus_method_invocation_get_sender(invocation);

        return sender ? sender : "peer";
}

static void reject(KilnDaemon *self, GDBusMethodInvocation *invocation, GError *error)
{
        kiln_log(self->logger, KILN_LOG_WARN, T_DBUS, "rejected a call",
                 KILN_LOG_STR("method", g_dbus_method_invocation_get_method_name(invocation)),
                 KILN_LOG_STR("caller", caller(invocation)), KILN_LOG_STR("error", error->message));
        g_dbus_method_invocation_return_gerror(invocation, error);
}

/* Every call is logged at debug level before its handler runs (and before any rejection). */
static gboolean log_call(GDBusInterfaceSkeleton *skeleton, GDBusMethodInvocation *invocation,
                         KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_DEBUG, T_DBUS, "method call",
                 KILN_LOG_STR("method", g_dbus_method_invocation_get_method_name(invocation)),
                 KILN_LOG_STR("caller", caller(invocation)));
        return TRUE;
}

static gboolean handle_sign_in(KilnDBusTunnel1 *skeleton, GDBusMethodInvocation *invocation,
                               const char *token, GVariant *options, KilnDaemon *self)
{
        g_autoptr(KilnSessionOptions) opts = NULL;
        g_autoptr(GError) error = NULL;

        if (self->shutting_down) {
                g_set_error_literal(&error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_SHUTTING_DOWN,
                                    "kilnd is shutting down");
                reject(self, invocation, error);
                return TRUE;
        }
        if (!kiln_validate_token(token, &error) || !kiln_validate_options(options, &opts, &error)) {
                reject(self, invocation, error);
                return TRUE;
        }

        kiln_logger_clear_secrets(self->logger);
        kiln_logger_add_secret(self->logger, token);
        kiln_log(self->logger, KILN_LOG_INFO, T_SESSION, "signing in",
                 KILN_LOG_STR("caller", caller(invocation)), KILN_LOG_STR("api_url", opts->api_url),
                 KILN_LOG_STR("account_slug", opts->account_slug ? opts->account_slug : ""),
                 KILN_LOG_SECRET("token"));

        if (!kiln_session_start(self->session, token, opts, &error)) {
                g_autoptr(GError) failed = g_error_new(KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_SESSION_FAILED,
                                                       "the session could not start: %s", error->message);
                kiln_logger_clear_secrets(self->logger);
                reject(self, invocation, failed);
                return TRUE;
        }
        take_owner(self, invocation);
        kiln_dbus_tunnel1_set_account_slug(skeleton, opts->account_slug ? opts->account_slug : "");
        kiln_dbus_tunnel1_set_actor_name(skeleton, opts->actor_name ? opts->actor_name : "");
        if (opts->has_internet_resource_enabled)
                kiln_dbus_tunnel1_set_internet_resource_enabled(skeleton, opts->internet_resource_enabled);
        kiln_dbus_tunnel1_complete_sign_in(skeleton, invocation);
        return TRUE;
}

static gboolean handle_sign_out(KilnDBusTunnel1 *skeleton, GDBusMethodInvocation *invocation,
                                KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_SESSION, "sign-out requested",
                 KILN_LOG_STR("caller", caller(invocation)));
        end_session(self, "SignOut");
        kiln_dbus_tunnel1_complete_sign_out(skeleton, invocation);
        return TRUE;
}

static gboolean handle_set_internet_resource_enabled(KilnDBusTunnel1 *skeleton,
                                                     GDBusMethodInvocation *invocation, gboolean enabled,
                                                     KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_SESSION, "internet resource toggled",
                 KILN_LOG_BOOL("enabled", enabled), KILN_LOG_STR("caller", caller(invocation)));
        kiln_dbus_tunnel1_set_internet_resource_enabled(skeleton, enabled);
        kiln_session_set_internet_resource_enabled(self->session, enabled);
        kiln_dbus_tunnel1_complete_set_internet_resource_enabled(skeleton, invocation);
        return TRUE;
}

static gboolean handle_set_log_level(KilnDBusTunnel1 *skeleton, GDBusMethodInvocation *invocation,
                                     const char *level_name, KilnDaemon *self)
{
        g_autoptr(GError) error = NULL;
        KilnLogLevel level;

        if (!kiln_validate_log_level(level_name, &level, &error)) {
                reject(self, invocation, error);
                return TRUE;
        }
        kiln_logger_set_level(self->logger, level);
        kiln_dbus_tunnel1_set_log_level(skeleton, kiln_log_level_to_string(level));
        kiln_log(self->logger, KILN_LOG_INFO, T_DBUS, "log level changed",
                 KILN_LOG_STR("level", kiln_log_level_to_string(level)),
                 KILN_LOG_STR("caller", caller(invocation)));
        kiln_dbus_tunnel1_complete_set_log_level(skeleton, invocation);
        return TRUE;
}

typedef struct {
        KilnLogger *logger;
        int fd;
} ExportJob;

static void export_job_free(gpointer p)
{
        ExportJob *job = p;

        if (job->fd >= 0)
                close(job->fd);
        g_free(job);
}

static void export_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
        ExportJob *job = task_data;
        int r = kiln_logger_export(job->logger, job->fd);

        if (r < 0)
                g_task_return_new_error(task, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_LOGS_FAILED,
                                        "writing the logs failed: %s", g_strerror(-r));
        else
                g_task_return_boolean(task, TRUE);
}

static void export_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KilnDaemon *self = KILN_DAEMON(source);
        g_autoptr(GDBusMethodInvocation) invocation = user_data;
        g_autoptr(GError) error = NULL;

        if (!g_task_propagate_boolean(G_TASK(result), &error)) {
                reject(self, invocation, error);
                return;
        }
        kiln_log(self->logger, KILN_LOG_INFO, T_DBUS, "logs exported",
                 KILN_LOG_STR("caller", caller(invocation)));
        kiln_dbus_tunnel1_complete_export_logs(self->skeleton, invocation);
}

static gboolean handle_export_logs(KilnDBusTunnel1 *skeleton, GDBusMethodInvocation *invocation,
                                   GVariant *handle, KilnDaemon *self)
{
        GUnixFDList *fds = g_dbus_message_get_unix_fd_list(g_dbus_method_invocation_get_message(invocation));
        gint32 index = g_variant_get_handle(handle);
        g_autoptr(GError) error = NULL;
        g_autoptr(GTask) task = NULL;
        ExportJob *job;
        int fd, flags;

        if (!fds || index < 0 || index >= g_unix_fd_list_get_length(fds)) {
                g_set_error(&error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_FD,
                            "handle %d does not name a file descriptor passed with the call", index);
                reject(self, invocation, error);
                return TRUE;
        }
        fd = g_unix_fd_list_get(fds, index, &error);
        if (fd < 0) {
                g_autoptr(GError) bad = g_error_new(KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_FD,
                                                    "the file descriptor is unusable: %s", error->message);
                reject(self, invocation, bad);
                return TRUE;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
                close(fd);
                g_set_error_literal(&error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_FD,
                                    "the file descriptor is not open for writing");
                reject(self, invocation, error);
                return TRUE;
        }

        job = g_new0(ExportJob, 1);
        job->logger = self->logger;
        job->fd = fd;
        /* A thread, so that a slow reader on a pipe never stalls the bus. */
        task = g_task_new(self, NULL, export_done, g_object_ref(invocation));
        g_task_set_task_data(task, job, export_job_free);
        g_task_run_in_thread(task, export_thread);
        return TRUE;
}

static gboolean handle_clear_logs(KilnDBusTunnel1 *skeleton, GDBusMethodInvocation *invocation,
                                  KilnDaemon *self)
{
        int r = kiln_logger_clear(self->logger);

        if (r < 0) {
                g_autoptr(GError) error = g_error_new(KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_LOGS_FAILED,
                                                      "clearing the logs failed: %s", g_strerror(-r));
                reject(self, invocation, error);
                return TRUE;
        }
        kiln_log(self->logger, KILN_LOG_INFO, T_DBUS, "logs cleared",
                 KILN_LOG_STR("caller", caller(invocation)));
        kiln_dbus_tunnel1_complete_clear_logs(skeleton, invocation);
        return TRUE;
}

static void session_state_changed(KilnSession *session, guint state, KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_INFO, T_SESSION, "state changed",
                 KILN_LOG_STR("state", kiln_session_state_to_string((KilnSessionState)state)));
        kiln_dbus_tunnel1_set_state(self->skeleton, kiln_session_state_to_string((KilnSessionState)state));
        if (state == KILN_SESSION_SIGNED_OUT || state == KILN_SESSION_ERROR)
                session_over(self);
}

static void session_resources_changed(KilnSession *session, GVariant *resources, KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_DEBUG, T_SESSION, "resources changed",
                 KILN_LOG_INT("count", g_variant_n_children(resources)));
        kiln_dbus_tunnel1_set_resources(self->skeleton, resources);
}

static void session_error(KilnSession *session, const char *message, gboolean requires_sign_in,
                          KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_WARN, T_SESSION, "session error", KILN_LOG_STR("error", message),
                 KILN_LOG_BOOL("requires_sign_in", requires_sign_in));
        kiln_dbus_tunnel1_emit_error(self->skeleton, message, requires_sign_in);
}

static void session_resource_unreachable(KilnSession *session, const char *id, const char *reason,
                                         const char *message, KilnDaemon *self)
{
        kiln_log(self->logger, KILN_LOG_WARN, T_SESSION, "resource unreachable",
                 KILN_LOG_STR("resource_id", id), KILN_LOG_STR("reason", reason),
                 KILN_LOG_STR("message", message));
        kiln_dbus_tunnel1_emit_resource_unreachable(self->skeleton, id, reason, message);
}

static void kiln_daemon_dispose(GObject *object)
{
        KilnDaemon *self = KILN_DAEMON(object);

        forget_owner(self);
        if (self->session)
                g_signal_handlers_disconnect_by_data(self->session, self);
        if (self->skeleton) {
                g_signal_handlers_disconnect_by_data(self->skeleton, self);
                GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON(self->skeleton);
                GList *connections = g_dbus_interface_skeleton_get_connections(skeleton);

                if (connections)
                        g_dbus_interface_skeleton_unexport(skeleton);
                g_list_free_full(connections, g_object_unref);
        }
        g_clear_object(&self->skeleton);
        g_clear_object(&self->session);
        G_OBJECT_CLASS(kiln_daemon_parent_class)->dispose(object);
}

static void kiln_daemon_class_init(KilnDaemonClass *klass)
{
        G_OBJECT_CLASS(klass)->dispose = kiln_daemon_dispose;
        /* Registers the dev.kiln.Tunnel1.Error.* names before the first reply. */
        (void)KILN_TUNNEL_ERROR;
}

static void kiln_daemon_init(KilnDaemon *self)
{
}

KilnDaemon *kiln_daemon_new(KilnLogger *logger, KilnSession *session, const char *device_id)
{
        KilnDaemon *self = g_object_new(KILN_TYPE_DAEMON, NULL);

        self->logger = logger;
        self->session = g_object_ref(session);
        self->skeleton = kiln_dbus_tunnel1_skeleton_new();

        kiln_dbus_tunnel1_set_state(self->skeleton,
                                    kiln_session_state_to_string(kiln_session_get_state(session)));
        kiln_dbus_tunnel1_set_resources(self->skeleton, empty_resources());
        kiln_dbus_tunnel1_set_actor_name(self->skeleton, "");
        kiln_dbus_tunnel1_set_account_slug(self->skeleton, "");
        kiln_dbus_tunnel1_set_internet_resource_enabled(self->skeleton, FALSE);
        kiln_dbus_tunnel1_set_log_level(self->skeleton,
                                        kiln_log_level_to_string(kiln_logger_get_level(logger)));
        kiln_dbus_tunnel1_set_device_id(self->skeleton, device_id);
        kiln_dbus_tunnel1_set_version(self->skeleton, KILN_VERSION);

        g_signal_connect(self->skeleton, "g-authorize-method", G_CALLBACK(log_call), self);
        g_signal_connect(self->skeleton, "handle-sign-in", G_CALLBACK(handle_sign_in), self);
        g_signal_connect(self->skeleton, "handle-sign-out", G_CALLBACK(handle_sign_out), self);
        g_signal_connect(self->skeleton, "handle-set-internet-resource-enabled",
                         G_CALLBACK(handle_set_internet_resource_enabled), self);
        g_signal_connect(self->skeleton, "handle-set-log-level", G_CALLBACK(handle_set_log_level), self);
        g_signal_connect(self->skeleton, "handle-export-logs", G_CALLBACK(handle_export_logs), self);
        g_signal_connect(self->skeleton, "handle-clear-logs", G_CALLBACK(handle_clear_logs), self);

        g_signal_connect(session, "state-changed", G_CALLBACK(session_state_changed), self);
        g_signal_connect(session, "resources-changed", G_CALLBACK(session_resources_changed), self);
        g_signal_connect(session, "error", G_CALLBACK(session_error), self);
        g_signal_connect(session, "resource-unreachable", G_CALLBACK(session_resource_unreachable), self);
        return self;
}

gboolean kiln_daemon_export(KilnDaemon *self, GDBusConnection *connection, GError **error)
{
        return g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->skeleton), connection,
                                                KILN_TUNNEL_OBJECT_PATH, error);
}

void kiln_daemon_unexport(KilnDaemon *self, GDBusConnection *connection)
{
        if (g_dbus_interface_skeleton_has_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton), connection))
                g_dbus_interface_skeleton_unexport_from_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton),
                                                                   connection);
}

KilnDBusTunnel1 *kiln_daemon_get_skeleton(KilnDaemon *self)
{
        return self->skeleton;
}

typedef struct {
        gulong state_id;
        guint timeout_id;
} ShutdownWait;

static void shutdown_wait_free(gpointer p)
{
        g_free(p);
}

static void shutdown_finish_wait(GTask *task, gboolean timed_out)
{
        KilnDaemon *self = g_task_get_source_object(task);
        ShutdownWait *wait = g_task_get_task_data(task);

        g_clear_signal_handler(&wait->state_id, self->session);
        g_clear_handle_id(&wait->timeout_id, g_source_remove);
        if (timed_out)
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                        "the session did not stop in time");
        else
                g_task_return_boolean(task, TRUE);
        g_object_unref(task);
}

static void shutdown_state_changed(KilnSession *session, guint state, gpointer user_data)
{
        if (state == KILN_SESSION_SIGNED_OUT || state == KILN_SESSION_ERROR)
                shutdown_finish_wait(G_TASK(user_data), FALSE);
}

static gboolean shutdown_timeout(gpointer user_data)
{
        ShutdownWait *wait = g_task_get_task_data(G_TASK(user_data));

        wait->timeout_id = 0;
        shutdown_finish_wait(G_TASK(user_data), TRUE);
        return G_SOURCE_REMOVE;
}

void kiln_daemon_shutdown_async(KilnDaemon *self, guint timeout_ms, GAsyncReadyCallback callback,
                                gpointer user_data)
{
        GTask *task = g_task_new(self, NULL, callback, user_data);
        ShutdownWait *wait;
        KilnSessionState state = kiln_session_get_state(self->session);

        self->shutting_down = TRUE;
        if (state == KILN_SESSION_SIGNED_OUT) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        wait = g_new0(ShutdownWait, 1);
        g_task_set_task_data(task, wait, shutdown_wait_free);
        wait->state_id =
            g_signal_connect(self->session, "state-changed", G_CALLBACK(shutdown_state_changed), task);
        wait->timeout_id = g_timeout_add(timeout_ms, shutdown_timeout, task);
        end_session(self, "shutting down");
}

gboolean kiln_daemon_shutdown_finish(KilnDaemon *self, GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}
