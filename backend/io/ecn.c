/* SPDX-License-Identifier: MIT */
#include "backend/io/ecn.h"

#include "backend/io/tun-offload.h"

uint8_t io_ecn_of_packet(const uint8_t *p, size_t len)
{
        if (len >= 20 && p[0] >> 4 == 4)
                return p[1] & 3;
        if (len >= 40 && p[0] >> 4 == 6)
                return (p[1] >> 4) & 3;
        return IO_ECN_NOT_ECT;
}

void io_ecn_decapsulate(uint8_t *p, size_t len, uint8_t outer)
{
        uint8_t inner = io_ecn_of_packet(p, len);
        size_t ihl;
        uint16_t csum;

        if (outer != IO_ECN_CE || inner == IO_ECN_NOT_ECT || inner == IO_ECN_CE)
                return;
        if (p[0] >> 4 == 6) {
                p[1] |= IO_ECN_CE << 4;
                return;
        }
        ihl = (size_t)(p[0] & 15) * 4;
        if (ihl < 20 || ihl > len)
                return;
        p[1] |= IO_ECN_CE;
        p[10] = p[11] = 0;
        csum = (uint16_t)~inet_csum_fold(inet_csum_add(0, p, ihl));
        p[10] = (uint8_t)(csum >> 8);
        p[11] = (uint8_t)csum;
}
