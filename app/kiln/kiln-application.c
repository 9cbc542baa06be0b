#include "app/kiln/kiln-application.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <string.h>

#include "app/kiln/kiln-deep-link.h"
#include "app/kiln/kiln-diagnostics-window.h"
#include "app/kiln/kiln-log-export.h"
#include "app/kiln/kiln-preferences-window.h"
#include "app/kiln/kiln-sign-in.h"
#include "app/kiln/kiln-token-store.h"
#include "app/kiln/kiln-tray-host.h"
#include "app/kiln/kiln-window.h"

/* Quit waits this long for kilnd to confirm SignOut. */
#define QUIT_TIMEOUT_S 5
/* kilnd's limit for SignIn's actor-name option. */
#define MAX_ACTOR_NAME 256

struct _KilnApplication {
        AdwApplication parent_instance;
        KilnSettings *settings;
        KilnTunnelState *tunnel;
        KilnSignIn *sign_in;
        KilnTrayHost *tray;
        GMenu *tray_menu;
        GSimpleActionGroup *tray_actions;
        GCancellable *cancellable;
        KilnPhase phase;
        char *notice;
        char *last_error;
        char *actor_name;
        gboolean start_hidden;
        gboolean tunnel_answered;
        gboolean signing_in;
        gboolean quitting;
        gboolean told_no_tray;
        /* The user signed out, or a notification already said why the session ended: leaving
         * the signed-in state needs no "disconnected" notification of its own. */
        gboolean disconnect_explained;
        gboolean tried_connect_on_start;
        gboolean service_was_available;
};

G_DEFINE_FINAL_TYPE(KilnApplication, kiln_application, ADW_TYPE_APPLICATION)

enum {
        PROP_0,
        PROP_PHASE,
        N_PROPS
};
static GParamSpec *props[N_PROPS];

static void refresh(KilnApplication *self);

KilnSettings *kiln_application_get_settings(KilnApplication *self)
{
        return self->settings;
}

KilnTunnelState *kiln_application_get_tunnel(KilnApplication *self)
{
        return self->tunnel;
}

KilnPhase kiln_application_get_phase(KilnApplication *self)
{
        return self->phase;
}

const char *kiln_application_get_notice(KilnApplication *self)
{
        return self->notice;
}

static void notify_user(KilnApplication *self, const char *id, const char *title, const char *body,
                        const char *button_label, const char *button_action)
{
        g_autoptr(GNotification) n = g_notification_new(title);
        g_autoptr(GIcon) icon = g_themed_icon_new(KILN_APP_ID);
        g_notification_set_icon(n, icon);
        if (body)
                g_notification_set_body(n, body);
        g_notification_set_default_action(n, "app.show-window");
        if (button_label)
                g_notification_add_button(n, button_label, button_action);
        g_message("notification: %s: %s", title, body ? body : "");
        g_application_send_notification(G_APPLICATION(self), id, n);
}

static void set_last_error(KilnApplication *self, const char *message)
{
        g_free(self->last_error);
        self->last_error = g_strdup(message);
}

/* ---- who signed in ----
 * The portal never tells kilnd the user's name, so "Signed in as …" needs the deep link's
 * actor_name; it is kept in a file (as Firezone's actor_name.txt) for connect-on-start. */

static char *actor_name_path(void)
{
        return g_build_filename(g_get_user_state_dir(), "kiln", "actor-name", NULL);
}

static gboolean actor_name_is_valid(const char *name)
{
        if (strlen(name) > MAX_ACTOR_NAME || !g_utf8_validate(name, -1, NULL))
                return FALSE;
        for (const char *p = name; *p; p = g_utf8_next_char(p))
                if (g_unichar_iscntrl(g_utf8_get_char(p)))
                        return FALSE;
        return TRUE;
}

static void load_actor_name(KilnApplication *self)
{
        g_autofree char *path = actor_name_path();
        g_autofree char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return;
        g_strchomp(text);
        if (actor_name_is_valid(text)) {
                g_free(self->actor_name);
                self->actor_name = g_steal_pointer(&text);
        }
}

