/* SPDX-License-Identifier: MIT */
/*
 * Everything read from a TUN is untrusted: virtio_net_hdr + IP packet go through tun_split().
 * Whatever it accepts must be well-formed packets with valid checksums, and coalescing those
 * packets again and splitting the result must give the same packets back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/io/tun-offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[2 * 65536 + 4096];
static uint8_t merged[TUN_VNET_HDR_LEN + 65535];
static uint8_t again[2 * 65536 + 4096];

static int verify_l4(const uint8_t *p, size_t len)
{
        size_t ip = (p[0] >> 4) == 4 ? (size_t)(p[0] & 15) * 4 : 40;
        uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];

        if (proto != 6 && proto != 17)
                return 1;
        if ((proto == 6 && len - ip < 20) || (proto == 17 && len - ip < 8))
                return 1;
        return inet_csum_fold(inet_csum_add(inet_pseudo_sum(p, proto, len - ip), p + ip, len - ip)) ==
               0xffff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tun_segment segs[TUN_SPLIT_MAX_SEGMENTS], segs2[TUN_SPLIT_MAX_SEGMENTS];
        const uint8_t *pkts[TUN_SPLIT_MAX_SEGMENTS];
        size_t lens[TUN_SPLIT_MAX_SEGMENTS];
        const char *reason = NULL;
        int n;

        if (size > TUN_VNET_HDR_LEN + 65535)
                return 0;
        n = tun_split(data, size, true, out, sizeof(out), segs, TUN_SPLIT_MAX_SEGMENTS, &reason);
        if (n < 0) {
                if (!reason)
                        abort(); /* every reject says why */
                return 0;
        }
        if (n == 0)
                abort();
        bool all_valid = true;

        for (int i = 0; i < n; i++) {
                if (segs[i].off + segs[i].len > sizeof(out))
                        abort();
                pkts[i] = out + segs[i].off;
                lens[i] = segs[i].len;
                /* A GSO split recomputes every checksum: they must verify. */
                if ((data[1] & 0x7f) != 0 && !verify_l4(pkts[i], lens[i]))
                        abort();
                all_valid = all_valid && verify_l4(pkts[i], lens[i]);
        }
        /* Packets copied as they came (GSO_NONE) may carry wrong checksums, which a
         * coalesced write legitimately replaces: compare only packets that were valid. */
        if (!all_valid)
                return 0;
        /* Coalesce and split again: the same packets, byte for byte (IPv4 ids aside). */
        for (size_t done = 0; done < (size_t)n;) {
                size_t len = 0, used = tun_coalesce(pkts + done, lens + done, (size_t)n - done, 0x67, merged,
                                                    sizeof(merged), &len);
                int m;

                if (used == 0)
                        abort();
                m = tun_split(merged, len, true, again, sizeof(again), segs2, TUN_SPLIT_MAX_SEGMENTS,
                              &reason);
                if (m != (int)used)
                        abort();
                for (int k = 0; k < m; k++) {
                        const uint8_t *a = again + segs2[k].off, *b = pkts[done + (size_t)k];

                        if (segs2[k].len != lens[done + (size_t)k])
                                abort();
                        if (used > 1 && (a[0] >> 4) == 4) {
                                if (memcmp(a, b, 4) != 0 || memcmp(a + 6, b + 6, 4) != 0 ||
                                    memcmp(a + 12, b + 12, segs2[k].len - 12) != 0)
                                        abort();
                        } else if ((used == 1 || (a[0] >> 4) == 6) && memcmp(a, b, segs2[k].len) != 0) {
                                abort();
                        }
                }
                done += used;
        }
        return 0;
}
