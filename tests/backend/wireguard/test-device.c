/* SPDX-License-Identifier: MIT */
/*
 * Two WireGuard engines against each other over a simulated wire with simulated time.  With
 * KILN_WRITE_CORPUS=DIR set, the handshake-and-data test also writes its transcript there as a
 * seed for fuzz-wireguard.
 */
#include <glib.h>
#include <string.h>

#include "backend/crypto/keys.h"
#include "backend/wireguard/device-private.h"
#include "tests/backend/wireguard/wg-sim.h"
#include "tests/support/test-support.h"

#define MS  1000000ULL
#define SEC 1000000000ULL

static void small_timing(struct wg_timing *t)
{
        wg_timing_init_default(t);
        t->rekey_after_time = 10 * SEC;
        t->reject_after_time = 15 * SEC;
        t->rekey_attempt_time = 9 * SEC;
        t->rekey_timeout = 1 * SEC;
        t->keepalive_timeout = 2 * SEC;
        t->rekey_timeout_jitter_max = 0;
}

static void send_tagged(struct wg_sim *s, struct wg_sim_node *from, uint32_t tag)
{
        uint8_t pkt[200];
        size_t len = wg_sim_make_packet(pkt, from == &s->a ? 1 : 2, from == &s->a ? 2 : 1, tag, 100);

        wg_sim_tun_send(s, from, pkt, len);
}

static bool tun_has_tag(const struct wg_sim_node *n, uint32_t tag)
{
        for (size_t i = 0; i < n->n_tun; i++)
                if (wg_sim_packet_tag(n->tun[i]) == tag)
                        return true;
        return false;
}

static void handshake(struct wg_sim *s)
{
        send_tagged(s, &s->a, 0xa0a0);
        wg_sim_run(s, 20);
        g_assert_nonnull(s->a.peer->current);
        g_assert_true(tun_has_tag(&s->b, 0xa0a0));
}

static unsigned count_type(const struct wg_sim_datagram *d, size_t n, uint8_t type)
{
        unsigned c = 0;

        for (size_t i = 0; i < n; i++)
                c += d[i].data[0] == type;
        return c;
}

static void test_handshake_and_data(void)
{
        struct wg_peer_stats sa, sb;
        struct wg_sim s;

        wg_sim_init(&s, NULL, NULL, NULL);
        wg_sim_record_if_asked(&s, "handshake-data", 0);
        /* The first packet waits for the handshake it starts, then arrives. */
        g_assert_cmpint(wg_sim_tun_send(&s, &s.a, (uint8_t[200]){ 0 }, 0), ==, WG_ACTION_NONE);
        send_tagged(&s, &s.a, 1);
        g_assert_cmpuint(s.n_wire, ==, 1);
        g_assert_cmpuint(s.wire[0].len, ==, WG_MSG_INITIATION_LEN);
        wg_sim_run(&s, 20);
        g_assert_true(tun_has_tag(&s.b, 1));
        g_assert_nonnull(s.a.peer->current);
        g_assert_nonnull(s.b.peer->current);
        g_assert_null(s.b.peer->next);

        wg_sim_advance(&s, 100 * MS);
        for (uint32_t i = 0; i < 5; i++) {
                send_tagged(&s, &s.b, 100 + i);
                send_tagged(&s, &s.a, 200 + i);
        }
        wg_sim_run(&s, 20);
        for (uint32_t i = 0; i < 5; i++) {
                g_assert_true(tun_has_tag(&s.a, 100 + i));
                g_assert_true(tun_has_tag(&s.b, 200 + i));
        }
        /* Received packets are exactly what was sent, padding removed. */
        g_assert_cmpuint(s.b.tun_len[0], ==, 128);

        wg_peer_get_stats(s.a.peer, &sa);
        wg_peer_get_stats(s.b.peer, &sb);
        g_assert_cmpuint(sa.tx_bytes, ==, sb.rx_bytes);
        g_assert_cmpuint(sb.tx_bytes, ==, sa.rx_bytes);
        g_assert_cmpuint(sa.tx_bytes, >, 5 * 128);
        g_assert_cmpint(sa.last_handshake_ns, >, 0);
        g_assert_cmpint(sb.last_handshake_ns, >, 0);
        g_assert_true(sa.has_session && sb.has_session);
        wg_sim_free(&s);
}

