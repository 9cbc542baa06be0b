/* SPDX-License-Identifier: MIT */
/* The login URL, upgrade headers and Retry-After parsing of spec §1. */
#include <string.h>

#include "backend/portal/handshake.h"

static const uint8_t KEY[32] = { 0x4b, 0xa4, 0x44, 0x91, 0xb4, 0xad, 0x48, 0xd3, 0x1f, 0x9f, 0xc8,
                                 0x69, 0x2e, 0x45, 0x71, 0x89, 0xb8, 0xd1, 0xfb, 0x3c, 0xf7, 0x44,
                                 0xef, 0xc6, 0xab, 0x8d, 0x13, 0xa6, 0xb1, 0xc9, 0x13, 0x65 };

static char *url_for(const char *api_url)
{
        KilnPortalLoginParams p = { .api_url = api_url, .external_id = "3f9ae1", .name = "my laptop" };

        return kiln_portal_login_url(&p, KEY, NULL);
}

static void test_login_url(void)
{
        KilnPortalLoginParams full = {
                .api_url = "wss://api.firezone.dev/",
                .external_id = "3f9ae1",
                .name = "my-laptop",
                .device_serial = "PF12345",
                .device_uuid = "4c4c4544-0000",
        };
        KilnPortalLoginParams dummy_serial = { .api_url = "ws://127.0.0.1:8081",
                                               .external_id = "x",
                                               .device_serial = "123456789" };
        KilnPortalLoginParams no_id = { .api_url = "ws://127.0.0.1:8081" };
        g_autofree char *a = kiln_portal_login_url(&full, KEY, NULL);
        g_autofree char *b = url_for("http://127.0.0.1:8081");
        g_autofree char *c = url_for("https://portal.example/api/?token=leak#frag");
        g_autofree char *d = url_for("ws://localhost");
        g_autofree char *e = kiln_portal_login_url(&dummy_serial, KEY, NULL);
        g_autoptr(GError) error = NULL;

        /* The key is the spec's example: base64 + / = are form-encoded. */
        g_assert_cmpstr(a, ==,
                        "wss://api.firezone.dev:443/client/v2/websocket?external_id=3f9ae1&name=my-laptop"
                        "&device_serial=PF12345&device_uuid=4c4c4544-0000"
                        "&public_key=S6REkbStSNMfn8hpLkVxibjR%2Bzz3RO%2FGq40TprHJE2U%3D");
        g_assert_cmpstr(b, ==,
                        "ws://127.0.0.1:8081/client/v2/websocket?external_id=3f9ae1&name=my+laptop"
                        "&public_key=S6REkbStSNMfn8hpLkVxibjR%2Bzz3RO%2FGq40TprHJE2U%3D");
        g_assert_true(g_str_has_prefix(c, "wss://portal.example:443/api/client/v2/websocket?external_id="));
        g_assert_null(strstr(c, "token"));
        g_assert_true(
            g_str_has_prefix(d, "ws://localhost:443/client/v2/websocket?")); /* Firezone's port quirk */
        g_assert_null(strstr(e, "device_serial"));

        g_assert_null(kiln_portal_login_url(&no_id, KEY, &error));
        g_clear_error(&error);
        {
                KilnPortalLoginParams ftp = { .api_url = "ftp://example.com", .external_id = "x" };

                g_assert_null(kiln_portal_login_url(&ftp, KEY, &error));
                g_assert_nonnull(strstr(error->message, "scheme"));
        }
}

static void test_headers(void)
{
        g_autofree char *host = kiln_portal_host_header("ws://127.0.0.1:8081/client/v2/websocket?a=b");
        g_autofree char *host6 = kiln_portal_host_header("wss://[fd00::1]:443/client/v2/websocket");
        g_autofree char *auth = kiln_portal_authorization_header(" abc.\tdef\r\n ghi ");
        g_autofree char *ua = kiln_portal_user_agent("Ubuntu", "24.04", "x86_64", "6.8.0-45-generic");
        g_autofree char *ua2 = kiln_portal_user_agent("Deb ian\xc3\xa9", "12", NULL, NULL);
        g_autofree char *host_ua = kiln_portal_user_agent_for_host();

        g_assert_cmpstr(host, ==, "127.0.0.1"); /* the hostname only, even with a port */
        g_assert_cmpstr(host6, ==, "[fd00::1]");
        g_assert_cmpstr(auth, ==, "Bearer abc.defghi");
        g_assert_null(kiln_portal_authorization_header(NULL));
        g_assert_null(kiln_portal_authorization_header(" \n"));
        g_assert_cmpstr(ua, ==, "Ubuntu/24.4.0 gui-client/1.5.17 (x86_64; 6.8.0-45-generic)");
        g_assert_cmpstr(ua2, ==, "Debian/12.0.0 gui-client/1.5.17");
        /* Whatever the machine, the portal must find a gui-client/x.y.z token. */
        g_assert_nonnull(strstr(host_ua, " gui-client/1.5.17"));
}

static void test_retry_after(void)
{
        guint64 s = 99;

        g_assert_true(kiln_portal_parse_retry_after("1", 0, &s));
        g_assert_cmpuint(s, ==, 1);
        /* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT. */
        g_assert_true(kiln_portal_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30, &s));
        g_assert_cmpuint(s, ==, 30);
        g_assert_true(kiln_portal_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30, &s));
        g_assert_cmpuint(s, ==, 0);
        g_assert_false(kiln_portal_parse_retry_after("soon", 0, &s));
        g_assert_false(kiln_portal_parse_retry_after("-1", 0, &s));
        g_assert_false(kiln_portal_parse_retry_after("Sun, 06 Nov 1994 08:49:37 CET", 0, &s));
        g_assert_false(kiln_portal_parse_retry_after(NULL, 0, &s));
}

static void test_classify(void)
{
        g_autofree char *detail = NULL;
        const char *body = "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,\"detail\":"
                           "\"Invalid token\",\"code\":\"invalid_token\"}";

        g_assert_cmpint(kiln_portal_classify_refused_upgrade(401, "application/problem+json", body,
                                                             strlen(body), &detail),
                        ==, KILN_PORTAL_UPGRADE_SIGN_IN_REQUIRED);
        g_assert_cmpstr(detail, ==, "Invalid token");
        g_assert_cmpint(
            kiln_portal_classify_refused_upgrade(503, "application/problem+json", body, strlen(body), NULL),
            ==, KILN_PORTAL_UPGRADE_RETRY);
        g_assert_cmpint(kiln_portal_classify_refused_upgrade(401, "text/html", "<h1>no</h1>", 11, NULL), ==,
                        KILN_PORTAL_UPGRADE_AUTH_FAILED);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/handshake/login-url", test_login_url);
        g_test_add_func("/portal/handshake/headers", test_headers);
        g_test_add_func("/portal/handshake/retry-after", test_retry_after);
        g_test_add_func("/portal/handshake/classify", test_classify);
        return g_test_run();
}
