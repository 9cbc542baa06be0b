/* SPDX-License-Identifier: MIT */
#include "ipc/kiln-tunnel-errors.h"

static const GDBusErrorEntry entries[] = {
        { KILN_TUNNEL_ERROR_INVALID_TOKEN, "dev.kiln.Tunnel1.Error.InvalidToken" },
        { KILN_TUNNEL_ERROR_INVALID_OPTION, "dev.kiln.Tunnel1.Error.InvalidOption" },
        { KILN_TUNNEL_ERROR_INVALID_URL, "dev.kiln.Tunnel1.Error.InvalidUrl" },
        { KILN_TUNNEL_ERROR_INVALID_LOG_LEVEL, "dev.kiln.Tunnel1.Error.InvalidLogLevel" },
        { KILN_TUNNEL_ERROR_INVALID_FD, "dev.kiln.Tunnel1.Error.InvalidFileDescriptor" },
        { KILN_TUNNEL_ERROR_LOGS_FAILED, "dev.kiln.Tunnel1.Error.LogsFailed" },
        { KILN_TUNNEL_ERROR_SESSION_FAILED, "dev.kiln.Tunnel1.Error.SessionFailed" },
        { KILN_TUNNEL_ERROR_SHUTTING_DOWN, "dev.kiln.Tunnel1.Error.ShuttingDown" },
};

GQuark kiln_tunnel_error_quark(void)
{
        static gsize quark;

        g_dbus_error_register_error_domain("kiln-tunnel-error-quark", &quark, entries,
                                           G_N_ELEMENTS(entries));
        return (GQuark)quark;
}
