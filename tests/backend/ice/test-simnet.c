/* SPDX-License-Identifier: MIT */
/* ICE + TURN between two peers over the simulated network: NAT types, loss, failover. */
#include <glib.h>

#include "tests/backend/ice/simnet.h"

static struct sim *run_to_connected(const struct sim_config *cfg, uint64_t limit)
{
        struct sim *sim = sim_new(cfg);

        sim_run(sim, limit);
        return sim;
}

static void assert_data_flows(struct sim *sim)
{
        uint64_t before0 = sim_stats(sim, 0)->app_received, before1 = sim_stats(sim, 1)->app_received;

        sim_send_app(sim, 0);
        sim_send_app(sim, 1);
        sim_run(sim, sim_now(sim) + ICE_MS(500));
        g_assert_cmpuint(sim_stats(sim, 1)->app_received, ==, before1 + 1);
        g_assert_cmpuint(sim_stats(sim, 0)->app_received, ==, before0 + 1);
}

static void print_ttc(const char *what, struct sim *sim)
{
        g_test_message("%s: time to connected %.1f ms (client), relayed=%d", what,
                       sim_stats(sim, 0)->time_to_connect / 1e6, sim_stats(sim, 0)->selected_via_relay);
}

static void test_no_nat_host_pair(void)
{
        struct sim_config cfg = { .nat = { SIM_NO_NAT, SIM_NO_NAT },
                                  .latency = { ICE_MS(5), ICE_MS(5) },
                                  .relay_latency = ICE_MS(10),
                                  .seed = 1 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(3));

        g_assert_cmpuint(sim_stats(sim, 0)->selected_count, >=, 1);
        g_assert_cmpuint(sim_stats(sim, 1)->selected_count, >=, 1);
        g_assert_false(sim_stats(sim, 0)->selected_via_relay);
        g_assert_cmpint(sim_stats(sim, 0)->selected_local_type, ==, ICE_CANDIDATE_HOST);
        g_assert_cmpint(sim_stats(sim, 0)->selected_remote_type, ==, ICE_CANDIDATE_HOST);
        print_ttc("no NAT", sim);
        assert_data_flows(sim);
        sim_free(sim);
}

static void test_eim_nat_direct(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_EIM, SIM_NAT_EIM },
                                  .latency = { ICE_MS(20), ICE_MS(30) },
                                  .relay_latency = ICE_MS(10),
                                  .seed = 2 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(5));

        g_assert_cmpuint(sim_stats(sim, 0)->selected_count, >=, 1);
        g_assert_false(sim_stats(sim, 0)->selected_via_relay);
        g_assert_false(sim_stats(sim, 1)->selected_via_relay);
        g_assert_cmpint(sim_stats(sim, 0)->selected_local_type, ==, ICE_CANDIDATE_HOST);
        print_ttc("endpoint-independent NATs", sim);
        assert_data_flows(sim);
        sim_free(sim);
}

static void test_symmetric_nat_relayed(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_SYMMETRIC, SIM_NAT_SYMMETRIC },
                                  .latency = { ICE_MS(20), ICE_MS(30) },
                                  .relay_latency = ICE_MS(10),
                                  .seed = 3 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(5));

        g_assert_cmpuint(sim_stats(sim, 0)->selected_count, >=, 1);
        g_assert_cmpuint(sim_stats(sim, 1)->selected_count, >=, 1);
        g_assert_true(sim_stats(sim, 0)->selected_via_relay ||
                      sim_stats(sim, 0)->selected_remote_type == ICE_CANDIDATE_RELAY);
        print_ttc("symmetric NATs", sim);
        assert_data_flows(sim);
        sim_free(sim);
}

static void test_failover_to_relay(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_EIM, SIM_NAT_EIM },
                                  .latency = { ICE_MS(20), ICE_MS(30) },
                                  .relay_latency = ICE_MS(10),
                                  .seed = 4 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(5));
        uint64_t cut_at;

        g_assert_false(sim_stats(sim, 0)->selected_via_relay);
        assert_data_flows(sim);
        sim_cut_direct(sim, true);
        cut_at = sim_now(sim);
        sim_run(sim, cut_at + ICE_S(10));
        g_assert_false(sim_stats(sim, 0)->failed);
        g_assert_true(sim_stats(sim, 0)->selected_via_relay ||
                      sim_stats(sim, 0)->selected_remote_type == ICE_CANDIDATE_RELAY);
        assert_data_flows(sim);
        sim_free(sim);
}

/* 20 s without application packets: both sides drop to their idle timing profile (consent
 * every 25 s instead of every 1.5 s); one packet makes them active again. */
