/* SPDX-License-Identifier: MIT */
#include "backend/platform/addresses.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

int kiln_if_address_parse(const char *text, KilnIfAddress *ret_address)
{
        KilnIfAddress a = { 0 };

        if (!text)
                return -EINVAL;
        if (inet_pton(AF_INET, text, &a.in) == 1) {
                a.family = AF_INET;
                a.prefixlen = 32;
        } else if (inet_pton(AF_INET6, text, &a.in6) == 1) {
                a.family = AF_INET6;
                a.prefixlen = 128;
        } else {
                return -EINVAL;
        }
        *ret_address = a;
        return 0;
}

static void add_attr(struct nlmsghdr *n, unsigned short type, const void *data, size_t len)
{
        struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

        rta->rta_type = type;
        rta->rta_len = (unsigned short)RTA_LENGTH(len);
        memcpy(RTA_DATA(rta), data, len);
        n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends one request and waits for its acknowledgement; returns the kernel's -errno. */
static int request(unsigned short type, unsigned short flags, unsigned ifindex, const KilnIfAddress *a)
{
        union {
                char buf[256];
                struct nlmsghdr align;
        } req = { 0 };
        union {
                char buf[4096];
                struct nlmsghdr align;
        } resp;
        struct nlmsghdr *n = &req.align;
        struct ifaddrmsg *ifa;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        size_t len = a->family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
        int fd, r;
        ssize_t got;

        if (a->family != AF_INET && a->family != AF_INET6)
                return -EAFNOSUPPORT;
        n->nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
        n->nlmsg_type = type;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        n->nlmsg_seq = 1;
        ifa = NLMSG_DATA(n);
        ifa->ifa_family = (unsigned char)a->family;
        ifa->ifa_prefixlen = a->prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = ifindex;
        add_attr(n, IFA_LOCAL, &a->in6, len);
        add_attr(n, IFA_ADDRESS, &a->in6, len);
        if (a->family == AF_INET6) {
                /* No duplicate address detection on a point-to-point tunnel: usable at once. */
                uint32_t ifa_flags = IFA_F_NODAD;

                add_attr(n, IFA_FLAGS, &ifa_flags, sizeof(ifa_flags));
        }

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        if (sendto(fd, n, n->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
                r = -errno;
                goto out;
        }
        for (;;) {
                got = recv(fd, resp.buf, sizeof(resp.buf), 0);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                for (struct nlmsghdr *h = &resp.align; NLMSG_OK(h, (unsigned)got); h = NLMSG_NEXT(h, got)) {
                        if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR)
                                continue;
                        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
                                r = -EBADMSG;
                                goto out;
                        }
                        r = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                        goto out;
                }
        }
out:
        close(fd);
        return r;
}

int kiln_if_address_add(unsigned ifindex, const KilnIfAddress *address)
{
        int r = request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address);

        return r == -EEXIST ? 0 : r;
}

int kiln_if_address_del(unsigned ifindex, const KilnIfAddress *address)
{
        int r = request(RTM_DELADDR, 0, ifindex, address);

        return r == -EADDRNOTAVAIL || r == -ENODEV ? 0 : r;
}
