/* SPDX-License-Identifier: MIT */
/*
 * kiln-portal-decode [--gateway]: reads one portal → client frame (Phoenix V1 JSON) on stdin
 * and prints, as JSON on stdout, what Kiln's client understood: the event and its normalized
 * payload.  With --gateway the frame is a portal → gateway frame on topic "gateway".
 * A frame that is rejected or skipped exits 2 with the reason on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/portal/gateway-messages.h"
#include "backend/portal/messages.h"
#include "backend/portal/phoenix.h"

static int reject(const char *reason)
{
        fprintf(stderr, "rejected: %s\n", reason);
        return 2;
}

static void print_json(JsonNode *node)
{
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autofree char *text = NULL;

        json_generator_set_pretty(gen, TRUE);
        json_generator_set_indent(gen, 2);
        json_generator_set_root(gen, node);
        text = json_generator_to_data(gen, NULL);
        printf("%s\n", text);
}

static JsonNode *control_frame_to_json(const KilnPhoenixFrame *frame, GError **error)
{
        static const char *const reasons[] = { NULL, "unmatched topic", "invalid_version", "disabled",
                                               "other" };
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, frame->event);
        json_builder_set_member_name(b, "topic");
        json_builder_add_string_value(b, frame->topic);
        json_builder_set_member_name(b, "ref");
        if (frame->has_ref)
                json_builder_add_int_value(b, (gint64)frame->ref);
        else
                json_builder_add_null_value(b);
        if (g_str_equal(frame->event, KILN_PHOENIX_EVENT_REPLY)) {
                KilnPhoenixReply reply;

                if (!kiln_phoenix_reply_parse(frame, &reply, error))
                        return NULL;
                json_builder_set_member_name(b, "status");
                json_builder_add_string_value(b, reply.status == KILN_PHOENIX_REPLY_OK ? "ok" : "error");
                if (reply.status == KILN_PHOENIX_REPLY_ERROR) {
                        json_builder_set_member_name(b, "reason");
                        json_builder_add_string_value(b, reply.reason_text);
                        json_builder_set_member_name(b, "reason_kind");
                        json_builder_add_string_value(b, reasons[reply.reason]);
                }
                kiln_phoenix_reply_clear(&reply);
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

int main(int argc, char *argv[])
{
        g_autoptr(GByteArray) input = g_byte_array_new();
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        g_autoptr(KilnPortalMessage) message = NULL;
        g_autoptr(KilnPortalGatewayMessage) gateway_message = NULL;
        gboolean gateway = argc == 2 && g_str_equal(argv[1], "--gateway");
        const char *topic = gateway ? KILN_PORTAL_TOPIC_GATEWAY : KILN_PORTAL_TOPIC_CLIENT;
        gboolean parsed;
        g_autoptr(JsonNode) out = NULL;
        g_autoptr(GError) error = NULL;
        guint8 buf[65536];
        ssize_t n;

        if (argc > 2 || (argc == 2 && !gateway)) {
                fprintf(stderr, "usage: %s [--gateway] < frame.json\n", argv[0]);
                return 1;
        }
        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        perror("kiln-portal-decode: read");
                        return 1;
                }
                g_byte_array_append(input, buf, (guint)n);
                if (input->len > KILN_PHOENIX_MAX_FRAME)
                        return reject("frame is over the size limit");
        }
        if (!kiln_phoenix_frame_parse((const char *)input->data, input->len, &frame, &error))
                return reject(error->message);

        if (g_str_equal(frame->event, KILN_PHOENIX_EVENT_REPLY) ||
            g_str_equal(frame->event, KILN_PHOENIX_EVENT_ERROR) ||
            g_str_equal(frame->event, KILN_PHOENIX_EVENT_CLOSE)) {
                out = control_frame_to_json(frame, &error);
                if (!out)
                        return reject(error->message);
                print_json(out);
                return 0;
        }
        if (!g_str_equal(frame->topic, topic)) {
                g_autofree char *reason = g_strdup_printf("topic \"%s\" is not \"%s\"", frame->topic, topic);

                return reject(reason);
        }
        if (gateway)
                parsed = kiln_portal_gateway_message_parse(frame->event, frame->payload, &gateway_message,
                                                           &error);
        else
                parsed = kiln_portal_message_parse(frame->event, frame->payload, &message, &error);
        if (!parsed) {
                if (g_error_matches(error, KILN_PORTAL_ERROR, KILN_PORTAL_ERROR_UNKNOWN_EVENT)) {
                        fprintf(stderr, "rejected: %s (skipped)\n", error->message);
                        return 2;
                }
                return reject(error->message);
        }
        out = gateway ? kiln_portal_gateway_message_to_json(gateway_message)
                      : kiln_portal_message_to_json(message);
        print_json(out);
        return 0;
}
