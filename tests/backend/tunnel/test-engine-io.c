/* SPDX-License-Identifier: MIT */
/*
 * engine-io: a client engine and a gateway engine, each on its own backend/io event loop
 * (fake UDP sockets and fake TUNs, injected clock), with the simulated TURN relay between
 * them.  Portal work crosses "threads" the way kilnd does it: through kiln_engine_io_call().
 * A packet fed into the client loop's TUN comes out of the gateway loop's TUN, and the reply
 * back out of the client's.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <string.h>

#include "backend/tunnel/engine-io.h"
#include "tests/backend/ice/sim-turn-server.h"
#include "tests/backend/ice/simnet.h"
#include "tests/backend/tunnel/portal-play.h"
#include "tests/backend/tunnel/test-util.h"

#define PORT 52625

struct side {
        struct io_loop *loop;
        struct kiln_engine_io *eio;
        struct ice_addr addr;
        GPtrArray *tun; /* GBytes the loop wrote to its TUN */
};

struct fx {
        struct side c, g;
        struct kiln_client_engine *client;
        struct kiln_gateway_engine *gateway;
        struct sim_turn_server *relay;
        struct ice_addr relay_addr;
        uint8_t psk[WG_KEY_LEN], client_key[WG_KEY_LEN], gateway_key[WG_KEY_LEN];
        unsigned auth_requests;
        bool connected;
};

static uint64_t clock_now = 86400ull * 1000000000ull;
static struct fx *the_fx;

static uint64_t fake_clock(void *ctx)
{
        return clock_now;
}

static void gw_authorize(void *engine, void *data, uint64_t now)
{
        struct kiln_gateway_authorization a;
        struct kiln_resource res;

        play_gateway_authorization(&a, &res, data, the_fx->client_key, the_fx->psk);
        g_assert_cmpint(kiln_gateway_engine_authorize(engine, &a, now), ==, 0);
}

static void client_authorized(void *engine, void *data, uint64_t now)
{
        g_autoptr(KilnPortalMessage) m = play_authorization_created(data, the_fx->gateway_key, the_fx->psk);

        g_assert_cmpint(kiln_client_engine_handle_portal(engine, m, now), ==, 0);
}

static void gw_candidate(void *engine, void *data, uint64_t now)
{
        kiln_gateway_engine_add_candidate(engine, PLAY_CLIENT_ID, data, now);
}

static void client_candidate(void *engine, void *data, uint64_t now)
{
        g_autoptr(KilnPortalMessage) m = play_gateway_candidate(data, false);

        kiln_client_engine_handle_portal(engine, m, now);
}

static void client_output(void *userdata, const struct kiln_client_output *o)
{
        struct fx *fx = userdata;
        JsonObject *p;

        switch (o->type) {
        case KILN_CLIENT_OUTPUT_PORTAL:
                p = json_node_get_object(o->payload);
                if (!strcmp(o->event, KILN_PORTAL_EVENT_REQUEST_AUTHORIZATION)) {
                        const char *resource = json_object_get_string_member(p, "resource_id");

                        fx->auth_requests++;
                        kiln_engine_io_call(fx->g.eio, gw_authorize, g_strdup(resource), g_free);
                        kiln_engine_io_call(fx->c.eio, client_authorized, g_strdup(resource), g_free);
                } else if (!strcmp(o->event, KILN_PORTAL_EVENT_NEW_GATEWAY_ICE_CANDIDATES)) {
                        JsonArray *list = json_object_get_array_member(p, "candidates");

                        for (guint i = 0; i < json_array_get_length(list); i++)
                                kiln_engine_io_call(fx->g.eio, gw_candidate,
                                                    g_strdup(json_array_get_string_element(list, i)),
                                                    g_free);
                }
                break;
        case KILN_CLIENT_OUTPUT_GATEWAY_CONNECTED:
                fx->connected = true;
                break;
        default:
                break;
        }
}

static void gateway_output(void *userdata, const struct kiln_gateway_output *o)
{
        struct fx *fx = userdata;

        if (o->type == KILN_GATEWAY_OUTPUT_CANDIDATE)
                kiln_engine_io_call(fx->c.eio, client_candidate, g_strdup(o->sdp), g_free);
}

