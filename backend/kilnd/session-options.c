/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/session-options.h"

KilnSessionOptions *kiln_session_options_copy(const KilnSessionOptions *options)
{
        KilnSessionOptions *copy = g_new0(KilnSessionOptions, 1);

        copy->api_url = g_strdup(options->api_url);
        copy->account_slug = g_strdup(options->account_slug);
        copy->actor_name = g_strdup(options->actor_name);
        copy->internet_resource_enabled = options->internet_resource_enabled;
        copy->has_internet_resource_enabled = options->has_internet_resource_enabled;
        return copy;
}

void kiln_session_options_free(KilnSessionOptions *options)
{
        if (!options)
                return;
        g_free(options->api_url);
        g_free(options->account_slug);
        g_free(options->actor_name);
        g_free(options);
}
