/* SPDX-License-Identifier: MIT */
/* Phoenix V1 JSON frames as the portal reads them from peers (specs/firezone-control-plane.md §2):
 * one object with a string topic and event, any payload (absent = null) and an integer or null ref.
 * Anything else is rejected with a reason; string refs are rejected because the real client
 * cannot read them back either. */
#pragma once

#include <json-glib/json-glib.h>

enum {
        TP_FRAME_MAX = 1024 * 1024,
};

typedef struct {
        char *topic;
        char *event;
        JsonNode *payload; /* never NULL; a JSON null when absent */
        gboolean has_ref;
        gint64 ref;
} TpFrame;

void tp_frame_clear(TpFrame *frame);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TpFrame, tp_frame_clear)

gboolean tp_frame_parse(const char *text, gsize len, TpFrame *ret_frame, GError **error);

/* {"topic":…,"event":…,"payload":…,"ref":ref or null}; takes a reference on payload. */
char *tp_frame_build(const char *topic, const char *event, JsonNode *payload, gboolean has_ref, gint64 ref);

/* The phx_reply for a frame: {"status": status, "response": response or {}}. */
char *tp_frame_build_reply(const char *topic, gint64 ref, const char *status, JsonNode *response);