static void remember_actor_name(KilnApplication *self, const char *name)
{
        g_autofree char *path = actor_name_path();
        g_autofree char *dir = g_path_get_dirname(path);
        g_autoptr(GError) error = NULL;

        g_clear_pointer(&self->actor_name, g_free);
        if (!name || !actor_name_is_valid(name)) {
                if (name)
                        g_warning("not showing the callback's actor_name: not printable UTF-8 of at most "
                                  "%d bytes",
                                  MAX_ACTOR_NAME);
                g_unlink(path);
                return;
        }
        self->actor_name = g_strdup(name);
        if (g_mkdir_with_parents(dir, 0700) != 0 ||
            !g_file_set_contents_full(path, name, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
                g_warning("cannot save the account name: %s", error ? error->message : g_strerror(errno));
}

/* ---- windows ---- */

static GtkWindow *find_window(KilnApplication *self, GType type)
{
        for (GList *l = gtk_application_get_windows(GTK_APPLICATION(self)); l; l = l->next)
                if (G_TYPE_CHECK_INSTANCE_TYPE(l->data, type))
                        return l->data;
        return NULL;
}

static void show_main_window(KilnApplication *self)
{
        GtkWindow *window = find_window(self, KILN_TYPE_WINDOW);
        if (!window)
                window = GTK_WINDOW(kiln_window_new(self));
        gtk_window_present(window);
}

static void show_preferences(KilnApplication *self)
{
        GtkWindow *window = find_window(self, KILN_TYPE_PREFERENCES_WINDOW);
        if (!window)
                window = GTK_WINDOW(kiln_preferences_window_new(self));
        gtk_window_present(window);
}

static void show_diagnostics(KilnApplication *self)
{
        GtkWindow *window = find_window(self, KILN_TYPE_DIAGNOSTICS_WINDOW);
        if (!window)
                window = GTK_WINDOW(kiln_diagnostics_window_new(self));
        gtk_window_present(window);
}

static void show_about(KilnApplication *self)
{
        const char *developers[] = { "The Kiln developers", NULL };
        GtkWindow *parent = find_window(self, KILN_TYPE_WINDOW);
        GtkWidget *about = adw_about_window_new();

        g_object_set(about, "application-name", "Kiln", "application-icon", KILN_APP_ID, "version",
                     KILN_VERSION, "developer-name", _("The Kiln developers"), "developers", developers,
                     "license-type", GTK_LICENSE_MIT_X11, "comments",
                     _("Zero-trust access to your organization's resources, compatible with Firezone."),
                     "website", "https://www.firezone.dev/kb?utm_source=product", NULL);
        gtk_window_set_title(GTK_WINDOW(about), _("About Kiln"));
        gtk_window_set_application(GTK_WINDOW(about), GTK_APPLICATION(self));
        if (parent)
                gtk_window_set_transient_for(GTK_WINDOW(about), parent);
        gtk_window_present(GTK_WINDOW(about));
}

/* ---- kilnd calls ---- */

static void on_sign_in_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;

        /* On success the reply may come before State leaves "signed-out": stay "Connecting…"
         * (on_tunnel_changed ends it) rather than flash "Sign In" in between. */
        if (!kiln_dbus_tunnel1_call_sign_in_finish(KILN_DBUS_TUNNEL1(source), result, &error)) {
                self->signing_in = FALSE;
                g_warning("SignIn failed: %s", error->message);
                set_last_error(self, error->message);
                notify_user(self, "connection", _("Sign-in failed"), error->message, NULL, NULL);
        }
        refresh(self);
}

static void send_sign_in(KilnApplication *self, const char *token)
{
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(self->tunnel);
        g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);

        if (!proxy) {
                set_last_error(self, _("The Kiln tunnel service (kilnd) is not running."));
                refresh(self);
                return;
        }
        g_variant_builder_add(&options, "{sv}", "api-url",
                              g_variant_new_string(kiln_settings_get_api_url(self->settings)));
        g_variant_builder_add(&options, "{sv}", "account-slug",
                              g_variant_new_string(kiln_settings_get_account_slug(self->settings)));
        if (self->actor_name && *self->actor_name)
                g_variant_builder_add(&options, "{sv}", "actor-name",
                                      g_variant_new_string(self->actor_name));
        g_variant_builder_add(
            &options, "{sv}", "internet-resource-enabled",
            g_variant_new_boolean(kiln_settings_get_internet_resource_enabled(self->settings)));
        set_last_error(self, NULL);
        self->signing_in = TRUE;
        g_message("signing in to %s (account '%s')", kiln_settings_get_api_url(self->settings),
                  kiln_settings_get_account_slug(self->settings));
        kiln_dbus_tunnel1_call_sign_in(proxy, token, g_variant_builder_end(&options), self->cancellable,
                                       on_sign_in_done, g_object_ref(self));
        refresh(self);
}

