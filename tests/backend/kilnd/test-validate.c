/* SPDX-License-Identifier: MIT */
/* backend/kilnd/validate: every reject names its problem and writes nothing. */
#include <string.h>

#include <glib.h>

#include "ipc/kiln-tunnel-errors.h"
#include "backend/kilnd/validate.h"

static void assert_token(const char *token, gboolean ok, const char *fragment)
{
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(kiln_validate_token(token, &error), ==, ok);
        if (ok) {
                g_assert_no_error(error);
                return;
        }
        g_assert_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN);
        g_assert_nonnull(strstr(error->message, fragment));
        /* The message never quotes the token. */
        if (strlen(token) > 3)
                g_assert_null(strstr(error->message, token));
}

static void test_token(void)
{
        g_autofree char *max = g_strnfill(KILN_TOKEN_MAX, 'a');
        g_autofree char *over = g_strnfill(KILN_TOKEN_MAX + 1, 'a');

        assert_token("a", TRUE, NULL);
        assert_token("nonce.FRAGMENT-_~!#$%&'()*+,/:;<=>?@[]^`{|}", TRUE, NULL);
        assert_token(max, TRUE, NULL);
        assert_token("", FALSE, "empty");
        assert_token(over, FALSE, "longer than 4096");
        assert_token("has space", FALSE, "position 3");
        assert_token("tab\there", FALSE, "position 3");
        assert_token("del\x7f", FALSE, "position 3");
        assert_token("caf\xc3\xa9-token", FALSE, "position 3");
        assert_token("line\n", FALSE, "position 4");
}

static void assert_url(const char *url, gboolean ok, const char *fragment)
{
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(kiln_validate_url(url, &error), ==, ok);
        if (ok) {
                g_assert_no_error(error);
                return;
        }
        g_assert_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_URL);
        g_assert_nonnull(strstr(error->message, fragment));
}

static void test_url(void)
{
        g_autofree char *long_path = g_strnfill(KILN_URL_MAX, 'p');
        g_autofree char *too_long = g_strconcat("https://h/", long_path, NULL);

        assert_url("wss://api.firezone.dev/", TRUE, NULL);
        assert_url("ws://127.0.0.1:8080/client", TRUE, NULL);
        assert_url("https://[::1]:443/x?y=z", TRUE, NULL);
        assert_url("http://portal.test", TRUE, NULL);
        assert_url("ftp://example.com/", FALSE, "scheme 'ftp'");
        assert_url("file:///etc/passwd", FALSE, "scheme 'file'");
        assert_url("wss:///nohost", FALSE, "no host");
        assert_url("not a url", FALSE, "does not parse");
        assert_url("", FALSE, "does not parse");
        assert_url("https://user:pw@example.com/", FALSE, "user information");
        assert_url(too_long, FALSE, "longer than 2048");
}

static GVariant *opts(const char *text)
{
        g_autoptr(GError) error = NULL;
        GVariant *v = g_variant_parse(G_VARIANT_TYPE("a{sv}"), text, NULL, NULL, &error);

        g_assert_no_error(error);
        return g_variant_ref_sink(v);
}

static void assert_options_rejected(const char *text, int code, const char *fragment)
{
        g_autoptr(GVariant) v = opts(text);
        g_autoptr(GError) error = NULL;
        KilnSessionOptions *out = (KilnSessionOptions *)0x1;

        g_assert_false(kiln_validate_options(v, &out, &error));
        g_assert_error(error, KILN_TUNNEL_ERROR, code);
        g_assert_nonnull(strstr(error->message, fragment));
        g_assert_true(out == (KilnSessionOptions *)0x1);
}

static void test_options(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnSessionOptions) out = NULL;
        g_autoptr(GVariant) all =
            opts("{'api-url': <'ws://127.0.0.1:1/'>, 'account-slug': <'acme_inc-2'>, 'actor-name': "
                 "<'Jürgen Ö'>, 'internet-resource-enabled': <true>}");
        g_autoptr(GVariant) none = opts("@a{sv} {}");

        g_assert_true(kiln_validate_options(all, &out, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(out->api_url, ==, "ws://127.0.0.1:1/");
        g_assert_cmpstr(out->account_slug, ==, "acme_inc-2");
        g_assert_cmpstr(out->actor_name, ==, "Jürgen Ö");
        g_assert_true(out->has_internet_resource_enabled);
        g_assert_true(out->internet_resource_enabled);
        g_clear_pointer(&out, kiln_session_options_free);

        g_assert_true(kiln_validate_options(none, &out, &error));
        g_assert_cmpstr(out->api_url, ==, KILN_DEFAULT_API_URL);
        g_assert_null(out->account_slug);
        g_assert_false(out->has_internet_resource_enabled);

        assert_options_rejected("{'colour': <'red'>}", KILN_TUNNEL_ERROR_INVALID_OPTION,
                                "unknown option 'colour'");
        assert_options_rejected("{'api-url': <42>}", KILN_TUNNEL_ERROR_INVALID_OPTION,
                                "'api-url' must be of type 's', not 'i'");
        assert_options_rejected("{'internet-resource-enabled': <'yes'>}", KILN_TUNNEL_ERROR_INVALID_OPTION,
                                "must be of type 'b'");
        assert_options_rejected("{'api-url': <'gopher://x/'>}", KILN_TUNNEL_ERROR_INVALID_URL,
                                "option 'api-url': URL scheme 'gopher'");
        assert_options_rejected("{'account-slug': <'a/b'>}", KILN_TUNNEL_ERROR_INVALID_OPTION,
                                "account-slug");
        assert_options_rejected("{'account-slug': <''>}", KILN_TUNNEL_ERROR_INVALID_OPTION, "account-slug");
        assert_options_rejected("{'actor-name': <'bell\\u0007'>}", KILN_TUNNEL_ERROR_INVALID_OPTION,
                                "actor-name");
        assert_options_rejected("[{'account-slug', <'a'>}, {'account-slug', <'b'>}]",
                                KILN_TUNNEL_ERROR_INVALID_OPTION, "more than once");
}

static void test_log_level(void)
{
        g_autoptr(GError) error = NULL;
        KilnLogLevel level = KILN_LOG_INFO;

        g_assert_true(kiln_validate_log_level("trace", &level, &error));
        g_assert_cmpint(level, ==, KILN_LOG_TRACE);
        level = KILN_LOG_INFO;
        g_assert_false(kiln_validate_log_level("verbose", &level, &error));
        g_assert_error(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_LOG_LEVEL);
        g_assert_nonnull(strstr(error->message, "'verbose' is not one of error, warn, info, debug, trace"));
        g_assert_cmpint(level, ==, KILN_LOG_INFO);
}

static void test_error_names(void)
{
        g_autoptr(GError) error =
            g_error_new_literal(KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN, "x");
        g_autofree char *name = g_dbus_error_encode_gerror(error);

        g_assert_cmpstr(name, ==, "dev.kiln.Tunnel1.Error.InvalidToken");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kilnd/validate/token", test_token);
        g_test_add_func("/kilnd/validate/url", test_url);
        g_test_add_func("/kilnd/validate/options", test_options);
        g_test_add_func("/kilnd/validate/log-level", test_log_level);
        g_test_add_func("/kilnd/validate/error-names", test_error_names);
        return g_test_run();
}
