#include "app/kiln/kiln-preferences-window.h"

#include <glib/gi18n.h>

struct _KilnPreferencesWindow {
        AdwPreferencesWindow parent_instance;
        AdwEntryRow *slug_row;
        GtkLabel *slug_error;
        AdwEntryRow *auth_url_row;
        AdwEntryRow *api_url_row;
        GtkLabel *url_error;
        AdwComboRow *log_level_row;
        GtkSwitch *start_on_login_switch;
        GtkSwitch *connect_on_start_switch;
        GtkButton *apply_button;
        KilnApplication *app;
};

G_DEFINE_FINAL_TYPE(KilnPreferencesWindow, kiln_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static const char *const levels[] = { "error", "warn", "info", "debug", "trace" };

static const char *row_text(AdwEntryRow *row)
{
        return gtk_editable_get_text(GTK_EDITABLE(row));
}

static void mark(AdwEntryRow *row, const char *error)
{
        if (error)
                gtk_widget_add_css_class(GTK_WIDGET(row), "error");
        else
                gtk_widget_remove_css_class(GTK_WIDGET(row), "error");
}

static void show_error(GtkLabel *label, const char *error)
{
        gtk_label_set_text(label, error ? error : "");
        gtk_widget_set_visible(GTK_WIDGET(label), error != NULL);
}

/* Trailing spaces from a paste are not an error. */
static char *trimmed(AdwEntryRow *row)
{
        return g_strstrip(g_strdup(row_text(row)));
}

static gboolean validate(KilnPreferencesWindow *self)
{
        g_autofree char *slug = trimmed(self->slug_row);
        g_autofree char *auth = trimmed(self->auth_url_row);
        g_autofree char *api = trimmed(self->api_url_row);
        const char *slug_error = kiln_settings_check_account_slug(slug);
        const char *auth_error = kiln_settings_check_auth_url(auth);
        const char *api_error = kiln_settings_check_api_url(api);

        mark(self->slug_row, slug_error);
        mark(self->auth_url_row, auth_error);
        mark(self->api_url_row, api_error);
        show_error(self->slug_error, slug_error);
        show_error(self->url_error, auth_error ? auth_error : api_error);
        gboolean ok = !slug_error && !auth_error && !api_error;
        gtk_widget_set_sensitive(GTK_WIDGET(self->apply_button), ok);
        return ok;
}

static void on_input_changed(KilnPreferencesWindow *self)
{
        validate(self);
}

static void load(KilnPreferencesWindow *self, KilnSettings *settings)
{
        gtk_editable_set_text(GTK_EDITABLE(self->slug_row), kiln_settings_get_account_slug(settings));
        gtk_editable_set_text(GTK_EDITABLE(self->auth_url_row), kiln_settings_get_auth_url(settings));
        gtk_editable_set_text(GTK_EDITABLE(self->api_url_row), kiln_settings_get_api_url(settings));
        for (guint i = 0; i < G_N_ELEMENTS(levels); i++)
                if (g_str_equal(levels[i], kiln_settings_get_log_level(settings)))
                        adw_combo_row_set_selected(self->log_level_row, i);
        gtk_switch_set_active(self->start_on_login_switch, kiln_settings_get_start_on_login(settings));
        gtk_switch_set_active(self->connect_on_start_switch, kiln_settings_get_connect_on_start(settings));
        validate(self);
}

static void on_log_level_set(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;
        if (!kiln_dbus_tunnel1_call_set_log_level_finish(KILN_DBUS_TUNNEL1(source), result, &error))
                g_warning("SetLogLevel failed: %s", error->message);
}

static void on_apply(KilnPreferencesWindow *self)
{
        KilnSettings *settings = kiln_application_get_settings(self->app);
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(kiln_application_get_tunnel(self->app));
        g_autoptr(GError) error = NULL;
        g_autofree char *slug = trimmed(self->slug_row);
        g_autofree char *auth = trimmed(self->auth_url_row);
        g_autofree char *api = trimmed(self->api_url_row);
        guint level = adw_combo_row_get_selected(self->log_level_row);

        if (!validate(self))
                return;
        g_object_set(settings, "account-slug", slug, "auth-url", auth, "api-url", api, "log-level",
                     levels[MIN(level, G_N_ELEMENTS(levels) - 1)], "start-on-login",
                     gtk_switch_get_active(self->start_on_login_switch), "connect-on-start",
                     gtk_switch_get_active(self->connect_on_start_switch), NULL);
        if (!kiln_settings_save(settings, &error)) {
                g_warning("cannot save settings: %s", error->message);
                adw_preferences_window_add_toast(ADW_PREFERENCES_WINDOW(self),
                                                 adw_toast_new(error->message));
                return;
        }
        if (proxy)
                kiln_dbus_tunnel1_call_set_log_level(proxy, kiln_settings_get_log_level(settings), NULL,
                                                     on_log_level_set, NULL);
        g_message("settings saved");
        adw_preferences_window_add_toast(ADW_PREFERENCES_WINDOW(self), adw_toast_new(_("Settings saved")));
}

static void on_reset(KilnPreferencesWindow *self)
{
        gtk_editable_set_text(GTK_EDITABLE(self->slug_row), "");
        gtk_editable_set_text(GTK_EDITABLE(self->auth_url_row), KILN_DEFAULT_AUTH_URL);
        gtk_editable_set_text(GTK_EDITABLE(self->api_url_row), KILN_DEFAULT_API_URL);
        adw_combo_row_set_selected(self->log_level_row, 2);
        gtk_switch_set_active(self->start_on_login_switch, FALSE);
        gtk_switch_set_active(self->connect_on_start_switch, TRUE);
}

static void kiln_preferences_window_dispose(GObject *object)
{
        gtk_widget_dispose_template(GTK_WIDGET(object), KILN_TYPE_PREFERENCES_WINDOW);
        G_OBJECT_CLASS(kiln_preferences_window_parent_class)->dispose(object);
}

static void kiln_preferences_window_class_init(KilnPreferencesWindowClass *klass)
{
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        G_OBJECT_CLASS(klass)->dispose = kiln_preferences_window_dispose;
        gtk_widget_class_set_template_from_resource(widget_class,
                                                    "/dev/kiln/Kiln/ui/kiln-preferences-window.ui");
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, slug_row);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, slug_error);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, auth_url_row);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, api_url_row);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, url_error);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, log_level_row);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, start_on_login_switch);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, connect_on_start_switch);
        gtk_widget_class_bind_template_child(widget_class, KilnPreferencesWindow, apply_button);
        gtk_widget_class_bind_template_callback(widget_class, on_input_changed);
        gtk_widget_class_bind_template_callback(widget_class, on_apply);
        gtk_widget_class_bind_template_callback(widget_class, on_reset);
}

static void kiln_preferences_window_init(KilnPreferencesWindow *self)
{
        gtk_widget_init_template(GTK_WIDGET(self));
}

KilnPreferencesWindow *kiln_preferences_window_new(KilnApplication *app)
{
        KilnPreferencesWindow *self = g_object_new(KILN_TYPE_PREFERENCES_WINDOW, "application", app, NULL);
        self->app = app;
        load(self, kiln_application_get_settings(app));
        return self;
}
