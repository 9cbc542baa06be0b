/* SPDX-License-Identifier: MIT */
#include "backend/kilnd/dns-control.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "backend/platform/dns-resolvconf.h"
#include "backend/platform/dns-resolved.h"
#include "backend/tunnel/resources.h"

#define T_DNS            "kilnd::dns"
#define RESOLV_CONF      "/etc/resolv.conf"
#define RESOLVED_UPLINKS "/run/systemd/resolve/resolv.conf"

struct _KilndDnsControl {
        KilnLogger *logger;
        char *backup;
        char *state_dir;
        GDBusConnection *bus; /* set when systemd-resolved is used */
        gboolean disabled;
        int active_ifindex; /* resolved: the link we configured; 0 none */
        gboolean resolvconf_active;
};

gboolean kilnd_dns_control_mode_valid(const char *mode)
{
        return g_strcmp0(mode, "auto") == 0 || g_strcmp0(mode, "resolved") == 0 ||
               g_strcmp0(mode, "resolv-conf") == 0 || g_strcmp0(mode, "disabled") == 0;
}

static struct kiln_resolvconf_paths paths_for(const char *state_dir, char **ret_backup)
{
        *ret_backup = g_build_filename(state_dir, "resolv.conf.before-kiln", NULL);
        return (struct kiln_resolvconf_paths){
                .resolv_conf = RESOLV_CONF,
                .backup = *ret_backup,
                .state_dir = state_dir,
        };
}

int kilnd_dns_control_recover(const char *state_dir)
{
        g_autofree char *backup = NULL;
        g_autofree char *crash_state = g_build_filename(state_dir, "resolvconf-active", NULL);
        struct kiln_resolvconf_paths p = paths_for(state_dir, &backup);
        gboolean crashed = g_file_test(crash_state, G_FILE_TEST_EXISTS);
        int r = kiln_resolvconf_recover(&p);

        return r < 0 ? r : crashed ? 1 : 0;
}

KilndDnsControl *kilnd_dns_control_new(KilnLogger *logger, const char *mode, const char *state_dir)
{
        KilndDnsControl *c = g_new0(KilndDnsControl, 1);

        c->logger = logger;
        c->state_dir = g_strdup(state_dir);
        c->backup = g_build_filename(state_dir, "resolv.conf.before-kiln", NULL);
        c->disabled = g_strcmp0(mode, "disabled") == 0;
        if (g_strcmp0(mode, "auto") == 0 || g_strcmp0(mode, "resolved") == 0) {
                g_autoptr(GError) error = NULL;
                GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);

                if (bus && kiln_resolved_available(bus))
                        c->bus = bus;
                else
                        g_clear_object(&bus);
                if (!c->bus && g_strcmp0(mode, "resolved") == 0) {
                        kiln_log(logger, KILN_LOG_WARN, T_DNS,
                                 "systemd-resolved is not available; DNS control is off");
                        c->disabled = TRUE;
                }
        }
        kiln_log(logger, KILN_LOG_INFO, T_DNS, "DNS control",
                 KILN_LOG_STR("method", c->disabled ? "disabled"
                                        : c->bus    ? "systemd-resolved"
                                                    : "resolv.conf"));
        return c;
}

void kilnd_dns_control_free(KilndDnsControl *c)
{
        if (!c)
                return;
        kilnd_dns_control_deactivate(c);
        g_clear_object(&c->bus);
        g_free(c->backup);
        g_free(c->state_dir);
        g_free(c);
}

static size_t parse_nameservers(const char *text, struct kiln_dns_upstream *out, size_t cap)
{
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        size_t n = 0;

        for (guint i = 0; lines[i] && n < cap; i++) {
                g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
                struct kiln_ip_addr a;
                char *percent;

                if (g_strcmp0(words[0], "nameserver") != 0 || !words[1])
                        continue;
                /* fe80::1%eth0: the stub forwards from kilnd's socket, the scope is not needed. */
                percent = strchr(words[1], '%');
                if (percent)
                        *percent = '\0';
                if (kiln_ip_addr_parse(words[1], &a) < 0 || kiln_addr_is_sentinel(&a))
                        continue;
                out[n++] = (struct kiln_dns_upstream){ .addr = a, .port = 53 };
        }
        return n;
}

