/* SPDX-License-Identifier: MIT */
/* Firezone p2p control packets from a peer; what parses must rebuild and parse the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/p2p-control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_p2p_message m, again;
        uint8_t buf[KILN_P2P_MAX_PACKET + 1024];

        if (kiln_p2p_parse(data, size, &m) < 0)
                return 0;
        ssize_t n = kiln_p2p_build(&m, buf, sizeof(buf));
        if (n < 0)
                return 0; /* e.g. a domain with characters we never send */
        if (kiln_p2p_parse(buf, (size_t)n, &again) < 0 || again.type != m.type || again.active != m.active ||
            again.n_proxy_ips != m.n_proxy_ips || strcmp(again.domain, m.domain) ||
            strcmp(again.resource, m.resource))
                abort();
        return 0;
}