static void test_rekey_by_time(void)
{
        struct wg_timing t;
        struct wg_sim s;
        struct wg_keypair *first;

        small_timing(&t);
        wg_sim_init(&s, &t, NULL, NULL);
        handshake(&s);
        first = s.a.peer->current;
        g_assert_true(first->i_am_initiator);
        /* Keepalives flow both ways so nobody times out meanwhile. */
        for (int i = 0; i < 11; i++) {
                wg_sim_advance(&s, SEC);
                send_tagged(&s, &s.b, 300 + i);
                wg_sim_run(&s, 20);
        }
        send_tagged(&s, &s.a, 400);
        wg_sim_run(&s, 20);
        g_assert_true(tun_has_tag(&s.b, 400));
        g_assert_true(s.a.peer->current != first);
        g_assert_true(s.a.peer->previous == first || s.a.peer->previous != NULL);
        send_tagged(&s, &s.a, 401);
        send_tagged(&s, &s.b, 402);
        wg_sim_run(&s, 20);
        g_assert_true(tun_has_tag(&s.b, 401));
        g_assert_true(tun_has_tag(&s.a, 402));
        wg_sim_free(&s);
}

static void test_rekey_by_messages(void)
{
        struct wg_sim_datagram *d;
        struct wg_timing t;
        struct wg_sim s;
        size_t n;
        unsigned inits = 0;

        small_timing(&t);
        t.rekey_after_messages = 5;
        wg_sim_init(&s, &t, NULL, NULL);
        handshake(&s);
        /* Past the REKEY_TIMEOUT that spaces initiations. */
        wg_sim_advance(&s, t.rekey_timeout);
        wg_sim_run(&s, 20);
        for (uint32_t i = 0; i < 10; i++)
                send_tagged(&s, &s.a, 500 + i);
        n = wg_sim_take_wire(&s, &d);
        inits = count_type(d, n, WG_MSG_INITIATION);
        for (size_t i = 0; i < n; i++)
                wg_sim_deliver(&s, &d[i]);
        free(d);
        wg_sim_run(&s, 20);
        g_assert_cmpuint(inits, ==, 1);
        for (uint32_t i = 0; i < 10; i++)
                g_assert_true(tun_has_tag(&s.b, 500 + i));
        /* The new session carries data. */
        g_assert_cmpuint(s.a.peer->current->send_counter, <, 5);
        wg_sim_free(&s);
}

static void test_loss_reorder_replay(void)
{
        struct wg_sim_datagram *d;
        struct wg_sim s;
        size_t n, before;

        wg_sim_init(&s, NULL, NULL, NULL);
        handshake(&s);
        for (uint32_t i = 0; i < 50; i++)
                send_tagged(&s, &s.a, 1000 + i);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 50);
        before = s.b.n_tun;
        /* Deliver in reverse, dropping every fifth. */
        for (size_t i = n; i-- > 0;)
                if (i % 5 != 0)
                        wg_sim_deliver(&s, &d[i]);
        g_assert_cmpuint(s.b.n_tun - before, ==, 40);
        for (uint32_t i = 0; i < 50; i++)
                g_assert_cmpint(tun_has_tag(&s.b, 1000 + i), ==, i % 5 != 0);
        /* Replays are rejected; the lost ones still fit in the window. */
        wg_sim_deliver(&s, &d[7]);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_REPLAYED_COUNTER), ==, 1);
        g_assert_cmpuint(s.b.n_tun - before, ==, 40);
        wg_sim_deliver(&s, &d[0]);
        g_assert_cmpuint(s.b.n_tun - before, ==, 41);
        g_assert_true(tun_has_tag(&s.b, 1000));
        /* A tampered packet fails authentication and changes nothing. */
        d[5].data[40] ^= 1;
        wg_sim_deliver(&s, &d[5]);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_BAD_AUTH_TAG), ==, 1);
        d[5].data[40] ^= 1;
        wg_sim_deliver(&s, &d[5]);
        g_assert_cmpuint(s.b.n_tun - before, ==, 42);
        free(d);
        wg_sim_free(&s);
}

