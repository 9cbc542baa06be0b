/* SPDX-License-Identifier: MIT */
/*
 * kiln-wg's UAPI parser: whatever arrives on the socket.  Every request that parses is applied
 * to a device and the device is serialised again; a request that fails must leave the
 * serialisation unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/crypto/keys.h"
#include "backend/kiln-wg/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t seed[32] = { 1 };
        const char *buf = (const char *)data;
        struct wg_device *dev;
        struct wg_rng rng;
        size_t pos = 0;
        char *before;
        size_t len;

        if (kiln_crypto_init() < 0)
                return 0;
        wg_rng_init_seeded(&rng, seed);
        dev = wg_device_new(NULL, &rng);
        if (!dev)
                return 0;
        before = uapi_format_get(dev, 1, 0, &len);
        /* The input may hold several requests back to back, as one connection can. */
        while (pos < size && before) {
                long n = uapi_request_length(buf + pos, size - pos);
                struct uapi_set *set = NULL;
                const char *reason;
                enum uapi_op op;
                char *after;

                if (n <= 0)
                        break;
                if (uapi_parse_request(buf + pos, (size_t)n, &op, &set, &reason) == 0) {
                        if (set && uapi_apply(dev, 1000000000ULL, set) < 0)
                                abort();
                        uapi_set_free(set);
                        free(before);
                        before = uapi_format_get(dev, 1, 0, &len);
                } else {
                        if (!reason)
                                abort();
                        after = uapi_format_get(dev, 1, 0, &len);
                        if (after && strcmp(before, after) != 0)
                                abort();
                        free(after);
                }
                pos += (size_t)n;
        }
        free(before);
        wg_device_free(dev);
        return 0;
}
