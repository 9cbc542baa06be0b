/* SPDX-License-Identifier: MIT */
/*
 * The gateway's Linux host side: the TUN (MTU 1280) with /32 and /128 addresses and routes for
 * the tunnel ranges 100.64.0.0/11 and fd00:2021:1111::/107 (spec §6.1), plus forwarding and
 * masquerade from backend/platform/forwarding.h, all removed by teardown.
 */
#pragma once

#include "backend/kiln-gateway/platform.h"
#include "backend/log/log.h"

typedef struct KilnGatewayLinuxPlatform KilnGatewayLinuxPlatform;

extern const KilnGatewayPlatformOps kiln_gateway_linux_platform_ops;

/* logger is borrowed; nothing touches the host before configure. */
KilnGatewayLinuxPlatform *kiln_gateway_linux_platform_new(const char *tun_name, KilnLogger *logger);
/* Tears down what is left and frees; NULL is fine. */
void kiln_gateway_linux_platform_free(KilnGatewayLinuxPlatform *p);
/* The TUN fd for the data path (reads), or -1 before configure. */
int kiln_gateway_linux_platform_get_tun_fd(const KilnGatewayLinuxPlatform *p);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KilnGatewayLinuxPlatform, kiln_gateway_linux_platform_free)