static void on_sign_out_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;
        if (!kiln_dbus_tunnel1_call_sign_out_finish(KILN_DBUS_TUNNEL1(source), result, &error))
                g_warning("SignOut failed: %s", error->message);
        if (self->quitting)
                g_application_quit(G_APPLICATION(self));
}

static void on_token_cleared(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;
        if (!kiln_token_store_clear_finish(result, &error)) {
                g_autofree char *text = kiln_token_store_describe_error(error);
                g_warning("could not delete the token from the keyring: %s", error->message);
                notify_user(self, "keyring", _("Could not forget your sign-in"), text, NULL, NULL);
        }
}

static void sign_out(KilnApplication *self)
{
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(self->tunnel);

        kiln_sign_in_cancel(self->sign_in);
        self->signing_in = FALSE;
        if (self->phase == KILN_PHASE_SIGNED_IN)
                self->disconnect_explained = TRUE;
        set_last_error(self, NULL);
        if (proxy)
                kiln_dbus_tunnel1_call_sign_out(proxy, self->cancellable, on_sign_out_done,
                                                g_object_ref(self));
        kiln_token_store_clear_async(self->cancellable, on_token_cleared, g_object_ref(self));
        remember_actor_name(self, NULL);
        g_message("signed out");
        refresh(self);
}

/* ---- sign-in through the browser ---- */

static void on_browser_launched(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;
        if (!g_app_info_launch_default_for_uri_finish(result, &error)) {
                g_warning("cannot open the browser: %s", error->message);
                kiln_sign_in_cancel(self->sign_in);
                set_last_error(self, error->message);
                notify_user(self, "connection", _("Could not open your web browser"), error->message, NULL,
                            NULL);
                refresh(self);
        }
}

static void begin_sign_in(KilnApplication *self)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *url = kiln_sign_in_begin(self->sign_in, kiln_settings_get_auth_url(self->settings),
                                                  kiln_settings_get_account_slug(self->settings), &error);
        if (!url) {
                set_last_error(self, error->message);
                refresh(self);
                return;
        }
        set_last_error(self, NULL);
        g_message("opening the sign-in page at %s", kiln_settings_get_auth_url(self->settings));
        g_app_info_launch_default_for_uri_async(url, NULL, self->cancellable, on_browser_launched,
                                                g_object_ref(self));
        refresh(self);
}

typedef struct {
        KilnApplication *self;
        char *token;
} TokenSave;

static void on_token_saved(GObject *source, GAsyncResult *result, gpointer user_data)
{
        TokenSave *save = user_data;
        g_autoptr(GError) error = NULL;

        /* Without the keyring the session still works; only the next start needs a sign-in. */
        if (!kiln_token_store_save_finish(result, &error)) {
                g_autofree char *text = kiln_token_store_describe_error(error);
                g_warning("could not store the token in the keyring: %s", error->message);
                notify_user(save->self, "keyring", _("Your sign-in could not be saved"), text, NULL, NULL);
        }
        send_sign_in(save->self, save->token);
        kiln_sign_in_free_token(save->token);
        g_object_unref(save->self);
        g_free(save);
}

static void handle_deep_link(KilnApplication *self, const char *uri)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnDeepLink) link = kiln_deep_link_parse(uri, &error);
        char *token = NULL;

        if (!link) {
                g_warning("ignoring a deep link: %s", error->message);
                return;
        }
        if (!kiln_sign_in_complete(self->sign_in, link, &token, &error)) {
                g_warning("ignoring a sign-in callback: %s", error->message);
                return;
        }
        g_message("sign-in callback accepted for account '%s'", link->account_slug);
        if (!kiln_settings_check_account_slug(link->account_slug) && *link->account_slug) {
                g_autoptr(GError) save_error = NULL;
                g_object_set(self->settings, "account-slug", link->account_slug, NULL);
                if (!kiln_settings_save(self->settings, &save_error))
                        g_warning("cannot save settings: %s", save_error->message);
        }
        remember_actor_name(self, link->actor_name);
        TokenSave *save = g_new0(TokenSave, 1);
        save->self = g_object_ref(self);
        save->token = token;
        self->signing_in = TRUE;
        kiln_token_store_save_async(token, self->cancellable, on_token_saved, save);
        refresh(self);
}

