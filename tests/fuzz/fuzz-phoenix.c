/* SPDX-License-Identifier: MIT */
/* Phoenix frames arrive from the portal over the network; parse and re-serialize whatever parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/portal/phoenix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        g_autoptr(KilnPhoenixFrame) again = NULL;
        g_autofree char *text = NULL;
        KilnPhoenixReply reply;

        if (!kiln_phoenix_frame_parse((const char *)data, size, &frame, NULL))
                return 0;
        if (kiln_phoenix_reply_parse(frame, &reply, NULL))
                kiln_phoenix_reply_clear(&reply);
        /* What parses serializes to a frame that parses to the same topic, event and ref (numbers
         * may print longer than they were written, so leave room under the size limit). */
        if (size > KILN_PHOENIX_MAX_FRAME / 4)
                return 0;
        text = kiln_phoenix_frame_serialize(frame->topic, frame->event, frame->payload, frame->ref);
        if (!kiln_phoenix_frame_parse(text, strlen(text), &again, NULL) ||
            strcmp(again->topic, frame->topic) != 0 || strcmp(again->event, frame->event) != 0 ||
            again->ref != frame->ref)
                abort();
        return 0;
}
