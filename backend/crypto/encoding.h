/* SPDX-License-Identifier: MIT */
/*
 * Text forms of 32-byte keys, exactly as wg(8) prints and reads them: base64 with
 * padding (44 characters) and lowercase hex (64 characters, the UAPI form).
 * Every branch and table lookup is independent of the key's bits, so secrets can be
 * encoded and decoded without leaking them through timing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
        WG_KEY_LEN = 32,
        WG_KEY_LEN_BASE64 = 45, /* 44 characters and the NUL */
        WG_KEY_LEN_HEX = 65,    /* 64 characters and the NUL */
};

void key_to_base64(char base64[static WG_KEY_LEN_BASE64], const uint8_t key[static WG_KEY_LEN]);
void key_to_hex(char hex[static WG_KEY_LEN_HEX], const uint8_t key[static WG_KEY_LEN]);

/*
 * Decode a NUL-terminated string.  Returns 0, -EINVAL when the length is wrong or
 * -EILSEQ when a character is outside the alphabet (or base64's last character
 * carries bits a 32-byte key cannot have).  key is written only on success.
 */
int key_from_base64(uint8_t key[static WG_KEY_LEN], const char *base64);
int key_from_hex(uint8_t key[static WG_KEY_LEN], const char *hex);

/* A human-readable reason for the errors above, for messages such as "Key is not valid: …". */
const char *key_decode_strerror(int error);

/* Constant-time comparison and all-zero test. */
bool key_equal(const uint8_t a[static WG_KEY_LEN], const uint8_t b[static WG_KEY_LEN]);
bool key_is_zero(const uint8_t key[static WG_KEY_LEN]);
