/* The tray menu for every phase, item by item, fed from kilnd-shaped state through the
 * model layer (KilnTunnelState), as kiln does with the real proxy. */
#include <gio/gio.h>

#include "app/kiln/kiln-tray-menu.h"
#include "app/kiln/kiln-tunnel-state.h"

static void dump_model(GString *out, GMenuModel *model, int depth);

static void dump_item(GString *out, GMenuModel *model, int i, int depth)
{
        g_autofree char *label = NULL;
        g_autofree char *action = NULL;
        g_autoptr(GVariant) target = NULL;
        g_autoptr(GMenuModel) section = g_menu_model_get_item_link(model, i, G_MENU_LINK_SECTION);
        g_autoptr(GMenuModel) submenu = g_menu_model_get_item_link(model, i, G_MENU_LINK_SUBMENU);

        if (section) {
                if (i > 0)
                        g_string_append_printf(out, "%*s--\n", depth * 2, "");
                dump_model(out, section, depth);
                return;
        }
        g_menu_model_get_item_attribute(model, i, G_MENU_ATTRIBUTE_LABEL, "s", &label);
        g_menu_model_get_item_attribute(model, i, G_MENU_ATTRIBUTE_ACTION, "s", &action);
        target = g_menu_model_get_item_attribute_value(model, i, G_MENU_ATTRIBUTE_TARGET, NULL);
        g_string_append_printf(out, "%*s%s", depth * 2, "", label ? label : "");
        if (submenu) {
                g_string_append(out, " >\n");
                dump_model(out, submenu, depth + 1);
                return;
        }
        if (action && !g_str_equal(action, "tray.noop"))
                g_string_append_printf(out, " = %s", action);
        else
                g_string_append(out, " (info)");
        if (target) {
                g_autofree char *t = g_variant_print(target, FALSE);
                g_string_append_printf(out, "(%s)", t);
        }
        g_string_append_c(out, '\n');
}

static void dump_model(GString *out, GMenuModel *model, int depth)
{
        for (int i = 0; i < g_menu_model_get_n_items(model); i++)
                dump_item(out, model, i, depth);
}

static char *dump(const KilnTrayMenuInput *in)
{
        g_autoptr(GMenu) menu = kiln_tray_menu_build(in);
        GString *out = g_string_new(NULL);
        dump_model(out, G_MENU_MODEL(menu), 0);
        return g_string_free(out, FALSE);
}

#define BOTTOM                                                                                              \
        "--\n"                                                                                              \
        "Open Kiln = tray.show-window\n"                                                                    \
        "About Kiln = tray.about\n"                                                                         \
        "Admin Portal… = tray.open-url('https://auth.example')\n"                                         \
        "Help >\n"                                                                                          \
        "  Documentation… = tray.open-url('https://www.firezone.dev/kb?utm_source=linux-client')\n"       \
        "  Support… = tray.open-url('https://www.firezone.dev/support?utm_source=linux-client')\n"        \
        "Settings = tray.settings\n"                                                                        \
        "--\n"

static const char *const no_favorites[] = { NULL };

static KilnTrayMenuInput input(KilnPhase phase)
{
        KilnTrayMenuInput in = {
                .phase = phase,
                .actor_name = "Ada Lovelace",
                .favorites = no_favorites,
                .admin_portal_url = "https://auth.example",
        };
        return in;
}

static void check(const KilnTrayMenuInput *in, const char *expected)
{
        g_autofree char *got = dump(in);
        g_assert_cmpstr(got, ==, expected);
}

static void test_loading(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_LOADING);
        check(&in, "Loading… (info)\n" BOTTOM "Quit Kiln = tray.quit\n");
}

static void test_service_unavailable(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_SERVICE_UNAVAILABLE);
        in.notice = "The Kiln tunnel service (kilnd) is not running.";
        check(&in, "The Kiln tunnel service (kilnd) is not running. (info)\n"
                   "Sign In = tray.sign-in\n" BOTTOM "Quit Kiln = tray.quit\n");
}

static void test_signed_out(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_OUT);
        check(&in, "Sign In = tray.sign-in\n" BOTTOM "Quit Kiln = tray.quit\n");
        in.notice = "portal said no";
        check(&in, "Sign In = tray.sign-in\nportal said no (info)\n" BOTTOM "Quit Kiln = tray.quit\n");
}

