#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KILN_DEEP_LINK_SCHEME "firezone-fd0020211111"
#define KILN_DEEP_LINK_HOST   "handle_client_sign_in_callback"
/* Longest callback URL accepted; the portal's are a few hundred bytes. */
#define KILN_DEEP_LINK_MAX_LEN 8192

/* The sign-in callback the portal sends through the browser (spec §5.2). */
typedef struct {
        char *account_slug;
        char *actor_name;
        char *fragment;
        char *state;
} KilnDeepLink;

void kiln_deep_link_free(KilnDeepLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnDeepLink, kiln_deep_link_free)

/* Parses @uri strictly: scheme and host exact, path "/" or empty, no fragment part,
 * account_slug/actor_name/fragment/state each exactly once, values valid UTF-8 without
 * control characters, state 64 hex digits, fragment printable ASCII.  Other keys the portal
 * adds (account_name, identity_provider_identifier) are ignored.  Returns NULL and sets
 * @error (G_IO_ERROR_INVALID_DATA) with the reason otherwise. */
KilnDeepLink *kiln_deep_link_parse(const char *uri, GError **error);

G_END_DECLS
