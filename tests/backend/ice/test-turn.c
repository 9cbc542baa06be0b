/* SPDX-License-Identifier: MIT */
/* The TURN client against the TURN model, datagrams passed by hand, time advanced by hand. */
#include <string.h>

#include <glib.h>

#include "backend/ice/channel-data.h"
#include "backend/ice/stun.h"
#include "backend/ice/turn.h"
#include "tests/backend/ice/sim-turn-server.h"

/* Far from zero, like CLOCK_MONOTONIC. */
#define T0 ICE_S(86400)

struct fixture {
        struct ice_addr server, client, peer;
        struct sim_turn_server *srv;
        struct turn_client *tc;
        uint64_t now;
        unsigned int sent, relayed_out;
        struct ice_transmit last_relayed;
};

static void setup(struct fixture *f, const char *password)
{
        struct turn_client_config cfg = { 0 };

        memset(f, 0, sizeof(*f));
        ice_addr_from_ip_string(&f->server, "203.0.113.1", 3478);
        ice_addr_from_ip_string(&f->client, "198.51.100.1", 52625);
        ice_addr_from_ip_string(&f->peer, "198.51.100.9", 7000);
        f->srv = sim_turn_server_new(&f->server, "2145916800:salt", "secret", "firezone");
        cfg.server = f->server;
        cfg.username = "2145916800:salt";
        cfg.password = password;
        cfg.allocate = true;
        cfg.dual_stack = false;
        cfg.seed = 42;
        f->now = T0;
        f->tc = turn_client_new(&cfg, f->now);
        g_assert_nonnull(f->tc);
}

static void teardown(struct fixture *f)
{
        turn_client_free(f->tc);
        sim_turn_server_free(f->srv);
}

/* Delivers everything both sides have queued until quiet. */
static void exchange(struct fixture *f)
{
        struct ice_transmit t;
        bool more = true;

        while (more) {
                more = false;
                while (turn_client_poll_transmit(f->tc, &t)) {
                        g_assert_true(ice_addr_equal(&t.dst, &f->server));
                        f->sent++;
                        sim_turn_server_input(f->srv, &f->server, &f->client, t.data, t.len);
                        more = true;
                }
                while (sim_turn_server_poll_transmit(f->srv, &t)) {
                        struct ice_addr from;
                        const uint8_t *p;
                        size_t len;

                        if (!ice_addr_equal(&t.dst, &f->client)) {
                                f->relayed_out++;
                                f->last_relayed = t;
                                continue;
                        }
                        turn_client_handle_input(f->tc, &f->client, &t.src, t.data, t.len, f->now, &from, &p,
                                                 &len);
                        more = true;
                }
        }
}

/* Runs the timers up to `rel` after T0. */
static void advance(struct fixture *f, uint64_t rel)
{
        uint64_t to = T0 + rel;

        while (turn_client_poll_timeout(f->tc) <= to) {
                uint64_t t = turn_client_poll_timeout(f->tc);

                f->now = t > f->now ? t : f->now;
                turn_client_handle_timeout(f->tc, f->now);
                exchange(f);
        }
        f->now = to;
}

static bool next_event(struct fixture *f, enum turn_event_type type, struct turn_event *ret)
{
        struct turn_event e = { 0 };

        while (turn_client_poll_event(f->tc, &e))
                if (e.type == type) {
                        if (ret)
                                *ret = e;
                        return true;
                }
        return false;
}

static void test_allocate(void)
{
        struct fixture f;
        struct turn_event e = { 0 };

        setup(&f, "secret");
        advance(&f, 0);
        g_assert_true(turn_client_is_allocated(f.tc));
        g_assert_cmpuint(sim_turn_server_allocations(f.srv), ==, 1);
        g_assert_true(next_event(&f, TURN_EVENT_HOST_CANDIDATE, &e));
        g_assert_true(ice_addr_equal(&e.addr, &f.client));
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_CANDIDATE, &e));
        g_assert_cmpuint(e.addr.port, ==, 49152);
        /* BINDING, ALLOCATE (401), ALLOCATE authenticated */
        g_assert_cmpuint(f.sent, ==, 3);
        teardown(&f);
}

static void test_wrong_password(void)
{
        struct fixture f;
        struct turn_event e = { 0 };

        setup(&f, "not-the-secret");
        advance(&f, ICE_S(60));
        g_assert_false(turn_client_is_allocated(f.tc));
        g_assert_true(next_event(&f, TURN_EVENT_ERROR, &e));
        g_assert_cmpuint(e.code, ==, 401);
        g_assert_cmpstr(e.message, ==, "TURN credentials rejected by the relay (401 Unauthorized)");
        /* It gives up instead of hammering the relay: BINDING, ALLOCATE, ALLOCATE with auth. */
        g_assert_cmpuint(f.sent, ==, 3);
        g_assert_cmpuint(turn_client_poll_timeout(f.tc), ==, ICE_NEVER);
        teardown(&f);
}

