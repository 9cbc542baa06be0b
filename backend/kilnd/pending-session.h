/* SPDX-License-Identifier: MIT */
/*
 * KilnPendingSession: the KilnSession kilnd runs while no portal client is linked into this
 * build.  It keeps the sign-in request (the token in locked memory, wiped on stop) and stays in
 * CONNECTING: it never claims a connection or resources it does not have.  The portal-backed
 * session replaces it in main.c when backend/portal is merged.
 */
#pragma once

#include "backend/kilnd/session.h"

#define KILN_TYPE_PENDING_SESSION (kiln_pending_session_get_type())
G_DECLARE_FINAL_TYPE(KilnPendingSession, kiln_pending_session, KILN, PENDING_SESSION, GObject)

KilnPendingSession *kiln_pending_session_new(void);

/* The request being held (for tests): the options, or NULL when signed out. */
const KilnSessionOptions *kiln_pending_session_get_options(KilnPendingSession *self);
gboolean kiln_pending_session_holds_token(KilnPendingSession *self, const char *token);
