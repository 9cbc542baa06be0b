/* SPDX-License-Identifier: MIT */
/* An independent, deliberately naive RFC 1071 checksum check for the offload tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the IPv4 header checksum and the TCP/UDP checksum of a packet are valid. */
bool packet_checksums_ok(const uint8_t *p, size_t len);
