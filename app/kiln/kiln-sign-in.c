#include "app/kiln/kiln-sign-in.h"

#include <gio/gio.h>
#include <sodium.h>
#include <string.h>

#define SECRET_BYTES 32
#define SECRET_HEX   (SECRET_BYTES * 2)

struct _KilnSignIn {
        GObject parent_instance;
        gboolean pending;
        char nonce[SECRET_HEX + 1];
        char state[SECRET_HEX + 1];
};

G_DEFINE_FINAL_TYPE(KilnSignIn, kiln_sign_in, G_TYPE_OBJECT)

static void forget(KilnSignIn *self)
{
        sodium_memzero(self->nonce, sizeof(self->nonce));
        sodium_memzero(self->state, sizeof(self->state));
        self->pending = FALSE;
}

static void kiln_sign_in_finalize(GObject *object)
{
        forget(KILN_SIGN_IN(object));
        G_OBJECT_CLASS(kiln_sign_in_parent_class)->finalize(object);
}

static void kiln_sign_in_class_init(KilnSignInClass *klass)
{
        G_OBJECT_CLASS(klass)->finalize = kiln_sign_in_finalize;
}

static void kiln_sign_in_init(KilnSignIn *self)
{
}

KilnSignIn *kiln_sign_in_new(void)
{
        if (sodium_init() < 0)
                g_error("libsodium failed to initialise");
        return g_object_new(KILN_TYPE_SIGN_IN, NULL);
}

static void random_hex(char out[static SECRET_HEX + 1])
{
        uint8_t bytes[SECRET_BYTES];
        randombytes_buf(bytes, sizeof(bytes));
        sodium_bin2hex(out, SECRET_HEX + 1, bytes, sizeof(bytes));
        sodium_memzero(bytes, sizeof(bytes));
}

char *kiln_sign_in_begin(KilnSignIn *self, const char *auth_url, const char *account_slug, GError **error)
{
        g_return_val_if_fail(KILN_IS_SIGN_IN(self), NULL);

        g_autoptr(GUri) base = g_uri_parse(auth_url, G_URI_FLAGS_NONE, error);
        if (!base)
                return NULL;
        if (g_strcmp0(g_uri_get_scheme(base), "https") != 0 &&
            g_strcmp0(g_uri_get_scheme(base), "http") != 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "the sign-in address must be an http or https URL");
                return NULL;
        }
        forget(self);
        random_hex(self->nonce);
        random_hex(self->state);
        self->pending = TRUE;

        g_autofree char *path = g_strconcat("/", account_slug ? account_slug : "", NULL);
        g_autofree char *query =
            g_strdup_printf("as=gui-client&nonce=%s&state=%s", self->nonce, self->state);
        g_autoptr(GUri) uri = g_uri_build(G_URI_FLAGS_NONE, g_uri_get_scheme(base), NULL,
                                          g_uri_get_host(base), g_uri_get_port(base), path, query, NULL);
        return g_uri_to_string(uri);
}

gboolean kiln_sign_in_is_pending(KilnSignIn *self)
{
        return self->pending;
}

void kiln_sign_in_cancel(KilnSignIn *self)
{
        forget(self);
}

gboolean kiln_sign_in_complete(KilnSignIn *self, const KilnDeepLink *link, char **ret_token, GError **error)
{
        g_return_val_if_fail(KILN_IS_SIGN_IN(self), FALSE);

        if (!self->pending) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                            "no sign-in is pending (a repeated or unexpected callback)");
                return FALSE;
        }
        /* The parser guarantees 64 hex digits; compare the case-folded text in constant time. */
        char given[SECRET_HEX + 1];
        for (size_t i = 0; i < SECRET_HEX; i++)
                given[i] = g_ascii_tolower(link->state[i]);
        given[SECRET_HEX] = '\0';
        gboolean match =
            strlen(link->state) == SECRET_HEX && sodium_memcmp(given, self->state, SECRET_HEX) == 0;
        sodium_memzero(given, sizeof(given));
        if (!match) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                            "the callback's state does not match the pending sign-in");
                return FALSE;
        }
        char *token = g_strconcat(self->nonce, link->fragment, NULL);
        forget(self);
        *ret_token = token;
        return TRUE;
}

void kiln_sign_in_free_token(char *token)
{
        if (!token)
                return;
        sodium_memzero(token, strlen(token));
        g_free(token);
}