static void test_waiting_for_browser(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_WAITING_FOR_BROWSER);
        check(&in, "Waiting for browser… (info)\nCancel sign-in = tray.cancel-sign-in\n" BOTTOM
                   "Quit Kiln = tray.quit\n");
}

static void test_connecting(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_CONNECTING);
        check(&in,
              "Connecting… (info)\nCancel sign-in = tray.cancel-sign-in\n" BOTTOM "Quit Kiln = tray.quit\n");
}

static void test_raising_tunnel(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_RAISING_TUNNEL);
        check(&in, "Raising tunnel… (info)\nCancel sign-in = tray.cancel-sign-in\n" BOTTOM
                   "Quit Kiln = tray.quit\n");
}

static void test_quitting(void)
{
        KilnTrayMenuInput in = input(KILN_PHASE_QUITTING);
        in.notice = "ignored while quitting";
        check(&in, "Quitting… (info)\n" BOTTOM "Quit Kiln = tray.quit\n");
}

/* A resource dictionary as kilnd sends it. */
static GVariant *resource(const char *id, const char *type, const char *name, const char *address,
                          const char *description, const char *site, const char *status)
{
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_auto(GVariantBuilder) sites = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(sss)"));
        g_variant_builder_add(&b, "{sv}", "id", g_variant_new_string(id));
        g_variant_builder_add(&b, "{sv}", "type", g_variant_new_string(type));
        g_variant_builder_add(&b, "{sv}", "name", g_variant_new_string(name));
        g_variant_builder_add(&b, "{sv}", "address", g_variant_new_string(address));
        g_variant_builder_add(&b, "{sv}", "address-description", g_variant_new_string(description));
        if (site)
                g_variant_builder_add(&sites, "(sss)", "site-1", site, status);
        g_variant_builder_add(&b, "{sv}", "sites", g_variant_builder_end(&sites));
        g_variant_builder_add(&b, "{sv}", "enabled", g_variant_new_boolean(TRUE));
        return g_variant_builder_end(&b);
}

static KilnTunnelState *connected_state(GVariant *resources)
{
        KilnTunnelState *state = kiln_tunnel_state_new();
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "State", g_variant_new_string("connected"));
        g_variant_builder_add(&b, "{sv}", "ActorName", g_variant_new_string("Ada Lovelace"));
        g_variant_builder_add(&b, "{sv}", "Resources", resources);
        g_autoptr(GVariant) props = g_variant_ref_sink(g_variant_builder_end(&b));
        kiln_tunnel_state_apply(state, TRUE, props);
        return state;
}

static GVariant *sample_resources(void)
{
        g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
        g_variant_builder_add_value(&list, resource("gitlab", "dns", "GitLab", "gitlab.corp.example",
                                                    "https://gitlab.corp.example/", "HQ", "online"));
        g_variant_builder_add_value(&list,
                                    resource("db", "cidr", "DB_net", "10.0.0.0/16", "", "Lab", "offline"));
        g_variant_builder_add_value(
            &list, resource("wiki", "dns", "Wiki", "wiki.corp.example", "The team wiki", NULL, NULL));
        /* kilnd's order is not the menu's: the Internet Resource comes first there. */
        g_variant_builder_add_value(
            &list, resource("inet", "internet", "Internet Resource", "", "", "HQ", "online"));
        return g_variant_builder_end(&list);
}

#define SIGNED_IN_TOP  "Signed in as Ada Lovelace (info)\nSign Out = tray.sign-out\n--\n"
#define QUIT_SIGNED_IN "Disconnect and Quit Kiln = tray.quit\n"

#define INTERNET_OFF                                                                                        \
        "— Internet Resource >\n"                                                                         \
        "  All network traffic (info)\n"                                                                    \
        "  --\n"                                                                                            \
        "  Enable this resource = tray.set-internet-resource(true)\n"                                       \
        "  --\n"                                                                                            \
        "  Site (info)\n"                                                                                   \
        "  HQ = tray.copy('HQ')\n"                                                                          \
        "  Gateway connected = tray.copy('Gateway connected')\n"

#define GITLAB(fav)                                                                                         \
        "GitLab >\n"                                                                                        \
        "  <https://gitlab.corp.example/> = tray.open-url('https://gitlab.corp.example/')\n"                \
        "  --\n"                                                                                            \
        "  Resource (info)\n"                                                                               \
        "  GitLab = tray.copy('GitLab')\n"                                                                  \
        "  gitlab.corp.example = tray.copy('gitlab.corp.example')\n"                                        \
        "  --\n" fav "  --\n"                                                                               \
        "  Site (info)\n"                                                                                   \
        "  HQ = tray.copy('HQ')\n"                                                                          \
        "  Gateway connected = tray.copy('Gateway connected')\n"

