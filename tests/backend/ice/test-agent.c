/* SPDX-License-Identifier: MIT */
/* ICE agent: Firezone's timing numbers, candidate strings, pair priorities, role conflicts. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/ice/agent.h"

static void test_timing_profiles(void)
{
        /* data-plane spec §3.1, unit-tested in Firezone too */
        g_assert_cmpuint(ice_timing_timeout(ice_timing_for(ICE_PROFILE_CLIENT_ACTIVE)), ==, ICE_MS(16500));
        g_assert_cmpuint(ice_timing_timeout(ice_timing_for(ICE_PROFILE_CLIENT_IDLE)), ==, ICE_S(100));
        g_assert_cmpuint(ice_timing_timeout(ice_timing_for(ICE_PROFILE_GATEWAY_ACTIVE)), ==, ICE_MS(615500));
        g_assert_cmpuint(ice_timing_timeout(ice_timing_for(ICE_PROFILE_GATEWAY_IDLE)), ==, ICE_S(1000));
        g_assert_cmpuint(ice_timing_delay(ice_timing_for(ICE_PROFILE_CLIENT_ACTIVE), 1), ==, ICE_MS(250));
        g_assert_cmpuint(ice_timing_delay(ice_timing_for(ICE_PROFILE_CLIENT_ACTIVE), 3), ==, ICE_MS(1000));
        g_assert_cmpuint(ice_timing_delay(ice_timing_for(ICE_PROFILE_CLIENT_ACTIVE), 9), ==, ICE_MS(1500));
}

static void test_candidate_sdp(void)
{
        struct ice_candidate c;
        char sdp[ICE_CANDIDATE_SDP_MAX];
        char ip[ICE_ADDR_STRLEN];

        /* The example in the control-plane spec, as Firezone's portal relays it. */
        g_assert_cmpint(ice_candidate_from_sdp(&c,
                                               "candidate:7031633958891736544 1 udp 50331391 35.244.108.190 "
                                               "53909 typ relay"),
                        ==, 0);
        g_assert_cmpint(c.type, ==, ICE_CANDIDATE_RELAY);
        g_assert_cmpuint(c.priority, ==, 50331391);
        g_assert_cmpstr(ice_addr_ip_to_string(&c.addr, ip), ==, "35.244.108.190");
        g_assert_cmpuint(c.addr.port, ==, 53909);
        g_assert_cmpstr(c.foundation, ==, "7031633958891736544");

        g_assert_cmpint(
            ice_candidate_from_sdp(&c, "candidate:2 1 UDP 1694498815 2001:db8::1 52625 typ srflx raddr "
                                       "10.0.0.2 rport 4444 generation 0"),
            ==, 0);
        g_assert_cmpint(c.type, ==, ICE_CANDIDATE_SRFLX);
        g_assert_cmpuint(c.addr.family, ==, 6);
        g_assert_cmpuint(c.base.port, ==, 4444);
        g_assert_cmpint(ice_candidate_to_sdp(&c, sdp), >, 0);
        g_assert_cmpstr(
            sdp, ==, "candidate:2 1 udp 1694498815 2001:db8::1 52625 typ srflx raddr 10.0.0.2 rport 4444");

        /* Rejects */
        g_assert_cmpint(ice_candidate_from_sdp(&c, "a=candidate:1 1 udp 1 1.2.3.4 5 typ host"), ==, -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp x 1.2.3.4 5 typ host"), ==, -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 tcp 1 1.2.3.4 5 typ host"), ==,
                        -EPROTONOSUPPORT);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 2 udp 1 1.2.3.4 5 typ host"), ==,
                        -EPROTONOSUPPORT);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp 1 x.local 5 typ host"), ==,
                        -EADDRNOTAVAIL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp 1 1.2.3.4 70000 typ host"), ==,
                        -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp 1 1.2.3.4 5 typ bogus"), ==, -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp 1 1.2.3.4 5 typ host raddr"), ==,
                        -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:1 1 udp 1 1.2.3.4 5"), ==, -EINVAL);
        g_assert_cmpint(ice_candidate_from_sdp(&c, "candidate:a_b 1 udp 1 1.2.3.4 5 typ host"), ==, -EINVAL);
}

static void test_priorities(void)
{
        g_assert_cmpuint(ice_candidate_priority(ICE_CANDIDATE_HOST, 4), ==,
                         (126u << 24) | (65534u << 8) | 255u);
        g_assert_cmpuint(ice_candidate_priority(ICE_CANDIDATE_RELAY, 6), ==, (65535u << 8) | 255u);
        g_assert_cmpuint(ice_candidate_priority(ICE_CANDIDATE_PRFLX, 4), >,
                         ice_candidate_priority(ICE_CANDIDATE_SRFLX, 4));
}

struct peer {
        struct ice_agent *agent;
        struct ice_addr addr;
        unsigned int selected, role_changes;
};

