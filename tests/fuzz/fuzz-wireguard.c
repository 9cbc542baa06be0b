/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard receive path, driven through two engines with fixed keys and seeds.  Input:
 * one timing-profile byte, then records of [op | time << 2][length: 2 bytes, big-endian][bytes],
 * where op delivers a datagram to A or B, or feeds an IP packet to A's or B's TUN (see wg-sim.h).
 * The seed corpus holds transcripts recorded by test-device (real handshakes, cookies and data,
 * so mutations reach deep states) and malformed variants.
 */
#include <stddef.h>
#include <stdint.h>

#include "backend/crypto/keys.h"
#include "tests/backend/wireguard/wg-sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (kiln_crypto_init() < 0)
                return 0;
        wg_sim_replay_transcript(data, size);
        return 0;
}
