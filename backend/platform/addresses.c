/* SPDX-License-Identifier: MIT */
#include "backend/platform/addresses.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
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
static int rtnl_request(struct nlmsghdr *n)
{
        union {
                char buf[4096];
                struct nlmsghdr align;
        } resp;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        int fd, r;
        ssize_t got;

        n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        n->nlmsg_seq = 1;
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

typedef union {
        char buf[256];
        struct nlmsghdr align;
} Request;

static int address_request(unsigned short type, unsigned short flags, unsigned ifindex,
                           const KilnIfAddress *a)
{
        Request req = { 0 };
        struct nlmsghdr *n = &req.align;
        struct ifaddrmsg *ifa;
        size_t len = a->family == AF_INET ? sizeof(a->in) : sizeof(a->in6);

        if (a->family != AF_INET && a->family != AF_INET6)
                return -EAFNOSUPPORT;
        n->nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
        n->nlmsg_type = type;
        n->nlmsg_flags = flags;
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
        return rtnl_request(n);
}

static struct rtattr *nest_begin(struct nlmsghdr *n, unsigned short type)
{
        struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

        rta->rta_type = type;
        n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_LENGTH(0);
        return rta;
}

static void nest_end(struct nlmsghdr *n, struct rtattr *rta)
{
        rta->rta_len = (unsigned short)((char *)n + n->nlmsg_len - (char *)rta);
}

/* Sets the IFF_UP flag to `up`, or (gen_mode_none) only IFLA_INET6_ADDR_GEN_MODE = none. */
static int link_request(unsigned ifindex, int up, int gen_mode_none)
{
        Request req = { 0 };
        struct nlmsghdr *n = &req.align;
        struct ifinfomsg *ifi;

        n->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
        n->nlmsg_type = RTM_NEWLINK;
        ifi = NLMSG_DATA(n);
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = (int)ifindex;
        if (gen_mode_none) {
                uint8_t mode = IN6_ADDR_GEN_MODE_NONE;
                struct rtattr *spec = nest_begin(n, IFLA_AF_SPEC);
                struct rtattr *inet6 = nest_begin(n, AF_INET6);

                add_attr(n, IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof(mode));
                nest_end(n, inet6);
                nest_end(n, spec);
        } else {
                ifi->ifi_flags = up ? IFF_UP : 0;
                ifi->ifi_change = IFF_UP;
        }
        return rtnl_request(n);
}

int kiln_if_disable_ipv6_link_local(unsigned ifindex)
{
        int r, r_up;

        /* Down first: that flushes the link-local address the kernel made when the device came up. */
        r = link_request(ifindex, 0, 0);
        if (r < 0)
                return r;
        r = link_request(ifindex, 0, 1);
        r_up = link_request(ifindex, 1, 0);
        return r < 0 ? r : r_up;
}

int kiln_if_address_add(unsigned ifindex, const KilnIfAddress *address)
{
        int r = address_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address);

        return r == -EEXIST ? 0 : r;
}

int kiln_if_address_del(unsigned ifindex, const KilnIfAddress *address)
{
        int r = address_request(RTM_DELADDR, 0, ifindex, address);

        return r == -EADDRNOTAVAIL || r == -ENODEV ? 0 : r;
}