static void test_cookie_under_load(void)
{
        struct wg_sim_datagram *d, init, cookie;
        struct wg_timing t;
        struct wg_sim s;
        size_t n;

        wg_sim_timing_profile(1, &t);
        wg_sim_init(&s, &t, NULL, NULL);
        wg_sim_record_if_asked(&s, "cookie-under-load", 1);
        send_tagged(&s, &s.a, 1);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        init = d[0];
        free(d);

        /* First initiation fits the budget (its response is lost); the copy finds B under load. */
        wg_sim_deliver(&s, &init);
        free(s.wire), s.wire = NULL, s.n_wire = s.cap_wire = 0;
        struct wg_handshake before = s.b.peer->handshake;
        wg_sim_deliver(&s, &init);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_COOKIE_SENT), ==, 1);
        g_assert_cmpint(memcmp(&before, &s.b.peer->handshake, sizeof(before)), ==, 0);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpuint(d[0].len, ==, WG_MSG_COOKIE_LEN);
        cookie = d[0];
        free(d);
        wg_sim_deliver(&s, &cookie);
        g_assert_true(s.a.peer->have_cookie);
        /* A cookie reply is accepted once per MAC1 sent. */
        wg_sim_deliver(&s, &cookie);
        g_assert_cmpuint(wg_device_drop_count(s.a.dev, WG_DROP_BAD_COOKIE), ==, 1);

        /* The retransmission carries MAC2 and gets through although B is still under load. */
        wg_sim_advance(&s, 150 * MS);
        g_assert_cmpuint(s.n_wire, ==, 1);
        wg_sim_run(&s, 20);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_COOKIE_SENT), ==, 1);
        g_assert_nonnull(s.a.peer->current);
        g_assert_true(tun_has_tag(&s.b, 1));
        wg_sim_free(&s);
}

static void test_expiry_and_zeroing(void)
{
        struct wg_sim_datagram *d;
        struct wg_timing t;
        struct wg_sim s;
        size_t n;

        small_timing(&t);
        wg_sim_init(&s, &t, NULL, NULL);
        handshake(&s);
        /* The wire goes dead: nothing is delivered any more. */
        for (int i = 0; i < 20; i++) {
                wg_sim_advance(&s, SEC);
                n = wg_sim_take_wire(&s, &d);
                free(d);
        }
        /* After REJECT_AFTER_TIME the session no longer sends: data is staged, a handshake starts. */
        g_assert_cmpint(wg_sim_tun_send(&s, &s.a,
                                        (uint8_t[128]){ 0x45, 0, 0, 28, [12] = 10, 10, 0, 1, 10, 10, 0, 2 },
                                        28),
                        ==, WG_ACTION_NONE);
        g_assert_cmpuint(s.a.peer->staged_count, ==, 1);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(count_type(d, n, WG_MSG_INITIATION), ==, 1);
        free(d);
        /* Retries give up after REKEY_ATTEMPT_TIME and drop what was staged. */
        for (int i = 0; i < 15; i++) {
                wg_sim_advance(&s, SEC);
                n = wg_sim_take_wire(&s, &d);
                free(d);
        }
        g_assert_cmpuint(s.a.peer->staged_count, ==, 0);
        g_assert_cmpuint(wg_device_drop_count(s.a.dev, WG_DROP_STAGED_PURGED), ==, 1);
        /* Keys are wiped 3 × REJECT_AFTER_TIME after the session was made. */
        g_assert_nonnull(s.a.peer->current);
        wg_sim_advance(&s, 3 * t.reject_after_time);
        g_assert_null(s.a.peer->current);
        g_assert_null(s.a.peer->previous);
        g_assert_null(s.b.peer->current);
        g_assert_cmpuint(s.a.peer->handshake.state, ==, WG_HS_ZEROED);
        /* The wire comes back: a new packet makes a new session. */
        n = wg_sim_take_wire(&s, &d);
        free(d);
        handshake(&s);
        wg_sim_free(&s);
}

static void test_psk(void)
{
        uint8_t psk1[32], psk2[32];
        struct wg_sim s;

        memset(psk1, 0x55, sizeof(psk1));
        memset(psk2, 0x66, sizeof(psk2));
        wg_sim_init(&s, NULL, psk1, psk1);
        handshake(&s);
        wg_sim_free(&s);

        wg_sim_init(&s, NULL, psk1, psk2);
        send_tagged(&s, &s.a, 1);
        wg_sim_run(&s, 20);
        g_assert_null(s.a.peer->current);
        g_assert_null(s.b.peer->current);
        g_assert_false(tun_has_tag(&s.b, 1));
        g_assert_cmpuint(wg_device_drop_count(s.a.dev, WG_DROP_BAD_HANDSHAKE), ==, 1);
        wg_sim_free(&s);
}

