/* SPDX-License-Identifier: MIT */
/* The key decoders take wg(8) and UAPI text from users and sockets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/crypto/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t key[WG_KEY_LEN], again[WG_KEY_LEN];
        char b64[WG_KEY_LEN_BASE64], hex[WG_KEY_LEN_HEX];
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        /* Whatever decodes must encode back to a string that decodes to the same key. */
        if (key_from_base64(key, text) == 0) {
                key_to_base64(b64, key);
                if (key_from_base64(again, b64) != 0 || memcmp(key, again, WG_KEY_LEN) != 0)
                        abort();
        }
        if (key_from_hex(key, text) == 0) {
                key_to_hex(hex, key);
                if (key_from_hex(again, hex) != 0 || memcmp(key, again, WG_KEY_LEN) != 0)
                        abort();
                /* Hex decoding is case-insensitive and exact: the canonical form matches the input. */
                if (strcasecmp(text, hex) != 0)
                        abort();
        }
        free(text);
        return 0;
}
