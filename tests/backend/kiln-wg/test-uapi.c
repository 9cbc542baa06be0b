/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "backend/crypto/keys.h"
#include "backend/kiln-wg/uapi.h"

#define HEX_A   "a8a7a6a5a4a3a2a1a0a9a8a7a6a5a4a3a2a1a0a9a8a7a6a5a4a3a2a1a0a9a8a7"
#define HEX_P1  "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX_P2  "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX_PSK "3333333333333333333333333333333333333333333333333333333333333333"

struct fixture {
        struct wg_rng rng;
        struct wg_device *dev;
};

static void fixture_init(struct fixture *f)
{
        static const uint8_t seed[32] = { 7 };

        wg_rng_init_seeded(&f->rng, seed);
        f->dev = wg_device_new(NULL, &f->rng);
        g_assert_nonnull(f->dev);
}

static int apply_text(struct wg_device *dev, const char *text)
{
        struct uapi_set *set = NULL;
        const char *reason;
        enum uapi_op op;
        int r;

        r = uapi_parse_request(text, strlen(text), &op, &set, &reason);
        if (r < 0)
                return r;
        g_assert_cmpint(op, ==, UAPI_OP_SET);
        r = uapi_apply(dev, 1000000000ULL, set);
        uapi_set_free(set);
        return r;
}

static char *get_text(struct wg_device *dev)
{
        size_t len;
        char *out = uapi_format_get(dev, 51820, 0, &len);

        g_assert_nonnull(out);
        g_assert_cmpuint(strlen(out), ==, len);
        return out;
}

static void test_request_length(void)
{
        g_assert_cmpint(uapi_request_length("get=1\n", 6), ==, 0);
        g_assert_cmpint(uapi_request_length("get=1\n\n", 7), ==, 7);
        g_assert_cmpint(uapi_request_length("get=1\n\nset=1\n", 13), ==, 7);
        g_assert_cmpint(uapi_request_length("\n", 1), ==, 1);
        g_assert_cmpint(uapi_request_length("", 0), ==, 0);
}

static void test_set_and_get(void)
{
        g_autofree char *out = NULL;
        struct fixture f;

        fixture_init(&f);
        g_assert_cmpint(apply_text(f.dev,
                                   "set=1\nprivate_key=" HEX_A "\nlisten_port=51820\n"
                                   "public_key=" HEX_P1 "\npreshared_key=" HEX_PSK "\n"
                                   "endpoint=192.0.2.1:51821\npersistent_keepalive_interval=25\n"
                                   "replace_allowed_ips=true\nallowed_ip=10.0.0.7/24\n"
                                   "allowed_ip=fd00::1/64\nallowed_ip=10.1.2.3/32\nprotocol_version=1\n"
                                   "public_key=" HEX_P2 "\nendpoint=[2001:db8::1]:7\n\n"),
                        ==, 0);
        out = get_text(f.dev);
        /* The key comes back clamped; host bits cleared, prefixes in trie order, v4 before v6;
         * turning on persistent keepalive started a handshake (148 bytes sent). */
        g_assert_cmpstr(out, ==,
                        "private_key=a8a7a6a5a4a3a2a1a0a9a8a7a6a5a4a3a2a1a0a9a8a7a6a5a4a3a2a1a0a9a867\n"
                        "listen_port=51820\n"
                        "public_key=" HEX_P1 "\npreshared_key=" HEX_PSK "\nprotocol_version=1\n"
                        "endpoint=192.0.2.1:51821\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
                        "tx_bytes=148\nrx_bytes=0\npersistent_keepalive_interval=25\n"
                        "allowed_ip=10.0.0.0/24\nallowed_ip=10.1.2.3/32\nallowed_ip=fd00::/64\n"
                        "public_key=" HEX_P2 "\nprotocol_version=1\nendpoint=[2001:db8::1]:7\n"
                        "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n"
                        "persistent_keepalive_interval=0\n"
                        "errno=0\n\n");
        wg_device_free(f.dev);
}

