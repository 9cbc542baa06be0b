/* SPDX-License-Identifier: MIT */
/*
 * The portal connection's protocol decisions, sans IO (control-plane spec §1.4, §2): when to
 * dial, the join and its 5 s timeout, no pipelining before the join reply, heartbeats every
 * 10 s and the missed-heartbeat reconnect, the two backoff regimes and Retry-After, and which
 * failures are fatal (sign-in required or not) versus retryable hiccups.
 *
 * It never reads a clock or touches a socket: every input carries `now` (monotonic µs), and
 * the caller polls actions (dial, send, close, parsed events, …) and the next timeout.
 * Randomness (backoff jitter) comes from the seed in the config.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "backend/portal/messages.h"

G_BEGIN_DECLS

#define KILN_PORTAL_HEARTBEAT_INTERVAL_US  (10 * G_USEC_PER_SEC)
#define KILN_PORTAL_JOIN_TIMEOUT_US        (5 * G_USEC_PER_SEC)
#define KILN_PORTAL_CONNECT_TIMEOUT_US     (15 * G_USEC_PER_SEC)
#define KILN_PORTAL_MAX_PENDING_HEARTBEATS 3
/* The GUI's budget after a first successful join; before it the budget is 15 s. */
#define KILN_PORTAL_GUI_MAX_PARTITION_US (G_GINT64_CONSTANT(30) * 24 * 3600 * G_USEC_PER_SEC)

typedef enum {
        KILN_PORTAL_STATE_IDLE,       /* not started */
        KILN_PORTAL_STATE_WAITING,    /* backing off before the next dial */
        KILN_PORTAL_STATE_CONNECTING, /* WebSocket handshake in flight */
        KILN_PORTAL_STATE_JOINING,    /* socket open, phx_join sent, no reply yet */
        KILN_PORTAL_STATE_JOINED,
        KILN_PORTAL_STATE_FAILED, /* fatal: no more attempts until restarted */
} KilnPortalState;

typedef enum {
        KILN_PORTAL_FATAL_NONE,
        KILN_PORTAL_FATAL_SIGN_IN_REQUIRED,      /* 401 invalid/missing token; disconnect token_expired */
        KILN_PORTAL_FATAL_AUTHENTICATION_FAILED, /* any other 401 */
        KILN_PORTAL_FATAL_LOGIN_FAILED,          /* error reply to the join */
        KILN_PORTAL_FATAL_MAX_RETRIES,           /* the backoff budget ran out */
} KilnPortalFatal;

typedef enum {
        KILN_PORTAL_ACTION_DIAL,   /* open the WebSocket now (a fresh login URL: the key may have changed) */
        KILN_PORTAL_ACTION_SEND,   /* send `text` as a text frame */
        KILN_PORTAL_ACTION_CLOSE,  /* close (or cancel) the current WebSocket */
        KILN_PORTAL_ACTION_JOINED, /* the channel is joined */
        KILN_PORTAL_ACTION_MESSAGE, /* a parsed portal event in `message` */
        KILN_PORTAL_ACTION_HICCUP,  /* a retryable failure: `text` says why, redial in `delay_us` */
        KILN_PORTAL_ACTION_FATAL,   /* `fatal` and `text`; the session stops */
} KilnPortalActionKind;

typedef struct {
        KilnPortalActionKind kind;
        char *text;
        KilnPortalMessage *message;
        KilnPortalFatal fatal;
        gint64 delay_us;
} KilnPortalAction;

void kiln_portal_action_free(KilnPortalAction *action);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalAction, kiln_portal_action_free)

typedef struct {
        guint32 seed;            /* for the backoff jitter */
        gint64 max_partition_us; /* budget after the first join; 0 = unlimited */
        /* 0 = KILN_PORTAL_HEARTBEAT_INTERVAL_US.  Tests shorten it so that a hung portal is noticed
         * after ~4 intervals instead of ~40 s. */
        gint64 heartbeat_interval_us;
} KilnPortalSessionConfig;

typedef struct KilnPortalSession KilnPortalSession;

KilnPortalSession *kiln_portal_session_new(const KilnPortalSessionConfig *config);
void kiln_portal_session_free(KilnPortalSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnPortalSession, kiln_portal_session_free)

KilnPortalState kiln_portal_session_get_state(const KilnPortalSession *session);

/* Starts dialing now. */
void kiln_portal_session_start(KilnPortalSession *session, gint64 now);
/* Caller-initiated reconnect with zero delay (network change, new key): resets the backoff. */
void kiln_portal_session_reset(KilnPortalSession *session, gint64 now);
/* Stops for good (sign-out): closes the socket, no more dials. */
void kiln_portal_session_stop(KilnPortalSession *session);

/* The WebSocket opened: sends the join. */
void kiln_portal_session_handle_open(KilnPortalSession *session, gint64 now);
/*
 * The upgrade failed.  status is the HTTP status (0 for a transport or TLS error);
 * content_type, body and retry_after are the response's, when known; now_unix for Retry-After dates.
 */
void kiln_portal_session_handle_refused(KilnPortalSession *session, gint64 now, guint status,
                                        const char *content_type, const char *body, gsize body_len,
                                        const char *retry_after, gint64 now_unix, const char *reason);
void kiln_portal_session_handle_text(KilnPortalSession *session, gint64 now, const char *text, gsize len);
/* The WebSocket closed (close frame, EOF or error). */
void kiln_portal_session_handle_closed(KilnPortalSession *session, gint64 now, const char *reason);
/* Call when `now` reaches poll_timeout(). */
void kiln_portal_session_handle_timeout(KilnPortalSession *session, gint64 now);

/*
 * Queues an application message on topic "client".  Sent at once when joined, held until
 * the join reply while joining (an identical held message is dropped), and dropped (FALSE)
 * while disconnected: nothing is buffered across reconnects.
 */
gboolean kiln_portal_session_send(KilnPortalSession *session, const char *event, JsonNode *payload);

/* The next deadline (monotonic µs), or G_MAXINT64 when there is none. */
gint64 kiln_portal_session_poll_timeout(const KilnPortalSession *session);
/* The next action, or NULL. */
KilnPortalAction *kiln_portal_session_poll_action(KilnPortalSession *session);

G_END_DECLS
