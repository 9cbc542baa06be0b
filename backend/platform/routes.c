/* SPDX-License-Identifier: MIT */
#include "backend/platform/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   32768
#define MAX_ROUTES 65536

struct kiln_routes {
        int fd;
        int ifindex;
        uint32_t seq;
        struct kiln_route *current;
        size_t n_current;
        uint8_t buf[BUF_SIZE];
};

struct request {
        struct nlmsghdr nh;
        union {
                struct rtmsg rt;
                struct fib_rule_hdr rule;
                struct ifaddrmsg ifa;
        };
        uint8_t attrs[256];
};

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
        struct rtattr *a = (struct rtattr *)((uint8_t *)nh + NLMSG_ALIGN(nh->nlmsg_len));
        a->rta_type = type;
        a->rta_len = (unsigned short)RTA_LENGTH(len);
        memcpy(RTA_DATA(a), data, len);
        nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void add_u32(struct nlmsghdr *nh, unsigned short type, uint32_t v)
{
        add_attr(nh, type, &v, sizeof(v));
}

int kiln_routes_new(int ifindex, struct kiln_routes **ret)
{
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        struct kiln_routes *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->ifindex = ifindex;
        r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = -errno;
                kiln_routes_free(r);
                return e;
        }
        *ret = r;
        return 0;
}

void kiln_routes_free(struct kiln_routes *r)
{
        if (!r)
                return;
        if (r->fd >= 0)
                close(r->fd);
        free(r->current);
        free(r);
}

/* Sends one request and waits for its ACK; returns the kernel's -errno. */
static int transact(struct kiln_routes *r, struct nlmsghdr *nh)
{
        uint8_t *buf = r->buf;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

        nh->nlmsg_seq = ++r->seq;
        nh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        if (sendto(r->fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(r->fd, buf, BUF_SIZE, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
                     h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != r->seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error;
                        }
                }
        }
}

typedef void (*dump_cb)(struct kiln_routes *r, const struct rtmsg *rt, struct rtattr *tb[RTA_MAX + 1],
                        void *data);

/* Dumps all routes of one family, calling cb for each. */
static int dump_routes(struct kiln_routes *r, int family, dump_cb cb, void *data)
{
        uint8_t *buf = r->buf;
        struct request req = { 0 };
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        req.nh.nlmsg_type = RTM_GETROUTE;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nh.nlmsg_seq = ++r->seq;
        req.rt.rtm_family = (unsigned char)family;
        if (sendto(r->fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(r->fd, buf, BUF_SIZE, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
                     h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != r->seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR)
                                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
                        if (h->nlmsg_type != RTM_NEWROUTE)
                                continue;
                        struct rtmsg *rt = NLMSG_DATA(h);
                        struct rtattr *tb[RTA_MAX + 1] = { 0 };
                        int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*rt)));
                        for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                                if (a->rta_type <= RTA_MAX)
                                        tb[a->rta_type] = a;
                        cb(r, rt, tb, data);
                }
        }
}

static uint32_t route_table(const struct rtmsg *rt, struct rtattr *tb[RTA_MAX + 1])
{
        if (tb[RTA_TABLE])
                return *(uint32_t *)RTA_DATA(tb[RTA_TABLE]);
        return rt->rtm_table;
}

static int rule(struct kiln_routes *r, int family, uint32_t table, uint32_t priority, bool add)
{
        struct request req = { 0 };
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
        req.nh.nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
        req.nh.nlmsg_flags = add ? (NLM_F_CREATE | NLM_F_EXCL) : 0;
        req.rule.family = (uint8_t)family;
        req.rule.action = FR_ACT_TO_TBL;
        req.rule.flags = FIB_RULE_INVERT;
        req.rule.table = RT_TABLE_UNSPEC;
        add_u32(&req.nh, FRA_TABLE, table);
        add_u32(&req.nh, FRA_PRIORITY, priority);
        add_u32(&req.nh, FRA_FWMARK, KILN_FWMARK);
        add_u32(&req.nh, FRA_FWMASK, 0xffffffffu);
        int ret = transact(r, &req.nh);
        if (add && ret == -EEXIST)
                return 0;
        if (!add && ret == -ENOENT)
                return 0;
        return ret;
}

static const struct {
        uint32_t table, priority;
} rules[] = {
        { KILN_TABLE_RESOURCES, KILN_RULE_PRIORITY_RESOURCES },
        { KILN_TABLE_LINK_SCOPE, KILN_RULE_PRIORITY_LINK_SCOPE },
        { KILN_TABLE_INTERNET, KILN_RULE_PRIORITY_INTERNET },
};

static int rules_apply(struct kiln_routes *r, unsigned families, bool add)
{
        int first = 0;
        for (int f = 0; f < 2; f++) {
                if (!(families & (1u << f)))
                        continue;
                for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
                        int ret =
                            rule(r, f == 0 ? AF_INET : AF_INET6, rules[i].table, rules[i].priority, add);
                        if (ret < 0 && !first)
                                first = ret;
                }
        }
        return first;
}

