/* SPDX-License-Identifier: MIT */
/*
 * kilnd --headless: the same session without D-Bus, for servers, admins and the end-to-end
 * tests (Firezone's headless client, linux-client spec §9.7).  The token comes from $KILN_TOKEN
 * (removed from the environment once read) or from a token file that only its owner may read.
 */
#pragma once

#include <glib.h>

#include "backend/kilnd/session.h"
#include "backend/log/log.h"

/* Exit statuses of kilnd --headless. */
#define KILND_EXIT_FAILURE          1
#define KILND_EXIT_SIGN_IN_REQUIRED 4

/*
 * Reads a token file: a regular file owned by the effective user, with no group or other
 * permission bits (0600 or 0400), holding one token (surrounding whitespace is dropped).
 * Returns the token in sodium_malloc'd memory (free with kilnd_token_free) or NULL and a
 * G_FILE_ERROR naming the problem.
 */
char *kilnd_read_token_file(const char *path, GError **error);
void kilnd_token_free(char *token);

/*
 * Runs the session until SIGTERM/SIGINT (exit 0 after a clean stop), or until it ends on its
 * own: KILND_EXIT_SIGN_IN_REQUIRED when the token is rejected or expired, KILND_EXIT_FAILURE
 * for any other fatal error.  State changes and resources are logged; the error is also
 * printed on stderr.
 */
int kilnd_run_headless(KilnLogger *logger, KilnSession *session, const char *token,
                       const KilnSessionOptions *options);
