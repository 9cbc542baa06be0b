/* SPDX-License-Identifier: MIT */
#include "backend/portal/session.h"

#include "backend/portal/handshake.h"
#include "backend/portal/phoenix.h"

/* Before the first join: constant 1 s for 15 s.  After it: Firezone's exponential defaults. */
#define INITIAL_INTERVAL_US (1 * G_USEC_PER_SEC)
#define INITIAL_BUDGET_US   (15 * G_USEC_PER_SEC)
#define EXP_INITIAL_US      (G_USEC_PER_SEC / 2)
#define EXP_MULTIPLIER      1.5
#define EXP_MAX_INTERVAL_US (60 * G_USEC_PER_SEC)
#define EXP_RANDOMIZATION   0.5
#define MAX_HELD_MESSAGES   256

typedef struct {
        char *event;
        char *payload; /* serialized, also the identity for de-duplication */
} HeldMessage;

struct KilnPortalSession {
        KilnPortalSessionConfig config;
        GRand *rand;
        KilnPortalState state;
        GQueue actions;
        gboolean ever_joined;

        gint64 backoff_start;
        gint64 backoff_interval;

        gint64 dial_at;
        gint64 connect_deadline;
        gint64 join_deadline;
        gint64 heartbeat_at;

        /* Per WebSocket connection. */
        guint64 next_ref;
        guint64 join_ref;
        GArray *pending_heartbeats; /* guint64 refs */
        GPtrArray *held;            /* HeldMessage, waiting for the join reply */
};

void kiln_portal_action_free(KilnPortalAction *action)
{
        if (!action)
                return;
        g_free(action->text);
        kiln_portal_message_unref(action->message);
        g_free(action);
}

static void held_message_free(HeldMessage *m)
{
        g_free(m->event);
        g_free(m->payload);
        g_free(m);
}

KilnPortalSession *kiln_portal_session_new(const KilnPortalSessionConfig *config)
{
        KilnPortalSession *s = g_new0(KilnPortalSession, 1);

        s->config = *config;
        if (s->config.heartbeat_interval_us <= 0)
                s->config.heartbeat_interval_us = KILN_PORTAL_HEARTBEAT_INTERVAL_US;
        s->rand = g_rand_new_with_seed(config->seed);
        s->state = KILN_PORTAL_STATE_IDLE;
        g_queue_init(&s->actions);
        s->pending_heartbeats = g_array_new(FALSE, FALSE, sizeof(guint64));
        s->held = g_ptr_array_new_with_free_func((GDestroyNotify)held_message_free);
        return s;
}

void kiln_portal_session_free(KilnPortalSession *s)
{
        if (!s)
                return;
        g_queue_clear_full(&s->actions, (GDestroyNotify)kiln_portal_action_free);
        g_rand_free(s->rand);
        g_array_unref(s->pending_heartbeats);
        g_ptr_array_unref(s->held);
        g_free(s);
}

KilnPortalState kiln_portal_session_get_state(const KilnPortalSession *s)
{
        return s->state;
}

static KilnPortalAction *push(KilnPortalSession *s, KilnPortalActionKind kind, char *text)
{
        KilnPortalAction *a = g_new0(KilnPortalAction, 1);

        a->kind = kind;
        a->text = text;
        g_queue_push_tail(&s->actions, a);
        return a;
}

static gboolean socket_is_open(const KilnPortalSession *s)
{
        return s->state == KILN_PORTAL_STATE_CONNECTING || s->state == KILN_PORTAL_STATE_JOINING ||
               s->state == KILN_PORTAL_STATE_JOINED;
}

static void backoff_reset(KilnPortalSession *s, gint64 now)
{
        s->backoff_start = now;
        s->backoff_interval = s->ever_joined ? EXP_INITIAL_US : INITIAL_INTERVAL_US;
}

/* The `backoff` crate's ExponentialBackoff::next_backoff(), with a seeded random source. */
static gboolean backoff_next(KilnPortalSession *s, gint64 now, gint64 *ret_delay)
{
        gint64 elapsed = now - s->backoff_start;
        gint64 budget = s->ever_joined ? s->config.max_partition_us : INITIAL_BUDGET_US;
        gint64 delay = s->backoff_interval;

        if (budget > 0 && elapsed > budget)
                return FALSE;
        if (s->ever_joined) {
                double delta = EXP_RANDOMIZATION * (double)s->backoff_interval;
                double low = (double)s->backoff_interval - delta;

                delay = (gint64)(low + g_rand_double(s->rand) * (2 * delta + 1));
                s->backoff_interval =
                    MIN((gint64)((double)s->backoff_interval * EXP_MULTIPLIER), EXP_MAX_INTERVAL_US);
        }
        if (budget > 0 && elapsed + delay > budget)
                return FALSE;
        *ret_delay = delay;
        return TRUE;
}

