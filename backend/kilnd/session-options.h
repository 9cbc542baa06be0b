/* SPDX-License-Identifier: MIT */
/* The validated settings of one SignIn (see validate.h for the rules). */
#pragma once

#include <glib.h>

#define KILN_DEFAULT_API_URL "wss://api.firezone.dev/"

typedef struct {
        char *api_url;      /* never NULL after validation: the default when not given */
        char *account_slug; /* NULL when not given */
        char *actor_name;   /* NULL when not given */
        gboolean internet_resource_enabled;
        gboolean has_internet_resource_enabled;
} KilnSessionOptions;

KilnSessionOptions *kiln_session_options_copy(const KilnSessionOptions *options);
void kiln_session_options_free(KilnSessionOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnSessionOptions, kiln_session_options_free)
