/* Settings: validation, the key file round trip, the XDG autostart entry. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tests/app/kiln/test-tmpdir.h"
#include "app/kiln/kiln-settings.h"

static void test_validators(void)
{
        g_assert_null(kiln_settings_check_account_slug(""));
        g_assert_null(kiln_settings_check_account_slug("acme-corp_2"));
        g_assert_nonnull(kiln_settings_check_account_slug("acme corp"));
        g_assert_nonnull(kiln_settings_check_account_slug("acme/../x"));
        g_autofree char *long_slug = g_strnfill(101, 'a');
        g_assert_nonnull(kiln_settings_check_account_slug(long_slug));

        g_assert_null(kiln_settings_check_auth_url("https://app.firezone.dev"));
        g_assert_null(kiln_settings_check_auth_url("http://127.0.0.1:4000/"));
        g_assert_nonnull(kiln_settings_check_auth_url(""));
        g_assert_nonnull(kiln_settings_check_auth_url("app.firezone.dev"));
        g_assert_nonnull(kiln_settings_check_auth_url("wss://api.firezone.dev/"));
        g_assert_nonnull(kiln_settings_check_auth_url("https://"));
        g_assert_nonnull(kiln_settings_check_auth_url("https://user:pw@app.firezone.dev"));
        g_assert_nonnull(kiln_settings_check_auth_url("https://app.firezone.dev/?x=1"));
        g_assert_nonnull(kiln_settings_check_auth_url("javascript:alert(1)"));

        g_assert_null(kiln_settings_check_api_url("wss://api.firezone.dev/"));
        g_assert_null(kiln_settings_check_api_url("ws://127.0.0.1:8081"));
        g_assert_nonnull(kiln_settings_check_api_url("ftp://api.firezone.dev/"));
        g_assert_nonnull(kiln_settings_check_api_url("wss://api.firezone.dev/#x"));

        g_assert_null(kiln_settings_check_log_level("debug"));
        g_assert_nonnull(kiln_settings_check_log_level("verbose"));
        g_assert_nonnull(kiln_settings_check_log_level(""));
}

static void test_round_trip_and_autostart(void)
{
        g_autofree char *path = g_build_filename(g_get_user_config_dir(), "kiln", "settings.ini", NULL);
        g_autofree char *autostart = kiln_settings_autostart_path();
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnSettings) s = kiln_settings_new(path);

        g_assert_true(kiln_settings_load(s, &error)); /* no file yet: defaults */
        g_assert_cmpstr(kiln_settings_get_auth_url(s), ==, KILN_DEFAULT_AUTH_URL);
        g_assert_true(kiln_settings_get_connect_on_start(s));

        g_object_set(s, "account-slug", "acme", "auth-url", "http://127.0.0.1:4000", "log-level", "debug",
                     "start-on-login", TRUE, "connect-on-start", FALSE, NULL);
        /* Invalid values never reach the object. */
        g_object_set(s, "api-url", "not a url", "log-level", "loud", NULL);
        kiln_settings_set_favorite(s, "r1", TRUE);
        kiln_settings_set_favorite(s, "r2", TRUE);
        kiln_settings_set_favorite(s, "r1", FALSE);
        g_assert_true(kiln_settings_save(s, &error));
        g_assert_no_error(error);
        {
                struct stat st;

                /* the user's own: account, portal URLs, favorites */
                g_assert_cmpint(g_stat(path, &st), ==, 0);
                g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
        }
        g_assert_true(g_file_test(autostart, G_FILE_TEST_IS_REGULAR));
        g_autofree char *entry = NULL;
        g_assert_true(g_file_get_contents(autostart, &entry, NULL, NULL));
        g_assert_nonnull(strstr(entry, "\nExec=/"));
        g_assert_nonnull(strstr(entry, "/kiln --background\n"));

        g_autoptr(KilnSettings) back = kiln_settings_new(path);
        g_assert_true(kiln_settings_load(back, &error));
        g_assert_cmpstr(kiln_settings_get_account_slug(back), ==, "acme");
        g_assert_cmpstr(kiln_settings_get_auth_url(back), ==, "http://127.0.0.1:4000");
        g_assert_cmpstr(kiln_settings_get_api_url(back), ==, KILN_DEFAULT_API_URL);
        g_assert_cmpstr(kiln_settings_get_log_level(back), ==, "debug");
        g_assert_true(kiln_settings_get_start_on_login(back));
        g_assert_false(kiln_settings_get_connect_on_start(back));
        g_assert_false(kiln_settings_is_favorite(back, "r1"));
        g_assert_true(kiln_settings_is_favorite(back, "r2"));

        g_object_set(back, "start-on-login", FALSE, NULL);
        g_assert_true(kiln_settings_save(back, &error));
        g_assert_false(g_file_test(autostart, G_FILE_TEST_EXISTS));
}

