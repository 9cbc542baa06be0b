/* SPDX-License-Identifier: MIT */
#include "backend/platform/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

static int ifreq_ioctl(unsigned long request, struct ifreq *ifr)
{
        int fd, r = 0;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, request, ifr) < 0)
                r = -errno;
        close(fd);
        return r;
}

int tun_get_mtu(const char *name)
{
        struct ifreq ifr = { 0 };
        int r;

        if (strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        strcpy(ifr.ifr_name, name);
        r = ifreq_ioctl(SIOCGIFMTU, &ifr);
        return r < 0 ? r : ifr.ifr_mtu;
}

int tun_open(const char *name, unsigned mtu, char ret_name[IFNAMSIZ])
{
        struct ifreq ifr = { 0 };
        int fd, r;

        if (strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        strcpy(ifr.ifr_name, name);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                r = -errno;
                goto fail;
        }
        r = tun_set_mtu_up(ifr.ifr_name, mtu);
        if (r < 0)
                goto fail;
        if (ret_name)
                memcpy(ret_name, ifr.ifr_name, IFNAMSIZ);
        return fd;
fail:
        close(fd);
        return r;
}

int tun_set_mtu_up(const char *name, unsigned mtu)
{
        struct ifreq ifr = { 0 };
        int r;

        if (strlen(name) >= IFNAMSIZ)
                return -EINVAL;
        strcpy(ifr.ifr_name, name);
        ifr.ifr_mtu = (int)mtu;
        r = ifreq_ioctl(SIOCSIFMTU, &ifr);
        if (r < 0)
                return r;
        r = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
        if (r < 0)
                return r;
        ifr.ifr_flags |= IFF_UP;
        return ifreq_ioctl(SIOCSIFFLAGS, &ifr);
}
