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
/* Sets the MTU of an existing interface and brings it up (e.g. a TUN opened with
 * backend/io/tun-device.h).  0 or -errno. */
int tun_set_mtu_up(const char *name, unsigned mtu);
