#include "app/kiln/kiln-tray-menu.h"

#include <glib/gi18n.h>
#include <string.h>

#include "app/kiln/kiln-resource.h"

#define DOCS_URL    "https://www.firezone.dev/kb?utm_source=linux-client"
#define SUPPORT_URL "https://www.firezone.dev/support?utm_source=linux-client"

/* Menu labels treat '_' as a mnemonic marker; text from the portal must show literally. */
static char *escape_label(const char *text)
{
        GString *s = g_string_sized_new(strlen(text) + 4);
        for (const char *p = text; *p; p++) {
                if (*p == '_')
                        g_string_append_c(s, '_');
                g_string_append_c(s, *p);
        }
        return g_string_free(s, FALSE);
}

static void append_info(GMenu *menu, const char *label)
{
        g_autoptr(GMenuItem) item = g_menu_item_new(label, "tray.noop");
        g_menu_append_item(menu, item);
}

static void append_info_data(GMenu *menu, const char *text)
{
        g_autofree char *label = escape_label(text);
        append_info(menu, label);
}

static void append_action(GMenu *menu, const char *label, const char *action)
{
        g_menu_append(menu, label, action);
}

static void append_with_string(GMenu *menu, const char *label, const char *action, const char *target)
{
        g_autoptr(GMenuItem) item = g_menu_item_new(label, NULL);
        g_menu_item_set_action_and_target_value(item, action, g_variant_new_string(target));
        g_menu_append_item(menu, item);
}

/* An item showing @text that copies it when clicked. */
static void append_copy(GMenu *menu, const char *text)
{
        g_autofree char *label = escape_label(text);
        append_with_string(menu, label, "tray.copy", text);
}

static void append_section(GMenu *menu, GMenu *section)
{
        if (g_menu_model_get_n_items(G_MENU_MODEL(section)) > 0)
                g_menu_append_section(menu, NULL, G_MENU_MODEL(section));
}

static void append_site_block(GMenu *sub, KilnResource *r)
{
        const char *site = kiln_resource_get_site_name(r);
        if (!site)
                return;
        g_autoptr(GMenu) block = g_menu_new();
        append_info(block, _("Site"));
        append_copy(block, site);
        append_copy(block, kiln_site_status_to_string(kiln_resource_get_site_status(r)));
        append_section(sub, block);
}

static GMenu *internet_submenu(KilnResource *r, gboolean enabled)
{
        g_autoptr(GMenu) sub = g_menu_new();
        g_autoptr(GMenu) head = g_menu_new();
        g_autoptr(GMenu) toggle = g_menu_new();
        g_autoptr(GMenuItem) item = NULL;

        append_info(head, _("All network traffic"));
        append_section(sub, head);
        item = g_menu_item_new(enabled ? _("Disable this resource") : _("Enable this resource"), NULL);
        g_menu_item_set_action_and_target_value(item, "tray.set-internet-resource",
                                                g_variant_new_boolean(!enabled));
        g_menu_append_item(toggle, item);
        append_section(sub, toggle);
        append_site_block(sub, r);
        return g_steal_pointer(&sub);
}

static GMenu *resource_submenu(KilnResource *r, gboolean favorite)
{
        g_autoptr(GMenu) sub = g_menu_new();
        g_autoptr(GMenu) head = g_menu_new();
        g_autoptr(GMenu) details = g_menu_new();
        g_autoptr(GMenu) fav = g_menu_new();
        const char *address = kiln_resource_get_address(r);
        const char *description = kiln_resource_get_address_description(r);

        if (!*description) {
                append_copy(head, address);
        } else if (kiln_resource_description_is_url(r)) {
                g_autofree char *shown = g_strdup_printf("<%s>", description);
                g_autofree char *label = escape_label(shown);
                append_with_string(head, label, "tray.open-url", description);
        } else {
                append_copy(head, description);
        }
        append_section(sub, head);

        append_info(details, _("Resource"));
        append_copy(details, kiln_resource_get_name(r));
        append_copy(details, address);
        append_section(sub, details);

        if (favorite)
                append_with_string(fav, _("Remove from favorites"), "tray.remove-favorite",
                                   kiln_resource_get_id(r));
        else
                append_with_string(fav, _("Add to favorites"), "tray.add-favorite", kiln_resource_get_id(r));
        append_section(sub, fav);

        append_site_block(sub, r);
        return g_steal_pointer(&sub);
}

