#include "app/kiln/kiln-token-store.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>

static const SecretSchema *token_schema(void)
{
        static const SecretSchema schema = {
                "dev.kiln.Kiln.Token",
                SECRET_SCHEMA_NONE,
                {
                    { "purpose", SECRET_SCHEMA_ATTRIBUTE_STRING },
                    { NULL, 0 },
                },
                0,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
        };
        return &schema;
}

#define PURPOSE "portal-token"

static void on_stored(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;
        if (secret_password_store_finish(result, &error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, error);
}

void kiln_token_store_save_async(const char *token, GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        secret_password_store(token_schema(), SECRET_COLLECTION_DEFAULT, "Kiln portal token", token,
                              cancellable, on_stored, task, "purpose", PURPOSE, NULL);
}

gboolean kiln_token_store_save_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

static void on_looked_up(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;
        char *token = secret_password_lookup_finish(result, &error);
        if (error)
                g_task_return_error(task, error);
        else
                g_task_return_pointer(task, token, (GDestroyNotify)secret_password_free);
}

void kiln_token_store_load_async(GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        secret_password_lookup(token_schema(), cancellable, on_looked_up, task, "purpose", PURPOSE, NULL);
}

char *kiln_token_store_load_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_pointer(G_TASK(result), error);
}

static void on_cleared(GObject *source, GAsyncResult *result, gpointer user_data)
{
        g_autoptr(GTask) task = user_data;
        GError *error = NULL;
        secret_password_clear_finish(result, &error);
        if (error)
                g_task_return_error(task, error);
        else
                g_task_return_boolean(task, TRUE);
}

void kiln_token_store_clear_async(GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        secret_password_clear(token_schema(), cancellable, on_cleared, task, "purpose", PURPOSE, NULL);
}

gboolean kiln_token_store_clear_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}

char *kiln_token_store_describe_error(const GError *error)
{
        if (g_error_matches(error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
                return g_strdup(_("Your keyring is locked. Unlock it (for example in “Passwords and Keys”) "
                                  "and sign in again."));
        if (error->domain == G_DBUS_ERROR ||
            g_error_matches(error, SECRET_ERROR, SECRET_ERROR_NO_SUCH_OBJECT))
                return g_strdup_printf(
                    _("No keyring is available to keep your sign-in safe. Install and start "
                      "a Secret Service such as GNOME Keyring, then sign in again. (%s)"),
                    error->message);
        return g_strdup_printf(_("Kiln could not use your keyring: %s"), error->message);
}