#define DB                                                                                                  \
        "DB__net >\n"                                                                                       \
        "  10.0.0.0/16 = tray.copy('10.0.0.0/16')\n"                                                        \
        "  --\n"                                                                                            \
        "  Resource (info)\n"                                                                               \
        "  DB__net = tray.copy('DB_net')\n"                                                                 \
        "  10.0.0.0/16 = tray.copy('10.0.0.0/16')\n"                                                        \
        "  --\n"                                                                                            \
        "  Add to favorites = tray.add-favorite('db')\n"                                                    \
        "  --\n"                                                                                            \
        "  Site (info)\n"                                                                                   \
        "  Lab = tray.copy('Lab')\n"                                                                        \
        "  All Gateways offline = tray.copy('All Gateways offline')\n"

#define WIKI                                                                                                \
        "Wiki >\n"                                                                                          \
        "  The team wiki = tray.copy('The team wiki')\n"                                                    \
        "  --\n"                                                                                            \
        "  Resource (info)\n"                                                                               \
        "  Wiki = tray.copy('Wiki')\n"                                                                      \
        "  wiki.corp.example = tray.copy('wiki.corp.example')\n"                                            \
        "  --\n"                                                                                            \
        "  Add to favorites = tray.add-favorite('wiki')\n"

static void test_signed_in_no_resources(void)
{
        g_autoptr(KilnTunnelState) state = connected_state(g_variant_new("aa{sv}", NULL));
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_IN);
        in.resources = kiln_tunnel_state_get_resources(state);
        check(&in, SIGNED_IN_TOP "No resources (info)\n" BOTTOM QUIT_SIGNED_IN);
}

static void test_signed_in_resources(void)
{
        g_autoptr(KilnTunnelState) state = connected_state(sample_resources());
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_IN);
        in.resources = kiln_tunnel_state_get_resources(state);
        /* The Internet Resource first, then by name, whatever kilnd's order. */
        check(&in, SIGNED_IN_TOP "Resources (info)\n" INTERNET_OFF DB GITLAB(
                       "  Add to favorites = tray.add-favorite('gitlab')\n") WIKI BOTTOM QUIT_SIGNED_IN);
}

static void test_signed_in_favorites_first(void)
{
        g_autoptr(KilnTunnelState) state = connected_state(sample_resources());
        const char *const favorites[] = { "wiki", "gitlab", NULL };
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_IN);
        in.resources = kiln_tunnel_state_get_resources(state);
        in.favorites = favorites;
        in.internet_resource_enabled = TRUE;
        /* Favorites (and the Internet Resource) first, the rest in a submenu. */
        g_autofree char *got = dump(&in);
        g_autofree char *db_nested = NULL;
        {
                g_auto(GStrv) lines = g_strsplit(DB, "\n", -1);
                GString *s = g_string_new(NULL);
                for (char **l = lines; *l && **l; l++)
                        g_string_append_printf(s, "  %s\n", *l);
                db_nested = g_string_free(s, FALSE);
        }
        g_autofree char *expected = g_strconcat(
            SIGNED_IN_TOP
            "Favorite Resources (info)\n"
            "<-> Internet Resource >\n"
            "  All network traffic (info)\n"
            "  --\n"
            "  Disable this resource = tray.set-internet-resource(false)\n"
            "  --\n"
            "  Site (info)\n"
            "  HQ = tray.copy('HQ')\n"
            "  Gateway connected = tray.copy('Gateway connected')\n" GITLAB(
                "  Remove from favorites = tray.remove-favorite('gitlab')\n") "Wiki >\n"
                                                                              "  The team wiki = "
                                                                              "tray.copy('The team wiki')\n"
                                                                              "  --\n"
                                                                              "  Resource (info)\n"
                                                                              "  Wiki = tray.copy('Wiki')\n"
                                                                              "  wiki.corp.example = "
                                                                              "tray.copy('wiki.corp.example'"
                                                                              ")\n"
                                                                              "  --\n"
                                                                              "  Remove from favorites = "
                                                                              "tray.remove-favorite('wiki')"
                                                                              "\n"
                                                                              "--\n"
                                                                              "Other Resources >\n",
            db_nested, BOTTOM QUIT_SIGNED_IN, NULL);
        g_assert_cmpstr(got, ==, expected);
}

