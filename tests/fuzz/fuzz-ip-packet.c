/* SPDX-License-Identifier: MIT */
/* IP packets as the TUN or a peer delivers them: parse, and for whatever parses, the paths
 * that build from it (ICMP errors, rewrites, checksums, the embedded-packet parser). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_packet p;
        uint8_t out[1280];

        if (kiln_packet_parse_embedded(data, size, &p) == 0 && p.l4_len > p.len)
                abort();
        if (kiln_packet_parse(data, size, &p) < 0)
                return 0;
        if (p.len > size || p.l3_len + p.l4_len != p.len)
                abort();
        (void)kiln_packet_checksums_ok(data, size);
        ssize_t n = kiln_packet_icmp_unreachable(data, size, KILN_ICMP_PROHIBITED, out, sizeof(out));
        if (n > 0) {
                struct kiln_packet e;
                if (kiln_packet_parse(out, (size_t)n, &e) < 0 || !kiln_packet_checksums_ok(out, (size_t)n))
                        abort();
        }
        uint8_t *copy = malloc(p.len ? p.len : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, p.len);
        struct kiln_ip_addr a = p.dst;
        a.bytes[0] ^= 1;
        if (kiln_packet_rewrite(copy, p.len, &a, &p.src, 1, 2) == 0 &&
            !kiln_packet_checksums_ok(copy, p.len))
                abort();
        free(copy);
        return 0;
}
