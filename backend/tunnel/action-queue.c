/* SPDX-License-Identifier: MIT */
#include "backend/tunnel/action-queue.h"

#include <stdlib.h>
#include <string.h>

void kiln_action_queue_init(struct kiln_action_queue *q, size_t item_size)
{
        *q = (struct kiln_action_queue){ .item_size = item_size };
}

void kiln_action_queue_clear(struct kiln_action_queue *q)
{
        for (size_t i = q->head; i < q->len; i++)
                free(q->data[i]);
        free(q->items);
        free(q->data);
        free(q->returned);
        kiln_action_queue_init(q, q->item_size);
}

void *kiln_action_queue_push(struct kiln_action_queue *q, const uint8_t *data, size_t len,
                             const uint8_t **ret_data)
{
        if (q->head == q->len)
                q->head = q->len = 0;
        if (q->len == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 32;
                uint8_t *items = realloc(q->items, cap * q->item_size);
                if (!items)
                        return NULL;
                q->items = items;
                uint8_t **d = realloc(q->data, cap * sizeof(*d));
                if (!d)
                        return NULL;
                q->data = d;
                q->cap = cap;
        }
        uint8_t *copy = NULL;
        if (len) {
                copy = malloc(len);
                if (!copy)
                        return NULL;
                memcpy(copy, data, len);
        }
        void *item = q->items + q->len * q->item_size;
        memset(item, 0, q->item_size);
        q->data[q->len++] = copy;
        *ret_data = copy;
        return item;
}

bool kiln_action_queue_pop(struct kiln_action_queue *q, void *ret_item)
{
        free(q->returned);
        q->returned = NULL;
        if (q->head == q->len)
                return false;
        memcpy(ret_item, q->items + q->head * q->item_size, q->item_size);
        q->returned = q->data[q->head++];
        return true;
}
