/* SPDX-License-Identifier: MIT */
/* backend/kilnd/notify: the sd_notify datagram, to a path and to an abstract socket. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "backend/kilnd/notify.h"

static int bind_dgram(const char *name, gboolean abstract)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        socklen_t len;

        g_assert_cmpint(fd, >=, 0);
        if (abstract) {
                memcpy(sa.sun_path + 1, name, strlen(name));
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
        } else {
                g_strlcpy(sa.sun_path, name, sizeof(sa.sun_path));
                len = sizeof(sa);
        }
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, len), ==, 0);
        return fd;
}

static void assert_received(int fd, const char *want)
{
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        g_assert_cmpint(n, ==, (ssize_t)strlen(want));
        buf[n] = '\0';
        g_assert_cmpstr(buf, ==, want);
}

static void test_path(void)
{
        g_autofree char *dir = g_dir_make_tmp("kilnd-notify-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "notify", NULL);
        int fd = bind_dgram(path, FALSE);

        g_setenv("NOTIFY_SOCKET", path, TRUE);
        g_assert_cmpint(kilnd_notify("READY=1"), ==, 1);
        assert_received(fd, "READY=1");
        close(fd);
        g_unlink(path);
        g_rmdir(dir);
}

static void test_abstract(void)
{
        g_autofree char *name = g_strdup_printf("kilnd-notify-test-%d", getpid());
        g_autofree char *env = g_strconcat("@", name, NULL);
        int fd = bind_dgram(name, TRUE);

        g_setenv("NOTIFY_SOCKET", env, TRUE);
        g_assert_cmpint(kilnd_notify("STOPPING=1"), ==, 1);
        assert_received(fd, "STOPPING=1");
        close(fd);
}

static void test_absent_or_bad(void)
{
        g_unsetenv("NOTIFY_SOCKET");
        g_assert_cmpint(kilnd_notify("READY=1"), ==, 0);
        g_setenv("NOTIFY_SOCKET", "relative/path", TRUE);
        g_assert_cmpint(kilnd_notify("READY=1"), ==, -EINVAL);
        g_setenv("NOTIFY_SOCKET", "/nonexistent/kilnd/notify", TRUE);
        g_assert_cmpint(kilnd_notify("READY=1"), ==, -ENOENT);
        g_unsetenv("NOTIFY_SOCKET");
}

int main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/kilnd/notify/path", test_path);
        g_test_add_func("/kilnd/notify/abstract", test_abstract);
        g_test_add_func("/kilnd/notify/absent-or-bad", test_absent_or_bad);
        return g_test_run();
}
