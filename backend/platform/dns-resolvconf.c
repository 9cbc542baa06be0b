/* SPDX-License-Identifier: MIT */
#include "backend/platform/dns-resolvconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE        (1024 * 1024)
#define MAX_NAMESERVERS 16

static int read_file(const char *path, char **ret, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        char *buf = malloc(MAX_FILE + 1);
        size_t len = 0;
        int r = 0;
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t n = read(fd, buf + len, MAX_FILE + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > MAX_FILE) {
                        r = -EFBIG;
                        break;
                }
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[len] = 0;
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Replaces the content of path in place (it may be a bind mount). */
static int write_in_place(const char *path, const char *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

/* Writes a new file atomically: temp file, fsync, rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
        char tmp[4096];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        close(fd);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(tmp);
        return r;
}

static int state_path(const struct kiln_resolvconf_paths *p, char *buf, size_t cap)
{
        if (snprintf(buf, cap, "%s/resolvconf-active", p->state_dir) >= (int)cap)
                return -ENAMETOOLONG;
        return 0;
}

static bool is_ours(const char *content)
{
        return strncmp(content, KILN_RESOLVCONF_HEADER, strlen(KILN_RESOLVCONF_HEADER)) == 0;
}

int kiln_resolvconf_deactivate(const struct kiln_resolvconf_paths *p)
{
        char state[4096], *backup = NULL, *current = NULL;
        size_t blen, clen;
        int r = state_path(p, state, sizeof(state));
        if (r < 0)
                return r;
        bool crashed = access(state, F_OK) == 0;
        bool ours = read_file(p->resolv_conf, &current, &clen) == 0 && is_ours(current);
        free(current);
        if (!crashed && !ours)
                return 0;
        r = read_file(p->backup, &backup, &blen);
        if (r == -ENOENT && !ours) {
                /* Crash state without a backup: we never got as far as writing our file. */
                unlink(state);
                return 0;
        }
        if (r < 0)
                return r;
        r = write_in_place(p->resolv_conf, backup, blen);
        free(backup);
        if (r < 0)
                return r;
        unlink(p->backup);
        if (unlink(state) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int kiln_resolvconf_recover(const struct kiln_resolvconf_paths *p)
{
        return kiln_resolvconf_deactivate(p);
}

int kiln_resolvconf_activate(const struct kiln_resolvconf_paths *p, const char *const *nameservers, size_t n,
                             const char *search_domain)
{
        char state[4096], *content = NULL, *out = NULL;
        size_t len, cap = 4096, used = 0;
        struct stat st;
        int r;

        if (n == 0 || n > MAX_NAMESERVERS)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                uint8_t tmp[16];
                if (inet_pton(AF_INET, nameservers[i], tmp) != 1 &&
                    inet_pton(AF_INET6, nameservers[i], tmp) != 1)
                        return -EINVAL;
        }
        if (search_domain && (strlen(search_domain) > 253 || strpbrk(search_domain, " \t\r\n#;")))
                return -EINVAL;
        if (lstat(p->resolv_conf, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        r = state_path(p, state, sizeof(state));
        if (r < 0)
                return r;
        /* Leftovers of a crashed run first, so the backup is the real original. */
        r = kiln_resolvconf_deactivate(p);
        if (r < 0)
                return r;
        r = read_file(p->resolv_conf, &content, &len);
        if (r < 0)
                return r;
        /* The crash state goes down before the file changes, the backup before both. */
        r = write_atomic(p->backup, content, len);
        free(content);
        if (r < 0)
                return r;
        if (mkdir(p->state_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = write_atomic(state, p->backup, strlen(p->backup));
        if (r < 0)
                return r;
        out = malloc(cap);
        if (!out)
                return -ENOMEM;
        used =
            (size_t)snprintf(out, cap,
                             "%s\n# Written by Kiln while it is connected; the original is in %s and comes "
                             "back when Kiln stops.\n",
                             KILN_RESOLVCONF_HEADER, p->backup);
        for (size_t i = 0; i < n && used < cap; i++)
                used += (size_t)snprintf(out + used, cap - used, "nameserver %s\n", nameservers[i]);
        if (search_domain && *search_domain && used < cap)
                used += (size_t)snprintf(out + used, cap - used, "search %s\n", search_domain);
        if (used < cap)
                used += (size_t)snprintf(out + used, cap - used, "options ndots:1\n");
        if (used >= cap) {
                free(out);
                return -E2BIG;
        }
        r = write_in_place(p->resolv_conf, out, used);
        free(out);
        if (r < 0) {
                kiln_resolvconf_deactivate(p);
                return r;
        }
        return 0;
}