static GVariant *many_resources(guint n)
{
        g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < n; i++) {
                g_autofree char *id = g_strdup_printf("r%02u", i);
                g_autofree char *name = g_strdup_printf("Host %02u", i);
                g_autofree char *address = g_strdup_printf("h%02u.corp.example", i);
                /* Sites alternate: Berlin, Austin, Berlin, … — groups keep first-seen order. */
                g_variant_builder_add_value(
                    &list, resource(id, "dns", name, address, "", i % 2 ? "Austin" : "Berlin", "unknown"));
        }
        return g_variant_builder_end(&list);
}

/* Top-level titles of the resource section, one per line. */
static char *resource_titles(const KilnTrayMenuInput *in)
{
        g_autoptr(GMenu) menu = kiln_tray_menu_build(in);
        g_autoptr(GMenuModel) section =
            g_menu_model_get_item_link(G_MENU_MODEL(menu), 1, G_MENU_LINK_SECTION);
        GString *out = g_string_new(NULL);
        for (int i = 0; i < g_menu_model_get_n_items(section); i++) {
                g_autofree char *label = NULL;
                g_menu_model_get_item_attribute(section, i, G_MENU_ATTRIBUTE_LABEL, "s", &label);
                g_string_append_printf(out, "%s\n", label);
        }
        return g_string_free(out, FALSE);
}

static void test_grouping_threshold(void)
{
        g_autoptr(KilnTunnelState) at = connected_state(many_resources(KILN_TRAY_MENU_GROUP_THRESHOLD));
        g_autoptr(KilnTunnelState) over =
            connected_state(many_resources(KILN_TRAY_MENU_GROUP_THRESHOLD + 1));
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_IN);

        in.resources = kiln_tunnel_state_get_resources(at);
        g_autofree char *flat = resource_titles(&in);
        g_assert_true(g_str_has_prefix(flat, "Resources\nHost 00\nHost 01\n"));
        g_auto(GStrv) lines = g_strsplit(flat, "\n", -1);
        /* The header, every resource, and the empty string after the last newline. */
        g_assert_cmpuint(g_strv_length(lines), ==, KILN_TRAY_MENU_GROUP_THRESHOLD + 2);

        in.resources = kiln_tunnel_state_get_resources(over);
        g_autofree char *grouped = resource_titles(&in);
        g_assert_cmpstr(grouped, ==, "Resources\nBerlin (8)\nAustin (8)\n");

        /* Inside a group: that site's resources in kilnd's order. */
        g_autoptr(GMenu) menu = kiln_tray_menu_build(&in);
        g_autoptr(GMenuModel) section =
            g_menu_model_get_item_link(G_MENU_MODEL(menu), 1, G_MENU_LINK_SECTION);
        g_autoptr(GMenuModel) austin = g_menu_model_get_item_link(section, 2, G_MENU_LINK_SUBMENU);
        g_autofree char *first = NULL;
        g_menu_model_get_item_attribute(austin, 0, G_MENU_ATTRIBUTE_LABEL, "s", &first);
        g_assert_cmpstr(first, ==, "Host 01");
        g_assert_cmpint(g_menu_model_get_n_items(austin), ==, 8);
}

static void on_items_changed(GMenuModel *model, int position, int removed, int added, gpointer user_data)
{
        (*(guint *)user_data)++;
}

