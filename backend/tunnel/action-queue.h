/* SPDX-License-Identifier: MIT */
/*
 * The FIFO behind the state machines' poll_action(): fixed-size action records, each with an
 * owned copy of its packet bytes.  The bytes of the action last popped stay valid until the
 * next pop or kiln_action_queue_clear().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kiln_action_queue {
        size_t item_size;
        uint8_t *items; /* item_size each */
        uint8_t **data;
        size_t head, len, cap;
        uint8_t *returned;
};

void kiln_action_queue_init(struct kiln_action_queue *q, size_t item_size);
void kiln_action_queue_clear(struct kiln_action_queue *q);
/* A zeroed record to fill, with *ret_data pointing at the copy of data; NULL on ENOMEM. */
void *kiln_action_queue_push(struct kiln_action_queue *q, const uint8_t *data, size_t len,
                             const uint8_t **ret_data);
bool kiln_action_queue_pop(struct kiln_action_queue *q, void *ret_item);