static void peer_init(struct peer *p, enum ice_role role, const char *ip, const char *lu, const char *lp,
                      const char *ru, const char *rp, uint64_t seed)
{
        struct ice_agent_config cfg = { .role = role,
                                        .profile = ICE_PROFILE_CLIENT_ACTIVE,
                                        .local_ufrag = lu,
                                        .local_pwd = lp,
                                        .remote_ufrag = ru,
                                        .remote_pwd = rp,
                                        .seed = seed };
        struct ice_candidate c;

        memset(p, 0, sizeof(*p));
        p->agent = ice_agent_new(&cfg, 0);
        g_assert_nonnull(p->agent);
        ice_addr_from_ip_string(&p->addr, ip, 5000);
        ice_candidate_init(&c, ICE_CANDIDATE_HOST, &p->addr, NULL);
        g_assert_cmpint(ice_agent_add_local_candidate(p->agent, &c, 0), ==, 1);
}

static void pump_pair(struct peer *a, struct peer *b, uint64_t now)
{
        struct peer *peers[2] = { a, b };
        bool more = true;

        while (more) {
                more = false;
                for (int i = 0; i < 2; i++) {
                        struct ice_transmit t;
                        struct ice_event e;

                        while (ice_agent_poll_event(peers[i]->agent, &e)) {
                                struct ice_candidate c;

                                if (e.type == ICE_EVENT_LOCAL_CANDIDATE) {
                                        g_assert_cmpint(ice_candidate_from_sdp(&c, e.sdp), ==, 0);
                                        ice_agent_add_remote_candidate(peers[1 - i]->agent, &c, now);
                                }
                                peers[i]->selected += e.type == ICE_EVENT_SELECTED;
                                peers[i]->role_changes += e.type == ICE_EVENT_ROLE_CHANGED;
                        }
                        while (ice_agent_poll_transmit(peers[i]->agent, &t)) {
                                struct stun_msg m;

                                g_assert_true(ice_addr_equal(&t.dst, &peers[1 - i]->addr));
                                g_assert_cmpint(stun_parse(&m, t.data, t.len), ==, 0);
                                /* Checks always reach the right agent; a duplicate answer to a
                                 * retransmitted check may find its transaction already done. */
                                if (m.cls == STUN_REQUEST)
                                        g_assert_true(ice_agent_accepts(peers[1 - i]->agent, &m));
                                if (ice_agent_accepts(peers[1 - i]->agent, &m))
                                        ice_agent_handle_stun(peers[1 - i]->agent, &t.dst, &t.src, &m, now);
                                more = true;
                        }
                }
        }
}

static void run_pair(struct peer *a, struct peer *b, uint64_t until)
{
        uint64_t now = 0;

        while (now <= until) {
                ice_agent_handle_timeout(a->agent, now);
                ice_agent_handle_timeout(b->agent, now);
                pump_pair(a, b, now);
                now += ICE_MS(10);
        }
}

static void test_direct_and_roles(void)
{
        struct peer a, b;

        peer_init(&a, ICE_CONTROLLING, "192.0.2.1", "aaaa", "apassword-apassword-22", "bbbb",
                  "bpassword-bpassword-22", 1);
        peer_init(&b, ICE_CONTROLLED, "192.0.2.2", "bbbb", "bpassword-bpassword-22", "aaaa",
                  "apassword-apassword-22", 2);
        run_pair(&a, &b, ICE_S(2));
        g_assert_cmpint(ice_agent_state(a.agent), ==, ICE_STATE_CONNECTED);
        g_assert_cmpint(ice_agent_state(b.agent), ==, ICE_STATE_CONNECTED);
        g_assert_cmpuint(a.selected, ==, 1);
        g_assert_cmpuint(b.selected, ==, 1);
        g_assert_cmpuint(a.role_changes + b.role_changes, ==, 0);
        ice_agent_free(a.agent);
        ice_agent_free(b.agent);

        /* Both think they control: the tie-breakers settle it (487) and they still connect. */
        peer_init(&a, ICE_CONTROLLING, "192.0.2.1", "aaaa", "apassword-apassword-22", "bbbb",
                  "bpassword-bpassword-22", 3);
        peer_init(&b, ICE_CONTROLLING, "192.0.2.2", "bbbb", "bpassword-bpassword-22", "aaaa",
                  "apassword-apassword-22", 4);
        run_pair(&a, &b, ICE_S(3));
        g_assert_cmpuint(a.role_changes + b.role_changes, ==, 1);
        g_assert_cmpint(ice_agent_role(a.agent), !=, ice_agent_role(b.agent));
        g_assert_cmpint(ice_agent_state(a.agent), ==, ICE_STATE_CONNECTED);
        g_assert_cmpint(ice_agent_state(b.agent), ==, ICE_STATE_CONNECTED);
        ice_agent_free(a.agent);
        ice_agent_free(b.agent);

        /* Wrong password on one side: no check validates, and nobody connects. */
        peer_init(&a, ICE_CONTROLLING, "192.0.2.1", "aaaa", "apassword-apassword-22", "bbbb",
                  "wrong-password", 5);
        peer_init(&b, ICE_CONTROLLED, "192.0.2.2", "bbbb", "bpassword-bpassword-22", "aaaa",
                  "apassword-apassword-22", 6);
        run_pair(&a, &b, ICE_S(2));
        g_assert_cmpuint(a.selected, ==, 0);
        ice_agent_free(a.agent);
        ice_agent_free(b.agent);
}

