#include "app/kiln/kiln-tray-host.h"

#include <signal.h>

#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
/* A tray that ran this long was healthy: the next failure starts the backoff afresh. */
#define HEALTHY_RUN_US (30 * G_USEC_PER_SEC)

struct _KilnTrayHost {
        GObject parent_instance;
        GDBusConnection *bus;
        guint menu_export;
        guint actions_export;
        guint watch;
        gboolean available;
        gboolean settled;
        gboolean stopped;
        GSubprocess *child;
        GCancellable *cancellable;
        gint64 started_at;
        guint backoff_s;
        guint restart_source;
};

G_DEFINE_FINAL_TYPE(KilnTrayHost, kiln_tray_host, G_TYPE_OBJECT)

enum {
        PROP_0,
        PROP_AVAILABLE,
        PROP_SETTLED,
        N_PROPS
};
static GParamSpec *props[N_PROPS];

static void spawn_tray(KilnTrayHost *self);

static void kiln_tray_host_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
        KilnTrayHost *self = KILN_TRAY_HOST(object);
        switch (id) {
        case PROP_AVAILABLE:
                g_value_set_boolean(value, self->available);
                break;
        case PROP_SETTLED:
                g_value_set_boolean(value, self->settled);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        }
}

static void kill_child(KilnTrayHost *self)
{
        g_cancellable_cancel(self->cancellable);
        g_clear_object(&self->cancellable);
        if (self->child) {
                g_subprocess_send_signal(self->child, SIGTERM);
                g_clear_object(&self->child);
        }
        g_clear_handle_id(&self->restart_source, g_source_remove);
}

static void kiln_tray_host_dispose(GObject *object)
{
        KilnTrayHost *self = KILN_TRAY_HOST(object);
        kill_child(self);
        g_clear_handle_id(&self->watch, g_bus_unwatch_name);
        if (self->bus) {
                if (self->menu_export)
                        g_dbus_connection_unexport_menu_model(self->bus, self->menu_export);
                if (self->actions_export)
                        g_dbus_connection_unexport_action_group(self->bus, self->actions_export);
                self->menu_export = self->actions_export = 0;
        }
        g_clear_object(&self->bus);
        G_OBJECT_CLASS(kiln_tray_host_parent_class)->dispose(object);
}