static void append_resource(GMenu *menu, KilnResource *r, const KilnTrayMenuInput *in)
{
        g_autoptr(GMenu) sub = NULL;
        g_autofree char *title = NULL;

        if (kiln_resource_get_kind(r) == KILN_RESOURCE_INTERNET) {
                g_autofree char *name = escape_label(kiln_resource_get_name(r));
                /* The prefix tells at a glance whether all traffic goes through the tunnel. */
                title = g_strdup_printf("%s %s", in->internet_resource_enabled ? "<->" : "—", name);
                sub = internet_submenu(r, in->internet_resource_enabled);
        } else {
                gboolean favorite = in->favorites && g_strv_contains(in->favorites, kiln_resource_get_id(r));
                title = escape_label(kiln_resource_get_name(r));
                sub = resource_submenu(r, favorite);
        }
        g_menu_append_submenu(menu, title, G_MENU_MODEL(sub));
}

/* Appends @list; beyond the threshold, one submenu per site in order of first appearance. */
static void append_resource_list(GMenu *menu, GPtrArray *list, const KilnTrayMenuInput *in)
{
        if (list->len <= KILN_TRAY_MENU_GROUP_THRESHOLD) {
                for (guint i = 0; i < list->len; i++)
                        append_resource(menu, list->pdata[i], in);
                return;
        }
        g_autoptr(GPtrArray) sites = g_ptr_array_new();
        for (guint i = 0; i < list->len; i++) {
                const char *site = kiln_resource_get_site_name(list->pdata[i]);
                site = site ? site : "";
                if (!g_ptr_array_find_with_equal_func(sites, site, g_str_equal, NULL))
                        g_ptr_array_add(sites, (gpointer)site);
        }
        for (guint s = 0; s < sites->len; s++) {
                g_autoptr(GMenu) group = g_menu_new();
                guint count = 0;
                for (guint i = 0; i < list->len; i++) {
                        const char *site = kiln_resource_get_site_name(list->pdata[i]);
                        if (g_strcmp0(site ? site : "", sites->pdata[s]) == 0) {
                                append_resource(group, list->pdata[i], in);
                                count++;
                        }
                }
                const char *name = *(const char *)sites->pdata[s] ? sites->pdata[s] : _("No site");
                g_autofree char *escaped = escape_label(name);
                g_autofree char *title = g_strdup_printf("%s (%u)", escaped, count);
                g_menu_append_submenu(menu, title, G_MENU_MODEL(group));
        }
}

