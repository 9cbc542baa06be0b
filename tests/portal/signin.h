/* SPDX-License-Identifier: MIT */
/* The browser side of sign-in (specs/firezone-control-plane.md §6.2):
 *   GET  /<slug>?as=gui-client&nonce=…&state=…   the email + password form
 *   POST /<slug>                                  checks the password; on success sets a signed
 *                                                 2-minute cookie and renders a page that goes to
 *   GET  /<slug>/sign_in/client_redirect          302 to firezone-fd0020211111://handle_client_sign_in_callback?… */
#pragma once

#include <libsoup/soup.h>

#include "tests/portal/config.h"

#define TP_CLIENT_HANDLER "firezone-fd0020211111://"

/* Serves the request if its path belongs to sign-in; returns FALSE otherwise. */
gboolean tp_signin_handle(SoupServerMessage *msg, const char *path, const TpConfig *config, gint64 now);
