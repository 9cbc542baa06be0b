/* SPDX-License-Identifier: MIT */
/*
 * The sans-IO session on a simulated clock: join and no pipelining, heartbeats and the
 * missed-heartbeat reconnect, both backoff regimes, Retry-After, and the fatal cases that
 * require sign-in versus those that do not (control-plane spec §1.4, §2).
 */
#include <string.h>

#include "backend/portal/session.h"

#define S(x)  ((gint64)(x)*G_USEC_PER_SEC)
#define MS(x) ((gint64)(x)*1000)

static const char OK_JOIN[] = "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,\"payload\":{"
                              "\"status\":\"ok\",\"response\":{}}}";

static KilnPortalSession *new_session(void)
{
        KilnPortalSessionConfig config = { .seed = 42,
                                           .max_partition_us = KILN_PORTAL_GUI_MAX_PARTITION_US };

        return kiln_portal_session_new(&config);
}

/* Pops every pending action. */
static GPtrArray *drain(KilnPortalSession *s)
{
        GPtrArray *actions = g_ptr_array_new_with_free_func((GDestroyNotify)kiln_portal_action_free);
        KilnPortalAction *a;

        while ((a = kiln_portal_session_poll_action(s)))
                g_ptr_array_add(actions, a);
        return actions;
}

static KilnPortalAction *at(GPtrArray *actions, guint i)
{
        g_assert_cmpuint(i, <, actions->len);
        return g_ptr_array_index(actions, i);
}

static void text(KilnPortalSession *s, gint64 now, const char *frame)
{
        kiln_portal_session_handle_text(s, now, frame, strlen(frame));
}

/* start, open and join at `now`; leaves the session joined with nothing pending. */
static void join(KilnPortalSession *s, gint64 now)
{
        g_autoptr(GPtrArray) a = NULL;

        kiln_portal_session_start(s, now);
        kiln_portal_session_handle_open(s, now);
        text(s, now, OK_JOIN);
        a = drain(s);
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_JOINED);
}

static void test_join_no_pipelining(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(JsonNode) payload = kiln_portal_build_no_relays();
        g_autoptr(GPtrArray) a = NULL;

        g_assert_false(kiln_portal_session_send(s, "no_relays", payload)); /* not connected: dropped */
        kiln_portal_session_start(s, 0);
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 1);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_DIAL);
        g_assert_false(kiln_portal_session_send(s, "no_relays", payload)); /* still dialing */
        g_clear_pointer(&a, g_ptr_array_unref);

        kiln_portal_session_handle_open(s, 100);
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 1);
        g_assert_cmpstr(at(a, 0)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}");
        g_clear_pointer(&a, g_ptr_array_unref);

        /* Held until the join reply; an identical held message is dropped. */
        g_assert_true(kiln_portal_session_send(s, "no_relays", payload));
        g_assert_true(kiln_portal_session_send(s, "no_relays", payload));
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 0);
        g_clear_pointer(&a, g_ptr_array_unref);

        /* A reply to another ref is not the join's. */
        text(s, 200,
             "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":5,\"payload\":{\"status\":\"ok\","
             "\"response\":{}}}");
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_JOINING);
        text(s, 300, OK_JOIN);
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 3);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_JOINED);
        g_assert_cmpstr(at(a, 1)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"set_snownet_capabilities\",\"payload\":{"
                        "\"iceless\":false},\"ref\":1}");
        g_assert_cmpstr(at(a, 2)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"no_relays\",\"payload\":{},\"ref\":2}");
        g_clear_pointer(&a, g_ptr_array_unref);

        /* Joined: sent at once. */
        g_assert_true(kiln_portal_session_send(s, "no_relays", payload));
        a = drain(s);
        g_assert_cmpstr(at(a, 0)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"no_relays\",\"payload\":{},\"ref\":3}");
}

