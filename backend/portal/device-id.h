/* SPDX-License-Identifier: MIT */
/*
 * The stable device id (control-plane spec §7.1): a random UUID stored once in a small JSON
 * file {"id":"<uuid>"}, never overwritten, so the portal sees the same device on every run.
 * On the wire (external_id) a UUID id is sent as the lowercase hex SHA-256 of its string.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KILN_DEVICE_ID_DEFAULT_PATH "/var/lib/kiln/device-id.json"

/*
 * Reads the id from path, or creates the file (mode 0644, parent directories 0755) with a
 * fresh random UUID, atomically and without ever replacing an existing file: when two
 * processes race, both end up with the id that won.  A file that exists but does not hold
 * an id is an error, not something to overwrite.
 */
gboolean kiln_device_id_load_or_create(const char *path, char **ret_id, GError **error);

/* external_id for the login URL: hex(SHA-256(id)) when id is a UUID, the id itself otherwise. */
char *kiln_device_id_external_id(const char *id);

G_END_DECLS
