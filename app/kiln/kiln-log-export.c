#include "app/kiln/kiln-log-export.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <glib/gi18n.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "app/kiln/kiln-log.h"
#include "app/kiln/kiln-zip-writer.h"

typedef struct {
        GFile *dest;
        char *stem;
        GBytes *service_logs;
        char *service_note;
        char *kilnd_version;
        char *kilnd_state;
} ExportJob;

static void export_job_free(ExportJob *job)
{
        g_clear_object(&job->dest);
        g_free(job->stem);
        g_clear_pointer(&job->service_logs, g_bytes_unref);
        g_free(job->service_note);
        g_free(job->kilnd_version);
        g_free(job->kilnd_state);
        g_free(job);
}

char *kiln_log_export_default_stem(void)
{
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        return g_date_time_format(now, "kiln-logs-%Y_%m_%d-%H-%M");
}

static char *read_os_release(void)
{
        g_autofree char *text = NULL;
        if (!g_file_get_contents("/etc/os-release", &text, NULL, NULL))
                return g_strdup("unknown");
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "PRETTY_NAME="))
                        return g_strdup(*l + strlen("PRETTY_NAME="));
        return g_strdup("unknown");
}

static char *system_info(ExportJob *job)
{
        struct utsname u = { 0 };
        g_autofree char *os = read_os_release();
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format_iso8601(now);

        uname(&u);
        return g_strdup_printf("kiln %s\n"
                               "exported %s\n"
                               "os %s\n"
                               "kernel %s %s %s\n"
                               "desktop %s\n"
                               "session %s\n"
                               "glib %u.%u.%u\n"
                               "kilnd version %s\n"
                               "kilnd state %s\n",
                               KILN_VERSION, stamp, os, u.sysname, u.release, u.machine,
                               g_getenv("XDG_CURRENT_DESKTOP") ? g_getenv("XDG_CURRENT_DESKTOP") : "unknown",
                               g_getenv("XDG_SESSION_TYPE") ? g_getenv("XDG_SESSION_TYPE") : "unknown",
                               glib_major_version, glib_minor_version, glib_micro_version,
                               job->kilnd_version ? job->kilnd_version : "unavailable",
                               job->kilnd_state ? job->kilnd_state : "unavailable");
}

static gboolean add_app_logs(KilnZipWriter *zip, ExportJob *job, GError **error)
{
        const char *dir_path = kiln_log_dir();
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *name;

        while (dir && (name = g_dir_read_name(dir)))
                g_ptr_array_add(names, g_strdup(name));
        g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
        for (guint i = 0; i < names->len; i++) {
                g_autofree char *path = g_build_filename(dir_path, names->pdata[i], NULL);
                g_autofree char *data = NULL;
                gsize len = 0;
                /* A file that vanished or cannot be read is skipped, not fatal. */
                if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) ||
                    !g_file_get_contents(path, &data, &len, NULL))
                        continue;
                g_autofree char *member = g_strdup_printf("%s/app/%s", job->stem, (char *)names->pdata[i]);
                if (!kiln_zip_writer_add(zip, member, data, len, NULL, error))
                        return FALSE;
        }
        return TRUE;
}

static void write_zip(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
        ExportJob *job = task_data;
        GError *error = NULL;
        /* Logs name resources and addresses.  Without REPLACE_DESTINATION, replacing a file
         * keeps that file's mode (0644 stayed 0644); with it, PRIVATE applies: 0600. */
        g_autoptr(GFileOutputStream) out =
            g_file_replace(job->dest, NULL, FALSE, G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                           cancellable, &error);
        if (!out) {
                g_task_return_error(task, error);
                return;
        }
        g_autoptr(KilnZipWriter) zip = kiln_zip_writer_new(G_OUTPUT_STREAM(out));
        g_autofree char *info = system_info(job);
        g_autofree char *info_name = g_strdup_printf("%s/system-info.txt", job->stem);
        g_autofree char *svc_name = NULL;
        gboolean ok = add_app_logs(zip, job, &error);

        if (ok && job->service_logs) {
                svc_name = g_strdup_printf("%s/kilnd/kilnd.jsonl", job->stem);
                ok = kiln_zip_writer_add(zip, svc_name, g_bytes_get_data(job->service_logs, NULL),
                                         g_bytes_get_size(job->service_logs), NULL, &error);
        } else if (ok) {
                svc_name = g_strdup_printf("%s/kilnd/UNAVAILABLE.txt", job->stem);
                ok = kiln_zip_writer_add(zip, svc_name, job->service_note, strlen(job->service_note), NULL,
                                         &error);
        }
        ok = ok && kiln_zip_writer_add(zip, info_name, info, strlen(info), NULL, &error);
        ok = ok && kiln_zip_writer_finish(zip, &error);
        /* Closing commits the replacement; on failure the old file (if any) stays. */
        if (!ok) {
                g_output_stream_close(G_OUTPUT_STREAM(out), NULL, NULL);
                g_task_return_error(task, error);
                return;
        }
        if (!g_output_stream_close(G_OUTPUT_STREAM(out), cancellable, &error)) {
                g_task_return_error(task, error);
                return;
        }
        g_task_return_boolean(task, TRUE);
}

