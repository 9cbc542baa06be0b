/* SPDX-License-Identifier: MIT */
/*
 * STUN/ChannelData bytes from the network: the codec, the demux, and the stateful TURN
 * client and ICE agent that consume them.  Whatever parses must satisfy the codec's
 * invariants; nothing may crash or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ice/agent.h"
#include "backend/ice/channel-data.h"
#include "backend/ice/demux.h"
#include "backend/ice/stun.h"
#include "backend/ice/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";
        struct ice_addr server, local, peer;
        struct stun_msg m;
        struct channel_data cd;
        struct ice_transmit t;
        struct ice_addr from;
        const uint8_t *payload;
        size_t plen;

        ice_addr_from_ip_string(&server, "203.0.113.1", 3478);
        ice_addr_from_ip_string(&local, "10.0.0.2", 52625);
        ice_addr_from_ip_string(&peer, "198.51.100.7", 40000);

        if (stun_parse(&m, data, size) == 0) {
                if (m.len != size || m.raw != data)
                        abort();
                if ((m.present & STUN_HAS_MI) && m.mi_offset + 24 > size)
                        abort();
                if (m.username.len > STUN_MAX_TEXT_LEN || m.nonce.len > STUN_MAX_TEXT_LEN)
                        abort();
                if (m.data && (m.data < data || m.data + m.data_len > data + size))
                        abort();
                stun_check_integrity(&m, (const uint8_t *)password, strlen(password));
        }
        if (channel_data_parse(&cd, data, size) == 0 && cd.payload + cd.len > data + size)
                abort();
        ice_demux_classify(&server, data, size);
        ice_demux_classify(&peer, data, size);

        /* A TURN client waiting for an answer gets these bytes as the relay's reply. */
        {
                struct turn_client_config cfg = {
                        .server = server, .username = "1:salt", .password = "pw", .allocate = true, .seed = 1
                };
                struct turn_client *tc = turn_client_new(&cfg, 0);

                if (!tc)
                        abort();
                turn_client_handle_timeout(tc, 0);
                while (turn_client_poll_transmit(tc, &t))
                        ;
                turn_client_handle_input(tc, &local, &server, data, size, 1, &from, &payload, &plen);
                turn_client_handle_timeout(tc, ICE_S(30));
                turn_client_free(tc);
        }
        /* And an ICE agent gets them as a peer's check or answer. */
        {
                struct ice_agent_config cfg = { .role = ICE_CONTROLLED,
                                                .local_ufrag = "evtj",
                                                .local_pwd = password,
                                                .remote_ufrag = "h6vY",
                                                .remote_pwd = password,
                                                .seed = 2 };
                struct ice_agent *a = ice_agent_new(&cfg, 0);
                struct ice_candidate c;

                if (!a)
                        abort();
                ice_candidate_init(&c, ICE_CANDIDATE_HOST, &local, NULL);
                ice_agent_add_local_candidate(a, &c, 0);
                if (stun_parse(&m, data, size) == 0 && ice_agent_accepts(a, &m))
                        ice_agent_handle_stun(a, &local, &peer, &m, 1);
                ice_agent_handle_timeout(a, ICE_S(1));
                while (ice_agent_poll_transmit(a, &t))
                        ;
                ice_agent_free(a);
        }
        return 0;
}
