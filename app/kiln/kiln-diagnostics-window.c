#include "app/kiln/kiln-diagnostics-window.h"

#include <glib/gi18n.h>

#include "app/kiln/kiln-log-export.h"
#include "app/kiln/kiln-log.h"

struct _KilnDiagnosticsWindow {
        AdwWindow parent_instance;
        AdwToastOverlay *toasts;
        AdwActionRow *size_row;
        GtkButton *export_button;
        GtkButton *clear_button;
        GtkFileChooserNative *chooser;
        KilnApplication *app;
};

G_DEFINE_FINAL_TYPE(KilnDiagnosticsWindow, kiln_diagnostics_window, ADW_TYPE_WINDOW)

static void toast(KilnDiagnosticsWindow *self, const char *text)
{
        adw_toast_overlay_add_toast(self->toasts, adw_toast_new(text));
}

static void recount(KilnDiagnosticsWindow *self)
{
        guint files = 0;
        guint64 bytes = 0;
        kiln_log_measure(&files, &bytes);
        /* Translators: "%u files, %.1f MB" — MB are 10^6 bytes. */
        g_autofree char *text = g_strdup_printf(ngettext("%u file, %.1f MB", "%u files, %.1f MB", files),
                                                files, (double)bytes / 1e6);
        adw_action_row_set_subtitle(self->size_row, text);
}

static void on_exported(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnDiagnosticsWindow) self = user_data;
        g_autoptr(GError) error = NULL;

        gtk_widget_set_sensitive(GTK_WIDGET(self->export_button), TRUE);
        if (!kiln_log_export_finish(result, &error)) {
                g_warning("log export failed: %s", error->message);
                g_autofree char *text = g_strdup_printf(_("Failed to export logs: %s"), error->message);
                toast(self, text);
                return;
        }
        toast(self, _("Logs exported"));
}

static void on_chooser_response(GtkNativeDialog *dialog, int response, gpointer user_data)
{
        KilnDiagnosticsWindow *self = user_data;

        if (response == GTK_RESPONSE_ACCEPT) {
                g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
                gtk_widget_set_sensitive(GTK_WIDGET(self->export_button), FALSE);
                kiln_log_export_async(kiln_application_get_tunnel(self->app), file, NULL, on_exported,
                                      g_object_ref(self));
        }
        g_clear_object(&self->chooser);
}

static void on_export(KilnDiagnosticsWindow *self)
{
        g_autofree char *stem = kiln_log_export_default_stem();
        g_autofree char *name = g_strconcat(stem, ".zip", NULL);
        g_autoptr(GtkFileFilter) filter = gtk_file_filter_new();

        if (self->chooser)
                return;
        self->chooser = gtk_file_chooser_native_new(
            _("Export Logs"), GTK_WINDOW(self), GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
        gtk_file_filter_set_name(filter, _("Zip archives"));
        gtk_file_filter_add_pattern(filter, "*.zip");
        gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(self->chooser), filter);
        gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(self->chooser), name);
        g_signal_connect(self->chooser, "response", G_CALLBACK(on_chooser_response), self);
        gtk_native_dialog_show(GTK_NATIVE_DIALOG(self->chooser));
}

static void on_cleared(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnDiagnosticsWindow) self = user_data;
        g_autoptr(GError) error = NULL;
        if (!kiln_dbus_tunnel1_call_clear_logs_finish(KILN_DBUS_TUNNEL1(source), result, &error)) {
                g_autofree char *text =
                    g_strdup_printf(_("The tunnel service could not clear its logs: %s"), error->message);
                toast(self, text);
        }
        recount(self);
}

static void on_clear(KilnDiagnosticsWindow *self)
{
        g_autoptr(GError) error = NULL;
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(kiln_application_get_tunnel(self->app));

        if (!kiln_log_clear(&error)) {
                g_autofree char *text = g_strdup_printf(_("Could not clear logs: %s"), error->message);
                toast(self, text);
        }
        if (proxy)
                kiln_dbus_tunnel1_call_clear_logs(proxy, NULL, on_cleared, g_object_ref(self));
        recount(self);
}

static void kiln_diagnostics_window_dispose(GObject *object)
{
        KilnDiagnosticsWindow *self = KILN_DIAGNOSTICS_WINDOW(object);
        if (self->chooser)
                gtk_native_dialog_destroy(GTK_NATIVE_DIALOG(self->chooser));
        g_clear_object(&self->chooser);
        gtk_widget_dispose_template(GTK_WIDGET(object), KILN_TYPE_DIAGNOSTICS_WINDOW);
        G_OBJECT_CLASS(kiln_diagnostics_window_parent_class)->dispose(object);
}

static void kiln_diagnostics_window_class_init(KilnDiagnosticsWindowClass *klass)
{
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        G_OBJECT_CLASS(klass)->dispose = kiln_diagnostics_window_dispose;
        gtk_widget_class_set_template_from_resource(widget_class,
                                                    "/dev/kiln/Kiln/ui/kiln-diagnostics-window.ui");
        gtk_widget_class_bind_template_child(widget_class, KilnDiagnosticsWindow, toasts);
        gtk_widget_class_bind_template_child(widget_class, KilnDiagnosticsWindow, size_row);
        gtk_widget_class_bind_template_child(widget_class, KilnDiagnosticsWindow, export_button);
        gtk_widget_class_bind_template_child(widget_class, KilnDiagnosticsWindow, clear_button);
        gtk_widget_class_bind_template_callback(widget_class, on_export);
        gtk_widget_class_bind_template_callback(widget_class, on_clear);
}

static void kiln_diagnostics_window_init(KilnDiagnosticsWindow *self)
{
        gtk_widget_init_template(GTK_WIDGET(self));
}

KilnDiagnosticsWindow *kiln_diagnostics_window_new(KilnApplication *app)
{
        KilnDiagnosticsWindow *self = g_object_new(KILN_TYPE_DIAGNOSTICS_WINDOW, "application", app, NULL);
        self->app = app;
        recount(self);
        return self;
}
