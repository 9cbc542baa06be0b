/* SPDX-License-Identifier: MIT */
/* The base64 arithmetic follows wireguard-tools' encoding.c (Jason A. Donenfeld). */
#include "backend/crypto/encoding.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

static void encode_base64(char dest[static 4], const uint8_t src[static 3])
{
        const uint8_t input[] = { (src[0] >> 2) & 63, ((src[0] << 4) | (src[1] >> 4)) & 63,
                                  ((src[1] << 2) | (src[2] >> 6)) & 63, src[2] & 63 };

        for (unsigned int i = 0; i < 4; ++i)
                dest[i] =
                    (char)(input[i] + 'A' + (((25 - input[i]) >> 8) & 6) - (((51 - input[i]) >> 8) & 75) -
                           (((61 - input[i]) >> 8) & 15) + (((62 - input[i]) >> 8) & 3));
}

void key_to_base64(char base64[static WG_KEY_LEN_BASE64], const uint8_t key[static WG_KEY_LEN])
{
        unsigned int i;

        for (i = 0; i < WG_KEY_LEN / 3; ++i)
                encode_base64(&base64[i * 4], &key[i * 3]);
        encode_base64(&base64[i * 4], (const uint8_t[]){ key[i * 3 + 0], key[i * 3 + 1], 0 });
        base64[WG_KEY_LEN_BASE64 - 2] = '=';
        base64[WG_KEY_LEN_BASE64 - 1] = '\0';
}

/* Returns the 6-bit value of one base64 character, or -1 (all bits set) when it is not one. */
static int decode_base64_char(unsigned char c)
{
        int ret = -1;

        ret += (((('A' - 1) - c) & (c - ('Z' + 1))) >> 8) & (c - 64);
        ret += (((('a' - 1) - c) & (c - ('z' + 1))) >> 8) & (c - 70);
        ret += (((('0' - 1) - c) & (c - ('9' + 1))) >> 8) & (c + 5);
        ret += ((('+' - 1) - c) & (c - ('+' + 1))) >> 8 & 63;
        ret += ((('/' - 1) - c) & (c - ('/' + 1))) >> 8 & 64;
        return ret;
}

/* 24 bits of output, or bit 31 set when any character was invalid.  Shifting in unsigned
 * arithmetic keeps the -1 of a bad character well defined (wireguard-tools shifts a negative int). */
static uint32_t decode_base64(const char src[static 4])
{
        uint32_t val = 0;

        for (unsigned int i = 0; i < 4; ++i)
                val |= (uint32_t)decode_base64_char((unsigned char)src[i]) << (18 - 6 * i);
        return val;
}

int key_from_base64(uint8_t key[static WG_KEY_LEN], const char *base64)
{
        uint8_t tmp[WG_KEY_LEN];
        unsigned int i;
        volatile uint8_t ret = 0;
        uint32_t val;

        if (!base64 || strlen(base64) != WG_KEY_LEN_BASE64 - 1 || base64[WG_KEY_LEN_BASE64 - 2] != '=')
                return -EINVAL;

        for (i = 0; i < WG_KEY_LEN / 3; ++i) {
                val = decode_base64(&base64[i * 4]);
                ret |= val >> 31;
                tmp[i * 3 + 0] = (uint8_t)((val >> 16) & 0xff);
                tmp[i * 3 + 1] = (uint8_t)((val >> 8) & 0xff);
                tmp[i * 3 + 2] = (uint8_t)(val & 0xff);
        }
        val = decode_base64((const char[]){ base64[i * 4 + 0], base64[i * 4 + 1], base64[i * 4 + 2], 'A' });
        /* The final character encodes 2 bits of padding, which must be zero. */
        ret |= (val >> 31) | (val & 0xff);
        tmp[i * 3 + 0] = (uint8_t)((val >> 16) & 0xff);
        tmp[i * 3 + 1] = (uint8_t)((val >> 8) & 0xff);

        if (ret) {
                sodium_memzero(tmp, sizeof(tmp));
                return -EILSEQ;
        }
        memcpy(key, tmp, WG_KEY_LEN);
        sodium_memzero(tmp, sizeof(tmp));
        return 0;
}

void key_to_hex(char hex[static WG_KEY_LEN_HEX], const uint8_t key[static WG_KEY_LEN])
{
        for (unsigned int i = 0; i < WG_KEY_LEN; ++i) {
                /* 87 = 'a' - 10, 48 = '0'; the mask picks one without a branch. */
                hex[i * 2] = (char)(87U + (key[i] >> 4) + ((((key[i] >> 4) - 10U) >> 8) & ~38U));
                hex[i * 2 + 1] = (char)(87U + (key[i] & 0xf) + ((((key[i] & 0xfU) - 10U) >> 8) & ~38U));
        }
        hex[WG_KEY_LEN_HEX - 1] = '\0';
}

int key_from_hex(uint8_t key[static WG_KEY_LEN], const char *hex)
{
        uint8_t tmp[WG_KEY_LEN];
        uint8_t c, c_acc, c_alpha0, c_alpha, c_num0, c_num, c_val;
        volatile uint8_t ret = 0;

        if (!hex || strlen(hex) != WG_KEY_LEN_HEX - 1)
                return -EINVAL;

        for (unsigned int i = 0; i < WG_KEY_LEN_HEX - 1; i += 2) {
                c = (uint8_t)hex[i];
                c_num = c ^ 48U;
                c_num0 = (uint8_t)((c_num - 10U) >> 8);
                c_alpha = (uint8_t)((c & ~32U) - 55U);
                c_alpha0 = (uint8_t)(((c_alpha - 10U) ^ (c_alpha - 16U)) >> 8);
                ret |= ((c_num0 | c_alpha0) - 1) >> 8;
                c_val = (uint8_t)((c_num0 & c_num) | (c_alpha0 & c_alpha));
                c_acc = (uint8_t)(c_val * 16U);

                c = (uint8_t)hex[i + 1];
                c_num = c ^ 48U;
                c_num0 = (uint8_t)((c_num - 10U) >> 8);
                c_alpha = (uint8_t)((c & ~32U) - 55U);
                c_alpha0 = (uint8_t)(((c_alpha - 10U) ^ (c_alpha - 16U)) >> 8);
                ret |= ((c_num0 | c_alpha0) - 1) >> 8;
                c_val = (uint8_t)((c_num0 & c_num) | (c_alpha0 & c_alpha));
                tmp[i / 2] = c_acc | c_val;
        }

        if (ret) {
                sodium_memzero(tmp, sizeof(tmp));
                return -EILSEQ;
        }
        memcpy(key, tmp, WG_KEY_LEN);
        sodium_memzero(tmp, sizeof(tmp));
        return 0;
}

const char *key_decode_strerror(int error)
{
        switch (error) {
        case 0:
                return "no error";
        case -EINVAL:
                return "wrong length (a key is 44 base64 or 64 hex characters)";
        case -EILSEQ:
                return "invalid character in key";
        default:
                return "unknown error";
        }
}

bool key_equal(const uint8_t a[static WG_KEY_LEN], const uint8_t b[static WG_KEY_LEN])
{
        return sodium_memcmp(a, b, WG_KEY_LEN) == 0;
}

bool key_is_zero(const uint8_t key[static WG_KEY_LEN])
{
        return sodium_is_zero(key, WG_KEY_LEN) == 1;
}