static void on_token_loaded(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;
        char *token = kiln_token_store_load_finish(result, &error);

        if (error) {
                g_autofree char *text = kiln_token_store_describe_error(error);
                g_warning("cannot read the token from the keyring: %s", error->message);
                set_last_error(self, text);
                notify_user(self, "keyring", _("Kiln cannot read your sign-in"), text, NULL, NULL);
                refresh(self);
                return;
        }
        if (!token) {
                g_message("no stored sign-in; waiting for the user to sign in");
                return;
        }
        send_sign_in(self, token);
        kiln_sign_in_free_token(token);
}

/* ---- state → menu, icon, notifications ---- */

static KilnPhase compute_phase(KilnApplication *self)
{
        const char *state = kiln_tunnel_state_get_state(self->tunnel);

        if (self->quitting)
                return KILN_PHASE_QUITTING;
        if (!self->tunnel_answered)
                return KILN_PHASE_LOADING;
        if (!kiln_tunnel_state_get_service_available(self->tunnel))
                return KILN_PHASE_SERVICE_UNAVAILABLE;
        if (g_str_equal(state, "connected"))
                return KILN_PHASE_SIGNED_IN;
        if (g_str_equal(state, "raising-tunnel"))
                return KILN_PHASE_RAISING_TUNNEL;
        if (g_str_equal(state, "connecting") || self->signing_in)
                return KILN_PHASE_CONNECTING;
        if (kiln_sign_in_is_pending(self->sign_in))
                return KILN_PHASE_WAITING_FOR_BROWSER;
        return KILN_PHASE_SIGNED_OUT;
}

static const char *icon_for_phase(KilnPhase phase)
{
        switch (phase) {
        case KILN_PHASE_SIGNED_IN:
                return "dev.kiln.Kiln-connected";
        case KILN_PHASE_SIGNED_OUT:
        case KILN_PHASE_SERVICE_UNAVAILABLE:
                return "dev.kiln.Kiln-signed-out";
        default:
                return "dev.kiln.Kiln-busy";
        }
}

static void set_action_enabled(KilnApplication *self, const char *name, gboolean enabled)
{
        GAction *action = g_action_map_lookup_action(G_ACTION_MAP(self->tray_actions), name);
        g_simple_action_set_enabled(G_SIMPLE_ACTION(action), enabled);
}

static void refresh(KilnApplication *self)
{
        KilnPhase old = self->phase;
        KilnPhase phase = compute_phase(self);
        const char *notice = NULL;

        if (phase == KILN_PHASE_SERVICE_UNAVAILABLE)
                notice = kiln_tunnel_state_get_unavailable_reason(self->tunnel);
        else if (phase == KILN_PHASE_SIGNED_OUT)
                notice = self->last_error;
        g_free(self->notice);
        self->notice = g_strdup(notice);

        KilnTrayMenuInput in = {
                .phase = phase,
                .actor_name = kiln_tunnel_state_get_actor_name(self->tunnel),
                .notice = notice,
                .resources = kiln_tunnel_state_get_resources(self->tunnel),
                .favorites = kiln_settings_get_favorites(self->settings),
                .internet_resource_enabled =
                    kiln_tunnel_state_get_service_available(self->tunnel)
                        ? kiln_tunnel_state_get_internet_resource_enabled(self->tunnel)
                        : kiln_settings_get_internet_resource_enabled(self->settings),
                .admin_portal_url = kiln_settings_get_auth_url(self->settings),
        };
        g_autoptr(GMenu) fresh = kiln_tray_menu_build(&in);
        kiln_tray_menu_update(self->tray_menu, G_MENU_MODEL(fresh));

        GAction *icon = g_action_map_lookup_action(G_ACTION_MAP(self->tray_actions), "icon");
        g_simple_action_set_state(G_SIMPLE_ACTION(icon), g_variant_new_string(icon_for_phase(phase)));
        set_action_enabled(self, "sign-in",
                           phase == KILN_PHASE_SIGNED_OUT || phase == KILN_PHASE_WAITING_FOR_BROWSER);

        self->phase = phase;
        if (old == phase)
                return;
        g_message("phase %d → %d", old, phase);
        if (phase == KILN_PHASE_SIGNED_IN) {
                self->disconnect_explained = FALSE;
                notify_user(self, "connection", _("Kiln connected"),
                            _("You are now signed in and able to access resources."), NULL, NULL);
        } else if (old == KILN_PHASE_SIGNED_IN) {
                if (!self->disconnect_explained && phase != KILN_PHASE_QUITTING)
                        notify_user(self, "connection", _("Kiln disconnected"),
                                    self->last_error ? self->last_error : _("The tunnel is down."), NULL,
                                    NULL);
                self->disconnect_explained = FALSE;
        }
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PHASE]);
}

