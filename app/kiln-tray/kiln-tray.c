/* kiln-tray: shows the menu that kiln exports on the session bus as an AppIndicator
 * (StatusNotifierItem + com.canonical.dbusmenu).  The only GTK3 code in Kiln, apart from
 * kiln so that GTK3 and GTK4 never share a process.  It has no logic: the menu, the
 * actions and the icon name (state of the "icon" action) all come from kiln, and it exits
 * when kiln leaves the bus.
 *
 * The GtkMenu is built from the GMenuModel here rather than with gtk_menu_new_from_model():
 * GTK3's model items are GtkCheckMenuItems, which libdbusmenu-gtk exports as check items, so
 * every entry of the tray menu would show an empty check box. */
#include <gtk/gtk.h>
#include <libayatana-appindicator/app-indicator.h>

typedef struct {
        AppIndicator *indicator;
        GActionGroup *actions;
        GMenuModel *model;
        GtkWidget *menu;
        GPtrArray *watched;
        guint rebuild_source;
} Tray;

static void schedule_rebuild(Tray *tray);

static void on_model_changed(GMenuModel *model, int position, int removed, int added, gpointer user_data)
{
        schedule_rebuild(user_data);
}

static void watch_model(Tray *tray, GMenuModel *model)
{
        g_ptr_array_add(tray->watched, g_object_ref(model));
        g_signal_connect(model, "items-changed", G_CALLBACK(on_model_changed), tray);
}

static void on_item_activate(GtkMenuItem *item, gpointer user_data)
{
        Tray *tray = user_data;
        const char *action = g_object_get_data(G_OBJECT(item), "kiln-action");
        GVariant *target = g_object_get_data(G_OBJECT(item), "kiln-target");
        g_action_group_activate_action(tray->actions, action, target);
}

/* One entry of the flattened model: a separator between sections, an item or a submenu. */
typedef struct {
        char *key; /* what the entry looks like and does; equal keys need no new widget */
        char *label;
        char *action;
        GVariant *target;
        GMenuModel *submenu;
        gboolean separator;
        gboolean sensitive;
} Entry;

static void entry_free(Entry *e)
{
        g_free(e->key);
        g_free(e->label);
        g_free(e->action);
        g_clear_pointer(&e->target, g_variant_unref);
        g_clear_object(&e->submenu);
        g_free(e);
}

static void flatten(Tray *tray, GMenuModel *model, GPtrArray *out)
{
        watch_model(tray, model);
        for (int i = 0; i < g_menu_model_get_n_items(model); i++) {
                g_autoptr(GMenuModel) section = g_menu_model_get_item_link(model, i, G_MENU_LINK_SECTION);
                Entry *e;

                if (section) {
                        if (out->len > 0) {
                                e = g_new0(Entry, 1);
                                e->separator = TRUE;
                                e->key = g_strdup("separator");
                                g_ptr_array_add(out, e);
                        }
                        flatten(tray, section, out);
                        continue;
                }
                e = g_new0(Entry, 1);
                g_menu_model_get_item_attribute(model, i, G_MENU_ATTRIBUTE_LABEL, "s", &e->label);
                e->submenu = g_menu_model_get_item_link(model, i, G_MENU_LINK_SUBMENU);
                if (e->submenu) {
                        e->key = g_strdup_printf("submenu\n%s", e->label ? e->label : "");
                        g_ptr_array_add(out, e);
                        continue;
                }
                g_autofree char *action = NULL;
                g_menu_model_get_item_attribute(model, i, G_MENU_ATTRIBUTE_ACTION, "s", &action);
                /* kiln names its actions "tray.<name>"; anything else is shown disabled. */
                if (action && g_str_has_prefix(action, "tray.") &&
                    g_action_group_get_action_enabled(tray->actions, action + 5)) {
                        e->sensitive = TRUE;
                        e->action = g_strdup(action + 5);
                        e->target =
                            g_menu_model_get_item_attribute_value(model, i, G_MENU_ATTRIBUTE_TARGET, NULL);
                }
                g_autofree char *target = e->target ? g_variant_print(e->target, TRUE) : NULL;
                e->key = g_strdup_printf("item\n%s\n%s\n%s", e->label ? e->label : "",
                                         e->action ? e->action : "", target ? target : "");
                g_ptr_array_add(out, e);
        }
}

static void sync_shell(Tray *tray, GtkMenuShell *shell, GMenuModel *model);

static GtkWidget *create_widget(Tray *tray, Entry *e)
{
        if (e->separator)
                return gtk_separator_menu_item_new();
        GtkWidget *item = gtk_menu_item_new_with_mnemonic(e->label ? e->label : "");
        if (e->submenu) {
                gtk_menu_item_set_submenu(GTK_MENU_ITEM(item), gtk_menu_new());
        } else if (e->sensitive) {
                g_object_set_data_full(G_OBJECT(item), "kiln-action", g_strdup(e->action), g_free);
                if (e->target)
                        g_object_set_data_full(G_OBJECT(item), "kiln-target", g_variant_ref(e->target),
                                               (GDestroyNotify)g_variant_unref);
                g_signal_connect(item, "activate", G_CALLBACK(on_item_activate), tray);
        } else {
                gtk_widget_set_sensitive(item, FALSE);
        }
        g_object_set_data_full(G_OBJECT(item), "kiln-key", g_strdup(e->key), g_free);
        gtk_widget_show(item);
        return item;
}

