/* sni-menu: finds a StatusNotifierItem by its Id through org.kde.StatusNotifierWatcher, prints
 * its properties and its com.canonical.dbusmenu layout (GetLayout), and can click an item.
 * This is what a panel sees, so the gui suite checks the tray through the same door.
 *
 *   sni-menu [--wait S] [--click LABEL] ID
 *
 * Output: "Id=…", "Status=…", "IconName=…", then one line per menu item, indented two
 * spaces per level: "label [disabled] [separator] [submenu]".  With --click, sends the
 * "clicked" event to the first item whose label (without '_' mnemonics) is LABEL. */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

static char *strip_mnemonic(const char *label)
{
        GString *s = g_string_new(NULL);
        for (const char *p = label; *p; p++) {
                if (*p == '_') {
                        if (p[1] == '_')
                                g_string_append_c(s, *++p);
                        continue;
                }
                g_string_append_c(s, *p);
        }
        return g_string_free(s, FALSE);
}

static gint32 click_id = -1;

static void print_layout(GVariant *node, int depth, const char *click)
{
        gint32 id;
        g_autoptr(GVariant) props = NULL;
        g_autoptr(GVariant) children = NULL;

        g_variant_get(node, "(i@a{sv}@av)", &id, &props, &children);
        if (depth > 0) {
                g_autoptr(GVariantDict) d = g_variant_dict_new(props);
                const char *label = "", *type = "standard", *display = "";
                gboolean enabled = TRUE, visible = TRUE;
                g_variant_dict_lookup(d, "label", "&s", &label);
                g_variant_dict_lookup(d, "type", "&s", &type);
                g_variant_dict_lookup(d, "enabled", "b", &enabled);
                g_variant_dict_lookup(d, "visible", "b", &visible);
                g_variant_dict_lookup(d, "children-display", "&s", &display);
                if (visible) {
                        g_autofree char *text = strip_mnemonic(label);
                        printf("%*s%s%s%s%s\n", (depth - 1) * 2, "", text, enabled ? "" : " [disabled]",
                               g_str_equal(type, "separator") ? "[separator]" : "",
                               g_str_equal(display, "submenu") ? " [submenu]" : "");
                        if (click && click_id < 0 && g_str_equal(text, click))
                                click_id = id;
                }
        }
        for (gsize i = 0; i < g_variant_n_children(children); i++) {
                g_autoptr(GVariant) boxed = g_variant_get_child_value(children, i);
                g_autoptr(GVariant) child = g_variant_get_variant(boxed);
                print_layout(child, depth + 1, click);
        }
}

static GVariant *get_prop(GDBusConnection *bus, const char *name, const char *path, const char *iface,
                          const char *prop, GError **error)
{
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
            bus, name, path, "org.freedesktop.DBus.Properties", "Get", g_variant_new("(ss)", iface, prop),
            G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, error);
        if (!reply)
                return NULL;
        GVariant *value;
        g_variant_get(reply, "(v)", &value);
        return value;
}

/* Returns "name path" of the item with @id, or NULL. */
static gboolean find_item(GDBusConnection *bus, const char *id, char **ret_name, char **ret_path)
{
        g_autoptr(GVariant) items =
            get_prop(bus, "org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
                     "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems", NULL);
        if (!items)
                return FALSE;
        for (gsize i = 0; i < g_variant_n_children(items); i++) {
                const char *entry;
                g_variant_get_child(items, i, "&s", &entry);
                const char *slash = strchr(entry, '/');
                g_autofree char *name = slash ? g_strndup(entry, (gsize)(slash - entry)) : g_strdup(entry);
                g_autofree char *path = g_strdup(slash ? slash : "/StatusNotifierItem");
                g_autoptr(GVariant) item_id =
                    get_prop(bus, name, path, "org.kde.StatusNotifierItem", "Id", NULL);
                if (item_id && g_str_equal(g_variant_get_string(item_id, NULL), id)) {
                        *ret_name = g_steal_pointer(&name);
                        *ret_path = g_steal_pointer(&path);
                        return TRUE;
                }
        }
        return FALSE;
}

int main(int argc, char **argv)
{
        int wait_s = 10;
        g_autofree char *click = NULL;
        g_autoptr(GError) error = NULL;
        GOptionEntry entries[] = {
                { "wait", 0, 0, G_OPTION_ARG_INT, &wait_s, "seconds to wait for the item", "S" },
                { "click", 0, 0, G_OPTION_ARG_STRING, &click, "click the item with this label", "LABEL" },
                { NULL, 0, 0, 0, NULL, NULL, NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("ID");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
                g_printerr("usage: sni-menu [--wait S] [--click LABEL] ID\n");
                return 2;
        }
        g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
        if (!bus) {
                g_printerr("sni-menu: %s\n", error->message);
                return 1;
        }
        g_autofree char *name = NULL, *path = NULL;
        for (int i = 0; i < wait_s * 10 && !find_item(bus, argv[1], &name, &path); i++)
                g_usleep(100 * 1000);
        if (!name) {
                g_printerr("sni-menu: no StatusNotifierItem with Id %s\n", argv[1]);
                return 1;
        }
        static const char *const shown[] = { "Id", "Status", "IconName", "IconThemePath", NULL };
        for (const char *const *p = shown; *p; p++) {
                g_autoptr(GVariant) v = get_prop(bus, name, path, "org.kde.StatusNotifierItem", *p, NULL);
                if (v && g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
                        printf("%s=%s\n", *p, g_variant_get_string(v, NULL));
        }
        g_autoptr(GVariant) menu_path =
            get_prop(bus, name, path, "org.kde.StatusNotifierItem", "Menu", &error);
        if (!menu_path) {
                g_printerr("sni-menu: no Menu property: %s\n", error->message);
                return 1;
        }
        const char *menu = g_variant_get_string(menu_path, NULL);
        const char *no_props[] = { NULL };
        g_autoptr(GVariant) layout = g_dbus_connection_call_sync(
            bus, name, menu, "com.canonical.dbusmenu", "GetLayout",
            g_variant_new("(ii^as)", 0, -1, no_props), G_VARIANT_TYPE("(u(ia{sv}av))"),
            G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
        if (!layout) {
                g_printerr("sni-menu: GetLayout failed: %s\n", error->message);
                return 1;
        }
        g_autoptr(GVariant) root = g_variant_get_child_value(layout, 1);
        print_layout(root, 0, click);
        fflush(stdout);

        if (click) {
                if (click_id < 0) {
                        g_printerr("sni-menu: no item labelled '%s'\n", click);
                        return 1;
                }
                g_autoptr(GVariant) r = g_dbus_connection_call_sync(
                    bus, name, menu, "com.canonical.dbusmenu", "Event",
                    g_variant_new("(isvu)", click_id, "clicked", g_variant_new_int32(0), 0), NULL,
                    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
                if (!r) {
                        g_printerr("sni-menu: Event failed: %s\n", error->message);
                        return 1;
                }
        }
        return 0;
}
