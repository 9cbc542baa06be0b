/* SPDX-License-Identifier: MIT */
/*
 * The packet paths of both roles with peer-controlled bytes: the input is a sequence of
 * records [selector][len hi][len lo][bytes…]; the selector picks where a packet enters
 * (client TUN, client from gateway, gateway from client, gateway TUN) and also advances the
 * simulated clock.  Every action is drained; the invariant is "no crash, no leak, no UB".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/client-state.h"
#include "backend/tunnel/gateway-state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct kiln_client *c, struct kiln_gateway *g, uint64_t now)
{
        struct kiln_client_action ca;
        struct kiln_gateway_action ga;
        int rounds = 0;
        bool busy = true;
        while (busy && rounds++ < 16) {
                busy = false;
                while (kiln_client_poll_action(c, &ca)) {
                        busy = true;
                        if (ca.type == KILN_CLIENT_SEND_TO_GATEWAY)
                                kiln_gateway_handle_client_packet(g, now, "client-1", ca.data, ca.len);
                        else if (ca.type == KILN_CLIENT_CONNECT_GATEWAY)
                                kiln_client_handle_gateway_connected(c, now, ca.gateway_id);
                }
                while (kiln_gateway_poll_action(g, &ga)) {
                        busy = true;
                        if (ga.type == KILN_GATEWAY_SEND_TO_CLIENT)
                                kiln_client_handle_gateway_packet(c, now, "gw-1", ga.data, ga.len);
                        else if (ga.type == KILN_GATEWAY_RESOLVE_DNS) {
                                struct kiln_ip_addr a[2] = { { .family = 4, .bytes = { 10, 0, 0, 80 } },
                                                             { .family = 6,
                                                               .bytes = { 0xfd, 0x20, [15] = 0x80 } } };
                                kiln_gateway_handle_dns_resolved(g, now, ga.client_id, ga.resource_id,
                                                                 ga.domain, a, 2);
                        }
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_client_config cfg = {
                .tun_ipv4 = { .family = 4, .bytes = { 100, 64, 0, 5 } },
                .tun_ipv6 = { .family = 6, .bytes = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, [15] = 5 } },
                .seed = 3
        };
        struct kiln_ip_addr gw4 = { .family = 4, .bytes = { 100, 64, 0, 1 } };
        struct kiln_client *c = kiln_client_new(&cfg);
        struct kiln_gateway *g = kiln_gateway_new();
        struct kiln_resource dns = { .type = KILN_RESOURCE_DNS }, cidr = { .type = KILN_RESOURCE_CIDR },
                             net = { .type = KILN_RESOURCE_INTERNET };
        strcpy(dns.id, "res-dns");
        strcpy(dns.address, "**.example");
        strcpy(cidr.id, "res-cidr");
        strcpy(cidr.address, "10.0.0.0/8");
        cidr.filters[0] = (struct kiln_filter){ KILN_IPPROTO_TCP, 80, 443 };
        cidr.n_filters = 1;
        strcpy(net.id, "res-net");
        kiln_client_upsert_resource(c, &dns);
        kiln_client_upsert_resource(c, &cidr);
        kiln_client_upsert_resource(c, &net);
        kiln_client_set_internet_enabled(c, true);
        const struct kiln_resource *all[] = { &dns, &cidr, &net };
        for (int i = 0; i < 3; i++) {
                kiln_gateway_authorize(g, 0, "client-1", &cfg.tun_ipv4, &cfg.tun_ipv6, all[i], 0);
                kiln_client_handle_authorized(c, 0, all[i]->id, "gw-1", &gw4, NULL);
        }
        uint64_t now = 0;
        while (size >= 3) {
                uint8_t sel = data[0];
                size_t len = (size_t)(data[1] << 8 | data[2]);
                data += 3;
                size -= 3;
                if (len > size)
                        len = size;
                now += (uint64_t)(sel >> 2) * 250000000ull;
                switch (sel & 3) {
                case 0:
                        kiln_client_handle_tun_packet(c, now, data, len);
                        break;
                case 1:
                        kiln_client_handle_gateway_packet(c, now, "gw-1", data, len);
                        break;
                case 2:
                        kiln_gateway_handle_client_packet(g, now, "client-1", data, len);
                        break;
                default:
                        kiln_gateway_handle_tun_packet(g, now, data, len);
                        break;
                }
                kiln_client_handle_timeout(c, now);
                kiln_gateway_handle_timeout(g, now);
                drain(c, g, now);
                data += len;
                size -= len;
        }
        kiln_client_free(c);
        kiln_gateway_free(g);
        return 0;
}
