/* SPDX-License-Identifier: MIT */
#include "backend/kiln-gateway/linux-platform.h"

#include <errno.h>
#include <gio/gio.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "backend/platform/forwarding.h"
#include "backend/platform/routes.h"
#include "backend/platform/tun.h"

#define TARGET   "kiln_gateway::platform"
#define TUN_MTU  1280
#define TUNNEL_4 "100.64.0.0/11"
#define TUNNEL_6 "fd00:2021:1111::/107"

struct KilnGatewayLinuxPlatform {
        char *tun_name;
        KilnLogger *logger;
        int tun_fd;
        struct kiln_routes *routes;
        KilnForwarding *forwarding;
        char *ipv4, *ipv6;
};

KilnGatewayLinuxPlatform *kiln_gateway_linux_platform_new(const char *tun_name, KilnLogger *logger)
{
        KilnGatewayLinuxPlatform *p = g_new0(KilnGatewayLinuxPlatform, 1);

        p->tun_name = g_strdup(tun_name);
        p->logger = logger;
        p->tun_fd = -1;
        return p;
}

static void teardown(gpointer data)
{
        KilnGatewayLinuxPlatform *p = data;

        if (p->forwarding) {
                kiln_forwarding_teardown(g_steal_pointer(&p->forwarding));
                kiln_log(p->logger, KILN_LOG_INFO, TARGET, "forwarding and masquerade removed",
                         KILN_LOG_STR("interface", p->tun_name));
        }
        g_clear_pointer(&p->routes, kiln_routes_free);
        if (p->tun_fd >= 0) {
                /* The last fd gone, the kernel deletes the device, its addresses and routes. */
                close(p->tun_fd);
                p->tun_fd = -1;
                kiln_log(p->logger, KILN_LOG_INFO, TARGET, "TUN removed",
                         KILN_LOG_STR("interface", p->tun_name));
        }
        g_clear_pointer(&p->ipv4, g_free);
        g_clear_pointer(&p->ipv6, g_free);
}

void kiln_gateway_linux_platform_free(KilnGatewayLinuxPlatform *p)
{
        if (!p)
                return;
        teardown(p);
        g_free(p->tun_name);
        g_free(p);
}

int kiln_gateway_linux_platform_get_tun_fd(const KilnGatewayLinuxPlatform *p)
{
        return p->tun_fd;
}

static gboolean fail_errno(GError **error, int r, const char *what)
{
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "%s: %s", what, g_strerror(-r));
        return FALSE;
}

/* Adds address/len and, when range is given, a route for it through the TUN. */
static int add_address(KilnGatewayLinuxPlatform *p, const char *address, unsigned len, const char *range)
{
        g_autofree char *text = g_strdup_printf("%s/%u", address, len);
        struct kiln_route a, r;
        int ret;

        if (kiln_route_parse(text, &a) < 0 || kiln_route_parse(range, &r) < 0)
                return -EINVAL;
        ret = kiln_routes_add_address(p->routes, &a);
        if (ret < 0)
                return ret;
        return kiln_routes_add_main(p->routes, &r);
}

static gboolean configure(gpointer data, const char *ipv4, const char *ipv6, GError **error)
{
        KilnGatewayLinuxPlatform *p = data;
        char name[IFNAMSIZ];
        int r;

        if (p->tun_fd >= 0) {
                if (g_strcmp0(p->ipv4, ipv4) == 0 && g_strcmp0(p->ipv6, ipv6) == 0)
                        return TRUE;
                /* New tunnel addresses: start over so the old ones do not linger. */
                teardown(p);
        }
        r = tun_open(p->tun_name, TUN_MTU, name);
        if (r < 0)
                return fail_errno(error, r, "creating the TUN device");
        p->tun_fd = r;
        r = kiln_routes_new((int)if_nametoindex(name), &p->routes);
        if (r < 0)
                goto fail;
        r = add_address(p, ipv4, 32, TUNNEL_4);
        if (r < 0)
                goto fail;
        /* IPv6 is best effort, as in Firezone: a host without it still serves IPv4. */
        if (ipv6 && add_address(p, ipv6, 128, TUNNEL_6) < 0)
                kiln_log(p->logger, KILN_LOG_WARN, TARGET, "IPv6 address not set on the TUN",
                         KILN_LOG_STR("ipv6", ipv6));
        p->forwarding = kiln_forwarding_setup(name, error);
        if (!p->forwarding) {
                teardown(p);
                return FALSE;
        }
        p->ipv4 = g_strdup(ipv4);
        p->ipv6 = g_strdup(ipv6);
        kiln_log(p->logger, KILN_LOG_INFO, TARGET, "TUN up with forwarding and masquerade",
                 KILN_LOG_STR("interface", name), KILN_LOG_STR("ipv4", ipv4), KILN_LOG_STR("ipv6", ipv6),
                 KILN_LOG_BOOL("ipv6_forwarding", kiln_forwarding_has_ipv6(p->forwarding)));
        return TRUE;
fail:
        teardown(p);
        return fail_errno(error, r, "configuring the TUN device");
}

const KilnGatewayPlatformOps kiln_gateway_linux_platform_ops = {
        .configure = configure,
        .teardown = teardown,
};
