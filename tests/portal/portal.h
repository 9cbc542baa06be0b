/* SPDX-License-Identifier: MIT */
/* The test portal server: HTTP sign-in, the client and gateway WebSockets with Phoenix channels,
 * authorizations between them, and configuration reloads pushed to connected peers. */
#pragma once

#include <gio/gio.h>

#include "tests/portal/config.h"

typedef struct _TpPortal TpPortal;

/* Takes ownership of config; config_path is re-read by tp_portal_reload(). */
TpPortal *tp_portal_new(TpConfig *config, const char *config_path);
void tp_portal_free(TpPortal *portal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TpPortal, tp_portal_free)

/* Listens on address:port (port 0 = ephemeral); ret_url gets "http://address:port". */
gboolean tp_portal_listen(TpPortal *portal, const char *address, guint port, char **ret_url, GError **error);

/* Re-reads the configuration file.  A bad file changes nothing; a good one replaces the
 * configuration and pushes the differences to every connected client and gateway. */
gboolean tp_portal_reload(TpPortal *portal, GError **error);
