/* SPDX-License-Identifier: MIT */
/* systemd's readiness protocol by hand (one datagram to $NOTIFY_SOCKET), so kilnd needs no libsystemd. */
#pragma once

/* Sends e.g. "READY=1".  Returns 1 when sent, 0 without NOTIFY_SOCKET, or -errno. */
int kilnd_notify(const char *state);
