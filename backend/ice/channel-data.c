/* SPDX-License-Identifier: MIT */
#include "backend/ice/channel-data.h"

#include <errno.h>

int channel_data_parse(struct channel_data *ret, const uint8_t *buf, size_t len)
{
        uint16_t channel, plen;

        if (len < CHANNEL_DATA_HEADER_LEN)
                return -EBADMSG;
        channel = (uint16_t)(buf[0] << 8 | buf[1]);
        plen = (uint16_t)(buf[2] << 8 | buf[3]);
        if (channel < CHANNEL_MIN || channel > CHANNEL_MAX_VALID)
                return -EBADMSG;
        if ((size_t)plen + CHANNEL_DATA_HEADER_LEN > len || len - plen - CHANNEL_DATA_HEADER_LEN > 3)
                return -EBADMSG;
        ret->channel = channel;
        ret->payload = buf + CHANNEL_DATA_HEADER_LEN;
        ret->len = plen;
        return 0;
}

int channel_data_write_header(uint8_t *buf, size_t cap, uint16_t channel, size_t payload_len)
{
        if (channel < CHANNEL_MIN || channel > CHANNEL_MAX_VALID || payload_len > 0xffff)
                return -EINVAL;
        if (cap < CHANNEL_DATA_HEADER_LEN + payload_len)
                return -ENOBUFS;
        buf[0] = (uint8_t)(channel >> 8);
        buf[1] = (uint8_t)channel;
        buf[2] = (uint8_t)(payload_len >> 8);
        buf[3] = (uint8_t)payload_len;
        return (int)(CHANNEL_DATA_HEADER_LEN + payload_len);
}
