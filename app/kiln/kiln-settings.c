#include "app/kiln/kiln-settings.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#define GROUP        "kiln"
#define MAX_URL_LEN  2048
#define MAX_SLUG_LEN 100

struct _KilnSettings {
        GObject parent_instance;
        char *path;
        char *account_slug;
        char *auth_url;
        char *api_url;
        char *log_level;
        gboolean start_on_login;
        gboolean connect_on_start;
        gboolean internet_resource_enabled;
        GStrv favorites;
};

G_DEFINE_FINAL_TYPE(KilnSettings, kiln_settings, G_TYPE_OBJECT)

enum {
        PROP_0,
        PROP_ACCOUNT_SLUG,
        PROP_AUTH_URL,
        PROP_API_URL,
        PROP_LOG_LEVEL,
        PROP_START_ON_LOGIN,
        PROP_CONNECT_ON_START,
        PROP_INTERNET_RESOURCE_ENABLED,
        PROP_FAVORITES,
        N_PROPS
};
static GParamSpec *props[N_PROPS];

static const char *const log_levels[] = { "error", "warn", "info", "debug", "trace", NULL };

const char *kiln_settings_check_account_slug(const char *value)
{
        size_t n = strlen(value);
        if (n > MAX_SLUG_LEN)
                return _("The account slug is too long.");
        for (size_t i = 0; i < n; i++)
                if (!g_ascii_isalnum(value[i]) && value[i] != '-' && value[i] != '_')
                        return _("Use only letters, digits, “-” and “_” in the account slug.");
        return NULL;
}

static const char *check_url(const char *value, const char *const *schemes, const char *scheme_error)
{
        if (!*value)
                return _("This field is required.");
        if (strlen(value) > MAX_URL_LEN)
                return _("The address is too long.");
        g_autoptr(GUri) uri = g_uri_parse(value, G_URI_FLAGS_NONE, NULL);
        if (!uri || !g_uri_get_host(uri) || !*g_uri_get_host(uri))
                return _("Enter a complete address such as https://example.com.");
        if (!g_strv_contains(schemes, g_uri_get_scheme(uri)))
                return scheme_error;
        if (g_uri_get_userinfo(uri) || g_uri_get_query(uri) || g_uri_get_fragment(uri))
                return _("The address must not contain a user name, query or fragment.");
        return NULL;
}

const char *kiln_settings_check_auth_url(const char *value)
{
        static const char *const schemes[] = { "https", "http", NULL };
        return check_url(value, schemes, _("The sign-in address must start with https:// or http://."));
}

const char *kiln_settings_check_api_url(const char *value)
{
        static const char *const schemes[] = { "wss", "ws", "https", "http", NULL };
        return check_url(value, schemes,
                         _("The API address must start with wss://, ws://, https:// or http://."));
}

const char *kiln_settings_check_log_level(const char *value)
{
        if (!g_strv_contains(log_levels, value))
                return _("Choose one of error, warn, info, debug or trace.");
        return NULL;
}

char *kiln_settings_autostart_path(void)
{
        return g_build_filename(g_get_user_config_dir(), "autostart", "dev.kiln.Kiln.desktop", NULL);
}

static void set_string(char **slot, const char *value)
{
        g_free(*slot);
        *slot = g_strdup(value);
}

static void kiln_settings_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
        KilnSettings *self = KILN_SETTINGS(object);
        switch (id) {
        case PROP_ACCOUNT_SLUG:
                g_value_set_string(value, self->account_slug);
                break;
        case PROP_AUTH_URL:
                g_value_set_string(value, self->auth_url);
                break;
        case PROP_API_URL:
                g_value_set_string(value, self->api_url);
                break;
        case PROP_LOG_LEVEL:
                g_value_set_string(value, self->log_level);
                break;
        case PROP_START_ON_LOGIN:
                g_value_set_boolean(value, self->start_on_login);
                break;
        case PROP_CONNECT_ON_START:
                g_value_set_boolean(value, self->connect_on_start);
                break;
        case PROP_INTERNET_RESOURCE_ENABLED:
                g_value_set_boolean(value, self->internet_resource_enabled);
                break;
        case PROP_FAVORITES:
                g_value_set_boxed(value, self->favorites);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        }
}

