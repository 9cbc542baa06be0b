/* SPDX-License-Identifier: MIT */
#include "backend/ice/demux.h"

#include "backend/ice/channel-data.h"
#include "backend/ice/stun.h"

enum ice_demux_kind ice_demux_classify(const struct ice_addr *from, const uint8_t *buf, size_t len)
{
        struct stun_msg msg;
        struct channel_data cd;

        if (len == 0)
                return ICE_DEMUX_OTHER;
        if (from->port == ICE_RELAY_PORT) {
                if (buf[0] <= 0x03 && stun_parse(&msg, buf, len) == 0)
                        return ICE_DEMUX_RELAY_STUN;
                if (buf[0] >= 0x40 && buf[0] <= 0x4f && channel_data_parse(&cd, buf, len) == 0)
                        return ICE_DEMUX_RELAY_CHANNEL_DATA;
        }
        if (buf[0] <= 0x03 && stun_parse(&msg, buf, len) == 0)
                return ICE_DEMUX_PEER_STUN;
        return ICE_DEMUX_OTHER;
}