/* Makes @shell show @model, keeping every widget whose entry did not change: libdbusmenu-gtk
 * then keeps those items' ids, so a menu the user has open is updated, not replaced. */
static void sync_shell(Tray *tray, GtkMenuShell *shell, GMenuModel *model)
{
        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify)entry_free);
        flatten(tray, model, entries);

        for (guint i = 0; i < entries->len; i++) {
                Entry *e = entries->pdata[i];
                GList *children = gtk_container_get_children(GTK_CONTAINER(shell));
                GtkWidget *old = g_list_nth_data(children, i);
                g_list_free(children);

                if (old && g_strcmp0(g_object_get_data(G_OBJECT(old), "kiln-key"), e->key) == 0) {
                        if (e->submenu)
                                sync_shell(tray,
                                           GTK_MENU_SHELL(gtk_menu_item_get_submenu(GTK_MENU_ITEM(old))),
                                           e->submenu);
                        continue;
                }
                if (old)
                        gtk_widget_destroy(old);
                GtkWidget *widget = create_widget(tray, e);
                if (e->separator)
                        g_object_set_data_full(G_OBJECT(widget), "kiln-key", g_strdup(e->key), g_free);
                gtk_widget_show(widget);
                gtk_menu_shell_insert(shell, widget, (int)i);
                if (e->submenu)
                        sync_shell(tray, GTK_MENU_SHELL(gtk_menu_item_get_submenu(GTK_MENU_ITEM(widget))),
                                   e->submenu);
        }
        GList *children = gtk_container_get_children(GTK_CONTAINER(shell));
        for (GList *l = g_list_nth(children, entries->len); l; l = l->next)
                gtk_widget_destroy(l->data);
        g_list_free(children);
}

static gboolean rebuild(gpointer user_data)
{
        Tray *tray = user_data;
        /* The old models stay referenced until the menu is synced: a GDBusMenuModel whose
         * last reference goes away unsubscribes, and the new pass would see it empty. */
        g_autoptr(GPtrArray) old = g_steal_pointer(&tray->watched);

        tray->rebuild_source = 0;
        tray->watched = g_ptr_array_new_with_free_func(g_object_unref);
        for (guint i = 0; i < old->len; i++)
                g_signal_handlers_disconnect_by_func(old->pdata[i], on_model_changed, tray);
        sync_shell(tray, GTK_MENU_SHELL(tray->menu), tray->model);
        return G_SOURCE_REMOVE;
}

/* Changes arrive in bursts (one per section, submenus fetched lazily): rebuild once. */
static void schedule_rebuild(Tray *tray)
{
        if (!tray->rebuild_source)
                tray->rebuild_source = g_idle_add(rebuild, tray);
}

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
        else
                schedule_rebuild(user_data);
}

static void on_enabled_changed(GActionGroup *group, const char *name, gboolean enabled, gpointer user_data)
{
        on_action_changed(group, name, user_data);
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
        tray.model = G_MENU_MODEL(g_dbus_menu_model_get(bus, bus_name, object_path));
        tray.actions = G_ACTION_GROUP(g_dbus_action_group_get(bus, bus_name, object_path));
        tray.watched = g_ptr_array_new_with_free_func(g_object_unref);
        tray.menu = gtk_menu_new();
        g_object_ref_sink(tray.menu);
        rebuild(&tray);

        tray.indicator = app_indicator_new("dev.kiln.Kiln", "dev.kiln.Kiln-busy",
                                           APP_INDICATOR_CATEGORY_APPLICATION_STATUS);
        if (icon_theme_path)
                app_indicator_set_icon_theme_path(tray.indicator, icon_theme_path);
        app_indicator_set_title(tray.indicator, "Kiln");
        app_indicator_set_menu(tray.indicator, GTK_MENU(tray.menu));
        app_indicator_set_status(tray.indicator, APP_INDICATOR_STATUS_ACTIVE);

        g_signal_connect(tray.actions, "action-added", G_CALLBACK(on_action_changed), &tray);
        g_signal_connect(tray.actions, "action-removed", G_CALLBACK(on_action_changed), &tray);
        g_signal_connect(tray.actions, "action-enabled-changed", G_CALLBACK(on_enabled_changed), &tray);
        g_signal_connect(tray.actions, "action-state-changed", G_CALLBACK(on_state_changed), &tray);
        /* Listing the actions makes the proxy fetch them; the icon follows on action-added. */
        g_strfreev(g_action_group_list_actions(tray.actions));
        update_icon(&tray);

        guint watch = g_bus_watch_name_on_connection(bus, bus_name, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                     on_kiln_vanished, NULL, NULL);
        gtk_main();
        g_bus_unwatch_name(watch);
        g_clear_handle_id(&tray.rebuild_source, g_source_remove);
        g_object_unref(tray.indicator);
        g_object_unref(tray.menu);
        g_ptr_array_unref(tray.watched);
        g_object_unref(tray.model);
        g_object_unref(tray.actions);
        return 0;
}
