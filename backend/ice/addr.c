/* SPDX-License-Identifier: MIT */
#include "backend/ice/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

bool ice_addr_ip_equal(const struct ice_addr *a, const struct ice_addr *b)
{
        return a->family == b->family && memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

bool ice_addr_equal(const struct ice_addr *a, const struct ice_addr *b)
{
        return ice_addr_ip_equal(a, b) && a->port == b->port;
}

int ice_addr_from_ip_string(struct ice_addr *ret, const char *ip, uint16_t port)
{
        struct ice_addr a = { .port = port };

        if (inet_pton(AF_INET, ip, a.ip) == 1)
                a.family = 4;
        else if (inet_pton(AF_INET6, ip, a.ip) == 1)
                a.family = 6;
        else
                return -EINVAL;
        *ret = a;
        return 0;
}

const char *ice_addr_ip_to_string(const struct ice_addr *a, char buf[static ICE_ADDR_STRLEN])
{
        if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->ip, buf, ICE_ADDR_STRLEN))
                snprintf(buf, ICE_ADDR_STRLEN, "?");
        return buf;
}

const char *ice_addr_to_string(const struct ice_addr *a, char buf[static ICE_ADDR_STRLEN])
{
        char ip[ICE_ADDR_STRLEN];

        ice_addr_ip_to_string(a, ip);
        snprintf(buf, ICE_ADDR_STRLEN, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
        return buf;
}

int ice_addr_from_sockaddr(struct ice_addr *ret, const struct sockaddr *sa, socklen_t len)
{
        struct ice_addr a = { 0 };

        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

                a.family = 4;
                memcpy(a.ip, &in->sin_addr, 4);
                a.port = ntohs(in->sin_port);
        } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

                a.family = 6;
                memcpy(a.ip, &in6->sin6_addr, 16);
                a.port = ntohs(in6->sin6_port);
        } else {
                return -EAFNOSUPPORT;
        }
        *ret = a;
        return 0;
}

socklen_t ice_addr_to_sockaddr(const struct ice_addr *a, struct sockaddr_storage *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (a->family == 6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

                in6->sin6_family = AF_INET6;
                memcpy(&in6->sin6_addr, a->ip, 16);
                in6->sin6_port = htons(a->port);
                return sizeof(*in6);
        }
        struct sockaddr_in *in = (struct sockaddr_in *)ret;

        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->ip, 4);
        in->sin_port = htons(a->port);
        return sizeof(*in);
}