static void start_writing(GTask *task)
{
        g_task_run_in_thread(task, write_zip);
        g_object_unref(task);
}

static GBytes *read_memfd(int fd, GError **error)
{
        off_t size = lseek(fd, 0, SEEK_END);
        if (size < 0 || size > KILN_LOG_EXPORT_MAX_SERVICE_BYTES || lseek(fd, 0, SEEK_SET) < 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "kilnd's log is larger than %d MiB",
                            KILN_LOG_EXPORT_MAX_SERVICE_BYTES / (1024 * 1024));
                return NULL;
        }
        guint8 *buf = g_malloc((gsize)size + 1);
        gsize done = 0;
        while (done < (gsize)size) {
                ssize_t n = read(fd, buf + done, (gsize)size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        g_free(buf);
                        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "reading kilnd's log failed");
                        return NULL;
                }
                done += (gsize)n;
        }
        return g_bytes_new_take(buf, done);
}

typedef struct {
        GTask *task;
        int fd;
} ExportCall;

static void on_export_logs(GObject *source, GAsyncResult *result, gpointer user_data)
{
        ExportCall *call = user_data;
        ExportJob *job = g_task_get_task_data(call->task);
        g_autoptr(GError) error = NULL;

        g_autoptr(GVariant) reply =
            g_dbus_proxy_call_with_unix_fd_list_finish(G_DBUS_PROXY(source), NULL, result, &error);
        if (reply)
                job->service_logs = read_memfd(call->fd, &error);
        if (!job->service_logs) {
                g_warning("kilnd's logs could not be exported: %s", error->message);
                job->service_note = g_strdup_printf("kilnd's logs are not included: ExportLogs failed: %s\n",
                                                    error->message);
        }
        close(call->fd);
        start_writing(call->task);
        g_free(call);
}

void kiln_log_export_async(KilnTunnelState *tunnel, GFile *dest, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
        GTask *task = g_task_new(NULL, cancellable, callback, user_data);
        ExportJob *job = g_new0(ExportJob, 1);
        KilnDBusTunnel1 *proxy = kiln_tunnel_state_get_proxy(tunnel);

        job->dest = g_object_ref(dest);
        job->stem = kiln_log_export_default_stem();
        g_task_set_task_data(task, job, (GDestroyNotify)export_job_free);
        if (kiln_tunnel_state_get_service_available(tunnel)) {
                job->kilnd_version = g_strdup(kiln_tunnel_state_get_version(tunnel));
                job->kilnd_state = g_strdup(kiln_tunnel_state_get_state(tunnel));
        }

        if (!proxy) {
                const char *reason = kiln_tunnel_state_get_unavailable_reason(tunnel);
                job->service_note = g_strdup_printf("kilnd's logs are not included: the Kiln tunnel service "
                                                    "(kilnd) was unreachable over D-Bus.\nReason: %s\n",
                                                    reason ? reason : "unknown");
                start_writing(task);
                return;
        }
        int fd = memfd_create("kilnd-logs", MFD_CLOEXEC);
        if (fd < 0) {
                job->service_note =
                    g_strdup_printf("kilnd's logs are not included: memfd_create: %s\n", g_strerror(errno));
                start_writing(task);
                return;
        }
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        int index = g_unix_fd_list_append(fds, fd, NULL);
        ExportCall *call = g_new0(ExportCall, 1);
        call->task = task;
        call->fd = fd;
        /* The generated proxy has no fd-list variant of ExportLogs (the XML lacks the
         * org.gtk.GDBus.C.UnixFD annotation), so the call goes through GDBusProxy. */
        g_dbus_proxy_call_with_unix_fd_list(G_DBUS_PROXY(proxy), "ExportLogs", g_variant_new("(h)", index),
                                            G_DBUS_CALL_FLAGS_NONE, -1, fds, cancellable, on_export_logs,
                                            call);
}

gboolean kiln_log_export_finish(GAsyncResult *result, GError **error)
{
        return g_task_propagate_boolean(G_TASK(result), error);
}