static void append_resources(GMenu *menu, const KilnTrayMenuInput *in)
{
        g_autoptr(GPtrArray) favorites = g_ptr_array_new();
        g_autoptr(GPtrArray) others = g_ptr_array_new();
        guint n = in->resources ? g_list_model_get_n_items(in->resources) : 0;
        g_autoptr(GMenu) section = g_menu_new();

        /* The list model keeps the resources alive while the menu is built. */
        for (guint i = 0; i < n; i++) {
                g_autoptr(KilnResource) r = g_list_model_get_item(in->resources, i);
                gboolean favorite = in->favorites && g_strv_contains(in->favorites, kiln_resource_get_id(r));
                if (favorite || kiln_resource_get_kind(r) == KILN_RESOURCE_INTERNET)
                        g_ptr_array_add(favorites, r);
                else
                        g_ptr_array_add(others, r);
        }

        if (n == 0) {
                append_info(section, _("No resources"));
                append_section(menu, section);
                return;
        }

        gboolean any_favorite = FALSE;
        for (guint i = 0; i < favorites->len; i++)
                if (kiln_resource_get_kind(favorites->pdata[i]) != KILN_RESOURCE_INTERNET)
                        any_favorite = TRUE;

        if (!any_favorite) {
                append_info(section, _("Resources"));
                /* Without favorites, kilnd's order applies: the Internet Resource first. */
                g_autoptr(GPtrArray) all = g_ptr_array_new();
                for (guint i = 0; i < n; i++) {
                        g_autoptr(KilnResource) r = g_list_model_get_item(in->resources, i);
                        g_ptr_array_add(all, r);
                }
                append_resource_list(section, all, in);
                append_section(menu, section);
                return;
        }

        append_info(section, _("Favorite Resources"));
        for (guint i = 0; i < favorites->len; i++)
                append_resource(section, favorites->pdata[i], in);
        append_section(menu, section);
        if (others->len > 0) {
                g_autoptr(GMenu) rest = g_menu_new();
                g_autoptr(GMenu) other_section = g_menu_new();
                append_resource_list(rest, others, in);
                g_menu_append_submenu(other_section, _("Other Resources"), G_MENU_MODEL(rest));
                append_section(menu, other_section);
        }
}

static void append_state(GMenu *menu, const KilnTrayMenuInput *in)
{
        g_autoptr(GMenu) section = g_menu_new();

        switch (in->phase) {
        case KILN_PHASE_LOADING:
                append_info(section, _("Loading…"));
                break;
        case KILN_PHASE_SERVICE_UNAVAILABLE:
                /* The notice says why: not running, or no system bus at all. */
                if (in->notice && *in->notice)
                        append_info_data(section, in->notice);
                else
                        append_info(section, _("Kiln tunnel service is not running"));
                append_action(section, _("Sign In"), "tray.sign-in");
                break;
        case KILN_PHASE_SIGNED_OUT:
                append_action(section, _("Sign In"), "tray.sign-in");
                break;
        case KILN_PHASE_WAITING_FOR_BROWSER:
                append_info(section, _("Waiting for browser…"));
                append_action(section, _("Cancel sign-in"), "tray.cancel-sign-in");
                break;
        case KILN_PHASE_CONNECTING:
                append_info(section, _("Connecting…"));
                append_action(section, _("Cancel sign-in"), "tray.cancel-sign-in");
                break;
        case KILN_PHASE_RAISING_TUNNEL:
                append_info(section, _("Raising tunnel…"));
                append_action(section, _("Cancel sign-in"), "tray.cancel-sign-in");
                break;
        case KILN_PHASE_SIGNED_IN: {
                g_autofree char *name = escape_label(in->actor_name ? in->actor_name : "");
                /* Translators: %s is the signed-in user's name. */
                g_autofree char *label = g_strdup_printf(_("Signed in as %s"), name);
                append_info(section, label);
                append_action(section, _("Sign Out"), "tray.sign-out");
                break;
        }
        case KILN_PHASE_QUITTING:
        default:
                append_info(section, _("Quitting…"));
                break;
        }
        if (in->notice && *in->notice && in->phase == KILN_PHASE_SIGNED_OUT)
                append_info_data(section, in->notice);
        append_section(menu, section);
}

static void append_bottom(GMenu *menu, const KilnTrayMenuInput *in)
{
        g_autoptr(GMenu) section = g_menu_new();
        g_autoptr(GMenu) help = g_menu_new();
        g_autoptr(GMenu) quit = g_menu_new();

        append_action(section, _("Open Kiln"), "tray.show-window");
        append_action(section, _("About Kiln"), "tray.about");
        if (in->admin_portal_url && *in->admin_portal_url)
                append_with_string(section, _("Admin Portal…"), "tray.open-url", in->admin_portal_url);
        append_with_string(help, _("Documentation…"), "tray.open-url", DOCS_URL);
        append_with_string(help, _("Support…"), "tray.open-url", SUPPORT_URL);
        g_menu_append_submenu(section, _("Help"), G_MENU_MODEL(help));
        append_action(section, _("Settings"), "tray.settings");
        append_section(menu, section);

        if (in->phase == KILN_PHASE_SIGNED_IN)
                append_action(quit, _("Disconnect and Quit Kiln"), "tray.quit");
        else
                append_action(quit, _("Quit Kiln"), "tray.quit");
        append_section(menu, quit);
}

