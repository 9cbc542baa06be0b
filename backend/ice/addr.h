/* SPDX-License-Identifier: MIT */
/* Transport addresses as the ICE/TURN state machines see them: IP family, address, UDP port. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:…:ffff]:65535" plus NUL */
#define ICE_ADDR_STRLEN 48

struct ice_addr {
        uint8_t family; /* 4 or 6; 0 = unset */
        uint16_t port;
        uint8_t ip[16]; /* IPv4 uses the first 4 bytes, the rest stay zero */
};

bool ice_addr_equal(const struct ice_addr *a, const struct ice_addr *b);
bool ice_addr_ip_equal(const struct ice_addr *a, const struct ice_addr *b);
/* Parses a numeric IPv4 or IPv6 address (no port). */
int ice_addr_from_ip_string(struct ice_addr *ret, const char *ip, uint16_t port);
/* "192.0.2.1:3478" or "[2001:db8::1]:3478" */
const char *ice_addr_to_string(const struct ice_addr *a, char buf[static ICE_ADDR_STRLEN]);
/* The IP alone, without port or brackets. */
const char *ice_addr_ip_to_string(const struct ice_addr *a, char buf[static ICE_ADDR_STRLEN]);
int ice_addr_from_sockaddr(struct ice_addr *ret, const struct sockaddr *sa, socklen_t len);
socklen_t ice_addr_to_sockaddr(const struct ice_addr *a, struct sockaddr_storage *ret);