size_t kilnd_dns_control_system_upstreams(KilndDnsControl *c, struct kiln_dns_upstream *out, size_t cap)
{
        g_autofree char *text = NULL;
        const char *path = c->bus ? RESOLVED_UPLINKS : RESOLV_CONF;

        /* While our file is in place the original is the backup. */
        if (!c->bus && c->resolvconf_active)
                path = c->backup;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return 0;
        if (!c->bus && g_str_has_prefix(text, KILN_RESOLVCONF_HEADER)) {
                g_clear_pointer(&text, g_free);
                if (!g_file_get_contents(c->backup, &text, NULL, NULL))
                        return 0;
        }
        return parse_nameservers(text, out, cap);
}

int kilnd_dns_control_activate(KilndDnsControl *c, int ifindex, const char *const *servers, size_t n,
                               const char *search_domain)
{
        g_autoptr(GError) error = NULL;

        if (c->disabled)
                return 0;
        if (c->bus) {
                if (!kiln_resolved_activate(c->bus, ifindex, servers, n, search_domain, &error)) {
                        kiln_log(c->logger, KILN_LOG_ERROR, T_DNS,
                                 "systemd-resolved refused the DNS settings",
                                 KILN_LOG_STR("error", error->message));
                        return -EIO;
                }
                c->active_ifindex = ifindex;
        } else {
                struct kiln_resolvconf_paths p = { .resolv_conf = RESOLV_CONF,
                                                   .backup = c->backup,
                                                   .state_dir = c->state_dir };
                int r = kiln_resolvconf_activate(&p, servers, n, search_domain);

                if (r < 0) {
                        kiln_log(c->logger, KILN_LOG_ERROR, T_DNS, "cannot write /etc/resolv.conf",
                                 KILN_LOG_STR("error", g_strerror(-r)));
                        return r;
                }
                c->resolvconf_active = TRUE;
        }
        kiln_log(c->logger, KILN_LOG_INFO, T_DNS, "DNS points at the stub resolver",
                 KILN_LOG_STR("server", n ? servers[0] : ""), KILN_LOG_INT("servers", (gint64)n));
        return 0;
}

void kilnd_dns_control_deactivate(KilndDnsControl *c)
{
        if (c->active_ifindex) {
                g_autoptr(GError) error = NULL;

                /* The link may already be gone, and resolved forgets it with the link. */
                if (!kiln_resolved_revert(c->bus, c->active_ifindex, &error))
                        kiln_log(c->logger, KILN_LOG_DEBUG, T_DNS, "RevertLink",
                                 KILN_LOG_STR("error", error->message));
                c->active_ifindex = 0;
                kiln_log(c->logger, KILN_LOG_INFO, T_DNS, "DNS settings reverted");
        }
        if (c->resolvconf_active) {
                struct kiln_resolvconf_paths p = { .resolv_conf = RESOLV_CONF,
                                                   .backup = c->backup,
                                                   .state_dir = c->state_dir };
                int r = kiln_resolvconf_deactivate(&p);

                c->resolvconf_active = FALSE;
                if (r < 0)
                        kiln_log(c->logger, KILN_LOG_ERROR, T_DNS, "cannot restore /etc/resolv.conf",
                                 KILN_LOG_STR("error", g_strerror(-r)));
                else
                        kiln_log(c->logger, KILN_LOG_INFO, T_DNS, "/etc/resolv.conf restored");
        }
}

void kilnd_dns_control_flush(KilndDnsControl *c)
{
        if (c->active_ifindex)
                (void)kiln_resolved_flush_caches(c->bus, NULL);
}