/* Withdrawing the candidate of the selected pair: disconnected at once, failed 2 s later. */
static void test_invalidation(void)
{
        struct peer a, b;
        struct ice_candidate gone;
        struct ice_event e;
        bool disconnected = false, failed = false;
        uint64_t now = ICE_S(2);

        peer_init(&a, ICE_CONTROLLING, "192.0.2.1", "aaaa", "apassword-apassword-22", "bbbb",
                  "bpassword-bpassword-22", 7);
        peer_init(&b, ICE_CONTROLLED, "192.0.2.2", "bbbb", "bpassword-bpassword-22", "aaaa",
                  "apassword-apassword-22", 8);
        run_pair(&a, &b, ICE_S(1));
        g_assert_true(ice_agent_selected(a.agent, NULL, &gone));
        g_assert_cmpint(ice_agent_remove_remote_candidate(a.agent, &gone, now), ==, 1);
        g_assert_false(ice_agent_selected(a.agent, NULL, NULL));
        while (ice_agent_poll_event(a.agent, &e))
                disconnected |= e.type == ICE_EVENT_DISCONNECTED;
        g_assert_true(disconnected);
        g_assert_cmpint(ice_agent_state(a.agent), ==, ICE_STATE_DISCONNECTED);
        ice_agent_handle_timeout(a.agent, now + ICE_MS(1900));
        g_assert_cmpint(ice_agent_state(a.agent), ==, ICE_STATE_DISCONNECTED);
        ice_agent_handle_timeout(a.agent, now + ICE_DISCONNECT_TIMEOUT);
        while (ice_agent_poll_event(a.agent, &e))
                failed |= e.type == ICE_EVENT_FAILED;
        g_assert_true(failed);
        g_assert_cmpint(ice_agent_add_remote_candidate(a.agent, &gone, now + ICE_S(3)), ==, -ESHUTDOWN);
        ice_agent_free(a.agent);
        ice_agent_free(b.agent);
}

/* A check with an unknown comprehension-required attribute gets 420 + UNKNOWN-ATTRIBUTES. */
static void test_unknown_attribute(void)
{
        struct peer a;
        struct ice_addr from;
        uint8_t buf[256], tid[STUN_TID_LEN] = { 9 };
        struct stun_builder b;
        struct stun_msg m, r;
        struct ice_transmit t;
        int n;

        peer_init(&a, ICE_CONTROLLED, "192.0.2.1", "aaaa", "apassword-apassword-22", "bbbb",
                  "bpassword-bpassword-22", 9);
        ice_addr_from_ip_string(&from, "192.0.2.2", 6000);
        stun_build_init(&b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST, tid);
        stun_add_string(&b, STUN_ATTR_USERNAME, "aaaa:bbbb");
        stun_add_u32(&b, STUN_ATTR_PRIORITY, 1000);
        stun_add_u32(&b, 0x0042, 7);
        stun_add_integrity(&b, (const uint8_t *)"apassword-apassword-22", 22);
        stun_add_fingerprint(&b);
        n = stun_build_finish(&b);
        g_assert_cmpint(stun_parse(&m, buf, (size_t)n), ==, 0);
        g_assert_cmpint(ice_agent_handle_stun(a.agent, &a.addr, &from, &m, 0), ==, -EPROTO);
        g_assert_true(ice_agent_poll_transmit(a.agent, &t));
        g_assert_cmpint(stun_parse(&r, t.data, t.len), ==, 0);
        g_assert_cmpuint(r.cls, ==, STUN_ERROR);
        g_assert_cmpuint(r.error_code, ==, 420);
        g_assert_true(ice_addr_equal(&t.dst, &from));
        ice_agent_free(a.agent);
}

static void test_config_rejects(void)
{
        struct ice_agent_config cfg = {
                .local_ufrag = "a:b", .local_pwd = "p", .remote_ufrag = "c", .remote_pwd = "d"
        };

        g_assert_null(ice_agent_new(&cfg, 0));
        cfg.local_ufrag = "";
        g_assert_null(ice_agent_new(&cfg, 0));
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/ice/timing-profiles", test_timing_profiles);
        g_test_add_func("/ice/candidate-sdp", test_candidate_sdp);
        g_test_add_func("/ice/priorities", test_priorities);
        g_test_add_func("/ice/direct-and-roles", test_direct_and_roles);
        g_test_add_func("/ice/invalidation", test_invalidation);
        g_test_add_func("/ice/unknown-attribute", test_unknown_attribute);
        g_test_add_func("/ice/config-rejects", test_config_rejects);
        return g_test_run();
}
