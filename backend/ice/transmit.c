/* SPDX-License-Identifier: MIT */
#include "backend/ice/transmit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ice_txq_init(struct ice_txq *q, size_t cap)
{
        memset(q, 0, sizeof(*q));
        q->items = calloc(cap, sizeof(*q->items));
        if (!q->items)
                return -ENOMEM;
        q->cap = cap;
        return 0;
}

void ice_txq_release(struct ice_txq *q)
{
        free(q->items);
        memset(q, 0, sizeof(*q));
}

size_t ice_txq_space(const struct ice_txq *q)
{
        return q->cap - q->count;
}

struct ice_transmit *ice_txq_push(struct ice_txq *q)
{
        struct ice_transmit *t;

        if (q->count == q->cap) {
                q->dropped++;
                return NULL;
        }
        t = &q->items[(q->head + q->count) % q->cap];
        q->count++;
        memset(&t->src, 0, sizeof(t->src));
        t->len = 0;
        return t;
}

bool ice_txq_pop(struct ice_txq *q, struct ice_transmit *ret)
{
        struct ice_transmit *t;

        if (q->count == 0)
                return false;
        t = &q->items[q->head];
        ret->src = t->src;
        ret->dst = t->dst;
        ret->len = t->len;
        memcpy(ret->data, t->data, t->len);
        q->head = (q->head + 1) % q->cap;
        q->count--;
        return true;
}
