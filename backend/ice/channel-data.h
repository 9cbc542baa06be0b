/* SPDX-License-Identifier: MIT */
/*
 * TURN ChannelData framing (RFC 8656 §12.4): channel number (0x4000–0x7FFF, Kiln allocates
 * 0x4000–0x4FFF) and length, then the payload.  Kiln sends without padding over UDP; on
 * receive it accepts the up to 3 padding bytes RFC 8656 §12.5 allows and ignores them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CHANNEL_DATA_HEADER_LEN 4
#define CHANNEL_MIN             0x4000
#define CHANNEL_MAX_VALID       0x7FFF

struct channel_data {
        uint16_t channel;
        const uint8_t *payload; /* into the datagram */
        size_t len;
};

int channel_data_parse(struct channel_data *ret, const uint8_t *buf, size_t len);
/* Writes the 4-byte header in front of a payload the caller already placed at buf + 4. */
int channel_data_write_header(uint8_t *buf, size_t cap, uint16_t channel, size_t payload_len);
