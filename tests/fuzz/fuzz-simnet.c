/* SPDX-License-Identifier: MIT */
/*
 * Whole-system fuzzing in the simulated network (Firezone's approach, data-plane spec §10):
 * the input picks NAT types, latencies, loss, a seed and mid-run disturbances (cutting the
 * direct path, restarting the relay).  Invariant: without loss both peers always connect
 * within 10 simulated seconds (the relay is always reachable) and datagrams flow both ways.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/backend/ice/simnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t take(const uint8_t **p, size_t *n)
{
        uint8_t v = 0;

        if (*n > 0) {
                v = **p;
                (*p)++;
                (*n)--;
        }
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct sim_config cfg = { 0 };
        struct sim *sim;
        uint8_t flags;

        cfg.nat[0] = (enum sim_nat_type)(take(&data, &size) % 3);
        cfg.nat[1] = (enum sim_nat_type)(take(&data, &size) % 3);
        cfg.latency[0] = ICE_MS(take(&data, &size));
        cfg.latency[1] = ICE_MS(take(&data, &size));
        cfg.relay_latency = ICE_MS(take(&data, &size) % 64);
        cfg.loss_percent = take(&data, &size) % 4 == 0 ? take(&data, &size) % 50 : 0;
        for (int i = 0; i < 8; i++)
                cfg.seed = cfg.seed << 8 | take(&data, &size);
        flags = take(&data, &size);

        sim = sim_new(&cfg);
        sim_run(sim, ICE_S(10));
        if (cfg.loss_percent == 0) {
                if (sim_stats(sim, 0)->selected_count == 0 || sim_stats(sim, 1)->selected_count == 0)
                        abort();
                sim_send_app(sim, 0);
                sim_send_app(sim, 1);
                sim_run(sim, sim_now(sim) + ICE_S(2));
                if (sim_stats(sim, 0)->app_received == 0 || sim_stats(sim, 1)->app_received == 0)
                        abort();
        }
        /* Disturbances: the invariants above no longer hold, only memory safety does. */
        if (flags & 1)
                sim_cut_direct(sim, true);
        if (flags & 2)
                sim_turn_server_restart(sim_relay(sim));
        if (flags & 4)
                sim_turn_server_rotate_nonce(sim_relay(sim));
        sim_run(sim, sim_now(sim) + ICE_S(20));
        sim_send_app(sim, 0);
        sim_free(sim);
        return 0;
}
