/* SPDX-License-Identifier: MIT */
/* DNS messages from applications (queries to the stub) and from upstream resolvers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/tunnel/dns-message.h"
#include "backend/tunnel/dns-stub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct kiln_dns_message m;
        static uint8_t out[KILN_DNS_MESSAGE_MAX];

        if (kiln_dns_parse(data, size, &m) == 0) {
                for (unsigned i = 0; i < m.qdcount; i++)
                        if (strlen(m.questions[i].name) > KILN_DNS_NAME_MAX)
                                abort();
                /* What parses must survive a rebuild of its questions. */
                struct kiln_dns_builder b;
                kiln_dns_builder_reply(&b, out, sizeof(out), &m, 0);
                (void)kiln_dns_builder_finish(&b);
        }

        struct kiln_resources *res = kiln_resources_new();
        struct kiln_resource r = { .type = KILN_RESOURCE_DNS };
        strcpy(r.id, "res");
        strcpy(r.address, "**.example");
        kiln_resources_upsert(res, &r);
        struct kiln_dns_stub *stub = kiln_dns_stub_new(res, 1);
        struct kiln_dns_upstream up = { .addr = { .family = 4, .bytes = { 192, 0, 2, 1 } }, .port = 53 };
        kiln_dns_stub_set_upstreams(stub, &up, 1);
        struct kiln_dns_origin o = { .client = { .family = 4, .bytes = { 100, 64, 0, 1 } } };
        kiln_dns_sentinel(4, 0, &o.sentinel);
        struct kiln_dns_stub_result result;
        if (kiln_dns_stub_handle_query(stub, 0, &o, data, size, out, sizeof(out), &result) == 0 &&
            result.verdict == KILN_DNS_STUB_ANSWER && kiln_dns_parse(out, result.len, &m) < 0)
                abort(); /* our own answers always parse */
        size_t n;
        struct kiln_dns_origin back;
        struct kiln_dns_upstream retry_up;
        (void)kiln_dns_stub_handle_reply(stub, 0, &up.addr, data, size, out, sizeof(out), &n, &back,
                                         &retry_up);
        kiln_dns_stub_free(stub);
        kiln_resources_free(res);
        return 0;
}