static void on_tunnel_changed(KilnTunnelState *tunnel, gpointer user_data)
{
        KilnApplication *self = user_data;
        const char *state = kiln_tunnel_state_get_state(tunnel);

        self->tunnel_answered = TRUE;
        if (!g_str_equal(state, "signed-out"))
                self->signing_in = FALSE;
        /* kilnd came back (restarted, upgraded): sign in again as at start, instead of making
         * the user restart the app (Firezone #5952). */
        if (kiln_tunnel_state_get_service_available(tunnel) != self->service_was_available) {
                self->service_was_available = kiln_tunnel_state_get_service_available(tunnel);
                if (self->service_was_available)
                        self->tried_connect_on_start = FALSE;
        }
        refresh(self);

        if (!self->tried_connect_on_start && kiln_tunnel_state_get_service_available(tunnel) &&
            g_str_equal(state, "signed-out")) {
                self->tried_connect_on_start = TRUE;
                if (kiln_settings_get_connect_on_start(self->settings))
                        kiln_token_store_load_async(self->cancellable, on_token_loaded, g_object_ref(self));
        }
}

static void on_tunnel_error(KilnTunnelState *tunnel, const char *message, gboolean requires_sign_in,
                            gpointer user_data)
{
        KilnApplication *self = user_data;

        g_warning("kilnd reported an error%s: %s", requires_sign_in ? " (sign-in required)" : "", message);
        /* An expired or revoked session is routine: say what to do, not kilnd's wording. */
        set_last_error(self, requires_sign_in
                                 ? _("Your session has ended. To access resources, sign in again.")
                                 : message);
        if (self->phase == KILN_PHASE_SIGNED_IN)
                self->disconnect_explained = TRUE;
        if (requires_sign_in) {
                kiln_token_store_clear_async(self->cancellable, on_token_cleared, g_object_ref(self));
                remember_actor_name(self, NULL);
                notify_user(self, "connection", _("Kiln disconnected"),
                            _("To access resources, sign in again."), _("Sign In"), "app.sign-in");
        } else {
                notify_user(self, "connection", _("Kiln disconnected"), message, NULL, NULL);
        }
        refresh(self);
}

static void on_resource_unreachable(KilnTunnelState *tunnel, const char *id, const char *reason,
                                    const char *message, gpointer user_data)
{
        KilnApplication *self = user_data;
        KilnResource *r = kiln_tunnel_state_find_resource(tunnel, id);
        const char *name = r ? kiln_resource_get_name(r) : id;
        const char *site = r && kiln_resource_get_site_name(r) ? kiln_resource_get_site_name(r) : "";
        g_autofree char *title = g_strdup_printf(_("Failed to connect to “%s”"), name);
        g_autofree char *body = NULL;
        g_autofree char *nid = g_strdup_printf("resource-%s", id);

        if (g_str_equal(reason, "offline"))
                body = g_strdup_printf(
                    _("All Gateways in the site “%s” are offline. Contact your administrator "
                      "to resolve this issue."),
                    site);
        else if (g_str_equal(reason, "version-mismatch"))
                body =
                    g_strdup_printf(_("Your Kiln client is incompatible with all Gateways in the site “%s”. "
                                      "Please update Kiln and contact your administrator if the issue "
                                      "persists."),
                                    site);
        else
                body = g_strdup(message);
        notify_user(self, nid, title, body, NULL, NULL);
}

static void on_tray_availability(KilnTrayHost *tray, GParamSpec *pspec, gpointer user_data)
{
        KilnApplication *self = user_data;

        if (!kiln_tray_host_get_settled(tray) || kiln_tray_host_get_available(tray) || self->told_no_tray)
                return;
        self->told_no_tray = TRUE;
        show_main_window(self);
        notify_user(self, "no-tray", _("No system tray found"),
                    _("Kiln keeps running in this window and tells you about changes with notifications. "
                      "On GNOME, the AppIndicator extension adds the Kiln icon to the top bar."),
                    NULL, NULL);
}

/* ---- actions ---- */

static void on_export_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(KilnApplication) self = user_data;
        g_autoptr(GError) error = NULL;
        if (!kiln_log_export_finish(result, &error)) {
                g_warning("log export failed: %s", error->message);
                notify_user(self, "logs", _("Failed to export logs"), error->message, NULL, NULL);
                return;
        }
        g_message("logs exported");
}

