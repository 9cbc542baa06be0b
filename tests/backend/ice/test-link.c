/* SPDX-License-Identifier: MIT */
/* ice_link: demultiplexing on one socket and Firezone's optimistic srflx candidates. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "backend/ice/link.h"

static struct ice_link *new_link(void)
{
        struct ice_link_config cfg = { 0 };
        struct ice_candidate host;
        struct ice_addr a;
        struct ice_link *link;

        cfg.agent = (struct ice_agent_config){ .role = ICE_CONTROLLING,
                                               .local_ufrag = "aaaa",
                                               .local_pwd = "apassword-apassword-22",
                                               .remote_ufrag = "bbbb",
                                               .remote_pwd = "bpassword-bpassword-22",
                                               .seed = 1 };
        link = ice_link_new(&cfg, ICE_S(1000));
        g_assert_nonnull(link);
        ice_addr_from_ip_string(&a, "10.0.0.1", 52625);
        ice_candidate_init(&host, ICE_CANDIDATE_HOST, &a, NULL);
        g_assert_cmpint(ice_link_add_local_candidate(link, &host, ICE_S(1000)), ==, 1);
        return link;
}

static bool sent_to(struct ice_link *link, const char *ip, uint16_t port)
{
        struct ice_transmit t;
        struct ice_addr want;
        bool found = false;

        ice_addr_from_ip_string(&want, ip, port);
        while (ice_link_poll_transmit(link, &t))
                found |= ice_addr_equal(&t.dst, &want);
        return found;
}

static void test_optimistic_srflx(void)
{
        struct ice_link *link = new_link();

        g_assert_cmpint(ice_link_add_remote_candidate(
                            link, "candidate:1 1 udp 2130706431 10.9.0.2 5000 typ host", ICE_S(1000)),
                        ==, 0);
        g_assert_cmpint(ice_link_add_remote_candidate(link,
                                                      "candidate:2 1 udp 1694498815 198.51.100.7 41000 typ "
                                                      "srflx raddr 10.9.0.2 rport 5000",
                                                      ICE_S(1000)),
                        ==, 0);
        /* Checks go to the host, the srflx, and (srflx IP, host port). */
        ice_link_handle_timeout(link, ICE_S(1000));
        g_assert_true(sent_to(link, "198.51.100.7", 5000));
        g_assert_cmpint(ice_link_add_remote_candidate(link, "garbage", ICE_S(1000)), <, 0);
        ice_link_free(link);
}

static void test_demux_to_application(void)
{
        struct ice_link *link = new_link();
        struct ice_addr local, from, ret_from;
        /* A WireGuard handshake initiation: type 1, 148 bytes. */
        uint8_t wg[148] = { 1 };
        const uint8_t *payload;
        size_t len;

        ice_addr_from_ip_string(&local, "10.0.0.1", 52625);
        ice_addr_from_ip_string(&from, "198.51.100.7", 3478);
        g_assert_cmpint(ice_link_handle_input(link, &local, &from, wg, sizeof(wg), ICE_S(1000), &ret_from,
                                              &payload, &len),
                        ==, 0);
        g_assert_true(payload == wg);
        g_assert_cmpuint(len, ==, sizeof(wg));
        g_assert_true(ice_addr_equal(&ret_from, &from));
        /* Nothing selected yet: application data cannot be sent. */
        g_assert_cmpint(ice_link_send(link, wg, sizeof(wg), ICE_S(1000)), ==, -ENOTCONN);
        ice_link_free(link);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/link/optimistic-srflx", test_optimistic_srflx);
        g_test_add_func("/link/demux-to-application", test_demux_to_application);
        return g_test_run();
}