static void test_update_in_place(void)
{
        g_autoptr(KilnTunnelState) state = connected_state(sample_resources());
        KilnTrayMenuInput in = input(KILN_PHASE_SIGNED_IN);
        g_autoptr(GMenu) target = g_menu_new();
        guint changes = 0;

        in.resources = kiln_tunnel_state_get_resources(state);
        g_autoptr(GMenu) first = kiln_tray_menu_build(&in);
        kiln_tray_menu_update(target, G_MENU_MODEL(first));
        g_assert_true(kiln_menu_model_equal(G_MENU_MODEL(target), G_MENU_MODEL(first)));

        g_signal_connect(target, "items-changed", G_CALLBACK(on_items_changed), &changes);
        g_autoptr(GMenu) same = kiln_tray_menu_build(&in);
        kiln_tray_menu_update(target, G_MENU_MODEL(same));
        g_assert_cmpuint(changes, ==, 0);

        /* A new favorite rebuilds the resource sections; the state section is left alone (an
         * open menu keeps its top), and the result equals a fresh build. */
        g_autoptr(GMenuModel) state_before =
            g_menu_model_get_item_link(G_MENU_MODEL(target), 0, G_MENU_LINK_SECTION);
        const char *const favorites[] = { "wiki", NULL };
        in.favorites = favorites;
        g_autoptr(GMenu) changed = kiln_tray_menu_build(&in);
        kiln_tray_menu_update(target, G_MENU_MODEL(changed));
        g_assert_true(kiln_menu_model_equal(G_MENU_MODEL(target), G_MENU_MODEL(changed)));
        g_assert_cmpuint(changes, >=, 1);
        g_autoptr(GMenuModel) state_after =
            g_menu_model_get_item_link(G_MENU_MODEL(target), 0, G_MENU_LINK_SECTION);
        g_assert_true(state_before == state_after);

        /* Signing out shrinks the menu. */
        KilnTrayMenuInput out = input(KILN_PHASE_SIGNED_OUT);
        g_autoptr(GMenu) signed_out = kiln_tray_menu_build(&out);
        kiln_tray_menu_update(target, G_MENU_MODEL(signed_out));
        g_assert_true(kiln_menu_model_equal(G_MENU_MODEL(target), G_MENU_MODEL(signed_out)));
}

static void test_bad_resources_skipped(void)
{
        g_auto(GVariantBuilder) list = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
        g_auto(GVariantBuilder) bad = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&bad, "{sv}", "id", g_variant_new_string("x"));
        g_variant_builder_add(&bad, "{sv}", "type", g_variant_new_string("teleporter"));
        g_variant_builder_add(&bad, "{sv}", "name", g_variant_new_string("X"));
        g_variant_builder_add_value(&list, g_variant_builder_end(&bad));
        g_variant_builder_add_value(&list,
                                    resource("wiki", "dns", "Wiki", "wiki.corp.example", "", NULL, NULL));
        g_auto(GVariantBuilder) noid = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&noid, "{sv}", "type", g_variant_new_string("dns"));
        g_variant_builder_add(&noid, "{sv}", "name", g_variant_new_int32(3));
        g_variant_builder_add_value(&list, g_variant_builder_end(&noid));

        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unknown resource type 'teleporter'*");
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*'id' missing*");
        g_autoptr(KilnTunnelState) state = connected_state(g_variant_builder_end(&list));
        g_test_assert_expected_messages();
        GListModel *resources = kiln_tunnel_state_get_resources(state);
        g_assert_cmpuint(g_list_model_get_n_items(resources), ==, 1);
        g_assert_nonnull(kiln_tunnel_state_find_resource(state, "wiki"));
        g_assert_null(kiln_tunnel_state_find_resource(state, "x"));
}

static void test_unknown_state(void)
{
        g_autoptr(KilnTunnelState) state = kiln_tunnel_state_new();
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "State", g_variant_new_string("dancing"));
        g_autoptr(GVariant) props = g_variant_ref_sink(g_variant_builder_end(&b));
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unknown state 'dancing'*");
        kiln_tunnel_state_apply(state, TRUE, props);
        g_test_assert_expected_messages();
        g_assert_cmpstr(kiln_tunnel_state_get_state(state), ==, "error");
        g_assert_true(kiln_tunnel_state_get_service_available(state));
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tray-menu/loading", test_loading);
        g_test_add_func("/tray-menu/service-unavailable", test_service_unavailable);
        g_test_add_func("/tray-menu/signed-out", test_signed_out);
        g_test_add_func("/tray-menu/waiting-for-browser", test_waiting_for_browser);
        g_test_add_func("/tray-menu/connecting", test_connecting);
        g_test_add_func("/tray-menu/raising-tunnel", test_raising_tunnel);
        g_test_add_func("/tray-menu/quitting", test_quitting);
        g_test_add_func("/tray-menu/signed-in/no-resources", test_signed_in_no_resources);
        g_test_add_func("/tray-menu/signed-in/resources", test_signed_in_resources);
        g_test_add_func("/tray-menu/signed-in/favorites-first", test_signed_in_favorites_first);
        g_test_add_func("/tray-menu/signed-in/grouping-threshold", test_grouping_threshold);
        g_test_add_func("/tray-menu/update-in-place", test_update_in_place);
        g_test_add_func("/tunnel-state/bad-resources-skipped", test_bad_resources_skipped);
        g_test_add_func("/tunnel-state/unknown-state", test_unknown_state);
        return g_test_run();
}
