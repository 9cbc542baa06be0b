/* SPDX-License-Identifier: MIT */
/* Portal → gateway events: a whole frame through the frame parser, the gateway message model
 * and the normalized JSON printer, as kiln-portal-decode --gateway and the session do. */
#include <stdint.h>
#include <stdlib.h>

#include "backend/portal/gateway-messages.h"
#include "backend/portal/phoenix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        g_autoptr(KilnPortalGatewayMessage) message = NULL;
        g_autoptr(JsonNode) out = NULL;
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;

        if (!kiln_phoenix_frame_parse((const char *)data, size, &frame, NULL))
                return 0;
        if (!kiln_portal_gateway_message_parse(frame->event, frame->payload, &message, &error)) {
                /* A rejection always says why. */
                if (!error || !error->message[0])
                        abort();
                return 0;
        }
        out = kiln_portal_gateway_message_to_json(message);
        text = kiln_json_to_string(out);
        if (!text)
                abort();
        return 0;
}