static void side_init(struct fx *fx, struct side *s, enum kiln_engine_io_role role, void *engine,
                      const char *ipstr)
{
        struct kiln_engine_io_config ec = { .role = role,
                                            .engine = engine,
                                            .local_port = { PORT },
                                            .client_output = client_output,
                                            .gateway_output = gateway_output,
                                            .userdata = fx };
        struct io_loop_config lc = { .clock = fake_clock };

        g_assert_cmpint(ice_addr_from_ip_string(&s->addr, ipstr, PORT), ==, 0);
        g_assert_cmpint(kiln_engine_io_new(&ec, &s->eio), ==, 0);
        g_assert_cmpint(io_loop_new(kiln_engine_io_ops(), s->eio, &lc, &s->loop), ==, 0);
        kiln_engine_io_attach(s->eio, s->loop);
        g_assert_cmpint(io_loop_add_udp(s->loop, NULL, AF_INET), ==, 0);
        g_assert_cmpint(io_loop_set_tun(s->loop, -1, false, 0), ==, 0);
        s->tun = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

static void side_free(struct side *s)
{
        io_loop_free(s->loop);
        kiln_engine_io_free(s->eio);
        g_ptr_array_unref(s->tun);
}

static void apply_init(void *engine, void *data, uint64_t now)
{
        g_assert_cmpint(kiln_client_engine_handle_portal(engine, data, now), ==, 0);
}

static void deliver(struct fx *fx, const struct ice_addr *src, const struct ice_addr *dst, const uint8_t *d,
                    size_t n)
{
        struct side *s = ice_addr_equal(dst, &fx->c.addr)   ? &fx->c
                         : ice_addr_equal(dst, &fx->g.addr) ? &fx->g
                                                            : NULL;
        struct sockaddr_storage ss;
        socklen_t sl;
        struct io_datagram dg = { .data = d, .len = (uint16_t)n };

        if (sim_turn_server_owns(fx->relay, dst)) {
                sim_turn_server_input(fx->relay, dst, src, d, n);
                return;
        }
        if (!s)
                return;
        sl = ice_addr_to_sockaddr(src, &ss);
        memcpy(&dg.peer, &ss, sl);
        dg.local.family = AF_INET;
        memcpy(&dg.local.v4, s->addr.ip, 4);
        g_assert_cmpint(io_loop_feed_udp(s->loop, 0, &dg, 1), ==, 0);
}

static void pump_side(struct fx *fx, struct side *s)
{
        struct gso_batch *b;
        struct io_batch *tb;

        while ((b = io_loop_take_udp_out(s->loop, 0))) {
                struct ice_addr dst, src = s->addr;
                size_t seg = b->segments > 1 ? b->segment_size : b->len;

                g_assert_cmpint(ice_addr_from_sockaddr(&dst, &b->flow.dst.sa, io_sockaddr_len(&b->flow.dst)),
                                ==, 0);
                for (size_t off = 0; off < b->len; off += seg)
                        deliver(fx, &src, &dst, b->buf + off, MIN(seg, b->len - off));
                io_loop_release_udp_out(s->loop, b);
        }
        while ((tb = io_loop_take_tun_out(s->loop))) {
                for (uint32_t i = 0; i < tb->count; i++)
                        g_ptr_array_add(s->tun, g_bytes_new(tb->pkt[i].data, tb->pkt[i].len));
                io_loop_release_tun_out(s->loop, tb);
        }
}

static void step(struct fx *fx)
{
        struct ice_transmit t;

        clock_now += 1000000;
        io_loop_tick(fx->c.loop);
        io_loop_tick(fx->g.loop);
        pump_side(fx, &fx->c);
        pump_side(fx, &fx->g);
        while (sim_turn_server_poll_transmit(fx->relay, &t))
                deliver(fx, &t.src, &t.dst, t.data, t.len);
}

/* The UDP packet from src with payload in s's TUN output, or NULL. */
static GBytes *find_udp(struct side *s, const char *src, const char *payload)
{
        struct kiln_ip_addr want = ip(src);

        for (guint i = 0; i < s->tun->len; i++) {
                gsize len;
                const uint8_t *d = g_bytes_get_data(g_ptr_array_index(s->tun, i), &len);
                struct kiln_packet p;

                if (kiln_packet_parse(d, len, &p) == 0 && p.proto == KILN_IPPROTO_UDP &&
                    kiln_ip_addr_equal(&p.src, &want) && p.l4_len - 8 == strlen(payload) &&
                    !memcmp(p.l4 + 8, payload, strlen(payload)))
                        return g_ptr_array_index(s->tun, i);
        }
        return NULL;
}

static void test_round_trip(void)
{
        struct fx fx = { 0 };
        struct kiln_client_engine_config cc = { .seed = 1, .deterministic = true };
        struct kiln_gateway_engine_config gc = { .seed = 2, .deterministic = true };
        struct kiln_node_relay relay = { .id = PLAY_RELAY_ID };
        char relay_s[ICE_ADDR_STRLEN];
        uint8_t pkt[256];
        const uint8_t *pp = pkt;
        size_t n;
        bool replied = false, answered = false;

        the_fx = &fx;
        memset(fx.psk, 0x5a, sizeof(fx.psk));
        ice_addr_from_ip_string(&fx.relay_addr, "203.0.113.1", 3478);
        fx.relay = sim_turn_server_new(&fx.relay_addr, SIM_RELAY_USERNAME, SIM_RELAY_PASSWORD, "firezone");
        fx.client = kiln_client_engine_new(&cc, clock_now);
        fx.gateway = kiln_gateway_engine_new(&gc, clock_now);
        kiln_client_engine_public_key(fx.client, fx.client_key);
        kiln_gateway_engine_public_key(fx.gateway, fx.gateway_key);
        side_init(&fx, &fx.c, KILN_ENGINE_IO_CLIENT, fx.client, "192.0.2.1");
        side_init(&fx, &fx.g, KILN_ENGINE_IO_GATEWAY, fx.gateway, "192.0.2.2");

        /* Portal init reaches the client from "another thread". */
        kiln_engine_io_call(
            fx.c.eio, apply_init,
            play_init(ice_addr_to_string(&fx.relay_addr, relay_s), SIM_RELAY_USERNAME, SIM_RELAY_PASSWORD),
            (void (*)(void *))kiln_portal_message_unref);
        relay.addr = fx.relay_addr;
        strcpy(relay.username, SIM_RELAY_USERNAME);
        strcpy(relay.password, SIM_RELAY_PASSWORD);
        g_assert_cmpint(kiln_gateway_engine_upsert_relay(fx.gateway, &relay, clock_now), ==, 0);
        for (int i = 0; i < 200; i++)
                step(&fx);
        g_assert_cmpuint(kiln_node_n_relays(kiln_client_engine_node(fx.client)), ==, 1);

        n = make_packet(pkt, sizeof(pkt), PLAY_CLIENT_IP4, "10.100.0.5", KILN_IPPROTO_UDP, 40000,
                        PLAY_ECHO_PORT, "through-io");
        g_assert_cmpint(io_loop_feed_tun(fx.c.loop, &pp, &n, 1), ==, 0);
        for (int i = 0; i < 3000 && !replied; i++) {
                step(&fx);
                /* The resource behind the gateway answers the packet once it arrives. */
                if (!answered && find_udp(&fx.g, PLAY_CLIENT_IP4, "through-io")) {
                        uint8_t reply[256];
                        const uint8_t *rp = reply;
                        size_t rn = make_packet(reply, sizeof(reply), "10.100.0.5", PLAY_CLIENT_IP4,
                                                KILN_IPPROTO_UDP, PLAY_ECHO_PORT, 40000, "through-io");

                        answered = true;
                        g_assert_cmpint(io_loop_feed_tun(fx.g.loop, &rp, &rn, 1), ==, 0);
                }
                replied = find_udp(&fx.c, "10.100.0.5", "through-io") != NULL;
        }
        g_assert_true(fx.connected);
        g_assert_cmpuint(fx.auth_requests, ==, 1);
        g_assert_true(replied);

        side_free(&fx.c);
        side_free(&fx.g);
        kiln_client_engine_free(fx.client);
        kiln_gateway_engine_free(fx.gateway);
        sim_turn_server_free(fx.relay);
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/engine-io/round-trip", test_round_trip);
        return g_test_run();
}