/* Setters accept only valid values: the windows validate before they set, and a
 * hand-edited file with a bad value keeps the default. */
static void kiln_settings_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
        KilnSettings *self = KILN_SETTINGS(object);
        const char *s = G_VALUE_HOLDS_STRING(value) ? g_value_get_string(value) : NULL;
        switch (id) {
        case PROP_ACCOUNT_SLUG:
                if (s && !kiln_settings_check_account_slug(s))
                        set_string(&self->account_slug, s);
                break;
        case PROP_AUTH_URL:
                if (s && !kiln_settings_check_auth_url(s))
                        set_string(&self->auth_url, s);
                break;
        case PROP_API_URL:
                if (s && !kiln_settings_check_api_url(s))
                        set_string(&self->api_url, s);
                break;
        case PROP_LOG_LEVEL:
                if (s && !kiln_settings_check_log_level(s))
                        set_string(&self->log_level, s);
                break;
        case PROP_START_ON_LOGIN:
                self->start_on_login = g_value_get_boolean(value);
                break;
        case PROP_CONNECT_ON_START:
                self->connect_on_start = g_value_get_boolean(value);
                break;
        case PROP_INTERNET_RESOURCE_ENABLED:
                self->internet_resource_enabled = g_value_get_boolean(value);
                break;
        case PROP_FAVORITES:
                g_strfreev(self->favorites);
                self->favorites = g_value_dup_boxed(value);
                if (!self->favorites)
                        self->favorites = g_new0(char *, 1);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
                return;
        }
        g_object_notify_by_pspec(object, pspec);
}

static void kiln_settings_finalize(GObject *object)
{
        KilnSettings *self = KILN_SETTINGS(object);
        g_free(self->path);
        g_free(self->account_slug);
        g_free(self->auth_url);
        g_free(self->api_url);
        g_free(self->log_level);
        g_strfreev(self->favorites);
        G_OBJECT_CLASS(kiln_settings_parent_class)->finalize(object);
}

static void kiln_settings_class_init(KilnSettingsClass *klass)
{
        GObjectClass *object_class = G_OBJECT_CLASS(klass);
        GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

        object_class->get_property = kiln_settings_get_property;
        object_class->set_property = kiln_settings_set_property;
        object_class->finalize = kiln_settings_finalize;

        props[PROP_ACCOUNT_SLUG] = g_param_spec_string("account-slug", NULL, NULL, "", flags);
        props[PROP_AUTH_URL] = g_param_spec_string("auth-url", NULL, NULL, KILN_DEFAULT_AUTH_URL, flags);
        props[PROP_API_URL] = g_param_spec_string("api-url", NULL, NULL, KILN_DEFAULT_API_URL, flags);
        props[PROP_LOG_LEVEL] = g_param_spec_string("log-level", NULL, NULL, KILN_DEFAULT_LOG_LEVEL, flags);
        props[PROP_START_ON_LOGIN] = g_param_spec_boolean("start-on-login", NULL, NULL, FALSE, flags);
        props[PROP_CONNECT_ON_START] = g_param_spec_boolean("connect-on-start", NULL, NULL, TRUE, flags);
        props[PROP_INTERNET_RESOURCE_ENABLED] =
            g_param_spec_boolean("internet-resource-enabled", NULL, NULL, FALSE, flags);
        props[PROP_FAVORITES] = g_param_spec_boxed("favorites", NULL, NULL, G_TYPE_STRV, flags);
        g_object_class_install_properties(object_class, N_PROPS, props);
}

