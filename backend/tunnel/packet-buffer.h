/* SPDX-License-Identifier: MIT */
/*
 * A bounded FIFO of IP packets for traffic that waits for something (an authorization, a
 * connection, a NAT confirmation).  Byte-identical duplicates are dropped and a retransmitted
 * TCP SYN replaces the buffered one of the same flow, so a retrying application does not
 * fill the buffer; when full, the oldest packet goes.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kiln_packet_buffer {
        struct {
                uint8_t *data;
                size_t len;
        } * v;
        size_t n, cap;
        size_t dropped;
};

void kiln_packet_buffer_init(struct kiln_packet_buffer *b, size_t cap);
void kiln_packet_buffer_clear(struct kiln_packet_buffer *b);
/* -ENOMEM on allocation failure; 0 otherwise (also when deduplicated or an old packet went). */
int kiln_packet_buffer_push(struct kiln_packet_buffer *b, const uint8_t *pkt, size_t len);
/* Takes the oldest packet (caller frees); NULL when empty. */
uint8_t *kiln_packet_buffer_pop(struct kiln_packet_buffer *b, size_t *ret_len);
