#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KILN_DEFAULT_AUTH_URL  "https://app.firezone.dev"
#define KILN_DEFAULT_API_URL   "wss://api.firezone.dev/"
#define KILN_DEFAULT_LOG_LEVEL "info"

#define KILN_TYPE_SETTINGS     (kiln_settings_get_type())
G_DECLARE_FINAL_TYPE(KilnSettings, kiln_settings, KILN, SETTINGS, GObject)

/* The user's settings, a GKeyFile at @path (normally ~/.config/kiln/settings.ini).
 * Properties: account-slug, auth-url, api-url, log-level, start-on-login,
 * connect-on-start, internet-resource-enabled, favorites (strv). */
KilnSettings *kiln_settings_new(const char *path);
/* Reads the file; a missing file means defaults, an unreadable one is reported. */
gboolean kiln_settings_load(KilnSettings *self, GError **error);
/* Writes the file atomically (mode 0600) and the autostart entry. */
gboolean kiln_settings_save(KilnSettings *self, GError **error);

const char *kiln_settings_get_account_slug(KilnSettings *self);
const char *kiln_settings_get_auth_url(KilnSettings *self);
const char *kiln_settings_get_api_url(KilnSettings *self);
const char *kiln_settings_get_log_level(KilnSettings *self);
gboolean kiln_settings_get_start_on_login(KilnSettings *self);
gboolean kiln_settings_get_connect_on_start(KilnSettings *self);
gboolean kiln_settings_get_internet_resource_enabled(KilnSettings *self);
gboolean kiln_settings_is_favorite(KilnSettings *self, const char *resource_id);
const char *const *kiln_settings_get_favorites(KilnSettings *self);
void kiln_settings_set_favorite(KilnSettings *self, const char *resource_id, gboolean favorite);

/* Validators: NULL when @value is acceptable, else a translated sentence for the inline
 * error.  The slug may be empty (no slug in the sign-in URL). */
const char *kiln_settings_check_account_slug(const char *value);
const char *kiln_settings_check_auth_url(const char *value);
const char *kiln_settings_check_api_url(const char *value);
const char *kiln_settings_check_log_level(const char *value);

/* ~/.config/autostart/dev.kiln.Kiln.desktop; written or removed by save(). */
char *kiln_settings_autostart_path(void);

G_END_DECLS
