/* SPDX-License-Identifier: MIT */
#include "backend/wireguard/messages.h"

#include <endian.h>
#include <string.h>

static const char *const drop_reason_names[WG_DROP__MAX] = {
        [WG_DROP_TOO_SHORT] = "too-short",
        [WG_DROP_BAD_TYPE] = "bad-type",
        [WG_DROP_BAD_LENGTH] = "bad-length",
        [WG_DROP_BAD_MAC1] = "bad-mac1",
        [WG_DROP_COOKIE_SENT] = "under-load-cookie-sent",
        [WG_DROP_RATE_LIMITED] = "rate-limited",
        [WG_DROP_NO_PRIVATE_KEY] = "no-private-key",
        [WG_DROP_BAD_HANDSHAKE] = "bad-handshake",
        [WG_DROP_UNKNOWN_PEER] = "unknown-peer",
        [WG_DROP_REPLAYED_TIMESTAMP] = "replayed-timestamp",
        [WG_DROP_HANDSHAKE_FLOOD] = "handshake-flood",
        [WG_DROP_UNKNOWN_INDEX] = "unknown-index",
        [WG_DROP_BAD_COOKIE] = "bad-cookie",
        [WG_DROP_EXPIRED_KEY] = "expired-key",
        [WG_DROP_BAD_AUTH_TAG] = "bad-auth-tag",
        [WG_DROP_REPLAYED_COUNTER] = "replayed-counter",
        [WG_DROP_BAD_INNER_PACKET] = "bad-inner-packet",
        [WG_DROP_ALLOWED_IPS] = "source-not-in-allowed-ips",
        [WG_DROP_BUFFER_TOO_SMALL] = "buffer-too-small",
        [WG_DROP_NO_ROUTE] = "no-route",
        [WG_DROP_NO_ENDPOINT] = "no-endpoint",
        [WG_DROP_QUEUE_FULL] = "queue-full",
        [WG_DROP_STAGED_PURGED] = "staged-purged",
};

const char *wg_drop_reason_to_string(enum wg_drop_reason reason)
{
        if ((unsigned)reason >= WG_DROP__MAX || !drop_reason_names[reason])
                return "unknown";
        return drop_reason_names[reason];
}

int wg_message_classify(const uint8_t *data, size_t len)
{
        uint32_t type;

        if (len < 4)
                return -WG_DROP_TOO_SHORT;
        memcpy(&type, data, sizeof(type));
        /* The three reserved bytes must be zero: they are part of the little-endian type word. */
        switch (le32toh(type)) {
        case WG_MSG_INITIATION:
                return len == WG_MSG_INITIATION_LEN ? WG_MSG_INITIATION : -WG_DROP_BAD_LENGTH;
        case WG_MSG_RESPONSE:
                return len == WG_MSG_RESPONSE_LEN ? WG_MSG_RESPONSE : -WG_DROP_BAD_LENGTH;
        case WG_MSG_COOKIE:
                return len == WG_MSG_COOKIE_LEN ? WG_MSG_COOKIE : -WG_DROP_BAD_LENGTH;
        case WG_MSG_DATA:
                return len >= WG_MSG_DATA_MIN_LEN ? WG_MSG_DATA : -WG_DROP_TOO_SHORT;
        default:
                return -WG_DROP_BAD_TYPE;
        }
}
