/* The sign-in callback parser: what it accepts, and every reject with no partial result. */
#include <gio/gio.h>
#include <string.h>

#include "app/kiln/kiln-deep-link.h"

#define STATE "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BASE  "firezone-fd0020211111://handle_client_sign_in_callback"

static void test_accepts_portal_callback(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnDeepLink) link =
            kiln_deep_link_parse(BASE "/?account_name=Acme+Corp&account_slug=acme&actor_name=Ada%20Lovelace"
                                      "&fragment=SFMyNTY.abc-_~&identity_provider_identifier=x&state=" STATE,
                                 &error);
        g_assert_no_error(error);
        g_assert_cmpstr(link->account_slug, ==, "acme");
        g_assert_cmpstr(link->actor_name, ==, "Ada Lovelace");
        g_assert_cmpstr(link->fragment, ==, "SFMyNTY.abc-_~");
        g_assert_cmpstr(link->state, ==, STATE);
}

static void test_accepts_no_slash_and_empty_values(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnDeepLink) link =
            kiln_deep_link_parse(BASE "?account_slug=&actor_name=&fragment=&state=" STATE, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(link->account_slug, ==, "");
        g_assert_cmpstr(link->fragment, ==, "");
}

static void test_accepts_utf8_names(void)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(KilnDeepLink) link = kiln_deep_link_parse(
            BASE "/?account_slug=a&actor_name=J%C3%BCrgen&fragment=f&state=" STATE, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(link->actor_name, ==, "Jürgen");
}

static const struct {
        const char *uri;
        const char *reason;
} rejects[] = {
        { "https://handle_client_sign_in_callback/?account_slug=a&actor_name=b&fragment=c&state=" STATE,
          "wrong scheme" },
        { "firezone-fd0020211111://evil/?account_slug=a&actor_name=b&fragment=c&state=" STATE,
          "wrong host" },
        { BASE "X/?account_slug=a&actor_name=b&fragment=c&state=" STATE, "unexpected path" },
        { BASE ":443/?account_slug=a&actor_name=b&fragment=c&state=" STATE, "unexpected path or port" },
        { BASE "/extra?account_slug=a&actor_name=b&fragment=c&state=" STATE, "unexpected path" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state=" STATE "#frag", "'#'" },
        { BASE "/", "no query" },
        { BASE, "no query" },
        { BASE "/?actor_name=b&fragment=c&state=" STATE, "missing account_slug" },
        { BASE "/?account_slug=a&fragment=c&state=" STATE, "missing actor_name" },
        { BASE "/?account_slug=a&actor_name=b&state=" STATE, "missing fragment" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c", "missing state" },
        { BASE "/?account_slug=a&account_slug=b&actor_name=b&fragment=c&state=" STATE, "more than once" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&fragment=d&state=" STATE, "more than once" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state=" STATE "&state=" STATE, "more than once" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state=abc", "64 hex" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state=" STATE "00", "64 hex" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state="
               "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "64 hex" },
        { BASE "/?account_slug=a&actor_name=b%0A&fragment=c&state=" STATE, "control character" },
        { BASE "/?account_slug=a&actor_name=b%00&fragment=c&state=" STATE, "percent-encoding" },
        { BASE "/?account_slug=a&actor_name=b%zz&fragment=c&state=" STATE, "percent-encoding" },
        { BASE "/?account_slug=a&actor_name=%C3%28&fragment=c&state=" STATE, "percent-encoding" },
        { BASE "/?account_slug=a&actor_name=b&fragment=a+b&state=" STATE, "printable ASCII" },
        { BASE "/?account_slug=a&actor_name=b&fragment=%C3%BC&state=" STATE, "printable ASCII" },
        { BASE "/?account_slug=a&&actor_name=b&fragment=c&state=" STATE, "empty query parameter" },
        { BASE "/?account_slug=a&actor_name=b&fragment=c&state=" STATE "&", "empty query parameter" },
        { BASE "/?account_slug&actor_name=b&fragment=c&state=" STATE, "without '='" },
        { BASE "/?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17", "too many" },
};

static void test_rejects(void)
{
        for (gsize i = 0; i < G_N_ELEMENTS(rejects); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(KilnDeepLink) link = kiln_deep_link_parse(rejects[i].uri, &error);
                if (link)
                        g_error("accepted: %s", rejects[i].uri);
                g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
                if (!strstr(error->message, rejects[i].reason))
                        g_error("'%s' rejected with '%s', expected '%s'", rejects[i].uri, error->message,
                                rejects[i].reason);
        }
}

static void test_rejects_too_long(void)
{
        g_autoptr(GError) error = NULL;
        g_autofree char *pad = g_strnfill(KILN_DEEP_LINK_MAX_LEN, 'a');
        g_autofree char *uri =
            g_strconcat(BASE "/?account_slug=a&actor_name=", pad, "&fragment=c&state=" STATE, NULL);
        g_autoptr(KilnDeepLink) link = kiln_deep_link_parse(uri, &error);
        g_assert_null(link);
        g_assert_nonnull(strstr(error->message, "too long"));
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/deep-link/accepts-portal-callback", test_accepts_portal_callback);
        g_test_add_func("/deep-link/accepts-no-slash-and-empty-values",
                        test_accepts_no_slash_and_empty_values);
        g_test_add_func("/deep-link/accepts-utf8-names", test_accepts_utf8_names);
        g_test_add_func("/deep-link/rejects", test_rejects);
        g_test_add_func("/deep-link/rejects-too-long", test_rejects_too_long);
        return g_test_run();
}
