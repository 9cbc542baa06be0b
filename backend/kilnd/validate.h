/* SPDX-License-Identifier: MIT */
/*
 * Checks of every argument a D-Bus caller hands kilnd.  Each function either accepts and
 * returns TRUE, or sets a KILN_TUNNEL_ERROR naming the problem and returns FALSE, writing
 * nothing to its out-parameter.
 */
#pragma once

#include <gio/gio.h>

#include "backend/kilnd/session-options.h"
#include "backend/log/log.h"

#define KILN_TOKEN_MAX        4096
#define KILN_URL_MAX          2048
#define KILN_ACCOUNT_SLUG_MAX 100
#define KILN_ACTOR_NAME_MAX   256

/* 1..4096 printable ASCII characters without spaces (0x21..0x7e). */
gboolean kiln_validate_token(const char *token, GError **error);

/* An absolute ws/wss/http/https URL with a host and no user information, ≤ 2048 bytes. */
gboolean kiln_validate_url(const char *url, GError **error);

/* The SignIn options a{sv}: "api-url" s, "account-slug" s ([A-Za-z0-9_-], 1..100),
 * "actor-name" s (UTF-8 without control characters, ≤ 256 bytes), "internet-resource-enabled" b.
 * Unknown keys, wrong types and repeated keys are rejected. */
gboolean kiln_validate_options(GVariant *options, KilnSessionOptions **ret_options, GError **error);

gboolean kiln_validate_log_level(const char *name, KilnLogLevel *ret_level, GError **error);