static void kiln_settings_init(KilnSettings *self)
{
        self->account_slug = g_strdup("");
        self->auth_url = g_strdup(KILN_DEFAULT_AUTH_URL);
        self->api_url = g_strdup(KILN_DEFAULT_API_URL);
        self->log_level = g_strdup(KILN_DEFAULT_LOG_LEVEL);
        self->connect_on_start = TRUE;
        self->favorites = g_new0(char *, 1);
}

KilnSettings *kiln_settings_new(const char *path)
{
        KilnSettings *self = g_object_new(KILN_TYPE_SETTINGS, NULL);
        self->path = g_strdup(path);
        return self;
}

/*
 * The entry the package installs for every user (/etc/xdg/autostart), looked up the way a
 * desktop session does, through $XDG_CONFIG_DIRS.  NULL for a build that installed none.
 */
static char *find_system_autostart(void)
{
        for (const char *const *dir = g_get_system_config_dirs(); *dir; dir++) {
                g_autofree char *path = g_build_filename(*dir, "autostart", "dev.kiln.Kiln.desktop", NULL);
                if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
                        return g_steal_pointer(&path);
        }
        return NULL;
}

static gboolean ensure_parent_dir(const char *path, GError **error)
{
        g_autofree char *dir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(dir, 0700) < 0) {
                int err = errno;
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", dir,
                            g_strerror(err));
                return FALSE;
        }
        return TRUE;
}

static void load_string(KilnSettings *self, GKeyFile *kf, const char *key, guint prop)
{
        g_autofree char *v = g_key_file_get_string(kf, GROUP, key, NULL);
        if (v)
                g_object_set(self, g_param_spec_get_name(props[prop]), v, NULL);
}

static void load_bool(KilnSettings *self, GKeyFile *kf, const char *key, guint prop)
{
        g_autoptr(GError) error = NULL;
        gboolean v = g_key_file_get_boolean(kf, GROUP, key, &error);
        if (!error)
                g_object_set(self, g_param_spec_get_name(props[prop]), v, NULL);
}

gboolean kiln_settings_load(KilnSettings *self, GError **error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) local = NULL;

        g_return_val_if_fail(KILN_IS_SETTINGS(self), FALSE);
        /* Until the user chooses, "Start on login" shows what will happen: the package's
         * system-wide entry starts Kiln, a build without one does not. */
        g_autofree char *system_entry = find_system_autostart();
        g_object_set(self, "start-on-login", system_entry != NULL, NULL);

        if (!g_key_file_load_from_file(kf, self->path, G_KEY_FILE_NONE, &local)) {
                if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return TRUE;
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        g_object_freeze_notify(G_OBJECT(self));
        load_string(self, kf, "account-slug", PROP_ACCOUNT_SLUG);
        load_string(self, kf, "auth-url", PROP_AUTH_URL);
        load_string(self, kf, "api-url", PROP_API_URL);
        load_string(self, kf, "log-level", PROP_LOG_LEVEL);
        load_bool(self, kf, "start-on-login", PROP_START_ON_LOGIN);
        load_bool(self, kf, "connect-on-start", PROP_CONNECT_ON_START);
        load_bool(self, kf, "internet-resource-enabled", PROP_INTERNET_RESOURCE_ENABLED);
        g_auto(GStrv) favorites = g_key_file_get_string_list(kf, GROUP, "favorites", NULL, NULL);
        if (favorites)
                g_object_set(self, "favorites", favorites, NULL);
        for (guint i = 1; i < N_PROPS; i++)
                g_object_notify_by_pspec(G_OBJECT(self), props[i]);
        g_object_thaw_notify(G_OBJECT(self));
        return TRUE;
}

/*
 * "Start on login" follows the XDG autostart rules: a user entry with the same name as the
 * system one replaces it.  With the package's system entry, turning it off writes a Hidden=true
 * entry and turning it on removes that; without one (a development build, the Flatpak) the
 * user's own entry is written or removed.
 */
