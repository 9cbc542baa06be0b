/* kiln-tray: shows the menu that kiln exports on the session bus as an AppIndicator
 * (StatusNotifierItem + com.canonical.dbusmenu).  The only GTK3 code in Kiln, apart from
 * kiln so that GTK3 and GTK4 never share a process.  It has no logic: the menu, the
 * actions and the icon name (state of the "icon" action) all come from kiln, and it exits
 * when kiln leaves the bus. */
#include <gtk/gtk.h>
#include <libayatana-appindicator/app-indicator.h>

typedef struct {
        AppIndicator *indicator;
        GActionGroup *actions;
} Tray;

static void update_icon(Tray *tray)
{
        g_autoptr(GVariant) state = g_action_group_get_action_state(tray->actions, "icon");
        if (!state || !g_variant_is_of_type(state, G_VARIANT_TYPE_STRING))
                return;
        const char *name = g_variant_get_string(state, NULL);
        /* Only kiln's own icons: the name comes over the bus. */
        if (!g_str_has_prefix(name, "dev.kiln.Kiln"))
                return;
        app_indicator_set_icon_full(tray->indicator, name, "Kiln");
}

static void on_action_changed(GActionGroup *group, const char *name, gpointer user_data)
{
        if (g_str_equal(name, "icon"))
                update_icon(user_data);
}

static void on_state_changed(GActionGroup *group, const char *name, GVariant *state, gpointer user_data)
{
        on_action_changed(group, name, user_data);
}

static void on_kiln_vanished(GDBusConnection *bus, const char *name, gpointer user_data)
{
        g_message("kiln left the bus; exiting");
        gtk_main_quit();
}

int main(int argc, char **argv)
{
        g_autofree char *bus_name = NULL;
        g_autofree char *object_path = NULL;
        g_autofree char *icon_theme_path = NULL;
        g_autoptr(GError) error = NULL;
        GOptionEntry entries[] = {
                { "bus-name", 0, 0, G_OPTION_ARG_STRING, &bus_name, "kiln's name on the session bus",
                  "NAME" },
                { "object-path", 0, 0, G_OPTION_ARG_STRING, &object_path, "where kiln exports the menu",
                  "PATH" },
                { "icon-theme-path", 0, 0, G_OPTION_ARG_FILENAME, &icon_theme_path, "extra icon directory",
                  "DIR" },
                { NULL, 0, 0, 0, NULL, NULL, NULL },
        };

        if (!gtk_init_with_args(&argc, &argv, NULL, entries, NULL, &error)) {
                g_printerr("kiln-tray: %s\n", error->message);
                return 2;
        }
        if (!bus_name || !object_path || !g_dbus_is_name(bus_name) ||
            !g_variant_is_object_path(object_path)) {
                g_printerr("kiln-tray: --bus-name and --object-path are required\n");
                return 2;
        }
        g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
        if (!bus) {
                g_printerr("kiln-tray: %s\n", error->message);
                return 1;
        }

        Tray tray = { 0 };
        g_autoptr(GDBusMenuModel) model = g_dbus_menu_model_get(bus, bus_name, object_path);
        tray.actions = G_ACTION_GROUP(g_dbus_action_group_get(bus, bus_name, object_path));
        GtkWidget *menu = gtk_menu_new_from_model(G_MENU_MODEL(model));
        gtk_widget_insert_action_group(menu, "tray", tray.actions);
        gtk_widget_show_all(menu);

        tray.indicator = app_indicator_new("dev.kiln.Kiln", "dev.kiln.Kiln-busy",
                                           APP_INDICATOR_CATEGORY_APPLICATION_STATUS);
        if (icon_theme_path)
                app_indicator_set_icon_theme_path(tray.indicator, icon_theme_path);
        app_indicator_set_title(tray.indicator, "Kiln");
        app_indicator_set_menu(tray.indicator, GTK_MENU(menu));
        app_indicator_set_status(tray.indicator, APP_INDICATOR_STATUS_ACTIVE);

        g_signal_connect(tray.actions, "action-added", G_CALLBACK(on_action_changed), &tray);
        g_signal_connect(tray.actions, "action-state-changed", G_CALLBACK(on_state_changed), &tray);
        /* Listing the actions makes the proxy fetch them; the icon follows on action-added. */
        g_strfreev(g_action_group_list_actions(tray.actions));
        update_icon(&tray);

        guint watch = g_bus_watch_name_on_connection(bus, bus_name, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                     on_kiln_vanished, NULL, NULL);
        gtk_main();
        g_bus_unwatch_name(watch);
        g_object_unref(tray.indicator);
        g_object_unref(tray.actions);
        return 0;
}
