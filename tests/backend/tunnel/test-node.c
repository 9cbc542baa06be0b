/* SPDX-License-Identifier: MIT */
/* The node alone: one relay allocation shared by every connection, API contracts. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "backend/tunnel/node.h"
#include "tests/backend/ice/sim-turn-server.h"
#include "tests/backend/ice/simnet.h"

#define NOW0 (86400ull * 1000000000ull)

struct fx {
        struct kiln_node *node;
        struct sim_turn_server *relay;
        struct ice_addr relay_addr, local;
        uint64_t now;
        GPtrArray *candidates; /* "peer sdp" strings */
};

static void pump(struct fx *fx)
{
        struct ice_transmit t;
        struct kiln_node_event e;
        bool more = true;

        while (more) {
                more = false;
                while (kiln_node_poll_transmit(fx->node, &t, fx->now)) {
                        struct ice_addr src = t.src.family ? t.src : fx->local;

                        if (sim_turn_server_owns(fx->relay, &t.dst))
                                sim_turn_server_input(fx->relay, &t.dst, &src, t.data, t.len);
                        more = true;
                }
                while (sim_turn_server_poll_transmit(fx->relay, &t)) {
                        uint8_t out[2048];
                        size_t n;
                        const char *id;

                        if (ice_addr_equal(&t.dst, &fx->local))
                                kiln_node_handle_input(fx->node, &fx->local, &t.src, t.data, t.len, fx->now,
                                                       out, sizeof(out), &n, &id);
                        more = true;
                }
                while (kiln_node_poll_event(fx->node, &e))
                        if (e.type == KILN_NODE_EVENT_CANDIDATE)
                                g_ptr_array_add(fx->candidates, g_strdup_printf("%s %s", e.peer_id, e.sdp));
        }
}

static void run(struct fx *fx, uint64_t ms)
{
        uint64_t until = fx->now + ms * 1000000ull;

        while (fx->now < until) {
                fx->now += 1000000ull;
                if (kiln_node_poll_timeout(fx->node) <= fx->now)
                        kiln_node_handle_timeout(fx->node, fx->now);
                pump(fx);
        }
}

static void fx_init(struct fx *fx)
{
        struct kiln_node_config nc = { .controlling = true, .seed = 5, .deterministic = true };
        struct kiln_node_relay relay = { .id = "relay-1",
                                         .username = SIM_RELAY_USERNAME,
                                         .password = SIM_RELAY_PASSWORD };

        memset(fx, 0, sizeof(*fx));
        fx->now = NOW0;
        ice_addr_from_ip_string(&fx->relay_addr, "203.0.113.1", 3478);
        ice_addr_from_ip_string(&fx->local, "198.51.100.1", 52625);
        fx->relay = sim_turn_server_new(&fx->relay_addr, SIM_RELAY_USERNAME, SIM_RELAY_PASSWORD, "firezone");
        fx->node = kiln_node_new(&nc, fx->now);
        fx->candidates = g_ptr_array_new_with_free_func(g_free);
        relay.addr = fx->relay_addr;
        g_assert_cmpint(kiln_node_upsert_relay(fx->node, &relay, fx->now), ==, 0);
        /* the same relay again is a no-op */
        g_assert_cmpint(kiln_node_upsert_relay(fx->node, &relay, fx->now), ==, 0);
        g_assert_cmpuint(kiln_node_n_relays(fx->node), ==, 1);
}

static void fx_clear(struct fx *fx)
{
        kiln_node_free(fx->node);
        sim_turn_server_free(fx->relay);
        g_ptr_array_unref(fx->candidates);
}

static void peer(struct kiln_node_peer_config *pc, const char *id, uint8_t key_byte)
{
        memset(pc, 0, sizeof(*pc));
        pc->peer_id = id;
        memset(pc->public_key, key_byte, WG_KEY_LEN);
        memset(pc->preshared_key, 3, WG_KEY_LEN);
        pc->local_ufrag = "lufr";
        pc->local_pwd = "local-password-22chars";
        pc->remote_ufrag = "rufr";
        pc->remote_pwd = "remote-password-22chars";
}

