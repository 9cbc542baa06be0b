/* SPDX-License-Identifier: MIT */
/* The test portal reads Phoenix frames and tokens from any peer that connects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/portal/phoenix.h"
#include "tests/portal/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t secret[TP_SECRET_LEN] = { 7 };
        g_auto(TpFrame) frame = { 0 };
        g_auto(TpTokenClaims) claims = { 0 };
        g_autofree char *text = g_strndup((const char *)data, size);

        /* An accepted frame rebuilds into one that parses to the same topic, event and ref. */
        if (tp_frame_parse((const char *)data, size, &frame, NULL)) {
                g_auto(TpFrame) again = { 0 };
                g_autofree char *rebuilt =
                    tp_frame_build(frame.topic, frame.event, frame.payload, frame.has_ref, frame.ref);

                if (!tp_frame_parse(rebuilt, strlen(rebuilt), &again, NULL) ||
                    strcmp(frame.topic, again.topic) || strcmp(frame.event, again.event) ||
                    frame.has_ref != again.has_ref || frame.ref != again.ref)
                        abort();
        }
        /* No forged input verifies, and nothing crashes on the way. */
        if (tp_token_verify(secret, text, 0, &claims) == TP_TOKEN_OK)
                abort();
        return 0;
}
