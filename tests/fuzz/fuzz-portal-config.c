/* SPDX-License-Identifier: MIT */
/* The test portal's configuration file: a hand-edited JSON document that reload accepts as a
 * whole or rejects with a reason; a loaded configuration answers its look-ups. */
#include <stdint.h>
#include <stdlib.h>

#include "tests/portal/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(GError) error = NULL;
        g_autoptr(TpConfig) config = tp_config_load_data((const char *)data, (gssize)size, &error);

        if (!config) {
                /* a reject always says why */
                if (!error || !error->message[0])
                        abort();
                return 0;
        }
        for (guint i = 0; i < config->accounts->len; i++) {
                const TpAccount *a = g_ptr_array_index(config->accounts, i);

                if (tp_config_find_account(config, a->slug) == NULL)
                        abort();
                for (guint u = 0; u < a->users->len; u++) {
                        const TpUser *user = g_ptr_array_index(a->users, u);

                        for (guint r = 0; r < a->resources->len; r++) {
                                const TpResource *res = g_ptr_array_index(a->resources, r);

                                if (tp_account_find_resource(a, res->id) == NULL)
                                        abort();
                                (void)tp_account_user_may_access(a, user, res);
                        }
                }
                for (guint g = 0; g < a->gateways->len; g++) {
                        const TpGateway *gw = g_ptr_array_index(a->gateways, g);
                        const TpAccount *owner = NULL;

                        if (gw->token && tp_config_find_gateway_by_token(config, gw->token, &owner) == NULL)
                                abort();
                }
        }
        {
                const TpAccount *owner = NULL;

                if (tp_config_find_gateway_by_token(config, "no-such-token", &owner) != NULL)
                        abort();
        }
        return 0;
}
