/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/pending-session.h"

#include <string.h>

#include <gio/gio.h>
#include <sodium.h>

struct _KilnPendingSession {
        GObject parent_instance;
        KilnSessionState state;
        char *token; /* sodium_malloc: locked, guarded, wiped on free */
        size_t token_len;
        KilnSessionOptions *options;
};

static void kiln_pending_session_iface_init(KilnSessionInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(KilnPendingSession, kiln_pending_session, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(KILN_TYPE_SESSION, kiln_pending_session_iface_init))

static void forget(KilnPendingSession *self)
{
        if (self->token) {
                sodium_memzero(self->token, self->token_len);
                sodium_free(self->token);
                self->token = NULL;
                self->token_len = 0;
        }
        g_clear_pointer(&self->options, kiln_session_options_free);
}

static void set_state(KilnPendingSession *self, KilnSessionState state)
{
        if (self->state == state)
                return;
        self->state = state;
        kiln_session_emit_state_changed(KILN_SESSION(self), state);
}

static gboolean pending_start(KilnSession *session, const char *token, const KilnSessionOptions *options,
                              GError **error)
{
        KilnPendingSession *self = KILN_PENDING_SESSION(session);
        size_t len = strlen(token);
        char *copy = sodium_malloc(len + 1);

        if (!copy) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    "out of locked memory for the token");
                return FALSE;
        }
        forget(self);
        memcpy(copy, token, len + 1);
        self->token = copy;
        self->token_len = len;
        self->options = kiln_session_options_copy(options);
        set_state(self, KILN_SESSION_CONNECTING);
        return TRUE;
}

static void pending_stop(KilnSession *session)
{
        KilnPendingSession *self = KILN_PENDING_SESSION(session);

        forget(self);
        set_state(self, KILN_SESSION_SIGNED_OUT);
}

static void pending_set_internet_resource_enabled(KilnSession *session, gboolean enabled)
{
        KilnPendingSession *self = KILN_PENDING_SESSION(session);

        if (self->options) {
                self->options->internet_resource_enabled = enabled;
                self->options->has_internet_resource_enabled = TRUE;
        }
}

static KilnSessionState pending_get_state(KilnSession *session)
{
        return KILN_PENDING_SESSION(session)->state;
}

static void kiln_pending_session_iface_init(KilnSessionInterface *iface)
{
        iface->start = pending_start;
        iface->stop = pending_stop;
        iface->set_internet_resource_enabled = pending_set_internet_resource_enabled;
        iface->get_state = pending_get_state;
}

static void kiln_pending_session_finalize(GObject *object)
{
        forget(KILN_PENDING_SESSION(object));
        G_OBJECT_CLASS(kiln_pending_session_parent_class)->finalize(object);
}

static void kiln_pending_session_class_init(KilnPendingSessionClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_pending_session_finalize;
}

static void kiln_pending_session_init(KilnPendingSession *self)
{
        self->state = KILN_SESSION_SIGNED_OUT;
}

KilnPendingSession *kiln_pending_session_new(void)
{
        return g_object_new(KILN_TYPE_PENDING_SESSION, NULL);
}

const KilnSessionOptions *kiln_pending_session_get_options(KilnPendingSession *self)
{
        return self->options;
}

gboolean kiln_pending_session_holds_token(KilnPendingSession *self, const char *token)
{
        return self->token && strcmp(self->token, token) == 0;
}