static void test_refresh_and_keepalive(void)
{
        struct fixture f;
        unsigned int before;

        setup(&f, "secret");
        advance(&f, 0);
        before = f.sent;
        /* Keep-alive BINDING every 25 s while idle. */
        advance(&f, ICE_S(26));
        g_assert_cmpuint(f.sent, ==, before + 1);
        /* REFRESH at half the 600 s lifetime; still allocated afterwards. */
        advance(&f, ICE_S(299));
        before = f.sent;
        advance(&f, ICE_S(301));
        g_assert_cmpuint(f.sent, >=, before + 1);
        g_assert_true(turn_client_is_allocated(f.tc));
        teardown(&f);
}

static void test_stale_nonce_and_restart(void)
{
        struct fixture f;
        struct turn_event e = { 0 };

        setup(&f, "secret");
        advance(&f, 0);
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_CANDIDATE, NULL));
        /* The relay restarts: the next REFRESH meets 438 (new nonce), then 437 (no
         * allocation), and the client allocates again. */
        sim_turn_server_restart(f.srv);
        turn_client_refresh_now(f.tc, f.now);
        exchange(&f);
        g_assert_true(turn_client_is_allocated(f.tc));
        g_assert_cmpuint(sim_turn_server_allocations(f.srv), ==, 1);
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_INVALIDATED, NULL));
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_CANDIDATE, &e));
        g_assert_cmpuint(e.addr.port, ==, 49153);
        teardown(&f);
}

/* A network change: from BINDING again, a new allocation, the old relayed address withdrawn. */
static void test_reset(void)
{
        struct fixture f;
        struct turn_event e = { 0 };

        setup(&f, "secret");
        advance(&f, 0);
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_CANDIDATE, NULL));
        ice_addr_from_ip_string(&f.client, "198.51.100.1", 52626);
        turn_client_reset(f.tc, f.now);
        g_assert_false(turn_client_is_allocated(f.tc));
        exchange(&f);
        g_assert_true(turn_client_is_allocated(f.tc));
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_INVALIDATED, NULL));
        g_assert_true(next_event(&f, TURN_EVENT_RELAY_CANDIDATE, &e));
        g_assert_cmpuint(e.addr.port, ==, 49153);
        g_assert_cmpuint(sim_turn_server_allocations(f.srv), ==, 2);
        teardown(&f);
}

static void test_channel_data(void)
{
        struct fixture f;
        struct ice_transmit t;
        struct turn_event e = { 0 };
        struct ice_addr from;
        const uint8_t *p;
        size_t len;

        setup(&f, "secret");
        advance(&f, 0);
        /* No channel yet: the first packet is refused and a CHANNEL-BIND goes out. */
        g_assert_cmpint(turn_client_encode(f.tc, &f.peer, (const uint8_t *)"hi", 2, &t, f.now), ==,
                        -ENOTCONN);
        exchange(&f);
        g_assert_true(next_event(&f, TURN_EVENT_CHANNEL_BOUND, &e));
        g_assert_cmpuint(e.channel, ==, 0x4000);
        g_assert_cmpint(turn_client_encode(f.tc, &f.peer, (const uint8_t *)"hello", 5, &t, f.now), ==, 0);
        g_assert_cmpuint(t.len, ==, 9);
        sim_turn_server_input(f.srv, &f.server, &f.client, t.data, t.len);
        exchange(&f);
        g_assert_cmpuint(f.relayed_out, ==, 1);
        g_assert_true(ice_addr_equal(&f.last_relayed.dst, &f.peer));
        g_assert_cmpmem(f.last_relayed.data, f.last_relayed.len, "hello", 5);
        /* The peer answers to the relayed address; the client unwraps it. */
        sim_turn_server_input(f.srv, turn_client_relayed(f.tc, 4), &f.peer, (const uint8_t *)"back", 4);
        g_assert_true(sim_turn_server_poll_transmit(f.srv, &t));
        g_assert_cmpint(
            turn_client_handle_input(f.tc, &f.client, &f.server, t.data, t.len, f.now, &from, &p, &len), ==,
            TURN_DATA);
        g_assert_true(ice_addr_equal(&from, &f.peer));
        g_assert_cmpmem(p, len, "back", 4);
        /* Data on a channel that was never confirmed is dropped. */
        channel_data_write_header(t.data, sizeof(t.data), 0x4123, 0);
        g_assert_cmpint(
            turn_client_handle_input(f.tc, &f.client, &f.server, t.data, 4, f.now, &from, &p, &len), <, 0);
        /* A second peer gets the next number (round robin). */
        ice_addr_from_ip_string(&f.peer, "198.51.100.10", 7000);
        turn_client_bind_channel(f.tc, &f.peer, f.now);
        exchange(&f);
        g_assert_true(next_event(&f, TURN_EVENT_CHANNEL_BOUND, &e));
        g_assert_cmpuint(e.channel, ==, 0x4001);
        teardown(&f);
}

