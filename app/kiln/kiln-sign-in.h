#pragma once

#include <glib-object.h>

#include "app/kiln/kiln-deep-link.h"

G_BEGIN_DECLS

#define KILN_TYPE_SIGN_IN (kiln_sign_in_get_type())
G_DECLARE_FINAL_TYPE(KilnSignIn, kiln_sign_in, KILN, SIGN_IN, GObject)

/* One browser sign-in at a time (spec §5): the nonce and state live only in memory. */
KilnSignIn *kiln_sign_in_new(void);

/* Starts a sign-in: fresh nonce and state (32 random bytes each, hex) and the URL
 * <auth>/<slug>?as=gui-client&nonce=…&state=… to open in the browser.  A previous pending
 * request is forgotten.  NULL with @error when @auth_url is not an http(s) URL. */
char *kiln_sign_in_begin(KilnSignIn *self, const char *auth_url, const char *account_slug, GError **error);
gboolean kiln_sign_in_is_pending(KilnSignIn *self);
void kiln_sign_in_cancel(KilnSignIn *self);

/* Checks @link against the pending request (state compared in constant time).  On a match
 * the request is consumed, so a replay fails, and the token nonce ‖ fragment is returned
 * in @ret_token (wipe and free it with kiln_sign_in_free_token()).  A callback without a
 * pending request or with a wrong state fails with @error and leaves the request as it was. */
gboolean kiln_sign_in_complete(KilnSignIn *self, const KilnDeepLink *link, char **ret_token, GError **error);

void kiln_sign_in_free_token(char *token);

G_END_DECLS
