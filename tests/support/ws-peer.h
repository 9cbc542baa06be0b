/* SPDX-License-Identifier: MIT */
/*
 * A minimal Phoenix (V1 JSON) WebSocket peer for tests that talk to kiln-test-portal as a client
 * or a gateway without Kiln's own portal client: connect with a token and User-Agent, send
 * frames, wait for frames by event (and ref).  Everything runs on the thread-default context;
 * the waits iterate it and abort the test after KILN_WS_PEER_WAIT_SECS.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define KILN_WS_PEER_WAIT_SECS 10

typedef struct {
        SoupWebsocketConnection *ws;
        GQueue frames; /* JsonNode* */
        gboolean closed;
        guint status; /* HTTP status of the upgrade */
        char *public_key;
        gint64 next_ref;
} KilnWsPeer;

/*
 * Connects to ws_url + path ("/client/v2/websocket" or "/gateway/v2/websocket") with a random
 * public key.  Always returns a peer: ws is NULL when the upgrade was refused (see status).
 */
KilnWsPeer *kiln_ws_peer_connect(SoupSession *session, const char *ws_url, const char *path,
                                 const char *token, const char *user_agent, const char *external_id);
void kiln_ws_peer_free(KilnWsPeer *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnWsPeer, kiln_ws_peer_free)

/* Sends {"topic","event","payload","ref"} with the next ref; returns the ref. */
gint64 kiln_ws_peer_send(KilnWsPeer *p, const char *topic, const char *event, const char *payload_json);
/* The first queued frame with this event (and, when ref ≥ 0, this ref), removed from the queue. */
JsonNode *kiln_ws_peer_wait_ref(KilnWsPeer *p, const char *event, gint64 ref);
JsonNode *kiln_ws_peer_wait(KilnWsPeer *p, const char *event);
void kiln_ws_peer_wait_closed(KilnWsPeer *p);
/* Joins topic ("client" or "gateway"), asserts the exact ok reply {} and returns the init frame. */
JsonNode *kiln_ws_peer_join(KilnWsPeer *p, const char *topic);

const char *kiln_ws_frame_event(JsonNode *frame);
JsonObject *kiln_ws_frame_payload(JsonNode *frame);

/*
 * Starts kiln-test-portal (from KILN_BUILD_ROOT) with these extra arguments, inside the network
 * namespace netns when it is not NULL (ip netns exec), stderr into log_path, and waits for its
 * "listening on" line; returns the process and sets *ret_ws_url to "ws://ADDRESS:PORT".
 */
GSubprocess *kiln_test_portal_spawn(const char *netns, const char *const *args, const char *log_path,
                                    char **ret_ws_url);