static void test_roaming(void)
{
        struct wg_sim_datagram *d;
        struct wg_sim s;
        size_t n;

        wg_sim_init(&s, NULL, NULL, NULL);
        handshake(&s);
        send_tagged(&s, &s.a, 77);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        /* A's NAT rebinds: same packet, new source port. */
        d[0].src.in4.sin_port = htons(40000);
        wg_sim_deliver(&s, &d[0]);
        free(d);
        g_assert_true(tun_has_tag(&s.b, 77));
        g_assert_cmpuint(ntohs(wg_peer_endpoint(s.b.peer)->in4.sin_port), ==, 40000);
        send_tagged(&s, &s.b, 78);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpuint(ntohs(d[0].dst.in4.sin_port), ==, 40000);
        free(d);
        /* A forged packet from elsewhere does not move the endpoint. */
        struct wg_sim_datagram forged = { .len = 64 };
        forged.data[0] = WG_MSG_DATA;
        forged.src = s.a.addr;
        forged.src.in4.sin_port = htons(40001);
        forged.dst = s.b.addr;
        memcpy(forged.data + 4, &s.b.peer->current->entry.index, 4);
        wg_sim_deliver(&s, &forged);
        g_assert_cmpuint(ntohs(wg_peer_endpoint(s.b.peer)->in4.sin_port), ==, 40000);
        wg_sim_free(&s);
}

static void test_keepalives(void)
{
        struct wg_sim_datagram *d;
        struct wg_timing t;
        struct wg_sim s;
        size_t n;

        small_timing(&t);
        wg_sim_init(&s, &t, NULL, NULL);
        handshake(&s);
        /* B received data and has sent nothing: it answers with a keepalive after KEEPALIVE_TIMEOUT. */
        wg_sim_advance(&s, t.keepalive_timeout + MS);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        g_assert_cmpuint(d[0].len, ==, WG_DATA_OVERHEAD);
        g_assert_true(wg_endpoint_equal(&d[0].src, &s.b.addr));
        wg_sim_deliver(&s, &d[0]);
        free(d);

        /* Persistent keepalive: one per interval while otherwise idle. */
        wg_peer_set_persistent_keepalive(s.a.peer, s.now, 1);
        wg_sim_collect(&s);
        n = wg_sim_take_wire(&s, &d);
        free(d);
        g_assert_cmpuint(n, ==, 1);
        for (int i = 0; i < 3; i++) {
                wg_sim_advance(&s, SEC);
                n = wg_sim_take_wire(&s, &d);
                g_assert_cmpuint(n, ==, 1);
                g_assert_cmpuint(d[0].len, ==, WG_DATA_OVERHEAD);
                free(d);
        }
        g_assert_cmpuint(wg_device_next_timeout(s.a.dev), <=, s.now + SEC);
        wg_sim_free(&s);
}

static void test_simultaneous_initiation(void)
{
        struct wg_sim s;

        wg_sim_init(&s, NULL, NULL, NULL);
        send_tagged(&s, &s.a, 1);
        send_tagged(&s, &s.b, 2);
        wg_sim_run(&s, 30);
        /* Both handshakes cross and neither completes; the jittered retries untangle them. */
        for (int i = 0; i < 120; i++) {
                wg_sim_advance(&s, 50 * MS);
                wg_sim_run(&s, 30);
        }
        g_assert_true(tun_has_tag(&s.b, 1));
        g_assert_true(tun_has_tag(&s.a, 2));
        send_tagged(&s, &s.a, 3);
        send_tagged(&s, &s.b, 4);
        wg_sim_run(&s, 30);
        g_assert_true(tun_has_tag(&s.b, 3));
        g_assert_true(tun_has_tag(&s.a, 4));
        wg_sim_free(&s);
}