/* Unanswered requests: sent at 0, 1, 2.5, 4.75 s (the next would be at 8.125 s), abandoned at 8 s,
 * when the client starts over with a BINDING. */
static void test_backoff(void)
{
        struct turn_client_config cfg = { 0 };
        struct turn_client *tc;
        struct ice_transmit t;
        uint64_t sends[8];
        unsigned int n = 0;
        uint64_t now = 0;
        struct turn_event e = { 0 };
        bool timed_out = false;

        ice_addr_from_ip_string(&cfg.server, "203.0.113.1", 3478);
        cfg.username = "u";
        cfg.password = "p";
        cfg.allocate = true;
        now = T0;
        tc = turn_client_new(&cfg, now);
        while (now <= T0 + ICE_S(8) && n < 8) {
                turn_client_handle_timeout(tc, now);
                while (turn_client_poll_transmit(tc, &t))
                        sends[n++] = now - T0;
                while (turn_client_poll_event(tc, &e))
                        timed_out |= e.type == TURN_EVENT_ERROR;
                if (timed_out)
                        break;
                now = turn_client_poll_timeout(tc);
        }
        g_assert_cmpuint(n, ==, 5);
        g_assert_cmpuint(sends[0], ==, 0);
        g_assert_cmpuint(sends[1], ==, ICE_MS(1000));
        g_assert_cmpuint(sends[2], ==, ICE_MS(2500));
        g_assert_cmpuint(sends[3], ==, ICE_MS(4750));
        g_assert_cmpuint(sends[4], ==, ICE_S(8));
        g_assert_true(timed_out);
        g_assert_cmpuint(now, ==, T0 + ICE_S(8));
        turn_client_free(tc);
}

/* A relay at capacity (508) is asked again later instead of given up for the session, and a
 * network change restarts a client that failed (here: on wrong credentials, then right ones). */
static void test_capacity_and_reset_after_failure(void)
{
        struct fixture f;
        struct turn_event e = { 0 };
        unsigned port = 52626;

        setup(&f, "secret");
        advance(&f, 0);
        g_assert_true(turn_client_is_allocated(f.tc));
        /* Roaming fills the relay: every old 3-tuple keeps its allocation. */
        while (sim_turn_server_allocations(f.srv) < 8) {
                ice_addr_from_ip_string(&f.client, "198.51.100.1", (uint16_t)port++);
                turn_client_reset(f.tc, f.now);
                exchange(&f);
        }
        while (turn_client_poll_event(f.tc, &e))
                ;
        ice_addr_from_ip_string(&f.client, "198.51.100.1", (uint16_t)port++);
        turn_client_reset(f.tc, f.now);
        exchange(&f);
        g_assert_false(turn_client_is_allocated(f.tc));
        g_assert_true(next_event(&f, TURN_EVENT_ERROR, &e));
        g_assert_cmpuint(e.code, ==, 508);
        g_assert_cmpuint(turn_client_poll_timeout(f.tc), <=, f.now + TURN_CAPACITY_RETRY);
        /* The old allocations expire meanwhile (here: all at once). */
        sim_turn_server_restart(f.srv);
        advance(&f, f.now - T0 + TURN_CAPACITY_RETRY);
        g_assert_true(turn_client_is_allocated(f.tc));
        teardown(&f);

        setup(&f, "wrong");
        advance(&f, ICE_S(1));
        g_assert_false(turn_client_is_allocated(f.tc));
        g_assert_true(next_event(&f, TURN_EVENT_ERROR, &e));
        g_assert_cmpuint(e.code, ==, 401);
        g_assert_cmpint(turn_client_set_credentials(f.tc, "2145916800:salt", "secret"), ==, 0);
        turn_client_reset(f.tc, f.now);
        exchange(&f);
        g_assert_true(turn_client_is_allocated(f.tc));
        teardown(&f);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/turn/allocate", test_allocate);
        g_test_add_func("/turn/wrong-password", test_wrong_password);
        g_test_add_func("/turn/refresh-keepalive", test_refresh_and_keepalive);
        g_test_add_func("/turn/stale-nonce-restart", test_stale_nonce_and_restart);
        g_test_add_func("/turn/channel-data", test_channel_data);
        g_test_add_func("/turn/reset", test_reset);
        g_test_add_func("/turn/capacity-and-reset-after-failure", test_capacity_and_reset_after_failure);
        g_test_add_func("/turn/backoff", test_backoff);
        return g_test_run();
}
