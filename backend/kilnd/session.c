/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/session.h"

G_DEFINE_INTERFACE(KilnSession, kiln_session, G_TYPE_OBJECT)

enum {
        STATE_CHANGED,
        RESOURCES_CHANGED,
        ERROR,
        RESOURCE_UNREACHABLE,
        N_SIGNALS
};
static guint signals[N_SIGNALS];

static const char *const state_names[] = { "signed-out", "connecting", "raising-tunnel", "connected",
                                           "error" };

const char *kiln_session_state_to_string(KilnSessionState state)
{
        if ((unsigned)state >= G_N_ELEMENTS(state_names))
                return "error";
        return state_names[state];
}

static void kiln_session_default_init(KilnSessionInterface *iface)
{
        signals[STATE_CHANGED] =
            g_signal_new("state-changed", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                         NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
        signals[RESOURCES_CHANGED] =
            g_signal_new("resources-changed", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                         NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
        signals[ERROR] = g_signal_new("error", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL,
                                      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
        signals[RESOURCE_UNREACHABLE] =
            g_signal_new("resource-unreachable", G_TYPE_FROM_INTERFACE(iface), G_SIGNAL_RUN_LAST, 0, NULL,
                         NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

gboolean kiln_session_start(KilnSession *self, const char *token, const KilnSessionOptions *options,
                            GError **error)
{
        g_return_val_if_fail(KILN_IS_SESSION(self), FALSE);
        return KILN_SESSION_GET_IFACE(self)->start(self, token, options, error);
}

void kiln_session_stop(KilnSession *self)
{
        g_return_if_fail(KILN_IS_SESSION(self));
        KILN_SESSION_GET_IFACE(self)->stop(self);
}

void kiln_session_set_internet_resource_enabled(KilnSession *self, gboolean enabled)
{
        g_return_if_fail(KILN_IS_SESSION(self));
        KILN_SESSION_GET_IFACE(self)->set_internet_resource_enabled(self, enabled);
}

KilnSessionState kiln_session_get_state(KilnSession *self)
{
        g_return_val_if_fail(KILN_IS_SESSION(self), KILN_SESSION_ERROR);
        return KILN_SESSION_GET_IFACE(self)->get_state(self);
}

void kiln_session_emit_state_changed(KilnSession *self, KilnSessionState state)
{
        g_signal_emit(self, signals[STATE_CHANGED], 0, (guint)state);
}

void kiln_session_emit_resources_changed(KilnSession *self, GVariant *resources)
{
        g_return_if_fail(g_variant_is_of_type(resources, G_VARIANT_TYPE("aa{sv}")));
        g_signal_emit(self, signals[RESOURCES_CHANGED], 0, resources);
}

void kiln_session_emit_error(KilnSession *self, const char *message, gboolean requires_sign_in)
{
        g_signal_emit(self, signals[ERROR], 0, message, requires_sign_in);
}

void kiln_session_emit_resource_unreachable(KilnSession *self, const char *resource_id, const char *reason,
                                            const char *message)
{
        g_signal_emit(self, signals[RESOURCE_UNREACHABLE], 0, resource_id, reason, message);
}