static void activate_export_logs(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        KilnApplication *self = user_data;
        g_autoptr(GFile) dest = g_file_new_for_path(g_variant_get_string(param, NULL));
        kiln_log_export_async(self->tunnel, dest, self->cancellable, on_export_done, g_object_ref(self));
}

static void activate_sign_in(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        begin_sign_in(user_data);
}

static void activate_cancel(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        sign_out(user_data);
}

static void activate_sign_out(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        sign_out(user_data);
}

static void activate_copy(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        GdkDisplay *display = gdk_display_get_default();
        const char *text = g_variant_get_string(param, NULL);
        if (!display) {
                g_warning("no display to copy to");
                return;
        }
        gdk_clipboard_set_text(gdk_display_get_clipboard(display), text);
        g_message("copied %zu characters to the clipboard", strlen(text));
}

static void activate_open_url(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        KilnApplication *self = user_data;
        const char *url = g_variant_get_string(param, NULL);
        /* Menu URLs come from the portal; only web addresses are opened. */
        if (!g_str_has_prefix(url, "https://") && !g_str_has_prefix(url, "http://")) {
                g_warning("not opening a non-web URL from the menu");
                return;
        }
        g_app_info_launch_default_for_uri_async(url, NULL, self->cancellable, NULL, NULL);
}

static void set_favorite(KilnApplication *self, const char *id, gboolean favorite)
{
        g_autoptr(GError) error = NULL;
        kiln_settings_set_favorite(self->settings, id, favorite);
        if (!kiln_settings_save(self->settings, &error))
                g_warning("cannot save settings: %s", error->message);
        refresh(self);
}

static void activate_add_favorite(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        set_favorite(user_data, g_variant_get_string(param, NULL), TRUE);
}

static void activate_remove_favorite(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        set_favorite(user_data, g_variant_get_string(param, NULL), FALSE);
}

static void on_internet_set(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GError) error = NULL;
        if (!kiln_dbus_tunnel1_call_set_internet_resource_enabled_finish(KILN_DBUS_TUNNEL1(source), result,
                                                                         &error))
                g_warning("SetInternetResourceEnabled failed: %s", error->message);
}

static void activate_set_internet(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        KilnApplication *self = user_data;
        gboolean enabled = g_variant_get_boolean(param);
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(self->tunnel);
        g_autoptr(GError) error = NULL;

        g_object_set(self->settings, "internet-resource-enabled", enabled, NULL);
        if (!kiln_settings_save(self->settings, &error))
                g_warning("cannot save settings: %s", error->message);
        if (proxy)
                kiln_dbus_tunnel1_call_set_internet_resource_enabled(proxy, enabled, self->cancellable,
                                                                     on_internet_set, NULL);
        refresh(self);
}

static void activate_show_window(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        show_main_window(user_data);
}

static void activate_settings(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        show_preferences(user_data);
}

static void activate_diagnostics(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        show_diagnostics(user_data);
}

static void activate_about(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        show_about(user_data);
}

static gboolean on_quit_timeout(gpointer user_data)
{
        g_warning("kilnd did not confirm sign-out in %d s; quitting anyway", QUIT_TIMEOUT_S);
        g_application_quit(user_data);
        return G_SOURCE_REMOVE;
}

static void activate_quit(GSimpleAction *action, GVariant *param, gpointer user_data)
{
        KilnApplication *self = user_data;
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(self->tunnel);

        if (self->quitting)
                return;
        self->quitting = TRUE;
        refresh(self);
        if (!proxy || g_str_equal(kiln_tunnel_state_get_state(self->tunnel), "signed-out")) {
                g_application_quit(G_APPLICATION(self));
                return;
        }
        /* The token stays in the keyring: quitting is not signing out. */
        kiln_dbus_tunnel1_call_sign_out(proxy, NULL, on_sign_out_done, g_object_ref(self));
        g_timeout_add_seconds(QUIT_TIMEOUT_S, on_quit_timeout, self);
}