int kiln_routes_add_rules(struct kiln_routes *r, unsigned families)
{
        return rules_apply(r, families, true);
}

int kiln_routes_remove_rules(struct kiln_routes *r, unsigned families)
{
        return rules_apply(r, families, false);
}

/* One route in one of our tables. */
static int route_msg(struct kiln_routes *r, const struct kiln_route *rt, uint32_t table, int oif,
                     uint8_t scope, bool add)
{
        struct request req = { 0 };
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        req.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
        req.nh.nlmsg_flags = add ? (NLM_F_CREATE | NLM_F_EXCL) : 0;
        req.rt.rtm_family = rt->family == 4 ? AF_INET : AF_INET6;
        req.rt.rtm_dst_len = rt->prefix;
        req.rt.rtm_table = RT_TABLE_UNSPEC;
        req.rt.rtm_protocol = RTPROT_STATIC;
        req.rt.rtm_scope = scope;
        req.rt.rtm_type = RTN_UNICAST;
        add_u32(&req.nh, RTA_TABLE, table);
        if (rt->prefix)
                add_attr(&req.nh, RTA_DST, rt->addr, rt->family == 4 ? 4 : 16);
        if (oif > 0)
                add_u32(&req.nh, RTA_OIF, (uint32_t)oif);
        int ret = transact(r, &req.nh);
        /* Already there / already gone: the state we wanted. */
        if (add && ret == -EEXIST)
                return 0;
        if (!add && (ret == -ESRCH || ret == -ENOENT))
                return 0;
        return ret;
}

int kiln_routes_add_address(struct kiln_routes *r, const struct kiln_route *addr)
{
        struct request req = { 0 };
        size_t len = addr->family == 4 ? 4 : 16;
        int ret;

        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        req.nh.nlmsg_type = RTM_NEWADDR;
        req.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        req.ifa.ifa_family = addr->family == 4 ? AF_INET : AF_INET6;
        req.ifa.ifa_prefixlen = addr->prefix;
        req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
        req.ifa.ifa_index = (unsigned)r->ifindex;
        /* A point-to-point tunnel has no neighbours to detect duplicates with. */
        req.ifa.ifa_flags = addr->family == 6 ? IFA_F_NODAD : 0;
        add_attr(&req.nh, IFA_LOCAL, addr->addr, len);
        add_attr(&req.nh, IFA_ADDRESS, addr->addr, len);
        ret = transact(r, &req.nh);
        return ret == -EEXIST ? 0 : ret;
}

int kiln_routes_add_main(struct kiln_routes *r, const struct kiln_route *rt)
{
        return route_msg(r, rt, RT_TABLE_MAIN, r->ifindex, RT_SCOPE_LINK, true);
}

static uint32_t table_for(const struct kiln_route *rt)
{
        return rt->prefix == 0 ? KILN_TABLE_INTERNET : KILN_TABLE_RESOURCES;
}

struct collected {
        struct {
                struct kiln_route route;
                uint32_t table;
                int oif;
                uint8_t scope;
        } * v;
        size_t n, cap;
        int error;
};

static void collect(struct collected *c, const struct rtmsg *rt, struct rtattr *tb[RTA_MAX + 1],
                    uint32_t table)
{
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 64;
                void *v = realloc(c->v, cap * sizeof(*c->v));
                if (!v) {
                        c->error = -ENOMEM;
                        return;
                }
                c->v = v;
                c->cap = cap;
        }
        memset(&c->v[c->n], 0, sizeof(c->v[0]));
        struct kiln_route *r = &c->v[c->n].route;
        r->family = rt->rtm_family == AF_INET ? 4 : 6;
        r->prefix = rt->rtm_dst_len;
        if (tb[RTA_DST])
                memcpy(r->addr, RTA_DATA(tb[RTA_DST]), r->family == 4 ? 4 : 16);
        c->v[c->n].table = table;
        c->v[c->n].oif = tb[RTA_OIF] ? *(int *)RTA_DATA(tb[RTA_OIF]) : 0;
        c->v[c->n].scope = rt->rtm_scope;
        c->n++;
}

static void collect_ours(struct kiln_routes *r, const struct rtmsg *rt, struct rtattr *tb[RTA_MAX + 1],
                         void *data)
{
        uint32_t table = route_table(rt, tb);
        if (table == KILN_TABLE_RESOURCES || table == KILN_TABLE_LINK_SCOPE || table == KILN_TABLE_INTERNET)
                collect(data, rt, tb, table);
}