/* With the package's /etc/xdg/autostart entry, the user's switch overrides it by name. */
static void test_system_autostart_override(void)
{
        const char *system_dir = g_get_system_config_dirs()[0];
        g_autofree char *system_entry =
            g_build_filename(system_dir, "autostart", "dev.kiln.Kiln.desktop", NULL);
        g_autofree char *path = g_build_filename(g_get_user_config_dir(), "kiln", "system.ini", NULL);
        g_autofree char *user_entry = kiln_settings_autostart_path();
        g_autoptr(GError) error = NULL;
        g_autofree char *contents = NULL;

        g_autofree char *system_autostart_dir = g_path_get_dirname(system_entry);
        g_assert_cmpint(g_mkdir_with_parents(system_autostart_dir, 0700), ==, 0);
        g_assert_true(g_file_set_contents(system_entry,
                                          "[Desktop Entry]\nType=Application\nName=Kiln\n"
                                          "Exec=kiln --background\n",
                                          -1, NULL));

        /* Never chosen: the switch shows what the system entry will do. */
        g_autoptr(KilnSettings) s = kiln_settings_new(path);
        g_assert_true(kiln_settings_load(s, &error));
        g_assert_true(kiln_settings_get_start_on_login(s));

        g_object_set(s, "start-on-login", FALSE, NULL);
        g_assert_true(kiln_settings_save(s, &error));
        g_assert_no_error(error);
        g_assert_true(g_file_get_contents(user_entry, &contents, NULL, NULL));
        g_assert_nonnull(strstr(contents, "\nHidden=true\n"));

        g_autoptr(KilnSettings) back = kiln_settings_new(path);
        g_assert_true(kiln_settings_load(back, &error));
        g_assert_false(kiln_settings_get_start_on_login(back));

        g_object_set(back, "start-on-login", TRUE, NULL);
        g_assert_true(kiln_settings_save(back, &error));
        g_assert_false(g_file_test(user_entry, G_FILE_TEST_EXISTS));

        g_assert_cmpint(g_unlink(system_entry), ==, 0);
}

static void test_bad_file_keeps_defaults(void)
{
        g_autofree char *path = g_build_filename(g_get_user_config_dir(), "bad.ini", NULL);
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(g_mkdir_with_parents(g_get_user_config_dir(), 0700), ==, 0);
        g_assert_true(g_file_set_contents(
            path, "[kiln]\nauth-url=ftp://x\nlog-level=loud\nconnect-on-start=maybe\n", -1, NULL));
        g_autoptr(KilnSettings) s = kiln_settings_new(path);
        g_assert_true(kiln_settings_load(s, &error));
        g_assert_cmpstr(kiln_settings_get_auth_url(s), ==, KILN_DEFAULT_AUTH_URL);
        g_assert_cmpstr(kiln_settings_get_log_level(s), ==, KILN_DEFAULT_LOG_LEVEL);
        g_assert_true(kiln_settings_get_connect_on_start(s));

        g_assert_true(g_file_set_contents(path, "not a key file", -1, NULL));
        g_assert_false(kiln_settings_load(s, &error));
        g_assert_nonnull(error);
}

int main(int argc, char **argv)
{
        /* A private config and cache (G_TEST_OPTION_ISOLATE_DIRS leaks in GLib 2.74). */
        g_autofree char *home = g_dir_make_tmp("kiln-test-XXXXXX", NULL);
        g_autofree char *config = g_build_filename(home, "config", NULL);
        g_autofree char *cache = g_build_filename(home, "cache", NULL);
        g_setenv("XDG_CONFIG_HOME", config, TRUE);
        g_setenv("XDG_CACHE_HOME", cache, TRUE);
        /* Where the package's autostart entry would be (/etc/xdg), empty until a test fills it. */
        g_autofree char *system_config = g_build_filename(home, "xdg", NULL);
        g_setenv("XDG_CONFIG_DIRS", system_config, TRUE);
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/settings/validators", test_validators);
        g_test_add_func("/settings/round-trip-and-autostart", test_round_trip_and_autostart);
        g_test_add_func("/settings/system-autostart-override", test_system_autostart_override);
        g_test_add_func("/settings/bad-file-keeps-defaults", test_bad_file_keeps_defaults);
        int rc = g_test_run();
        test_tmpdir_remove(home);
        return rc;
}
