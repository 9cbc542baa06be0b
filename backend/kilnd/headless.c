/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/headless.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <sodium.h>

#include "backend/kilnd/validate.h"

#define T_HEADLESS "kilnd::headless"

void kilnd_token_free(char *token)
{
        if (!token)
                return;
        sodium_memzero(token, strlen(token));
        sodium_free(token);
}

char *kilnd_read_token_file(const char *path, GError **error)
{
        char buf[KILN_TOKEN_MAX + 2];
        struct stat st;
        ssize_t n;
        size_t start = 0, end;
        char *token = NULL;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                int e = errno;

                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                            "cannot open the token file %s: %s", path, g_strerror(e));
                return NULL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "the token file %s is not a regular file", path);
                goto out;
        }
        /* As Firezone's headless client: nobody but the owner may read a bearer credential. */
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                            "the token file %s is accessible to group or others (mode %04o); "
                            "make it private with chmod 600",
                            path, (unsigned)(st.st_mode & 07777));
                goto out;
        }
        if (st.st_uid != geteuid()) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                            "the token file %s belongs to uid %u, not to the user running kilnd (%u)", path,
                            (unsigned)st.st_uid, (unsigned)geteuid());
                goto out;
        }
        n = read(fd, buf, sizeof(buf));
        if (n < 0) {
                int e = errno;

                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                            "cannot read the token file %s: %s", path, g_strerror(e));
                goto out;
        }
        end = (size_t)n;
        while (start < end && g_ascii_isspace(buf[start]))
                start++;
        while (end > start && g_ascii_isspace(buf[end - 1]))
                end--;
        if (end - start > KILN_TOKEN_MAX) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "the token file %s is too long", path);
                goto out;
        }
        token = sodium_malloc(end - start + 1);
        if (!token) {
                g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "out of locked memory for the token");
                goto out;
        }
        memcpy(token, buf + start, end - start);
        token[end - start] = '\0';
out:
        sodium_memzero(buf, sizeof(buf));
        close(fd);
        return token;
}

typedef struct {
        GMainLoop *loop;
        KilnLogger *logger;
        KilnSession *session;
        int exit_code;
        gboolean stopping;
} Headless;

static void on_state(KilnSession *session, guint state, Headless *h)
{
        printf("state %s\n", kiln_session_state_to_string((KilnSessionState)state));
        fflush(stdout);
        if (state != KILN_SESSION_SIGNED_OUT && state != KILN_SESSION_ERROR)
                return;
        if (!h->stopping && h->exit_code == 0)
                h->exit_code = KILND_EXIT_FAILURE;
        g_main_loop_quit(h->loop);
}

static void on_resources(KilnSession *session, GVariant *resources, Headless *h)
{
        GVariantIter iter;
        GVariant *r;

        printf("resources %" G_GSIZE_FORMAT "\n", g_variant_n_children(resources));
        g_variant_iter_init(&iter, resources);
        while ((r = g_variant_iter_next_value(&iter))) {
                const char *id = "", *type = "", *name = "", *address = "";

                g_variant_lookup(r, "id", "&s", &id);
                g_variant_lookup(r, "type", "&s", &type);
                g_variant_lookup(r, "name", "&s", &name);
                g_variant_lookup(r, "address", "&s", &address);
                printf("resource %s %s %s %s\n", id, type, address, name);
                g_variant_unref(r);
        }
        fflush(stdout);
}

static void on_error(KilnSession *session, const char *message, gboolean requires_sign_in, Headless *h)
{
        if (requires_sign_in) {
                fprintf(stderr, "kilnd: sign-in required: %s. Get a new token and start kilnd again.\n",
                        message);
                h->exit_code = KILND_EXIT_SIGN_IN_REQUIRED;
        } else {
                fprintf(stderr, "kilnd: %s\n", message);
                h->exit_code = KILND_EXIT_FAILURE;
        }
}

static void on_unreachable(KilnSession *session, const char *resource_id, const char *reason,
                           const char *message, Headless *h)
{
        printf("unreachable %s %s %s\n", resource_id, reason, message);
        fflush(stdout);
}

static gboolean on_signal(gpointer user_data)
{
        Headless *h = user_data;

        if (h->stopping)
                return G_SOURCE_CONTINUE;
        h->stopping = TRUE;
        kiln_log(h->logger, KILN_LOG_INFO, T_HEADLESS, "stopping on a signal");
        kiln_session_stop(h->session);
        if (kiln_session_get_state(h->session) == KILN_SESSION_SIGNED_OUT)
                g_main_loop_quit(h->loop);
        return G_SOURCE_CONTINUE;
}

int kilnd_run_headless(KilnLogger *logger, KilnSession *session, const char *token,
                       const KilnSessionOptions *options)
{
        g_autoptr(GError) error = NULL;
        Headless h = { .logger = logger, .session = session };
        guint term_id, int_id;

        h.loop = g_main_loop_new(NULL, FALSE);
        g_signal_connect(session, "state-changed", G_CALLBACK(on_state), &h);
        g_signal_connect(session, "resources-changed", G_CALLBACK(on_resources), &h);
        g_signal_connect(session, "error", G_CALLBACK(on_error), &h);
        g_signal_connect(session, "resource-unreachable", G_CALLBACK(on_unreachable), &h);
        term_id = g_unix_signal_add(SIGTERM, on_signal, &h);
        int_id = g_unix_signal_add(SIGINT, on_signal, &h);

        kiln_logger_add_secret(logger, token);
        kiln_log(logger, KILN_LOG_INFO, T_HEADLESS, "signing in (headless)",
                 KILN_LOG_STR("api_url", options->api_url), KILN_LOG_SECRET("token"));
        if (!kiln_session_start(session, token, options, &error)) {
                fprintf(stderr, "kilnd: the session could not start: %s\n", error->message);
                h.exit_code = KILND_EXIT_FAILURE;
        } else {
                g_main_loop_run(h.loop);
        }
        if (kiln_session_get_state(session) != KILN_SESSION_SIGNED_OUT)
                kiln_session_stop(session);
        kiln_logger_clear_secrets(logger);
        g_source_remove(term_id);
        g_source_remove(int_id);
        g_signal_handlers_disconnect_by_data(session, &h);
        g_main_loop_unref(h.loop);
        kiln_log(logger, KILN_LOG_INFO, T_HEADLESS, "stopped", KILN_LOG_INT("exit_code", h.exit_code));
        return h.exit_code;
}
