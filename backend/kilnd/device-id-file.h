/* SPDX-License-Identifier: MIT */
/*
 * Reads the device id that kilnd reports in its DeviceId property from STATE_DIR/device-id.
 * Read-only on purpose: backend/portal/device-id.{c,h} owns creating the file; when it is merged
 * kilnd calls that instead and this helper goes away.
 */
#pragma once

#define KILND_DEVICE_ID_MAX 128

/* The id (trimmed; 1..128 of [A-Za-z0-9_-]) or -ENOENT, -EINVAL, -errno.  *ret_id is g_free'd. */
int kilnd_read_device_id(const char *state_dir, char **ret_id);
