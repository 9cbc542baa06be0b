#include "app/kiln/kiln-window.h"

#include <glib/gi18n.h>
#include <string.h>

#include "app/kiln/kiln-resource.h"

struct _KilnWindow {
        AdwApplicationWindow parent_instance;
        AdwStatusPage *status_page;
        GtkButton *sign_in_button;
        GtkButton *sign_out_button;
        GtkSpinner *spinner;
        GtkBox *resources_box;
        GtkSearchEntry *search_entry;
        GtkListBox *resource_list;
        GtkLabel *footnote;
        GtkCustomFilter *filter;
        KilnApplication *app;
};

G_DEFINE_FINAL_TYPE(KilnWindow, kiln_window, ADW_TYPE_APPLICATION_WINDOW)

static gboolean match_resource(gpointer item, gpointer user_data)
{
        KilnWindow *self = user_data;
        const char *query = gtk_editable_get_text(GTK_EDITABLE(self->search_entry));
        if (!*query)
                return TRUE;
        g_autofree char *needle = g_utf8_casefold(query, -1);
        g_autofree char *name = g_utf8_casefold(kiln_resource_get_name(item), -1);
        g_autofree char *address = g_utf8_casefold(kiln_resource_get_address(item), -1);
        return strstr(name, needle) || strstr(address, needle);
}

static GtkWidget *create_row(gpointer item, gpointer user_data)
{
        KilnResource *r = item;
        GtkWidget *row = adw_action_row_new();
        const char *address = kiln_resource_get_address(r);
        const char *site = kiln_resource_get_site_name(r);
        g_autofree char *subtitle = NULL;

        if (kiln_resource_get_kind(r) == KILN_RESOURCE_INTERNET)
                address = kiln_resource_get_enabled(r) ? _("All network traffic (enabled)")
                                                       : _("All network traffic (disabled)");
        if (site)
                subtitle = g_strdup_printf("%s · %s · %s", address, site,
                                           kiln_site_status_to_string(kiln_resource_get_site_status(r)));
        else
                subtitle = g_strdup(address);
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), kiln_resource_get_name(r));
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);

        if (kiln_resource_get_kind(r) != KILN_RESOURCE_INTERNET) {
                GtkWidget *copy = gtk_button_new_from_icon_name("edit-copy-symbolic");
                gtk_widget_set_valign(copy, GTK_ALIGN_CENTER);
                gtk_widget_add_css_class(copy, "flat");
                gtk_widget_set_tooltip_text(copy, _("Copy address"));
                gtk_actionable_set_action_name(GTK_ACTIONABLE(copy), "app.copy");
                gtk_actionable_set_action_target_value(GTK_ACTIONABLE(copy), g_variant_new_string(address));
                adw_action_row_add_suffix(ADW_ACTION_ROW(row), copy);
        }
        return row;
}

