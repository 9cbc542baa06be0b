/* SPDX-License-Identifier: MIT */
#include "backend/platform/forwarding.h"

#include <gio/gio.h>
#include <net/if.h>
#include <string.h>

#define IPV4_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define IPV6_FORWARD "/proc/sys/net/ipv6/conf/all/forwarding"

struct _KilnForwarding {
        char *tun;
        char *comment;
        char *old_v4, *old_v6; /* sysctl values to restore; NULL = untouched */
        gboolean v6;
};

static gboolean run(const char *const *argv, GError **error)
{
        g_autofree char *err = NULL;
        int status;
        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                          NULL, NULL, &err, &status, error))
                return FALSE;
        if (!g_spawn_check_wait_status(status, NULL)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", argv[0], argv[1],
                            err ? g_strstrip(err) : "failed");
                return FALSE;
        }
        return TRUE;
}

/* The rule specs after the table/chain verb, for one family. */
static gboolean rules(KilnForwarding *f, const char *tool, const char *range, gboolean add, GError **error)
{
        const char *verb_fwd = add ? "-I" : "-D";
        const char *verb_nat = add ? "-A" : "-D";
        const char *in[] = { tool,      "-w",        verb_fwd,   "FORWARD", "-i",     f->tun, "-m",
                             "comment", "--comment", f->comment, "-j",      "ACCEPT", NULL };
        const char *out[] = { tool,      "-w",        verb_fwd,   "FORWARD", "-o",     f->tun, "-m",
                              "comment", "--comment", f->comment, "-j",      "ACCEPT", NULL };
        const char *nat[] = { tool,      "-w",        "-t",       "nat", verb_nat,     "POSTROUTING",
                              "-s",      range,       "!",        "-o",  f->tun,       "-m",
                              "comment", "--comment", f->comment, "-j",  "MASQUERADE", NULL };
        if (add)
                return run(in, error) && run(out, error) && run(nat, error);
        /* Teardown removes what it can and reports the first failure. */
        g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
        gboolean ok = run(in, &e1) & run(out, &e2) & run(nat, &e3);
        if (!ok && error)
                *error = g_error_copy(e1 ? e1 : e2 ? e2 : e3);
        return ok;
}

static char *set_sysctl(const char *path, GError **error)
{
        g_autofree char *old = NULL;
        if (!g_file_get_contents(path, &old, NULL, error))
                return NULL;
        g_strstrip(old);
        if (!g_file_set_contents_full(path, "1\n", 2, G_FILE_SET_CONTENTS_NONE, 0644, error))
                return NULL;
        return g_steal_pointer(&old);
}

static void restore_sysctl(const char *path, const char *old)
{
        g_autofree char *line = NULL;
        if (!old)
                return;
        line = g_strdup_printf("%s\n", old);
        g_file_set_contents_full(path, line, -1, G_FILE_SET_CONTENTS_NONE, 0644, NULL);
}

KilnForwarding *kiln_forwarding_setup(const char *tun_name, GError **error)
{
        if (!tun_name || !*tun_name || strlen(tun_name) >= IF_NAMESIZE || strpbrk(tun_name, " /\t\n")) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad interface name");
                return NULL;
        }
        KilnForwarding *f = g_new0(KilnForwarding, 1);
        f->tun = g_strdup(tun_name);
        f->comment = g_strdup_printf("kiln:%s", tun_name);
        f->old_v4 = set_sysctl(IPV4_FORWARD, error);
        if (!f->old_v4 || !rules(f, "iptables", "100.64.0.0/11", TRUE, error)) {
                kiln_forwarding_teardown(f);
                return NULL;
        }
        g_autoptr(GError) v6_error = NULL;
        f->old_v6 = set_sysctl(IPV6_FORWARD, &v6_error);
        if (f->old_v6 && rules(f, "ip6tables", "fd00:2021:1111::/107", TRUE, &v6_error))
                f->v6 = TRUE;
        else
                g_message("IPv6 forwarding not set up: %s", v6_error ? v6_error->message : "unknown error");
        return f;
}

gboolean kiln_forwarding_has_ipv6(const KilnForwarding *f)
{
        return f->v6;
}

void kiln_forwarding_teardown(KilnForwarding *f)
{
        if (!f)
                return;
        /* Deleting rules that were never added fails harmlessly; try both families. */
        rules(f, "iptables", "100.64.0.0/11", FALSE, NULL);
        if (f->old_v6)
                rules(f, "ip6tables", "fd00:2021:1111::/107", FALSE, NULL);
        restore_sysctl(IPV4_FORWARD, f->old_v4);
        restore_sysctl(IPV6_FORWARD, f->old_v6);
        g_free(f->tun);
        g_free(f->comment);
        g_free(f->old_v4);
        g_free(f->old_v6);
        g_free(f);
}