static int flush_tables(struct kiln_routes *r, bool link_scope_only)
{
        struct collected c = { 0 };
        int ret = 0;
        for (int f = 0; f < 2 && ret == 0; f++)
                ret = dump_routes(r, f == 0 ? AF_INET : AF_INET6, collect_ours, &c);
        if (ret == 0)
                ret = c.error;
        for (size_t i = 0; i < c.n && ret == 0; i++) {
                if (link_scope_only && c.v[i].table != KILN_TABLE_LINK_SCOPE)
                        continue;
                ret = route_msg(r, &c.v[i].route, c.v[i].table, c.v[i].oif, c.v[i].scope, false);
        }
        free(c.v);
        return ret;
}

int kiln_routes_flush(struct kiln_routes *r)
{
        free(r->current);
        r->current = NULL;
        r->n_current = 0;
        return flush_tables(r, false);
}

static bool route_equal(const struct kiln_route *a, const struct kiln_route *b)
{
        return a->family == b->family && a->prefix == b->prefix &&
               memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static bool contains(const struct kiln_route *v, size_t n, const struct kiln_route *x)
{
        for (size_t i = 0; i < n; i++)
                if (route_equal(&v[i], x))
                        return true;
        return false;
}

int kiln_routes_set(struct kiln_routes *r, const struct kiln_route *routes, size_t n)
{
        int first = 0, ret;

        if (n > MAX_ROUTES)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if ((routes[i].family != 4 && routes[i].family != 6) ||
                    routes[i].prefix > (routes[i].family == 4 ? 32 : 128))
                        return -EINVAL;
        struct kiln_route *copy = malloc((n ? n : 1) * sizeof(*copy));
        if (!copy)
                return -ENOMEM;
        memcpy(copy, routes, n * sizeof(*copy));
        for (size_t i = 0; i < r->n_current; i++) {
                if (contains(routes, n, &r->current[i]))
                        continue;
                ret = route_msg(r, &r->current[i], table_for(&r->current[i]), r->ifindex, RT_SCOPE_UNIVERSE,
                                false);
                if (ret < 0 && !first)
                        first = ret;
        }
        for (size_t i = 0; i < n; i++) {
                if (contains(r->current, r->n_current, &routes[i]))
                        continue;
                ret = route_msg(r, &routes[i], table_for(&routes[i]), r->ifindex, RT_SCOPE_UNIVERSE, true);
                /* An address family the device cannot carry only warns in Firezone; here the
                 * caller decides from the return value. */
                if (ret < 0 && !first)
                        first = ret;
        }
        free(r->current);
        r->current = copy;
        r->n_current = n;
        return first;
}

static void collect_link_scope(struct kiln_routes *r, const struct rtmsg *rt, struct rtattr *tb[RTA_MAX + 1],
                               void *data)
{
        if (route_table(rt, tb) != RT_TABLE_MAIN || rt->rtm_scope != RT_SCOPE_LINK ||
            rt->rtm_type != RTN_UNICAST)
                return;
        if (!tb[RTA_OIF] || *(int *)RTA_DATA(tb[RTA_OIF]) == r->ifindex)
                return;
        if (rt->rtm_flags & RTNH_F_LINKDOWN)
                return;
        collect(data, rt, tb, KILN_TABLE_LINK_SCOPE);
}

int kiln_routes_sync_link_scope(struct kiln_routes *r)
{
        struct collected c = { 0 };
        int ret = flush_tables(r, true);
        for (int f = 0; f < 2 && ret == 0; f++)
                ret = dump_routes(r, f == 0 ? AF_INET : AF_INET6, collect_link_scope, &c);
        if (ret == 0)
                ret = c.error;
        for (size_t i = 0; i < c.n && ret == 0; i++)
                ret = route_msg(r, &c.v[i].route, KILN_TABLE_LINK_SCOPE, c.v[i].oif, RT_SCOPE_LINK, true);
        free(c.v);
        return ret;
}

int kiln_socket_set_mark(int fd)
{
        uint32_t mark = KILN_FWMARK;
        if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
                return -errno;
        return 0;
}

int kiln_route_parse(const char *s, struct kiln_route *ret)
{
        char tmp[64];
        const char *slash = strchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        struct kiln_route rt = { 0 };

        if (alen == 0 || alen >= sizeof(tmp))
                return -EINVAL;
        memcpy(tmp, s, alen);
        tmp[alen] = 0;
        if (inet_pton(AF_INET, tmp, rt.addr) == 1)
                rt.family = 4;
        else if (inet_pton(AF_INET6, tmp, rt.addr) == 1)
                rt.family = 6;
        else
                return -EINVAL;
        unsigned max = rt.family == 4 ? 32 : 128, prefix = max;
        if (slash) {
                char *end;
                unsigned long p = strtoul(slash + 1, &end, 10);
                if (!slash[1] || *end || p > max)
                        return -EINVAL;
                prefix = (unsigned)p;
        }
        for (unsigned bit = prefix; bit < max; bit++)
                if (rt.addr[bit / 8] & (0x80 >> (bit % 8)))
                        return -EINVAL;
        rt.prefix = (uint8_t)prefix;
        *ret = rt;
        return 0;
}
