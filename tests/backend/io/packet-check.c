/* SPDX-License-Identifier: MIT */
#include "tests/backend/io/packet-check.h"

#include <string.h>

/* ---- an independent checksum: byte pairs, summed in 64 bits, folded at the end -------- */

static uint16_t naive_csum(const uint8_t *parts[], const size_t lens[], size_t n)
{
        uint64_t sum = 0;
        uint8_t carry = 0;
        bool odd = false;

        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; i < lens[k]; i++) {
                        if (odd)
                                sum += (uint64_t)carry << 8 | parts[k][i];
                        else
                                carry = parts[k][i];
                        odd = !odd;
                }
        if (odd)
                sum += (uint64_t)carry << 8;
        while (sum > 0xffff)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)sum;
}

/* True when the IP header checksum (v4) and the TCP/UDP checksum of a packet are valid. */
bool packet_checksums_ok(const uint8_t *p, size_t len)
{
        uint8_t pseudo[40];
        size_t ip_len, pseudo_len, l4;
        uint8_t proto;

        if ((p[0] >> 4) == 4) {
                ip_len = (p[0] & 15u) * 4;
                const uint8_t *hp[1] = { p };
                size_t hl[1] = { ip_len };
                if (naive_csum(hp, hl, 1) != 0xffff)
                        return false;
                proto = p[9];
                l4 = len - ip_len;
                memcpy(pseudo, p + 12, 8);
                pseudo[8] = 0;
                pseudo[9] = proto;
                pseudo[10] = (uint8_t)(l4 >> 8);
                pseudo[11] = (uint8_t)l4;
                pseudo_len = 12;
        } else {
                ip_len = 40;
                proto = p[6];
                l4 = len - ip_len;
                memcpy(pseudo, p + 8, 32);
                pseudo[32] = 0;
                pseudo[33] = 0;
                pseudo[34] = (uint8_t)(l4 >> 8);
                pseudo[35] = (uint8_t)l4;
                pseudo[36] = pseudo[37] = pseudo[38] = 0;
                pseudo[39] = proto;
                pseudo_len = 40;
        }
        const uint8_t *parts[2] = { pseudo, p + ip_len };
        size_t lens[2] = { pseudo_len, l4 };
        return naive_csum(parts, lens, 2) == 0xffff;
}
