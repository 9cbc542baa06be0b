/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/route-watch.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <glib-unix.h>

#define DEBOUNCE_MS 500

struct _KilndRouteWatch {
        int fd;
        guint fd_source;
        guint debounce_source;
        gboolean default_changed;
        KilndRouteWatchFn fn;
        gpointer user_data;
};

static uint32_t route_table(const struct nlmsghdr *nh)
{
        const struct rtmsg *rt = NLMSG_DATA(nh);
        int len = (int)RTM_PAYLOAD(nh);

        for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= sizeof(uint32_t))
                        return *(const uint32_t *)RTA_DATA(a);
        return rt->rtm_table;
}

static gboolean fire(gpointer data)
{
        KilndRouteWatch *w = data;
        gboolean default_changed = w->default_changed;

        w->debounce_source = 0;
        w->default_changed = FALSE;
        w->fn(default_changed, w->user_data);
        return G_SOURCE_REMOVE;
}

static gboolean readable(int fd, GIOCondition condition, gpointer data)
{
        KilndRouteWatch *w = data;
        char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
        gboolean relevant = FALSE;

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == ENOBUFS) {
                        /* Events were lost: assume the worst. */
                        relevant = TRUE;
                        w->default_changed = TRUE;
                        continue;
                }
                if (n <= 0)
                        break;
                for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
                     nh = NLMSG_NEXT(nh, n)) {
                        const struct rtmsg *rt;

                        if (nh->nlmsg_type != RTM_NEWROUTE && nh->nlmsg_type != RTM_DELROUTE)
                                continue;
                        if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
                                continue;
                        rt = NLMSG_DATA(nh);
                        if (route_table(nh) != RT_TABLE_MAIN)
                                continue;
                        relevant = TRUE;
                        if (rt->rtm_dst_len == 0)
                                w->default_changed = TRUE;
                }
        }
        if (relevant) {
                if (w->debounce_source)
                        g_source_remove(w->debounce_source);
                w->debounce_source = g_timeout_add(DEBOUNCE_MS, fire, w);
        }
        return G_SOURCE_CONTINUE;
}

KilndRouteWatch *kilnd_route_watch_new(KilndRouteWatchFn fn, gpointer user_data)
{
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                                  .nl_groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE };
        KilndRouteWatch *w;
        int fd;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0)
                return NULL;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return NULL;
        }
        w = g_new0(KilndRouteWatch, 1);
        w->fd = fd;
        w->fn = fn;
        w->user_data = user_data;
        w->fd_source = g_unix_fd_add(fd, G_IO_IN, readable, w);
        return w;
}

void kilnd_route_watch_free(KilndRouteWatch *w)
{
        if (!w)
                return;
        if (w->debounce_source)
                g_source_remove(w->debounce_source);
        g_source_remove(w->fd_source);
        close(w->fd);
        g_free(w);
}
