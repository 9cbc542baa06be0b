/* SPDX-License-Identifier: MIT */
#include "backend/io/io-types.h"

#include <string.h>

socklen_t io_sockaddr_len(const union io_sockaddr *a)
{
        return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

bool io_sockaddr_equal(const union io_sockaddr *a, const union io_sockaddr *b)
{
        if (a->sa.sa_family != b->sa.sa_family)
                return false;
        if (a->sa.sa_family == AF_INET)
                return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
        if (a->sa.sa_family == AF_INET6)
                return a->in6.sin6_port == b->in6.sin6_port &&
                       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
                       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(struct in6_addr)) == 0;
        return false;
}

bool io_ip_equal(const struct io_ip *a, const struct io_ip *b)
{
        if (a->family != b->family)
                return false;
        if (a->family == AF_INET)
                return a->v4.s_addr == b->v4.s_addr;
        if (a->family == AF_INET6)
                return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
        return true;
}

bool io_flow_equal(const struct io_flow *a, const struct io_flow *b)
{
        return a->ecn == b->ecn && io_ip_equal(&a->src, &b->src) && io_sockaddr_equal(&a->dst, &b->dst);
}