static void reset_connection(KilnPortalSession *s)
{
        s->next_ref = 0;
        g_array_set_size(s->pending_heartbeats, 0);
        g_ptr_array_set_size(s->held, 0);
}

static void fatal(KilnPortalSession *s, KilnPortalFatal kind, const char *text)
{
        if (socket_is_open(s))
                push(s, KILN_PORTAL_ACTION_CLOSE, NULL);
        reset_connection(s);
        s->state = KILN_PORTAL_STATE_FAILED;
        push(s, KILN_PORTAL_ACTION_FATAL, g_strdup(text))->fatal = kind;
}

/* A retryable failure: close, then redial after the backoff (or the server's Retry-After). */
static void hiccup(KilnPortalSession *s, gint64 now, const char *reason, gboolean has_retry_after,
                   guint64 retry_after_s)
{
        gint64 delay;

        if (has_retry_after) {
                /* Honoured instead of the backoff, without consuming its budget. */
                delay = (gint64)MIN(retry_after_s, (guint64)G_MAXINT32) * G_USEC_PER_SEC;
        } else if (!backoff_next(s, now, &delay)) {
                g_autofree char *text = g_strdup_printf("gave up reconnecting to the portal: %s", reason);

                fatal(s, KILN_PORTAL_FATAL_MAX_RETRIES, text);
                return;
        }
        if (socket_is_open(s))
                push(s, KILN_PORTAL_ACTION_CLOSE, NULL);
        reset_connection(s);
        s->state = KILN_PORTAL_STATE_WAITING;
        s->dial_at = now + delay;
        push(s, KILN_PORTAL_ACTION_HICCUP, g_strdup(reason))->delay_us = delay;
}

static void dial(KilnPortalSession *s, gint64 now)
{
        reset_connection(s);
        s->state = KILN_PORTAL_STATE_CONNECTING;
        s->connect_deadline = now + KILN_PORTAL_CONNECT_TIMEOUT_US;
        push(s, KILN_PORTAL_ACTION_DIAL, NULL);
}

void kiln_portal_session_start(KilnPortalSession *s, gint64 now)
{
        if (s->state != KILN_PORTAL_STATE_IDLE && s->state != KILN_PORTAL_STATE_FAILED)
                return;
        /* A new channel: the before-first-join regime applies again. */
        s->ever_joined = FALSE;
        backoff_reset(s, now);
        dial(s, now);
}

void kiln_portal_session_reset(KilnPortalSession *s, gint64 now)
{
        if (s->state == KILN_PORTAL_STATE_IDLE)
                return;
        if (socket_is_open(s))
                push(s, KILN_PORTAL_ACTION_CLOSE, NULL);
        backoff_reset(s, now);
        dial(s, now);
}

void kiln_portal_session_stop(KilnPortalSession *s)
{
        if (socket_is_open(s))
                push(s, KILN_PORTAL_ACTION_CLOSE, NULL);
        reset_connection(s);
        s->state = KILN_PORTAL_STATE_IDLE;
}

static void send_frame(KilnPortalSession *s, const char *topic, const char *event, JsonNode *payload)
{
        push(s, KILN_PORTAL_ACTION_SEND, kiln_phoenix_frame_serialize(topic, event, payload, s->next_ref++));
}

static void send_join(KilnPortalSession *s, gint64 now)
{
        s->join_ref = s->next_ref++;
        push(s, KILN_PORTAL_ACTION_SEND, kiln_phoenix_join_frame(KILN_PORTAL_TOPIC_CLIENT, s->join_ref));
        s->state = KILN_PORTAL_STATE_JOINING;
        s->join_deadline = now + KILN_PORTAL_JOIN_TIMEOUT_US;
}

void kiln_portal_session_handle_open(KilnPortalSession *s, gint64 now)
{
        if (s->state != KILN_PORTAL_STATE_CONNECTING)
                return;
        s->heartbeat_at = now + s->config.heartbeat_interval_us;
        send_join(s, now);
}

