/* SPDX-License-Identifier: MIT */
/*
 * What the interop probes (kiln-ice-probe, kiln-node-probe) share: a monotonic clock, one
 * non-blocking UDP socket, poll timeouts from deadlines, and the candidate files the test
 * scripts use as the "portal" between two probes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/ice/addr.h"
#include "backend/ice/transmit.h"

uint64_t probe_now_ns(void);
/* "IP:PORT" or "[IPv6]:PORT" */
int probe_parse_hostport(struct ice_addr *ret, const char *s);
/* A non-blocking UDP socket bound to bind_addr; exits on failure. */
int probe_open_socket(const struct ice_addr *bind_addr);
void probe_send(int fd, const struct ice_transmit *t);
ssize_t probe_recv(int fd, uint8_t *buf, size_t cap, struct ice_addr *from);
/* Milliseconds to sleep until deadline, at most one second. */
int probe_poll_ms(uint64_t deadline, uint64_t now);
/* Calls fn for every new complete line of path since *offset ("a=" stripped; a leading '-'
 * means the candidate is withdrawn). */
void probe_read_candidates(const char *path, long *offset,
                           void (*fn)(void *userdata, const char *sdp, bool withdraw), void *userdata);