static void kiln_tray_host_class_init(KilnTrayHostClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        object_class->get_property = kiln_tray_host_get_property;
        object_class->dispose = kiln_tray_host_dispose;
        props[PROP_AVAILABLE] =
            g_param_spec_boolean("available", NULL, NULL, FALSE,
                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        props[PROP_SETTLED] =
            g_param_spec_boolean("settled", NULL, NULL, FALSE,
                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        g_object_class_install_properties(object_class, N_PROPS, props);
}

static void kiln_tray_host_init(KilnTrayHost *self)
{
        self->backoff_s = BACKOFF_MIN_S;
}

static char *tray_program(void)
{
        const char *override = g_getenv("KILN_TRAY_PATH");
        return g_strdup(override ? override : KILN_LIBEXECDIR "/kiln-tray");
}

static gboolean on_restart_due(gpointer user_data)
{
        KilnTrayHost *self = user_data;
        self->restart_source = 0;
        spawn_tray(self);
        return G_SOURCE_REMOVE;
}

static void on_child_exited(GObject *source, GAsyncResult *result, gpointer user_data)
{
        GSubprocess *child = G_SUBPROCESS(source);
        g_autoptr(GError) error = NULL;

        if (!g_subprocess_wait_finish(child, result, &error)) {
                if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        return;
        }
        KilnTrayHost *self = user_data;
        if (self->child != child)
                return;
        g_clear_object(&self->child);
        if (self->stopped || !self->available)
                return;
        if (g_get_monotonic_time() - self->started_at > HEALTHY_RUN_US)
                self->backoff_s = BACKOFF_MIN_S;
        g_warning("kiln-tray exited (status %d); restarting it in %u s", g_subprocess_get_status(child),
                  self->backoff_s);
        self->restart_source = g_timeout_add_seconds(self->backoff_s, on_restart_due, self);
        self->backoff_s = MIN(self->backoff_s * 2, BACKOFF_MAX_S);
}

static void spawn_tray(KilnTrayHost *self)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *program = tray_program();
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        const char *icon_path = g_getenv("KILN_ICON_THEME_PATH");

        if (self->child || self->stopped)
                return;
        g_ptr_array_add(argv, program);
        g_ptr_array_add(argv, (gpointer) "--bus-name");
        g_ptr_array_add(argv, (gpointer)g_dbus_connection_get_unique_name(self->bus));
        g_ptr_array_add(argv, (gpointer) "--object-path");
        g_ptr_array_add(argv, (gpointer)KILN_TRAY_OBJECT_PATH);
        if (icon_path) {
                g_ptr_array_add(argv, (gpointer) "--icon-theme-path");
                g_ptr_array_add(argv, (gpointer)icon_path);
        }
        g_ptr_array_add(argv, NULL);

        self->child = g_subprocess_newv((const char *const *)argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
        if (!self->child) {
                g_warning("cannot start the tray icon (%s): %s; retrying in %u s", program, error->message,
                          self->backoff_s);
                self->restart_source = g_timeout_add_seconds(self->backoff_s, on_restart_due, self);
                self->backoff_s = MIN(self->backoff_s * 2, BACKOFF_MAX_S);
                return;
        }
        g_message("started kiln-tray (pid %s)", g_subprocess_get_identifier(self->child));
        self->started_at = g_get_monotonic_time();
        g_clear_object(&self->cancellable);
        self->cancellable = g_cancellable_new();
        g_subprocess_wait_async(self->child, self->cancellable, on_child_exited, self);
}

static void set_available(KilnTrayHost *self, gboolean available)
{
        gboolean was_settled = self->settled;
        self->settled = TRUE;
        if (self->available != available) {
                self->available = available;
                g_object_notify_by_pspec(G_OBJECT(self), props[PROP_AVAILABLE]);
        }
        if (!was_settled)
                g_object_notify_by_pspec(G_OBJECT(self), props[PROP_SETTLED]);
}

static void on_watcher_appeared(GDBusConnection *bus, const char *name, const char *owner,
                                gpointer user_data)
{
        KilnTrayHost *self = user_data;
        g_message("status notifier watcher found (%s)", owner);
        set_available(self, TRUE);
        spawn_tray(self);
}

/* kiln-tray keeps running: libayatana-appindicator re-registers when a shell restarts. */
static void on_watcher_vanished(GDBusConnection *bus, const char *name, gpointer user_data)
{
        KilnTrayHost *self = user_data;
        g_message("no status notifier watcher on the session bus");
        set_available(self, FALSE);
}

KilnTrayHost *kiln_tray_host_new(GDBusConnection *bus, GMenuModel *menu, GActionGroup *actions,
                                 GError **error)
{
        g_autoptr(KilnTrayHost) self = g_object_new(KILN_TYPE_TRAY_HOST, NULL);

        self->bus = g_object_ref(bus);
        self->menu_export = g_dbus_connection_export_menu_model(bus, KILN_TRAY_OBJECT_PATH, menu, error);
        if (!self->menu_export)
                return NULL;
        self->actions_export =
            g_dbus_connection_export_action_group(bus, KILN_TRAY_OBJECT_PATH, actions, error);
        if (!self->actions_export)
                return NULL;
        self->watch =
            g_bus_watch_name_on_connection(bus, KILN_STATUS_NOTIFIER_WATCHER, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                           on_watcher_appeared, on_watcher_vanished, self, NULL);
        return g_steal_pointer(&self);
}

gboolean kiln_tray_host_get_available(KilnTrayHost *self)
{
        return self->available;
}

gboolean kiln_tray_host_get_settled(KilnTrayHost *self)
{
        return self->settled;
}

void kiln_tray_host_stop(KilnTrayHost *self)
{
        self->stopped = TRUE;
        kill_child(self);
}
