/* SPDX-License-Identifier: MIT */
/*
 * The D-Bus errors of dev.kiln.Tunnel1 (names dev.kiln.Tunnel1.Error.*, see ipc/README.md).
 * Shared by kilnd and its clients: once KILN_TUNNEL_ERROR has been used (e.g. evaluated once at
 * start-up), a client's GError from a failed call has this domain and code, so
 * g_error_matches(error, KILN_TUNNEL_ERROR, KILN_TUNNEL_ERROR_INVALID_TOKEN) works.
 */
#pragma once

#include <gio/gio.h>

typedef enum {
        KILN_TUNNEL_ERROR_INVALID_TOKEN,     /* .InvalidToken */
        KILN_TUNNEL_ERROR_INVALID_OPTION,    /* .InvalidOption: unknown key, wrong type, bad value */
        KILN_TUNNEL_ERROR_INVALID_URL,       /* .InvalidUrl */
        KILN_TUNNEL_ERROR_INVALID_LOG_LEVEL, /* .InvalidLogLevel */
        KILN_TUNNEL_ERROR_INVALID_FD,        /* .InvalidFileDescriptor */
        KILN_TUNNEL_ERROR_LOGS_FAILED,       /* .LogsFailed: export or clear hit an I/O error */
        KILN_TUNNEL_ERROR_SESSION_FAILED,    /* .SessionFailed: the session could not start */
        KILN_TUNNEL_ERROR_SHUTTING_DOWN,     /* .ShuttingDown: kilnd is stopping */
} KilnTunnelError;

#define KILN_TUNNEL_ERROR (kiln_tunnel_error_quark())
GQuark kiln_tunnel_error_quark(void);
