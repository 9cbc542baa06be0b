/* SPDX-License-Identifier: MIT */
/*
 * Phoenix Channels V1 JSON frames as Firezone's portal speaks them (control-plane spec §2):
 * one JSON object per WebSocket text frame with "topic", "event", "payload" and an integer or
 * null "ref".  The client never sends join_ref and ignores it when the server sends one.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define KILN_PORTAL_ERROR (kiln_portal_error_quark())
GQuark kiln_portal_error_quark(void);

typedef enum {
        KILN_PORTAL_ERROR_INVALID,       /* malformed frame or payload: rejected, nothing changes */
        KILN_PORTAL_ERROR_TOO_LARGE,     /* over a size, depth or count limit */
        KILN_PORTAL_ERROR_UNKNOWN_EVENT, /* well-formed but not an event this client knows: skipped */
} KilnPortalError;

enum {
        KILN_PHOENIX_MAX_FRAME = 4 * 1024 * 1024, /* an init with thousands of resources fits */
        KILN_PHOENIX_MAX_DEPTH = 32,
        KILN_PHOENIX_MAX_NAME = 128, /* topic and event names */
};

/* The ref is a per-connection counter; JSON numbers are exact up to 2^53. */
#define KILN_PHOENIX_MAX_REF G_GUINT64_CONSTANT(9007199254740991)

typedef struct {
        char *topic;
        char *event;
        JsonNode *payload; /* never NULL: a JSON null node for "payload":null */
        gboolean has_ref;  /* FALSE for "ref":null (server pushes) */
        guint64 ref;
} KilnPhoenixFrame;

/* Parses one text frame.  On failure returns FALSE with KILN_PORTAL_ERROR and the reason. */
gboolean kiln_phoenix_frame_parse(const char *text, gsize len, KilnPhoenixFrame **ret_frame, GError **error);
void kiln_phoenix_frame_free(KilnPhoenixFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPhoenixFrame, kiln_phoenix_frame_free)

/* {"topic":…,"event":…,"payload":…,"ref":N} in that key order; payload NULL means JSON null. */
char *kiln_phoenix_frame_serialize(const char *topic, const char *event, JsonNode *payload, guint64 ref);
char *kiln_phoenix_join_frame(const char *topic, guint64 ref);
char *kiln_phoenix_heartbeat_frame(guint64 ref);

#define KILN_PHOENIX_TOPIC_HEARTBEAT "phoenix"
#define KILN_PHOENIX_EVENT_JOIN      "phx_join"
#define KILN_PHOENIX_EVENT_REPLY     "phx_reply"
#define KILN_PHOENIX_EVENT_ERROR     "phx_error"
#define KILN_PHOENIX_EVENT_CLOSE     "phx_close"
#define KILN_PHOENIX_EVENT_HEARTBEAT "heartbeat"

typedef enum {
        KILN_PHOENIX_REPLY_OK,
        KILN_PHOENIX_REPLY_ERROR,
} KilnPhoenixReplyStatus;

typedef enum {
        KILN_PHOENIX_REASON_NONE, /* an ok reply */
        KILN_PHOENIX_REASON_UNMATCHED_TOPIC,
        KILN_PHOENIX_REASON_INVALID_VERSION,
        KILN_PHOENIX_REASON_DISABLED,
        KILN_PHOENIX_REASON_OTHER,
} KilnPhoenixReason;

typedef struct {
        KilnPhoenixReplyStatus status;
        KilnPhoenixReason reason;
        char *reason_text; /* the error reply's reason string; NULL for ok */
} KilnPhoenixReply;

/*
 * Parses the payload of a phx_reply frame.  An ok reply's "response" must be exactly {}:
 * Firezone ignores a null response and drops one with extra keys, and so do we (FALSE).
 */
gboolean kiln_phoenix_reply_parse(const KilnPhoenixFrame *frame, KilnPhoenixReply *ret_reply,
                                  GError **error);
void kiln_phoenix_reply_clear(KilnPhoenixReply *reply);

/* Serializes any JSON node compactly (used for payloads and normalized output). */
char *kiln_json_to_string(JsonNode *node);

G_END_DECLS
