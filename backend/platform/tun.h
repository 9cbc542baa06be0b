/* SPDX-License-Identifier: MIT */
/* A layer-3 TUN device (IFF_TUN | IFF_NO_PI): one IP packet per read() and write(). */
#pragma once

#include <net/if.h>

/*
 * Creates (or attaches to) the TUN device name, non-blocking and close-on-exec, sets its MTU and
 * brings it up.  The device disappears when the last fd closes.  Returns the fd or -errno;
 * ret_name (may be NULL) receives the kernel's name for it.
 */
int tun_open(const char *name, unsigned mtu, char ret_name[IFNAMSIZ]);
/* Reads the interface's MTU; returns it or -errno. */
int tun_get_mtu(const char *name);
