/* SPDX-License-Identifier: MIT */
/*
 * The connection layer's demultiplexer (data-plane spec §3.4) with untrusted datagrams: a
 * node with one relay and one connection gets each record of the input as a datagram from
 * the relay's address (port 3478: TURN STUN / ChannelData), from the peer's address or from
 * elsewhere, interleaved with timeouts, encapsulations and candidates.  Only memory safety
 * and the API's promises (return values, lengths within the buffer) are checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_node_config nc = { .controlling = true, .seed = 1, .deterministic = true };
        struct kiln_node_relay relay = { .id = "relay", .username = "2145916800:salt", .password = "pw" };
        struct kiln_node_peer_config pc = {
                .peer_id = "gw",
                .local_ufrag = "cufr",
                .local_pwd = "client-password-22chr",
                .remote_ufrag = "gufr",
                .remote_pwd = "gateway-password-22chr",
        };
        struct ice_addr local, peer, other;
        uint64_t now = 86400ull * 1000000000ull;
        struct kiln_node *node = kiln_node_new(&nc, now);
        struct ice_transmit t;
        struct kiln_node_event e;
        uint8_t out[2048];

        if (!node)
                return 0;
        memset(pc.public_key, 7, sizeof(pc.public_key));
        ice_addr_from_ip_string(&relay.addr, "203.0.113.1", 3478);
        ice_addr_from_ip_string(&local, "10.0.1.2", 52625);
        ice_addr_from_ip_string(&peer, "198.51.100.2", 40000);
        ice_addr_from_ip_string(&other, "192.0.2.9", 3478);
        kiln_node_upsert_relay(node, &relay, now);
        kiln_node_connect(node, &pc, now);
        kiln_node_add_remote_candidate(node, "gw",
                                       "candidate:1 1 udp 2130706431 198.51.100.2 40000 typ host", now);
        while (size >= 2) {
                uint8_t op = data[0];
                size_t len = data[1] < size - 2 ? data[1] : size - 2;
                const uint8_t *payload = data + 2;
                const struct ice_addr *from = (op & 3) == 0 ? &relay.addr : (op & 3) == 1 ? &peer : &other;
                size_t n = 0;
                const char *id = NULL;
                int r;

                data += 2 + len;
                size -= 2 + len;
                now += (uint64_t)(op >> 2) * 50000000ull;
                if ((op & 3) == 3) {
                        r = kiln_node_encapsulate(node, "gw", payload, len, &t, now);
                        if (r == 1 && t.len > sizeof(t.data))
                                abort();
                        continue;
                }
                r = kiln_node_handle_input(node, &local, from, payload, len, now, out, sizeof(out), &n, &id);
                if (r == 1 && (n > sizeof(out) || !id))
                        abort();
                if (kiln_node_poll_timeout(node) <= now)
                        kiln_node_handle_timeout(node, now);
                while (kiln_node_poll_transmit(node, &t, now))
                        if (t.len > sizeof(t.data))
                                abort();
                while (kiln_node_poll_event(node, &e))
                        ;
        }
        kiln_node_free(node);
        return 0;
}