static const GActionEntry tray_entries[] = {
        { "noop", NULL, NULL, NULL, NULL, { 0 } },
        { "sign-in", activate_sign_in, NULL, NULL, NULL, { 0 } },
        { "cancel-sign-in", activate_cancel, NULL, NULL, NULL, { 0 } },
        { "sign-out", activate_sign_out, NULL, NULL, NULL, { 0 } },
        { "copy", activate_copy, "s", NULL, NULL, { 0 } },
        { "open-url", activate_open_url, "s", NULL, NULL, { 0 } },
        { "add-favorite", activate_add_favorite, "s", NULL, NULL, { 0 } },
        { "remove-favorite", activate_remove_favorite, "s", NULL, NULL, { 0 } },
        { "set-internet-resource", activate_set_internet, "b", NULL, NULL, { 0 } },
        { "show-window", activate_show_window, NULL, NULL, NULL, { 0 } },
        { "about", activate_about, NULL, NULL, NULL, { 0 } },
        { "settings", activate_settings, NULL, NULL, NULL, { 0 } },
        { "quit", activate_quit, NULL, NULL, NULL, { 0 } },
        /* Not activatable: its state is the icon name kiln-tray shows. */
        { "icon", NULL, NULL, "'dev.kiln.Kiln-busy'", NULL, { 0 } },
};

static const GActionEntry app_only_entries[] = {
        { "diagnostics", activate_diagnostics, NULL, NULL, NULL, { 0 } },
        { "export-logs", activate_export_logs, "s", NULL, NULL, { 0 } },
};

static void setup_actions(KilnApplication *self)
{
        static const char *const shared[] = { "sign-in", "cancel-sign-in", "sign-out",
                                              "copy",    "open-url",       "show-window",
                                              "about",   "settings",       "quit",
                                              NULL };
        self->tray_actions = g_simple_action_group_new();
        g_action_map_add_action_entries(G_ACTION_MAP(self->tray_actions), tray_entries,
                                        G_N_ELEMENTS(tray_entries), self);
        set_action_enabled(self, "noop", FALSE);
        set_action_enabled(self, "icon", FALSE);
        for (const char *const *name = shared; *name; name++)
                g_action_map_add_action(G_ACTION_MAP(self),
                                        g_action_map_lookup_action(G_ACTION_MAP(self->tray_actions), *name));
        g_action_map_add_action_entries(G_ACTION_MAP(self), app_only_entries, G_N_ELEMENTS(app_only_entries),
                                        self);
}

/* ---- GApplication ---- */

static gboolean trim_heap(gpointer user_data)
{
        malloc_trim(0);
        return G_SOURCE_REMOVE;
}

/* Kiln lives in the tray for days: once the last window is gone, give the heap that its widgets
 * used back to the system instead of keeping it in glibc's free lists. */
static void kiln_application_window_removed(GtkApplication *app, GtkWindow *window)
{
        GTK_APPLICATION_CLASS(kiln_application_parent_class)->window_removed(app, window);
        if (!gtk_application_get_windows(app))
                g_timeout_add_seconds_full(G_PRIORITY_LOW, 1, trim_heap, NULL, NULL);
}

static void kiln_application_startup(GApplication *app)
{
        KilnApplication *self = KILN_APPLICATION(app);
        g_autoptr(GError) error = NULL;
        g_autofree char *settings_path =
            g_build_filename(g_get_user_config_dir(), "kiln", "settings.ini", NULL);

        G_APPLICATION_CLASS(kiln_application_parent_class)->startup(app);
        g_message("kiln %s starting", KILN_VERSION);

        load_actor_name(self);
        self->settings = kiln_settings_new(settings_path);
        if (!kiln_settings_load(self->settings, &error))
                g_warning("cannot read settings, using defaults: %s", error->message);
        g_clear_error(&error);

        static const char *const close_accels[] = { "<Control>w", NULL };
        static const char *const quit_accels[] = { "<Control>q", NULL };
        gtk_application_set_accels_for_action(GTK_APPLICATION(app), "window.close", close_accels);
        gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);

        self->cancellable = g_cancellable_new();
        self->sign_in = kiln_sign_in_new();
        self->tray_menu = g_menu_new();
        setup_actions(self);

        self->tunnel = kiln_tunnel_state_new();
        g_signal_connect_object(self->tunnel, "changed", G_CALLBACK(on_tunnel_changed), self, 0);
        g_signal_connect_object(self->tunnel, "error", G_CALLBACK(on_tunnel_error), self, 0);
        g_signal_connect_object(self->tunnel, "resource-unreachable", G_CALLBACK(on_resource_unreachable),
                                self, 0);
        refresh(self);

        self->tray =
            kiln_tray_host_new(g_application_get_dbus_connection(app), G_MENU_MODEL(self->tray_menu),
                               G_ACTION_GROUP(self->tray_actions), &error);
        if (self->tray) {
                g_signal_connect_object(self->tray, "notify::available", G_CALLBACK(on_tray_availability),
                                        self, 0);
                g_signal_connect_object(self->tray, "notify::settled", G_CALLBACK(on_tray_availability),
                                        self, 0);
        } else {
                g_warning("cannot export the tray menu: %s", error->message);
        }
        kiln_tunnel_state_connect(self->tunnel);
        /* The app lives in the tray: closing the last window does not quit it. */
        g_application_hold(app);
}