static void test_events_and_skips(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;

        join(s, 0);
        text(s, 1,
             "{\"topic\":\"client\",\"event\":\"resource_deleted\",\"payload\":\"73037362-715d-4a83-a749-"
             "f18eadd970e6\",\"ref\":null}");
        text(s, 2, "{\"topic\":\"client\",\"event\":\"brand_new_event\",\"payload\":{},\"ref\":null}");
        text(s, 3,
             "{\"topic\":\"client\",\"event\":\"disconnect\",\"payload\":{\"reason\":\"certificate_"
             "revoked\"},\"ref\":null}");
        text(s, 4, "{\"topic\":\"client\",\"event\":\"phx_error\",\"payload\":{},\"ref\":null}");
        text(s, 5, "not json");
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 1);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_MESSAGE);
        g_assert_cmpint(at(a, 0)->message->kind, ==, KILN_PORTAL_MESSAGE_RESOURCE_DELETED);
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_JOINED);
}

static void test_heartbeats(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;

        join(s, 0);
        g_assert_cmpint(kiln_portal_session_poll_timeout(s), ==, S(10));
        kiln_portal_session_handle_timeout(s, S(10));
        a = drain(s);
        g_assert_cmpstr(at(a, 0)->text, ==,
                        "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"payload\":{},\"ref\":2}");
        g_clear_pointer(&a, g_ptr_array_unref);
        text(s, S(10) + 5,
             "{\"topic\":\"phoenix\",\"event\":\"phx_reply\",\"ref\":2,\"payload\":{\"status\":\"ok\","
             "\"response\":{}}}");

        /* Three more go unanswered: the 4th tick reconnects (about 40 s). */
        for (int i = 2; i <= 4; i++) {
                kiln_portal_session_handle_timeout(s, S(10 * i));
                a = drain(s);
                g_assert_cmpuint(a->len, ==, 1);
                g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_SEND);
                g_clear_pointer(&a, g_ptr_array_unref);
        }
        kiln_portal_session_handle_timeout(s, S(50));
        a = drain(s);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_CLOSE);
        g_assert_cmpint(at(a, 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
        g_assert_nonnull(strstr(at(a, 1)->text, "heartbeats"));
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_WAITING);
}

static void test_initial_constant_backoff(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        gint64 now = 0;
        guint dials = 0;
        KilnPortalAction *fatal_action = NULL;

        kiln_portal_session_start(s, now);
        while (!fatal_action) {
                g_autoptr(GPtrArray) a = drain(s);

                for (guint i = 0; i < a->len; i++) {
                        KilnPortalAction *x = at(a, i);

                        if (x->kind == KILN_PORTAL_ACTION_DIAL) {
                                dials++;
                                kiln_portal_session_handle_refused(s, now, 0, NULL, NULL, 0, NULL, 0,
                                                                   "refused");
                        } else if (x->kind == KILN_PORTAL_ACTION_HICCUP) {
                                g_assert_cmpint(x->delay_us, ==, S(1)); /* constant, no jitter */
                                now += x->delay_us;
                                kiln_portal_session_handle_timeout(s, now);
                        } else if (x->kind == KILN_PORTAL_ACTION_FATAL) {
                                fatal_action = g_ptr_array_steal_index(a, i);
                                break;
                        }
                }
                g_assert_cmpuint(dials, <, 100);
        }
        /* Attempts at 0, 1, …, 15 s: the 15 s budget is spent, MaxRetriesReached, no sign-in. */
        g_assert_cmpuint(dials, ==, 16);
        g_assert_cmpint(now, ==, S(15));
        g_assert_cmpint(fatal_action->fatal, ==, KILN_PORTAL_FATAL_MAX_RETRIES);
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_FAILED);
        kiln_portal_action_free(fatal_action);
}