static void test_rejects_change_nothing(void)
{
        struct wg_sim_datagram *d, init;
        struct wg_sim s;
        uint8_t junk[WG_MSG_INITIATION_LEN];
        uint8_t buf[256];
        struct wg_out out = { .buf = buf, .cap = sizeof(buf) };
        size_t n;

        wg_sim_init(&s, NULL, NULL, NULL);
        send_tagged(&s, &s.a, 1);
        n = wg_sim_take_wire(&s, &d);
        init = d[0];
        free(d);
        g_assert_cmpuint(n, ==, 1);

        g_assert_cmpint(wg_device_receive(s.b.dev, s.now, &s.a.addr, init.data, 3, &out), ==,
                        WG_ACTION_NONE);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_TOO_SHORT), ==, 1);
        g_assert_cmpint(wg_device_receive(s.b.dev, s.now, &s.a.addr, init.data, init.len - 1, &out), ==,
                        WG_ACTION_NONE);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_BAD_LENGTH), ==, 1);
        memcpy(junk, init.data, sizeof(junk));
        junk[1] = 1; /* reserved bytes */
        wg_device_receive(s.b.dev, s.now, &s.a.addr, junk, sizeof(junk), &out);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_BAD_TYPE), ==, 1);
        junk[1] = 0;
        junk[50] ^= 0xff;
        wg_device_receive(s.b.dev, s.now, &s.a.addr, junk, sizeof(junk), &out);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_BAD_MAC1), ==, 1);
        g_assert_cmpuint(s.b.peer->handshake.state, ==, WG_HS_ZEROED);
        g_assert_false(wg_device_poll_transmit(s.b.dev, s.now, &out));

        /* The real one works; replaying it is refused by its timestamp. */
        wg_sim_deliver(&s, &init);
        g_assert_nonnull(s.b.peer->next);
        wg_sim_advance(&s, SEC);
        free(s.wire), s.wire = NULL, s.n_wire = s.cap_wire = 0;
        struct wg_keypair *next = s.b.peer->next;
        wg_sim_deliver(&s, &init);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_REPLAYED_TIMESTAMP), ==, 1);
        g_assert_true(s.b.peer->next == next);
        g_assert_cmpuint(s.n_wire, ==, 0);
        wg_sim_free(&s);
}

static void test_unknown_peer_and_no_key(void)
{
        struct wg_sim_datagram *d;
        struct wg_sim s;
        size_t n;

        wg_sim_init(&s, NULL, NULL, NULL);
        wg_device_remove_peer(s.b.dev, s.b.peer);
        s.b.peer = NULL;
        send_tagged(&s, &s.a, 1);
        n = wg_sim_take_wire(&s, &d);
        g_assert_cmpuint(n, ==, 1);
        wg_sim_deliver(&s, &d[0]);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_UNKNOWN_PEER), ==, 1);
        wg_device_set_private_key(s.b.dev, (uint8_t[32]){ 0 });
        wg_sim_deliver(&s, &d[0]);
        g_assert_cmpuint(wg_device_drop_count(s.b.dev, WG_DROP_NO_PRIVATE_KEY), ==, 1);
        free(d);
        wg_sim_free(&s);
}

/* The fuzz corpus's transcripts must still drive real sessions, or fuzzing stays shallow.
 * Regenerate them with KILN_WRITE_CORPUS=tests/fuzz/corpus/wireguard test-device. */
static void test_corpus_transcripts_replay(void)
{
        static const struct {
                const char *name;
                size_t min_packets;
        } cases[] = { { "handshake-data", 11 }, { "cookie-under-load", 1 } };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *path = kiln_test_source_path("tests/fuzz/corpus/wireguard");
                g_autofree char *file = g_build_filename(path, cases[i].name, NULL);
                g_autofree char *contents = NULL;
                gsize len;

                g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
                g_assert_cmpuint(wg_sim_replay_transcript((const uint8_t *)contents, len), >=,
                                 cases[i].min_packets);
        }
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_assert_cmpint(kiln_crypto_init(), ==, 0);
        g_test_add_func("/wireguard/device/handshake-and-data", test_handshake_and_data);
        g_test_add_func("/wireguard/device/rekey-by-time", test_rekey_by_time);
        g_test_add_func("/wireguard/device/rekey-by-messages", test_rekey_by_messages);
        g_test_add_func("/wireguard/device/loss-reorder-replay", test_loss_reorder_replay);
        g_test_add_func("/wireguard/device/cookie-under-load", test_cookie_under_load);
        g_test_add_func("/wireguard/device/expiry-and-zeroing", test_expiry_and_zeroing);
        g_test_add_func("/wireguard/device/psk", test_psk);
        g_test_add_func("/wireguard/device/roaming", test_roaming);
        g_test_add_func("/wireguard/device/keepalives", test_keepalives);
        g_test_add_func("/wireguard/device/simultaneous-initiation", test_simultaneous_initiation);
        g_test_add_func("/wireguard/device/rejects-change-nothing", test_rejects_change_nothing);
        g_test_add_func("/wireguard/device/unknown-peer-and-no-key", test_unknown_peer_and_no_key);
        g_test_add_func("/wireguard/device/corpus-transcripts-replay", test_corpus_transcripts_replay);
        return g_test_run();
}