static void update(KilnWindow *self)
{
        KilnTunnelState *tunnel = kiln_application_get_tunnel(self->app);
        KilnPhase phase = kiln_application_get_phase(self->app);
        const char *notice = kiln_application_get_notice(self->app);
        g_autofree char *description = NULL;
        const char *title = NULL;
        gboolean busy = FALSE;

        switch (phase) {
        case KILN_PHASE_SIGNED_IN:
                title = _("Connected");
                /* Translators: first %s is the account, second the user's name. */
                description = g_markup_printf_escaped(_("You are signed in to <b>%s</b> as <b>%s</b>."),
                                                      kiln_tunnel_state_get_account_slug(tunnel),
                                                      kiln_tunnel_state_get_actor_name(tunnel));
                break;
        case KILN_PHASE_SERVICE_UNAVAILABLE:
                title = _("Kiln tunnel service is not running");
                /* The title already says "not running"; only another reason is worth repeating. */
                if (notice && g_strcmp0(notice, _("The Kiln tunnel service (kilnd) is not running.")) != 0)
                        description = g_markup_printf_escaped(
                            "%s\n%s", notice, _("Kiln connects to it as soon as it is started."));
                else
                        description = g_strdup(_("Kiln connects to it as soon as it is started."));
                break;
        case KILN_PHASE_SIGNED_OUT:
                title = _("Signed out");
                description = notice ? g_markup_escape_text(notice, -1)
                                     : g_strdup(_("Sign in to reach your organization's resources."));
                break;
        case KILN_PHASE_WAITING_FOR_BROWSER:
                title = _("Waiting for browser…");
                description = g_strdup(_("Finish signing in in your web browser."));
                busy = TRUE;
                break;
        case KILN_PHASE_CONNECTING:
                title = _("Connecting…");
                description = g_strdup("");
                busy = TRUE;
                break;
        case KILN_PHASE_RAISING_TUNNEL:
                title = _("Raising tunnel…");
                description = g_strdup("");
                busy = TRUE;
                break;
        case KILN_PHASE_QUITTING:
                title = _("Quitting…");
                description = g_strdup("");
                busy = TRUE;
                break;
        case KILN_PHASE_LOADING:
        default:
                title = _("Loading…");
                description = g_strdup("");
                busy = TRUE;
                break;
        }
        adw_status_page_set_title(self->status_page, title);
        adw_status_page_set_description(self->status_page, description);
        gtk_widget_set_visible(GTK_WIDGET(self->spinner), busy);
        gtk_spinner_set_spinning(self->spinner, busy);
        gtk_widget_set_visible(GTK_WIDGET(self->sign_in_button),
                               phase == KILN_PHASE_SIGNED_OUT || phase == KILN_PHASE_SERVICE_UNAVAILABLE);
        gtk_widget_set_visible(GTK_WIDGET(self->sign_out_button),
                               phase == KILN_PHASE_SIGNED_IN || phase == KILN_PHASE_WAITING_FOR_BROWSER ||
                                   phase == KILN_PHASE_CONNECTING || phase == KILN_PHASE_RAISING_TUNNEL);
        gtk_button_set_label(self->sign_out_button,
                             phase == KILN_PHASE_SIGNED_IN ? _("Sign Out") : _("Cancel sign-in"));
        gtk_widget_set_visible(GTK_WIDGET(self->resources_box), phase == KILN_PHASE_SIGNED_IN);
}

static void on_phase(KilnApplication *app, GParamSpec *pspec, gpointer user_data)
{
        update(user_data);
}

static void on_search_changed(GtkSearchEntry *entry, gpointer user_data)
{
        KilnWindow *self = user_data;
        gtk_filter_changed(GTK_FILTER(self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void kiln_window_dispose(GObject *object)
{
        KilnWindow *self = KILN_WINDOW(object);
        gtk_widget_dispose_template(GTK_WIDGET(self), KILN_TYPE_WINDOW);
        G_OBJECT_CLASS(kiln_window_parent_class)->dispose(object);
}

static void kiln_window_class_init(KilnWindowClass *klass)
{
        GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

        G_OBJECT_CLASS(klass)->dispose = kiln_window_dispose;
        gtk_widget_class_set_template_from_resource(widget_class, "/dev/kiln/Kiln/ui/kiln-window.ui");
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, status_page);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, sign_in_button);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, sign_out_button);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, spinner);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, resources_box);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, search_entry);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, resource_list);
        gtk_widget_class_bind_template_child(widget_class, KilnWindow, footnote);
        gtk_widget_class_bind_template_callback(widget_class, on_search_changed);
}

static void kiln_window_init(KilnWindow *self)
{
        gtk_widget_init_template(GTK_WIDGET(self));
}

KilnWindow *kiln_window_new(KilnApplication *app)
{
        KilnWindow *self = g_object_new(KILN_TYPE_WINDOW, "application", app, NULL);
        KilnTunnelState *tunnel = kiln_application_get_tunnel(app);

        self->app = app;
        self->filter = gtk_custom_filter_new(match_resource, self, NULL);
        GtkFilterListModel *filtered = gtk_filter_list_model_new(
            g_object_ref(kiln_tunnel_state_get_resources(tunnel)), GTK_FILTER(g_object_ref(self->filter)));
        gtk_list_box_bind_model(self->resource_list, G_LIST_MODEL(filtered), create_row, self, NULL);
        g_object_unref(filtered);
        g_object_unref(self->filter);
        g_signal_connect_object(app, "notify::phase", G_CALLBACK(on_phase), self, 0);
        update(self);
        return self;
}
