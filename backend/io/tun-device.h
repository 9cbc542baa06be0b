/* SPDX-License-Identifier: MIT */
/*
 * Opens a TUN device for the data plane: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR (never
 * IFF_MULTI_QUEUE: attaching to a device another process holds must fail), non-blocking,
 * offloads probed with TUNSETOFFLOAD from the full set down to none, txqueuelen raised so
 * bursts queue in the kernel instead of being dropped (Firezone: 500 → 10 000).
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>

#define TUN_TXQUEUELEN 10000

struct tun_device {
        int fd;
        char name[IFNAMSIZ];
        bool vnet_hdr;
        unsigned offloads; /* TUN_OFFLOAD_* the kernel accepted */
};

/* name: the wanted interface name (may hold a %d), or NULL for the kernel's choice. */
int tun_device_open(const char *name, bool offloads, struct tun_device *ret);
void tun_device_close(struct tun_device *dev);
/* "csum tso4 tso6 uso4 uso6" or "none", for logs. */
const char *tun_offloads_describe(unsigned offloads, char *buf, size_t size);