void kiln_portal_session_handle_refused(KilnPortalSession *s, gint64 now, guint status,
                                        const char *content_type, const char *body, gsize body_len,
                                        const char *retry_after, gint64 now_unix, const char *reason)
{
        g_autofree char *detail = NULL, *text = NULL;
        guint64 retry_after_s = 0;
        gboolean has_retry_after;

        if (s->state != KILN_PORTAL_STATE_CONNECTING)
                return;
        switch (kiln_portal_classify_refused_upgrade(status, content_type, body, body_len, &detail)) {
        case KILN_PORTAL_UPGRADE_SIGN_IN_REQUIRED:
                fatal(s, KILN_PORTAL_FATAL_SIGN_IN_REQUIRED, detail);
                return;
        case KILN_PORTAL_UPGRADE_AUTH_FAILED:
                fatal(s, KILN_PORTAL_FATAL_AUTHENTICATION_FAILED, detail);
                return;
        case KILN_PORTAL_UPGRADE_RETRY:
                break;
        }
        has_retry_after = kiln_portal_parse_retry_after(retry_after, now_unix, &retry_after_s);
        text = status ? g_strdup_printf("portal refused the connection: HTTP %u%s%s", status,
                                        reason ? ": " : "", reason ? reason : "")
                      : g_strdup_printf("could not connect to the portal: %s", reason ? reason : "error");
        hiccup(s, now, text, has_retry_after, retry_after_s);
}

void kiln_portal_session_handle_closed(KilnPortalSession *s, gint64 now, const char *reason)
{
        g_autofree char *text = NULL;

        if (!socket_is_open(s))
                return;
        text = g_strdup_printf("portal connection closed: %s", reason ? reason : "closed");
        hiccup(s, now, text, FALSE, 0);
}

static void joined(KilnPortalSession *s, gint64 now)
{
        g_autoptr(JsonNode) caps = kiln_portal_build_set_snownet_capabilities(FALSE);

        s->state = KILN_PORTAL_STATE_JOINED;
        s->ever_joined = TRUE;
        backoff_reset(s, now);
        push(s, KILN_PORTAL_ACTION_JOINED, NULL);
        /* Kiln has no ICE-less path agent, so it advertises iceless: false after every join. */
        send_frame(s, KILN_PORTAL_TOPIC_CLIENT, KILN_PORTAL_EVENT_SET_SNOWNET_CAPABILITIES, caps);
        for (guint i = 0; i < s->held->len; i++) {
                HeldMessage *m = g_ptr_array_index(s->held, i);
                g_autoptr(JsonNode) payload = json_from_string(m->payload, NULL);

                send_frame(s, KILN_PORTAL_TOPIC_CLIENT, m->event, payload);
        }
        g_ptr_array_set_size(s->held, 0);
}

static void handle_reply(KilnPortalSession *s, gint64 now, const KilnPhoenixFrame *frame)
{
        g_autoptr(GError) error = NULL;
        KilnPhoenixReply reply;

        if (!kiln_phoenix_reply_parse(frame, &reply, &error)) {
                g_debug("portal: reply dropped: %s", error->message);
                return;
        }
        if (g_str_equal(frame->topic, KILN_PHOENIX_TOPIC_HEARTBEAT)) {
                for (guint i = 0; reply.status == KILN_PHOENIX_REPLY_OK && i < s->pending_heartbeats->len;
                     i++)
                        if (frame->has_ref &&
                            g_array_index(s->pending_heartbeats, guint64, i) == frame->ref) {
                                g_array_set_size(s->pending_heartbeats, 0);
                                break;
                        }
        } else if (g_str_equal(frame->topic, KILN_PORTAL_TOPIC_CLIENT)) {
                if (s->state == KILN_PORTAL_STATE_JOINING && frame->has_ref && frame->ref == s->join_ref) {
                        if (reply.status == KILN_PHOENIX_REPLY_OK) {
                                joined(s, now);
                        } else {
                                g_autofree char *text =
                                    g_strdup_printf("portal refused to join: %s", reply.reason_text);

                                fatal(s, KILN_PORTAL_FATAL_LOGIN_FAILED, text);
                        }
                } else if (s->state == KILN_PORTAL_STATE_JOINED &&
                           reply.status == KILN_PHOENIX_REPLY_ERROR &&
                           reply.reason == KILN_PHOENIX_REASON_UNMATCHED_TOPIC) {
                        /* The portal forgot our channel (e.g. it restarted it): join again on this socket. */
                        send_join(s, now);
                } else if (reply.status == KILN_PHOENIX_REPLY_ERROR) {
                        g_debug("portal: error reply to message %" G_GUINT64_FORMAT ": %s", frame->ref,
                                reply.reason_text);
                }
        }
        kiln_phoenix_reply_clear(&reply);
}

