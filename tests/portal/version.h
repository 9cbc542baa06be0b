/* SPDX-License-Identifier: MIT */
/* The version rules the portal applies to the component/x.y.z of a User-Agent
 * (specs/firezone-control-plane.md §1.2): whether a client gets `sites` or the older
 * `gateway_groups`, and which gateways a client may be sent to. */
#pragma once

#include <glib.h>

/* "x.y.z" with decimal parts of at most 9 digits; FALSE otherwise. */
gboolean tp_version_parse(const char *text, guint ret_version[3]);

/* gui ≥ 1.5.10, headless ≥ 1.5.6, apple ≥ 1.5.11, android ≥ 1.5.8; connlib never. */
gboolean tp_client_uses_sites(const char *component, const char *version);

/* A gateway serves a client of M.m when M.(m-1).0 ≤ its version < M.(m+2).0. */
gboolean tp_gateway_compatible(const char *client_version, const char *gateway_version);
