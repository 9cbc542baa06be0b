/* SPDX-License-Identifier: MIT */
#include "backend/platform/dns-resolved.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#define RESOLVED_NAME    "org.freedesktop.resolve1"
#define RESOLVED_PATH    "/org/freedesktop/resolve1"
#define RESOLVED_MANAGER "org.freedesktop.resolve1.Manager"
#define CALL_TIMEOUT_MS  5000

gboolean kiln_resolved_available(GDBusConnection *bus)
{
        g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
            bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
            g_variant_new("(s)", RESOLVED_NAME), G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE,
            CALL_TIMEOUT_MS, NULL, NULL);
        gboolean owned = FALSE;
        if (reply)
                g_variant_get(reply, "(b)", &owned);
        return owned;
}

static gboolean call(GDBusConnection *bus, const char *method, GVariant *args, GError **error)
{
        g_autoptr(GVariant) reply =
            g_dbus_connection_call_sync(bus, RESOLVED_NAME, RESOLVED_PATH, RESOLVED_MANAGER, method, args,
                                        NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
        return reply != NULL;
}

gboolean kiln_resolved_activate(GDBusConnection *bus, int ifindex, const char *const *servers,
                                gsize n_servers, const char *search_domain, GError **error)
{
        GVariantBuilder addrs, domains;

        g_return_val_if_fail(ifindex > 0, FALSE);
        g_variant_builder_init(&addrs, G_VARIANT_TYPE("a(iay)"));
        for (gsize i = 0; i < n_servers; i++) {
                guint8 bytes[16];
                int family = AF_INET;
                gsize len = 4;
                if (inet_pton(AF_INET, servers[i], bytes) != 1) {
                        if (inet_pton(AF_INET6, servers[i], bytes) != 1) {
                                g_variant_builder_clear(&addrs);
                                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                            "not an IP address: %s", servers[i]);
                                return FALSE;
                        }
                        family = AF_INET6;
                        len = 16;
                }
                g_variant_builder_add(&addrs, "(i@ay)", family,
                                      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes, len, 1));
        }
        g_variant_builder_init(&domains, G_VARIANT_TYPE("a(sb)"));
        /* "." as a routing-only domain is resolvectl's "~.": this link resolves everything. */
        g_variant_builder_add(&domains, "(sb)", ".", TRUE);
        if (search_domain && *search_domain)
                g_variant_builder_add(&domains, "(sb)", search_domain, FALSE);

        if (!call(bus, "SetLinkDNS", g_variant_new("(ia(iay))", ifindex, &addrs), error)) {
                g_variant_builder_clear(&domains);
                return FALSE;
        }
        if (!call(bus, "SetLinkDomains", g_variant_new("(ia(sb))", ifindex, &domains), error))
                return FALSE;
        /* Older resolved has no SetLinkDefaultRoute; "~." already makes the link the default. */
        g_autoptr(GError) ignored = NULL;
        call(bus, "SetLinkDefaultRoute", g_variant_new("(ib)", ifindex, TRUE), &ignored);
        return TRUE;
}

gboolean kiln_resolved_revert(GDBusConnection *bus, int ifindex, GError **error)
{
        return call(bus, "RevertLink", g_variant_new("(i)", ifindex), error);
}

gboolean kiln_resolved_flush_caches(GDBusConnection *bus, GError **error)
{
        return call(bus, "FlushCaches", NULL, error);
}