static void test_rejects_change_nothing(void)
{
        static const char *const bad[] = {
                "set=1\nprivate_key=zz\n\n",
                "set=1\nprivate_key=" HEX_A "0\n\n",
                "set=1\nlisten_port=65536\n\n",
                "set=1\nlisten_port=-1\n\n",
                "set=1\nfwmark=4294967296\n\n",
                "set=1\nendpoint=192.0.2.1:1\n\n", /* peer key before public_key */
                "set=1\npublic_key=" HEX_P1 "\nendpoint=192.0.2.1\n\n",
                "set=1\npublic_key=" HEX_P1 "\nendpoint=192.0.2.1:0\n\n",
                "set=1\npublic_key=" HEX_P1 "\nendpoint=[::1:5\n\n",
                "set=1\npublic_key=" HEX_P1 "\nendpoint=host.example:5\n\n",
                "set=1\npublic_key=" HEX_P1 "\nallowed_ip=10.0.0.0/33\n\n",
                "set=1\npublic_key=" HEX_P1 "\nallowed_ip=fd00::/129\n\n",
                "set=1\npublic_key=" HEX_P1 "\nallowed_ip=10.0.0/8\n\n",
                "set=1\npublic_key=" HEX_P1 "\nremove=yes\n\n",
                "set=1\npublic_key=" HEX_P1 "\nprotocol_version=2\n\n",
                "set=1\npublic_key=" HEX_P1 "\npersistent_keepalive_interval=65536\n\n",
                "set=1\npublic_key=" HEX_P1 "\nunknown_key=1\n\n",
                "set=1\nreplace_peers=true\npublic_key=" HEX_P2 "\nallowed_ip=1.2.3.4/32\nbogus\n\n",
                "set=2\n\n",
                "put=1\n\n",
                "get=1\nprivate_key=" HEX_A "\n\n",
                "\n",
                "set=1\npublic_key=" HEX_P1 "\n",
        };
        g_autofree char *before = NULL;
        struct fixture f;

        fixture_init(&f);
        g_assert_cmpint(apply_text(f.dev, "set=1\nprivate_key=" HEX_A "\npublic_key=" HEX_P1
                                          "\nallowed_ip=10.0.0.0/8\n\n"),
                        ==, 0);
        before = get_text(f.dev);
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *after = NULL;

                g_test_message("request %zu", i);
                g_assert_cmpint(apply_text(f.dev, bad[i]), ==, -EINVAL);
                after = get_text(f.dev);
                g_assert_cmpstr(before, ==, after);
        }
        wg_device_free(f.dev);
}

static void test_peer_operations(void)
{
        g_autofree char *out = NULL;
        struct wg_peer *p1;
        struct fixture f;
        uint8_t key[32];

        fixture_init(&f);
        g_assert_cmpint(
            apply_text(f.dev, "set=1\nprivate_key=" HEX_A "\npublic_key=" HEX_P1 "\npreshared_key=" HEX_PSK
                              "\nallowed_ip=10.0.0.0/8\npublic_key=" HEX_P2 "\nallowed_ip=10.1.0.0/16\n\n"),
            ==, 0);
        g_assert_cmpuint(wg_device_peer_count(f.dev), ==, 2);
        g_assert_cmpint(key_from_hex(key, HEX_P1), ==, 0);
        p1 = wg_device_find_peer(f.dev, key);
        g_assert_nonnull(p1);

        /* update_only does not create. */
        g_assert_cmpint(apply_text(f.dev, "set=1\npublic_key=" HEX_A "\nupdate_only=true\n\n"), ==, 0);
        g_assert_cmpuint(wg_device_peer_count(f.dev), ==, 2);

        /* replace_peers keeps a listed peer with the same PSK (same object), drops the rest. */
        g_assert_cmpint(apply_text(f.dev,
                                   "set=1\nreplace_peers=true\npublic_key=" HEX_P1 "\npreshared_key=" HEX_PSK
                                   "\nreplace_allowed_ips=true\nallowed_ip=10.2.0.0/16\n\n"),
                        ==, 0);
        g_assert_cmpuint(wg_device_peer_count(f.dev), ==, 1);
        g_assert_true(wg_device_find_peer(f.dev, key) == p1);
        out = get_text(f.dev);
        g_assert_nonnull(strstr(out, "allowed_ip=10.2.0.0/16\n"));
        g_assert_null(strstr(out, "allowed_ip=10.0.0.0/8\n"));

        /* remove */
        g_assert_cmpint(apply_text(f.dev, "set=1\npublic_key=" HEX_P1 "\nremove=true\n\n"), ==, 0);
        g_assert_cmpuint(wg_device_peer_count(f.dev), ==, 0);
        wg_device_free(f.dev);
}

static void test_endpoints(void)
{
        static const char *const good[] = { "192.0.2.1:51820", "[2001:db8::1]:1", "[fe80::1%3]:65535" };
        struct wg_endpoint e;
        char buf[96];

        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_assert_cmpint(uapi_parse_endpoint(good[i], &e), ==, 0);
                uapi_format_endpoint(&e, buf, sizeof(buf));
                g_assert_cmpstr(buf, ==, good[i]);
        }
        g_assert_cmpint(uapi_parse_endpoint("192.0.2.1:65536", &e), ==, -EINVAL);
        g_assert_cmpint(uapi_parse_endpoint("[2001:db8::1]", &e), ==, -EINVAL);
        g_assert_cmpint(uapi_parse_endpoint(":5", &e), ==, -EINVAL);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(kiln_crypto_init(), ==, 0);
        g_test_add_func("/kiln-wg/uapi/request-length", test_request_length);
        g_test_add_func("/kiln-wg/uapi/set-and-get", test_set_and_get);
        g_test_add_func("/kiln-wg/uapi/rejects-change-nothing", test_rejects_change_nothing);
        g_test_add_func("/kiln-wg/uapi/peer-operations", test_peer_operations);
        g_test_add_func("/kiln-wg/uapi/endpoints", test_endpoints);
        return g_test_run();
}