GMenu *kiln_tray_menu_build(const KilnTrayMenuInput *in)
{
        GMenu *menu = g_menu_new();

        append_state(menu, in);
        if (in->phase == KILN_PHASE_SIGNED_IN)
                append_resources(menu, in);
        append_bottom(menu, in);
        return menu;
}

static gboolean attributes_equal(GMenuModel *a, GMenuModel *b, int i)
{
        g_autoptr(GMenuAttributeIter) ia = g_menu_model_iterate_item_attributes(a, i);
        g_autoptr(GMenuAttributeIter) ib = g_menu_model_iterate_item_attributes(b, i);
        guint na = 0, nb = 0;

        while (g_menu_attribute_iter_next(ia)) {
                g_autoptr(GVariant) other =
                    g_menu_model_get_item_attribute_value(b, i, g_menu_attribute_iter_get_name(ia), NULL);
                g_autoptr(GVariant) mine = g_menu_attribute_iter_get_value(ia);
                if (!other || !g_variant_equal(mine, other))
                        return FALSE;
                na++;
        }
        while (g_menu_attribute_iter_next(ib))
                nb++;
        return na == nb;
}

static gboolean links_equal(GMenuModel *a, GMenuModel *b, int i)
{
        g_autoptr(GMenuLinkIter) ia = g_menu_model_iterate_item_links(a, i);
        g_autoptr(GMenuLinkIter) ib = g_menu_model_iterate_item_links(b, i);
        guint na = 0, nb = 0;

        while (g_menu_link_iter_next(ia)) {
                g_autoptr(GMenuModel) other =
                    g_menu_model_get_item_link(b, i, g_menu_link_iter_get_name(ia));
                g_autoptr(GMenuModel) mine = g_menu_link_iter_get_value(ia);
                if (!other || !kiln_menu_model_equal(mine, other))
                        return FALSE;
                na++;
        }
        while (g_menu_link_iter_next(ib))
                nb++;
        return na == nb;
}

gboolean kiln_menu_model_equal(GMenuModel *a, GMenuModel *b)
{
        int n = g_menu_model_get_n_items(a);
        if (n != g_menu_model_get_n_items(b))
                return FALSE;
        for (int i = 0; i < n; i++)
                if (!attributes_equal(a, b, i) || !links_equal(a, b, i))
                        return FALSE;
        return TRUE;
}

void kiln_tray_menu_update(GMenu *target, GMenuModel *fresh)
{
        int n_fresh = g_menu_model_get_n_items(fresh);

        for (int i = 0; i < n_fresh; i++) {
                g_autoptr(GMenuItem) item = g_menu_item_new_from_model(fresh, i);
                if (i < g_menu_model_get_n_items(G_MENU_MODEL(target))) {
                        g_autoptr(GMenu) one_old = g_menu_new();
                        g_autoptr(GMenu) one_new = g_menu_new();
                        g_autoptr(GMenuItem) old_item = g_menu_item_new_from_model(G_MENU_MODEL(target), i);
                        g_menu_append_item(one_old, old_item);
                        g_menu_append_item(one_new, item);
                        if (kiln_menu_model_equal(G_MENU_MODEL(one_old), G_MENU_MODEL(one_new)))
                                continue;
                        g_menu_remove(target, i);
                }
                g_menu_insert_item(target, i, item);
        }
        while (g_menu_model_get_n_items(G_MENU_MODEL(target)) > n_fresh)
                g_menu_remove(target, n_fresh);
}
