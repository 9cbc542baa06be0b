/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/packet-buffer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/packet.h"

void kiln_packet_buffer_init(struct kiln_packet_buffer *b, size_t cap)
{
        *b = (struct kiln_packet_buffer){ .cap = cap };
}

void kiln_packet_buffer_clear(struct kiln_packet_buffer *b)
{
        for (size_t i = 0; i < b->n; i++)
                free(b->v[i].data);
        free(b->v);
        b->v = NULL;
        b->n = 0;
}

static bool is_syn(const struct kiln_packet *p)
{
        return p->proto == KILN_IPPROTO_TCP && p->has_ports && (p->tcp_flags & KILN_TCP_SYN) &&
               !(p->tcp_flags & KILN_TCP_ACK);
}

static bool same_flow(const struct kiln_packet *a, const struct kiln_packet *b)
{
        return a->proto == b->proto && kiln_ip_addr_equal(&a->src, &b->src) &&
               kiln_ip_addr_equal(&a->dst, &b->dst) && a->sport == b->sport && a->dport == b->dport;
}

int kiln_packet_buffer_push(struct kiln_packet_buffer *b, const uint8_t *pkt, size_t len)
{
        struct kiln_packet p, q;
        bool syn = kiln_packet_parse(pkt, len, &p) == 0 && is_syn(&p);

        if (b->cap == 0) {
                b->dropped++;
                return 0;
        }

        for (size_t i = 0; i < b->n; i++) {
                if (b->v[i].len == len && memcmp(b->v[i].data, pkt, len) == 0)
                        return 0;
                if (syn && kiln_packet_parse(b->v[i].data, b->v[i].len, &q) == 0 && is_syn(&q) &&
                    same_flow(&p, &q)) {
                        uint8_t *copy = malloc(len);
                        if (!copy)
                                return -ENOMEM;
                        memcpy(copy, pkt, len);
                        free(b->v[i].data);
                        b->v[i].data = copy;
                        b->v[i].len = len;
                        return 0;
                }
        }
        if (!b->v) {
                b->v = calloc(b->cap, sizeof(*b->v));
                if (!b->v)
                        return -ENOMEM;
        }
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, pkt, len);
        if (b->n == b->cap) {
                free(b->v[0].data);
                memmove(&b->v[0], &b->v[1], (b->n - 1) * sizeof(*b->v));
                b->n--;
                b->dropped++;
        }
        b->v[b->n].data = copy;
        b->v[b->n].len = len;
        b->n++;
        return 0;
}

uint8_t *kiln_packet_buffer_pop(struct kiln_packet_buffer *b, size_t *ret_len)
{
        if (b->n == 0)
                return NULL;
        uint8_t *d = b->v[0].data;
        *ret_len = b->v[0].len;
        memmove(&b->v[0], &b->v[1], (b->n - 1) * sizeof(*b->v));
        b->n--;
        return d;
}
