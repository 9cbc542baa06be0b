/* SPDX-License-Identifier: MIT */
/*
 * The crypto bound of a WireGuard data plane on this machine: libsodium's
 * ChaCha20-Poly1305 (IETF) encrypting 1280-byte packets in place on one core, as kiln-wg does.
 * Rates are per second of this thread's CPU time.
 * Prints "aead-rate: N Gbit/s (M packets/s, SIZE-byte packets)" and, with --gbit, only N.
 *   aead-rate [--gbit] [--size BYTES] [--seconds S]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* CPU time of this thread, not the wall clock: the machine is shared, and the bound is what one
 * core does while it runs this, however often others preempt it. */
static double seconds_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        size_t size = 1280;
        double seconds = 1.0, start, elapsed;
        bool gbit_only = false;
        uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
        uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };
        uint8_t tag[crypto_aead_chacha20poly1305_ietf_ABYTES];
        uint8_t *buf;
        uint64_t packets = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--gbit") == 0)
                        gbit_only = true;
                else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
                        size = (size_t)strtoul(argv[++i], NULL, 10);
                else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
                        seconds = strtod(argv[++i], NULL);
                else {
                        fprintf(stderr, "usage: aead-rate [--gbit] [--size BYTES] [--seconds S]\n");
                        return 2;
                }
        }
        if (sodium_init() < 0 || size == 0 || size > 65535 || !(buf = calloc(1, size)))
                return 1;
        randombytes_buf(key, sizeof(key));
        start = seconds_now();
        do {
                /* Check the clock every 1024 packets only: the loop measures the AEAD. */
                for (int i = 0; i < 1024; i++) {
                        memcpy(nonce + 4, &packets, sizeof(packets));
                        crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL, buf, size, NULL,
                                                                           0, NULL, nonce, key);
                        packets++;
                }
                elapsed = seconds_now() - start;
        } while (elapsed < seconds);
        if (gbit_only)
                printf("%.2f\n", (double)packets * (double)size * 8 / elapsed / 1e9);
        else
                printf("aead-rate: %.2f Gbit/s (%.0f packets/s, %zu-byte packets, one core)\n",
                       (double)packets * (double)size * 8 / elapsed / 1e9, (double)packets / elapsed, size);
        sodium_memzero(key, sizeof(key));
        free(buf);
        return 0;
}