static void kiln_application_shutdown(GApplication *app)
{
        KilnApplication *self = KILN_APPLICATION(app);
        if (self->tray)
                kiln_tray_host_stop(self->tray);
        g_cancellable_cancel(self->cancellable);
        G_APPLICATION_CLASS(kiln_application_parent_class)->shutdown(app);
}

static void kiln_application_activate(GApplication *app)
{
        KilnApplication *self = KILN_APPLICATION(app);
        if (self->start_hidden) {
                self->start_hidden = FALSE;
                return;
        }
        show_main_window(self);
}

static void kiln_application_open(GApplication *app, GFile **files, int n_files, const char *hint)
{
        KilnApplication *self = KILN_APPLICATION(app);
        for (int i = 0; i < n_files; i++) {
                g_autofree char *uri = g_file_get_uri(files[i]);
                handle_deep_link(self, uri);
        }
        self->start_hidden = FALSE;
}

static int kiln_application_handle_local_options(GApplication *app, GVariantDict *options)
{
        KilnApplication *self = KILN_APPLICATION(app);
        g_autoptr(GError) error = NULL;

        if (!g_variant_dict_contains(options, "background"))
                return -1;
        if (!g_application_register(app, NULL, &error)) {
                g_printerr("kiln: %s\n", error->message);
                return 1;
        }
        /* An instance already runs in the background: starting another changes nothing. */
        if (g_application_get_is_remote(app))
                return 0;
        self->start_hidden = TRUE;
        return -1;
}

static void kiln_application_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
        KilnApplication *self = KILN_APPLICATION(object);
        switch (id) {
        case PROP_PHASE:
                g_value_set_int(value, self->phase);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        }
}

static void kiln_application_dispose(GObject *object)
{
        KilnApplication *self = KILN_APPLICATION(object);
        g_clear_object(&self->tray);
        g_clear_object(&self->tunnel);
        g_clear_object(&self->settings);
        g_clear_object(&self->sign_in);
        g_clear_object(&self->tray_menu);
        g_clear_object(&self->tray_actions);
        g_clear_object(&self->cancellable);
        G_OBJECT_CLASS(kiln_application_parent_class)->dispose(object);
}

static void kiln_application_finalize(GObject *object)
{
        KilnApplication *self = KILN_APPLICATION(object);
        g_free(self->notice);
        g_free(self->last_error);
        g_free(self->actor_name);
        G_OBJECT_CLASS(kiln_application_parent_class)->finalize(object);
}

static void kiln_application_class_init(KilnApplicationClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

        object_class->get_property = kiln_application_get_property;
        object_class->dispose = kiln_application_dispose;
        object_class->finalize = kiln_application_finalize;
        app_class->startup = kiln_application_startup;
        app_class->shutdown = kiln_application_shutdown;
        app_class->activate = kiln_application_activate;
        app_class->open = kiln_application_open;
        app_class->handle_local_options = kiln_application_handle_local_options;
        GTK_APPLICATION_CLASS(klass)->window_removed = kiln_application_window_removed;

        props[PROP_PHASE] = g_param_spec_int(
            "phase", NULL, NULL, KILN_PHASE_LOADING, KILN_PHASE_QUITTING, KILN_PHASE_LOADING,
            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
        g_object_class_install_properties(object_class, N_PROPS, props);
}

static void kiln_application_init(KilnApplication *self)
{
        static const GOptionEntry entries[] = {
                { "background", 0, 0, G_OPTION_ARG_NONE, NULL,
                  N_("Start in the tray without opening a window"), NULL },
                { NULL, 0, 0, 0, NULL, NULL, NULL },
        };
        g_application_add_main_option_entries(G_APPLICATION(self), entries);
        self->phase = KILN_PHASE_LOADING;
}

KilnApplication *kiln_application_new(void)
{
        return g_object_new(KILN_TYPE_APPLICATION, "application-id", KILN_APP_ID, "flags",
                            G_APPLICATION_HANDLES_OPEN, "resource-base-path", "/dev/kiln/Kiln", NULL);
}