static bool has_candidate(struct fx *fx, const char *peer_id, const char *type)
{
        g_autofree char *prefix = g_strdup_printf("%s ", peer_id);
        g_autofree char *typ = g_strdup_printf(" typ %s", type);

        for (guint i = 0; i < fx->candidates->len; i++) {
                const char *c = g_ptr_array_index(fx->candidates, i);

                if (g_str_has_prefix(c, prefix) && strstr(c, typ))
                        return true;
        }
        return false;
}

/* Rotated credentials for the same relay keep the allocation (no second ALLOCATE that the
 * relay would refuse with 437 for our 3-tuple). */
static void test_credential_rotation(void)
{
        struct fx fx;
        struct kiln_node_relay relay = { .id = "relay-1",
                                         .username = SIM_RELAY_USERNAME,
                                         .password = "new-password" };
        struct kiln_node_peer_config a;

        fx_init(&fx);
        run(&fx, 500);
        g_assert_cmpuint(sim_turn_server_allocations(fx.relay), ==, 1);
        relay.addr = fx.relay_addr;
        g_assert_cmpint(kiln_node_upsert_relay(fx.node, &relay, fx.now), ==, 0);
        g_assert_cmpuint(kiln_node_n_relays(fx.node), ==, 1);
        peer(&a, "gw-a", 1);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 0);
        run(&fx, 200);
        g_assert_true(has_candidate(&fx, "gw-a", "relay"));
        g_assert_cmpuint(sim_turn_server_allocations(fx.relay), ==, 1);
        fx_clear(&fx);
}

/* Two connections, one made before and one after the allocation exists: both get the
 * relayed candidate, and the relay sees a single allocation from the socket. */
static void test_shared_allocation(void)
{
        struct fx fx;
        struct kiln_node_peer_config a, b;

        fx_init(&fx);
        peer(&a, "gw-a", 1);
        peer(&b, "gw-b", 2);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 0);
        run(&fx, 500);
        g_assert_cmpint(kiln_node_connect(fx.node, &b, fx.now), ==, 0);
        run(&fx, 500);
        g_assert_true(has_candidate(&fx, "gw-a", "relay"));
        g_assert_true(has_candidate(&fx, "gw-b", "relay"));
        g_assert_true(has_candidate(&fx, "gw-a", "host"));
        g_assert_true(has_candidate(&fx, "gw-b", "host"));
        g_assert_cmpuint(sim_turn_server_allocations(fx.relay), ==, 1);
        g_assert_cmpuint(kiln_node_n_peers(fx.node), ==, 2);
        fx_clear(&fx);
}