static gboolean write_autostart(gboolean enabled, GError **error)
{
        g_autofree char *path = kiln_settings_autostart_path();
        g_autofree char *system_entry = find_system_autostart();

        if (system_entry && !enabled) {
                if (!ensure_parent_dir(path, error))
                        return FALSE;
                return g_file_set_contents_full(path,
                                                "[Desktop Entry]\n"
                                                "Type=Application\n"
                                                "Name=Kiln\n"
                                                "Hidden=true\n",
                                                -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
        }
        if (system_entry || !enabled) {
                if (g_unlink(path) < 0 && errno != ENOENT) {
                        int err = errno;
                        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                                    g_strerror(err));
                        return FALSE;
                }
                return TRUE;
        }
        if (!ensure_parent_dir(path, error))
                return FALSE;
        g_autofree char *entry =
            g_strdup_printf("[Desktop Entry]\n"
                            "Type=Application\n"
                            "Name=Kiln\n"
                            "Comment=Zero-trust access to your organization's resources\n"
                            "Exec=%s/kiln --background\n"
                            "Icon=dev.kiln.Kiln\n"
                            "Terminal=false\n"
                            "X-GNOME-Autostart-enabled=true\n",
                            KILN_BINDIR);
        return g_file_set_contents_full(path, entry, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
}

gboolean kiln_settings_save(KilnSettings *self, GError **error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();

        g_return_val_if_fail(KILN_IS_SETTINGS(self), FALSE);
        g_key_file_set_string(kf, GROUP, "account-slug", self->account_slug);
        g_key_file_set_string(kf, GROUP, "auth-url", self->auth_url);
        g_key_file_set_string(kf, GROUP, "api-url", self->api_url);
        g_key_file_set_string(kf, GROUP, "log-level", self->log_level);
        g_key_file_set_boolean(kf, GROUP, "start-on-login", self->start_on_login);
        g_key_file_set_boolean(kf, GROUP, "connect-on-start", self->connect_on_start);
        g_key_file_set_boolean(kf, GROUP, "internet-resource-enabled", self->internet_resource_enabled);
        g_key_file_set_string_list(kf, GROUP, "favorites", (const char *const *)self->favorites,
                                   g_strv_length(self->favorites));

        if (!ensure_parent_dir(self->path, error))
                return FALSE;
        gsize len = 0;
        g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
        if (!g_file_set_contents_full(self->path, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                      error))
                return FALSE;
        return write_autostart(self->start_on_login, error);
}

const char *kiln_settings_get_account_slug(KilnSettings *self)
{
        return self->account_slug;
}

const char *kiln_settings_get_auth_url(KilnSettings *self)
{
        return self->auth_url;
}

const char *kiln_settings_get_api_url(KilnSettings *self)
{
        return self->api_url;
}

const char *kiln_settings_get_log_level(KilnSettings *self)
{
        return self->log_level;
}

gboolean kiln_settings_get_start_on_login(KilnSettings *self)
{
        return self->start_on_login;
}

gboolean kiln_settings_get_connect_on_start(KilnSettings *self)
{
        return self->connect_on_start;
}

gboolean kiln_settings_get_internet_resource_enabled(KilnSettings *self)
{
        return self->internet_resource_enabled;
}

const char *const *kiln_settings_get_favorites(KilnSettings *self)
{
        return (const char *const *)self->favorites;
}

gboolean kiln_settings_is_favorite(KilnSettings *self, const char *resource_id)
{
        return g_strv_contains((const char *const *)self->favorites, resource_id);
}

void kiln_settings_set_favorite(KilnSettings *self, const char *resource_id, gboolean favorite)
{
        if (kiln_settings_is_favorite(self, resource_id) == !!favorite)
                return;
        g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
        for (char **f = self->favorites; *f; f++)
                if (strcmp(*f, resource_id) != 0)
                        g_strv_builder_add(builder, *f);
        if (favorite)
                g_strv_builder_add(builder, resource_id);
        g_strfreev(self->favorites);
        self->favorites = g_strv_builder_end(builder);
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_FAVORITES]);
}
