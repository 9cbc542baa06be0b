/* SPDX-License-Identifier: MIT */
/* Addresses, flows and packet views shared by every part of the IO shell. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* The kernel's limit on one UDP_SEGMENT send, and on the segments of one GRO receive. */
#define IO_GSO_MAX_SEGMENTS 64
#define IO_GSO_MAX_BYTES    65535

/* A socket address of either family, sized and typed for the syscalls. */
union io_sockaddr {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
};

/* A bare local IP address (family 0 = unspecified: let the kernel choose the source). */
struct io_ip {
        sa_family_t family;
        union {
                struct in_addr v4;
                struct in6_addr v6;
        };
};

/* The key of a GSO batch: datagrams may only share one sendmsg() when all of these agree. */
struct io_flow {
        struct io_ip src;
        union io_sockaddr dst;
        uint8_t ecn; /* low two bits of TOS / traffic class */
};

/* One received datagram (a view into a batch buffer) or one outgoing transmit's metadata. */
struct io_datagram {
        const uint8_t *data;
        uint16_t len;
        uint8_t ecn;
        uint8_t socket; /* index of the UDP socket it arrived on */
        struct io_ip local;
        union io_sockaddr peer;
};

socklen_t io_sockaddr_len(const union io_sockaddr *a);
bool io_sockaddr_equal(const union io_sockaddr *a, const union io_sockaddr *b);
bool io_ip_equal(const struct io_ip *a, const struct io_ip *b);
bool io_flow_equal(const struct io_flow *a, const struct io_flow *b);