static void test_exponential_backoff_after_join(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        gint64 now = S(100), interval = MS(500);

        join(s, now);
        kiln_portal_session_handle_closed(s, now, "EOF");
        for (int i = 0; i < 20; i++) {
                g_autoptr(GPtrArray) a = drain(s);
                KilnPortalAction *h = at(a, a->len - 1);

                g_assert_cmpint(h->kind, ==, KILN_PORTAL_ACTION_HICCUP);
                /* interval ± 50 % jitter, 500 ms × 1.5ⁿ capped at 60 s */
                g_assert_cmpint(h->delay_us, >=, interval / 2);
                g_assert_cmpint(h->delay_us, <=, interval + interval / 2 + 1);
                interval = MIN(interval * 3 / 2, S(60));
                now += h->delay_us;
                kiln_portal_session_handle_timeout(s, now);
                g_clear_pointer(&a, g_ptr_array_unref);
                a = drain(s);
                g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_DIAL);
                kiln_portal_session_handle_refused(s, now, 502, NULL, NULL, 0, NULL, 0, "bad gateway");
        }
        g_assert_cmpint(interval, ==, S(60));

        /* A successful join resets it. */
        {
                g_autoptr(GPtrArray) a = drain(s);

                now += S(60);
                kiln_portal_session_handle_timeout(s, now);
        }
        {
                g_autoptr(GPtrArray) a = drain(s);
                g_autoptr(GPtrArray) b = NULL;

                kiln_portal_session_handle_open(s, now);
                text(s, now, OK_JOIN);
                kiln_portal_session_handle_closed(s, now, "EOF");
                b = drain(s);
                g_assert_cmpint(at(b, b->len - 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
                g_assert_cmpint(at(b, b->len - 1)->delay_us, <=, MS(750) + 1);
        }
}

static void test_exponential_budget(void)
{
        KilnPortalSessionConfig config = { .seed = 1, .max_partition_us = S(120) };
        g_autoptr(KilnPortalSession) s = kiln_portal_session_new(&config);
        gint64 now = 0;
        gboolean fatal_seen = FALSE;

        join(s, now);
        kiln_portal_session_handle_closed(s, now, "EOF");
        for (int i = 0; i < 100 && !fatal_seen; i++) {
                g_autoptr(GPtrArray) a = drain(s);
                KilnPortalAction *last = at(a, a->len - 1);

                if (last->kind == KILN_PORTAL_ACTION_FATAL) {
                        g_assert_cmpint(last->fatal, ==, KILN_PORTAL_FATAL_MAX_RETRIES);
                        fatal_seen = TRUE;
                        break;
                }
                g_assert_cmpint(last->kind, ==, KILN_PORTAL_ACTION_HICCUP);
                now += last->delay_us;
                kiln_portal_session_handle_timeout(s, now);
                kiln_portal_session_handle_refused(s, now, 0, NULL, NULL, 0, NULL, 0, "down");
        }
        g_assert_true(fatal_seen);
        g_assert_cmpint(now, <=, S(120));
}

static void test_retry_after(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        gint64 now = 0;

        kiln_portal_session_start(s, now);
        /* Far longer than the 15 s initial budget, yet never fatal: Retry-After does not consume it. */
        for (int i = 0; i < 30; i++) {
                g_autoptr(GPtrArray) a = drain(s);
                g_autoptr(GPtrArray) b = NULL;

                g_assert_cmpint(at(a, a->len - 1)->kind, ==, KILN_PORTAL_ACTION_DIAL);
                kiln_portal_session_handle_refused(s, now, 503, "application/problem+json", NULL, 0, "1", 0,
                                                   "rate_limit");
                b = drain(s);
                g_assert_cmpint(at(b, 0)->kind, ==, KILN_PORTAL_ACTION_CLOSE); /* cancel the dial */
                g_assert_cmpint(at(b, 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
                g_assert_cmpint(at(b, 1)->delay_us, ==, S(1));
                now += S(1);
                kiln_portal_session_handle_timeout(s, now);
        }
        {
                g_autoptr(GPtrArray) a = drain(s);
                g_autoptr(GPtrArray) b = NULL;

                kiln_portal_session_handle_refused(s, now, 503, NULL, NULL, 0,
                                                   "Sun, 06 Nov 1994 08:49:37 GMT", 1700000000, "past date");
                b = drain(s);
                g_assert_cmpint(at(b, 1)->delay_us, ==, 0);
        }
}

static void expect_fatal(guint status, const char *content_type, const char *body, KilnPortalFatal expected)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;

        kiln_portal_session_start(s, 0);
        g_ptr_array_unref(drain(s));
        kiln_portal_session_handle_refused(s, 0, status, content_type, body, body ? strlen(body) : 0, NULL,
                                           0, "refused");
        a = drain(s);
        if (expected == KILN_PORTAL_FATAL_NONE) {
                g_assert_cmpint(at(a, a->len - 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
                g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_WAITING);
                return;
        }
        g_assert_cmpint(at(a, a->len - 1)->kind, ==, KILN_PORTAL_ACTION_FATAL);
        g_assert_cmpint(at(a, a->len - 1)->fatal, ==, expected);
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_FAILED);
}

static void test_http_statuses(void)
{
        const char *problem = "application/problem+json";

        expect_fatal(401, problem,
                     "{\"status\":401,\"detail\":\"Invalid token\",\"code\":\"invalid_token\"}",
                     KILN_PORTAL_FATAL_SIGN_IN_REQUIRED);
        expect_fatal(401, "Application/Problem+JSON; charset=utf-8", "{\"code\":\"missing_token\"}",
                     KILN_PORTAL_FATAL_SIGN_IN_REQUIRED);
        expect_fatal(401, problem, "{\"code\":\"device_untrusted\"}",
                     KILN_PORTAL_FATAL_AUTHENTICATION_FAILED);
        expect_fatal(401, problem, "{\"detail\":\"no code\"}", KILN_PORTAL_FATAL_AUTHENTICATION_FAILED);
        expect_fatal(401, "application/json", "{\"code\":\"invalid_token\"}",
                     KILN_PORTAL_FATAL_AUTHENTICATION_FAILED);
        expect_fatal(401, NULL, NULL, KILN_PORTAL_FATAL_AUTHENTICATION_FAILED);
        expect_fatal(400, problem, "{\"code\":\"invalid_connect_params\"}", KILN_PORTAL_FATAL_NONE);
        expect_fatal(402, problem, "{\"code\":\"limits_exceeded\"}", KILN_PORTAL_FATAL_NONE);
        expect_fatal(403, problem, "{\"code\":\"account_disabled\"}", KILN_PORTAL_FATAL_NONE);
        expect_fatal(409, problem, "{\"code\":\"device_identity_conflict\"}", KILN_PORTAL_FATAL_NONE);
        expect_fatal(500, problem, "{\"code\":\"unhandled_connect_error\"}", KILN_PORTAL_FATAL_NONE);
        expect_fatal(0, NULL, NULL, KILN_PORTAL_FATAL_NONE);
}

static void test_disconnect_token_expired(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;

        join(s, 0);
        text(s, 1,
             "{\"topic\":\"client\",\"event\":\"disconnect\",\"payload\":{\"reason\":\"token_expired\"},"
             "\"ref\":null}");
        a = drain(s);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_CLOSE);
        g_assert_cmpint(at(a, 1)->kind, ==, KILN_PORTAL_ACTION_FATAL);
        g_assert_cmpint(at(a, 1)->fatal, ==, KILN_PORTAL_FATAL_SIGN_IN_REQUIRED);
        g_assert_cmpint(kiln_portal_session_poll_timeout(s), ==, G_MAXINT64);
}

static void test_join_failures(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(KilnPortalSession) t = new_session();
        g_autoptr(GPtrArray) a = NULL;
        g_autoptr(GPtrArray) b = NULL;

        kiln_portal_session_start(s, 0);
        kiln_portal_session_handle_open(s, 0);
        g_ptr_array_unref(drain(s));
        g_assert_cmpint(kiln_portal_session_poll_timeout(s), ==, S(5));
        kiln_portal_session_handle_timeout(s, S(5));
        a = drain(s);
        g_assert_cmpint(at(a, 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
        g_assert_nonnull(strstr(at(a, 1)->text, "join"));

        kiln_portal_session_start(t, 0);
        kiln_portal_session_handle_open(t, 0);
        g_ptr_array_unref(drain(t));
        text(t, 1,
             "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,\"payload\":{\"status\":\"error\","
             "\"response\":{\"reason\":\"disabled\"}}}");
        b = drain(t);
        g_assert_cmpint(at(b, 1)->kind, ==, KILN_PORTAL_ACTION_FATAL);
        g_assert_cmpint(at(b, 1)->fatal, ==, KILN_PORTAL_FATAL_LOGIN_FAILED);
}

static void test_unmatched_topic_rejoins(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;
        g_autoptr(GPtrArray) b = NULL;

        join(s, 0);
        text(s, 1,
             "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":1,\"payload\":{\"status\":\"error\","
             "\"response\":{\"reason\":\"unmatched topic\"}}}");
        a = drain(s);
        g_assert_cmpuint(a->len, ==, 1);
        g_assert_cmpstr(at(a, 0)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":2}");
        text(s, 2,
             "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":2,\"payload\":{\"status\":\"ok\","
             "\"response\":{}}}");
        b = drain(s);
        g_assert_cmpint(at(b, 0)->kind, ==, KILN_PORTAL_ACTION_JOINED);
}

static void test_close_reconnects_with_fresh_refs(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;
        g_autoptr(GPtrArray) b = NULL;
        gint64 delay;

        join(s, 0);
        text(s, 1, "{\"topic\":\"client\",\"event\":\"phx_close\",\"payload\":{},\"ref\":null}");
        a = drain(s);
        g_assert_cmpint(at(a, 0)->kind, ==, KILN_PORTAL_ACTION_CLOSE);
        g_assert_cmpint(at(a, 1)->kind, ==, KILN_PORTAL_ACTION_HICCUP);
        delay = at(a, 1)->delay_us;
        kiln_portal_session_handle_timeout(s, 1 + delay);
        kiln_portal_session_handle_open(s, 2 + delay);
        b = drain(s);
        g_assert_cmpint(at(b, 0)->kind, ==, KILN_PORTAL_ACTION_DIAL);
        g_assert_cmpstr(at(b, 1)->text, ==,
                        "{\"topic\":\"client\",\"event\":\"phx_join\",\"payload\":null,\"ref\":0}");
}

static void test_connect_timeout_and_reset(void)
{
        g_autoptr(KilnPortalSession) s = new_session();
        g_autoptr(GPtrArray) a = NULL;
        g_autoptr(GPtrArray) b = NULL;

        kiln_portal_session_start(s, 0);
        g_ptr_array_unref(drain(s));
        g_assert_cmpint(kiln_portal_session_poll_timeout(s), ==, S(15));
        kiln_portal_session_handle_timeout(s, S(15));
        a = drain(s);
        /* The first attempt alone used up the 15 s before-first-join budget. */
        g_assert_cmpint(at(a, 1)->kind, ==, KILN_PORTAL_ACTION_FATAL);
        g_assert_cmpint(at(a, 1)->fatal, ==, KILN_PORTAL_FATAL_MAX_RETRIES);
        g_assert_nonnull(strstr(at(a, 1)->text, "timed out"));

        /* A caller reset redials at once. */
        kiln_portal_session_reset(s, S(15) + 1);
        b = drain(s);
        g_assert_cmpint(at(b, 0)->kind, ==, KILN_PORTAL_ACTION_DIAL);
        g_assert_cmpint(kiln_portal_session_get_state(s), ==, KILN_PORTAL_STATE_CONNECTING);
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/portal/session/join-no-pipelining", test_join_no_pipelining);
        g_test_add_func("/portal/session/events-and-skips", test_events_and_skips);
        g_test_add_func("/portal/session/heartbeats", test_heartbeats);
        g_test_add_func("/portal/session/initial-constant-backoff", test_initial_constant_backoff);
        g_test_add_func("/portal/session/exponential-backoff-after-join",
                        test_exponential_backoff_after_join);
        g_test_add_func("/portal/session/exponential-budget", test_exponential_budget);
        g_test_add_func("/portal/session/retry-after", test_retry_after);
        g_test_add_func("/portal/session/http-statuses", test_http_statuses);
        g_test_add_func("/portal/session/disconnect-token-expired", test_disconnect_token_expired);
        g_test_add_func("/portal/session/join-failures", test_join_failures);
        g_test_add_func("/portal/session/unmatched-topic-rejoins", test_unmatched_topic_rejoins);
        g_test_add_func("/portal/session/close-reconnects-with-fresh-refs",
                        test_close_reconnects_with_fresh_refs);
        g_test_add_func("/portal/session/connect-timeout-and-reset", test_connect_timeout_and_reset);
        return g_test_run();
}
