/* SPDX-License-Identifier: MIT */
#include "backend/io/tun-device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backend/io/tun-offload.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static int set_txqueuelen(const char *name)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0)
                return -errno;
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        ifr.ifr_qlen = TUN_TXQUEUELEN;
        if (ioctl(fd, SIOCSIFTXQLEN, &ifr) < 0)
                r = -errno;
        close(fd);
        return r;
}

int tun_device_open(const char *name, bool offloads, struct tun_device *ret)
{
        /* Tried in order: USO needs Linux 6.2; TSO alone is older; none is the fallback. */
        static const unsigned sets[] = {
                TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
                TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
                TUN_F_CSUM,
        };
        struct tun_device dev = { .fd = -1, .vnet_hdr = true };
        struct ifreq ifr = { 0 };
        int r;

        dev.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (dev.fd < 0 && errno == ENOENT) {
                /* Containers often lack the node; the kernel has the device anyway. */
                mkdir("/dev/net", 0751);
                if (mknod("/dev/net/tun", S_IFCHR | 0666, makedev(10, 200)) == 0)
                        dev.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        }
        if (dev.fd < 0)
                return -errno;
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
        if (name)
                snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        if (ioctl(dev.fd, TUNSETIFF, &ifr) < 0) {
                r = -errno;
                close(dev.fd);
                return r;
        }
        snprintf(dev.name, sizeof(dev.name), "%s", ifr.ifr_name);
        for (size_t i = 0; offloads && i < sizeof(sets) / sizeof(sets[0]); i++) {
                if (ioctl(dev.fd, TUNSETOFFLOAD, (unsigned long)sets[i]) == 0) {
                        dev.offloads = sets[i];
                        break;
                }
        }
        /* A refused txqueuelen is not fatal: the device works, with more drops under load. */
        set_txqueuelen(dev.name);
        *ret = dev;
        return 0;
}

void tun_device_close(struct tun_device *dev)
{
        if (dev && dev->fd >= 0) {
                close(dev->fd);
                dev->fd = -1;
        }
}

const char *tun_offloads_describe(unsigned offloads, char *buf, size_t size)
{
        static const struct {
                unsigned bit;
                const char *name;
        } names[] = {
                { TUN_OFFLOAD_CSUM, "csum" }, { TUN_OFFLOAD_TSO4, "tso4" }, { TUN_OFFLOAD_TSO6, "tso6" },
                { TUN_OFFLOAD_USO4, "uso4" }, { TUN_OFFLOAD_USO6, "uso6" },
        };
        size_t used = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (offloads & names[i].bit)
                        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                                 used ? " " : "", names[i].name);
        if (!offloads)
                snprintf(buf, size, "none");
        return buf;
}