static void test_contracts(void)
{
        struct fx fx;
        struct kiln_node_peer_config a, same_key;
        struct ice_transmit t;
        static const uint8_t channel_data[] = { 0x40, 0x00, 0x00, 0x04, 'a', 'b', 'c', 'd' };
        uint8_t out[2048], pkt[40] = { 0x45 };
        size_t n;
        const char *id;
        struct ice_addr stranger;

        fx_init(&fx);
        peer(&a, "gw-a", 1);
        g_assert_cmpint(kiln_node_encapsulate(fx.node, "gw-a", pkt, sizeof(pkt), &t, fx.now), ==, -ENOENT);
        /* candidates before the connection are kept for it */
        g_assert_cmpint(kiln_node_add_remote_candidate(
                            fx.node, "gw-a", "candidate:1 1 udp 2130706431 192.0.2.7 4000 typ host", fx.now),
                        ==, 0);
        g_assert_cmpint(kiln_node_add_remote_candidate(fx.node, "gw-a", "garbage", fx.now), ==, -EINVAL);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 0);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 1); /* identical: kept */
        g_assert_true(kiln_node_peer_matches(fx.node, &a));
        /* another peer id with a key already in use */
        peer(&same_key, "gw-b", 1);
        g_assert_cmpint(kiln_node_connect(fx.node, &same_key, fx.now), ==, -EEXIST);
        g_assert_cmpint(kiln_node_encapsulate(fx.node, "gw-a", pkt, sizeof(pkt), &t, fx.now), ==, -ENOTCONN);
        /* junk from anywhere is dropped, never delivered */
        ice_addr_from_ip_string(&stranger, "192.0.2.99", 3478);
        g_assert_cmpint(kiln_node_handle_input(fx.node, &fx.local, &stranger, pkt, sizeof(pkt), fx.now, out,
                                               sizeof(out), &n, &id),
                        !=, 1);
        /* ChannelData from the relay on a channel nobody bound */
        g_assert_cmpint(kiln_node_handle_input(fx.node, &fx.local, &fx.relay_addr, channel_data,
                                               sizeof(channel_data), fx.now, out, sizeof(out), &n, &id),
                        <, 0);
        kiln_node_close(fx.node, "gw-a");
        g_assert_false(kiln_node_has_peer(fx.node, "gw-a"));
        fx_clear(&fx);
}

/* A relay that restarts comes back under a new id at the same address (relays_presence:
 * the old id disconnected, the new one connected).  The old allocation is gone: connections on
 * it fail at once instead of waiting for a peer that cannot reach them, exactly one TURN client
 * talks to that address (one 5-tuple, one allocation), and retired relays are freed, so the
 * 17th restart still gets a relay (it used to get -ENOSPC). */
static void test_relay_restarts(void)
{
        struct fx fx;
        struct kiln_node_peer_config a;
        struct kiln_node_event e;
        bool failed = false;

        fx_init(&fx);
        peer(&a, "gw-a", 1);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 0);
        run(&fx, 500);
        g_assert_true(has_candidate(&fx, "gw-a", "relay"));
        for (unsigned i = 0; i < 2 * KILN_NODE_MAX_RELAYS; i++) {
                struct kiln_node_relay relay = { .username = SIM_RELAY_USERNAME,
                                                 .password = SIM_RELAY_PASSWORD };
                char old[16];

                g_snprintf(old, sizeof(old), "relay-%u", i + 1);
                g_snprintf(relay.id, sizeof(relay.id), "relay-%u", i + 2);
                relay.addr = fx.relay_addr;
                sim_turn_server_restart(fx.relay);
                kiln_node_remove_relay(fx.node, old);
                g_assert_cmpint(kiln_node_upsert_relay(fx.node, &relay, fx.now), ==, 0);
                if (i == 0) {
                        kiln_node_handle_timeout(fx.node, fx.now);
                        while (kiln_node_poll_event(fx.node, &e))
                                failed |= e.type == KILN_NODE_EVENT_FAILED && !strcmp(e.peer_id, "gw-a");
                        g_assert_true(failed);
                        g_assert_cmpuint(kiln_node_n_peers(fx.node), ==, 0);
                }
                run(&fx, 300);
                g_assert_cmpuint(kiln_node_n_relays(fx.node), ==, 1);
                g_assert_cmpuint(sim_turn_server_allocations(fx.relay), ==, 1);
        }
        g_ptr_array_set_size(fx.candidates, 0);
        g_assert_cmpint(kiln_node_connect(fx.node, &a, fx.now), ==, 0);
        run(&fx, 500);
        g_assert_true(has_candidate(&fx, "gw-a", "relay"));
        fx_clear(&fx);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/node/shared-allocation", test_shared_allocation);
        g_test_add_func("/node/contracts", test_contracts);
        g_test_add_func("/node/credential-rotation", test_credential_rotation);
        g_test_add_func("/node/relay-restarts", test_relay_restarts);
        return g_test_run();
}