static void test_idle_profile(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_EIM, SIM_NAT_EIM },
                                  .latency = { ICE_MS(20), ICE_MS(30) },
                                  .relay_latency = ICE_MS(10),
                                  .seed = 10 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(5));
        uint64_t before;

        g_assert_false(ice_link_is_idle(sim_link(sim, 0)));
        before = sim_stats(sim, 0)->transmits;
        sim_run(sim, ICE_S(20));
        /* Active: consent checks every 1.5 s on each valid pair. */
        g_assert_cmpuint(sim_stats(sim, 0)->transmits - before, >, 10);
        sim_run(sim, ICE_S(30));
        g_assert_true(ice_link_is_idle(sim_link(sim, 0)));
        g_assert_true(ice_link_is_idle(sim_link(sim, 1)));
        before = sim_stats(sim, 0)->transmits;
        sim_run(sim, ICE_S(55));
        g_assert_cmpuint(sim_stats(sim, 0)->transmits - before, <=, 10);
        g_assert_cmpuint(sim_stats(sim, 0)->selected_count, >=, 1);
        g_assert_false(sim_stats(sim, 0)->failed);
        assert_data_flows(sim);
        g_assert_false(ice_link_is_idle(sim_link(sim, 0)));
        g_assert_false(ice_link_is_idle(sim_link(sim, 1)));
        sim_free(sim);
}

static void test_lossy_link_connects(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_EIM, SIM_NAT_EIM },
                                  .latency = { ICE_MS(40), ICE_MS(60) },
                                  .relay_latency = ICE_MS(10),
                                  .loss_percent = 20,
                                  .seed = 5 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(15));

        g_assert_cmpuint(sim_stats(sim, 0)->selected_count, >=, 1);
        g_assert_cmpuint(sim_stats(sim, 1)->selected_count, >=, 1);
        print_ttc("20% loss", sim);
        sim_free(sim);
}

static void test_deterministic(void)
{
        struct sim_config cfg = { .nat = { SIM_NAT_EIM, SIM_NAT_SYMMETRIC },
                                  .latency = { ICE_MS(20), ICE_MS(30) },
                                  .relay_latency = ICE_MS(10),
                                  .loss_percent = 10,
                                  .seed = 6 };
        struct sim *a = run_to_connected(&cfg, ICE_S(8));
        struct sim *b = run_to_connected(&cfg, ICE_S(8));

        g_assert_cmpuint(sim_stats(a, 0)->selected_count, >=, 1);
        g_assert_cmpuint(sim_stats(a, 0)->time_to_connect, ==, sim_stats(b, 0)->time_to_connect);
        g_assert_cmpuint(sim_stats(a, 0)->selected_count, ==, sim_stats(b, 0)->selected_count);
        g_assert_cmpint(sim_stats(a, 0)->selected_via_relay, ==, sim_stats(b, 0)->selected_via_relay);
        sim_free(a);
        sim_free(b);
}

static void test_candidate_timeout(void)
{
        struct sim_config cfg = { .nat = { SIM_NO_NAT, SIM_NO_NAT }, .drop_candidates = true, .seed = 7 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(9));

        g_assert_false(sim_stats(sim, 0)->failed);
        sim_run(sim, ICE_S(11));
        g_assert_true(sim_stats(sim, 0)->failed);
        g_assert_true(sim_stats(sim, 1)->failed);
        sim_free(sim);
}

static void test_ice_timeout(void)
{
        struct sim_config cfg = {
                .nat = { SIM_NO_NAT, SIM_NO_NAT }, .unreachable = true, .no_relay = true, .seed = 8
        };
        struct sim *sim = sim_new(&cfg);
        struct ice_candidate c;

        /* Without relays there are no gathered candidates: hand both agents a host each. */
        ice_addr_from_ip_string(&c.addr, "198.51.100.1", 52625);
        ice_candidate_init(&c, ICE_CANDIDATE_HOST, &c.addr, NULL);
        ice_link_add_local_candidate(sim_link(sim, 0), &c, sim_clock(sim));
        ice_addr_from_ip_string(&c.addr, "198.51.100.2", 52625);
        ice_candidate_init(&c, ICE_CANDIDATE_HOST, &c.addr, NULL);
        ice_link_add_local_candidate(sim_link(sim, 1), &c, sim_clock(sim));
        /* 16.5 s client ICE timeout + 2 s disconnect grace. */
        sim_run(sim, ICE_S(18));
        g_assert_false(sim_stats(sim, 0)->failed);
        sim_run(sim, ICE_S(19));
        g_assert_true(sim_stats(sim, 0)->failed);
        sim_free(sim);
}

static void test_bad_turn_password(void)
{
        struct sim_config cfg = { .nat = { SIM_NO_NAT, SIM_NO_NAT }, .password = "wrong", .seed = 9 };
        struct sim *sim = run_to_connected(&cfg, ICE_S(2));

        g_assert_cmpstr(sim_stats(sim, 0)->last_error, ==,
                        "TURN credentials rejected by the relay (401 Unauthorized)");
        g_assert_cmpuint(sim_turn_server_allocations(sim_relay(sim)), ==, 0);
        sim_free(sim);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/simnet/no-nat", test_no_nat_host_pair);
        g_test_add_func("/simnet/eim-direct", test_eim_nat_direct);
        g_test_add_func("/simnet/symmetric-relayed", test_symmetric_nat_relayed);
        g_test_add_func("/simnet/failover", test_failover_to_relay);
        g_test_add_func("/simnet/idle", test_idle_profile);
        g_test_add_func("/simnet/lossy", test_lossy_link_connects);
        g_test_add_func("/simnet/deterministic", test_deterministic);
        g_test_add_func("/simnet/candidate-timeout", test_candidate_timeout);
        g_test_add_func("/simnet/ice-timeout", test_ice_timeout);
        g_test_add_func("/simnet/bad-turn-password", test_bad_turn_password);
        return g_test_run();
}