void kiln_portal_session_handle_text(KilnPortalSession *s, gint64 now, const char *text, gsize len)
{
        g_autoptr(KilnPhoenixFrame) frame = NULL;
        g_autoptr(KilnPortalMessage) message = NULL;
        g_autoptr(GError) error = NULL;

        if (s->state != KILN_PORTAL_STATE_JOINING && s->state != KILN_PORTAL_STATE_JOINED)
                return;
        if (!kiln_phoenix_frame_parse(text, len, &frame, &error)) {
                g_debug("portal: frame dropped: %s", error->message);
                return;
        }
        if (g_str_equal(frame->event, KILN_PHOENIX_EVENT_REPLY)) {
                handle_reply(s, now, frame);
                return;
        }
        if (!g_str_equal(frame->topic, KILN_PORTAL_TOPIC_CLIENT))
                return;
        if (g_str_equal(frame->event, KILN_PHOENIX_EVENT_ERROR)) {
                g_debug("portal: phx_error ignored");
                return;
        }
        if (g_str_equal(frame->event, KILN_PHOENIX_EVENT_CLOSE)) {
                hiccup(s, now, "portal closed the channel (phx_close)", FALSE, 0);
                return;
        }
        if (!kiln_portal_message_parse(frame->event, frame->payload, &message, &error)) {
                /* Forward compatibility: unknown or unparseable events are skipped, never fatal. */
                g_debug("portal: event skipped: %s", error->message);
                return;
        }
        if (message->kind == KILN_PORTAL_MESSAGE_DISCONNECT) {
                fatal(s, KILN_PORTAL_FATAL_SIGN_IN_REQUIRED, "the portal ended the session: token expired");
                return;
        }
        push(s, KILN_PORTAL_ACTION_MESSAGE, NULL)->message = g_steal_pointer(&message);
}

void kiln_portal_session_handle_timeout(KilnPortalSession *s, gint64 now)
{
        switch (s->state) {
        case KILN_PORTAL_STATE_WAITING:
                if (now >= s->dial_at)
                        dial(s, now);
                return;
        case KILN_PORTAL_STATE_CONNECTING:
                if (now >= s->connect_deadline)
                        hiccup(s, now, "connecting to the portal timed out", FALSE, 0);
                return;
        case KILN_PORTAL_STATE_JOINING:
                if (now >= s->join_deadline) {
                        hiccup(s, now, "joining the portal channel timed out", FALSE, 0);
                        return;
                }
                break;
        case KILN_PORTAL_STATE_JOINED:
                break;
        case KILN_PORTAL_STATE_IDLE:
        case KILN_PORTAL_STATE_FAILED:
                return;
        }
        if (now < s->heartbeat_at)
                return;
        if (s->pending_heartbeats->len >= KILN_PORTAL_MAX_PENDING_HEARTBEATS) {
                hiccup(s, now, "the portal stopped answering heartbeats", FALSE, 0);
                return;
        }
        g_array_append_val(s->pending_heartbeats, s->next_ref);
        push(s, KILN_PORTAL_ACTION_SEND, kiln_phoenix_heartbeat_frame(s->next_ref++));
        s->heartbeat_at = now + s->config.heartbeat_interval_us;
}

gboolean kiln_portal_session_send(KilnPortalSession *s, const char *event, JsonNode *payload)
{
        g_autofree char *text = NULL;
        HeldMessage *m;

        if (s->state == KILN_PORTAL_STATE_JOINED) {
                send_frame(s, KILN_PORTAL_TOPIC_CLIENT, event, payload);
                return TRUE;
        }
        if (s->state != KILN_PORTAL_STATE_JOINING)
                return FALSE;
        text = kiln_json_to_string(payload);
        for (guint i = 0; i < s->held->len; i++) {
                HeldMessage *held = g_ptr_array_index(s->held, i);

                if (g_str_equal(held->event, event) && g_str_equal(held->payload, text))
                        return TRUE;
        }
        if (s->held->len >= MAX_HELD_MESSAGES)
                return FALSE;
        m = g_new0(HeldMessage, 1);
        m->event = g_strdup(event);
        m->payload = g_steal_pointer(&text);
        g_ptr_array_add(s->held, m);
        return TRUE;
}

gint64 kiln_portal_session_poll_timeout(const KilnPortalSession *s)
{
        switch (s->state) {
        case KILN_PORTAL_STATE_WAITING:
                return s->dial_at;
        case KILN_PORTAL_STATE_CONNECTING:
                return s->connect_deadline;
        case KILN_PORTAL_STATE_JOINING:
                return MIN(s->join_deadline, s->heartbeat_at);
        case KILN_PORTAL_STATE_JOINED:
                return s->heartbeat_at;
        case KILN_PORTAL_STATE_IDLE:
        case KILN_PORTAL_STATE_FAILED:
                break;
        }
        return G_MAXINT64;
}

KilnPortalAction *kiln_portal_session_poll_action(KilnPortalSession *s)
{
        return g_queue_pop_head(&s->actions);
}
