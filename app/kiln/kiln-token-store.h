#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The portal token in the Secret Service (libsecret, schema dev.kiln.Kiln.Token).  Never on
 * disk in plain text, never logged. */
void kiln_token_store_save_async(const char *token, GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean kiln_token_store_save_finish(GAsyncResult *result, GError **error);

/* Yields the token, or NULL without an error when none is stored. */
void kiln_token_store_load_async(GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data);
char *kiln_token_store_load_finish(GAsyncResult *result, GError **error);

void kiln_token_store_clear_async(GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean kiln_token_store_clear_finish(GAsyncResult *result, GError **error);

/* A sentence for the user about @error: keyring missing, locked, or something else. */
char *kiln_token_store_describe_error(const GError *error);

G_END_DECLS
