/* SPDX-License-Identifier: MIT */
#include "backend/ice/transmit.h"

#include <string.h>

struct ice_transmit *ice_txq_push(struct ice_txq *q)
{
        struct ice_transmit *t;

        if (q->count == ICE_TXQ_LEN) {
                q->dropped++;
                return NULL;
        }
        t = &q->items[(q->head + q->count) % ICE_TXQ_LEN];
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
        q->head = (q->head + 1) % ICE_TXQ_LEN;
        q->count--;
        return true;
}
