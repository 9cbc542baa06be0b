/* SPDX-License-Identifier: MIT */
#include <glib.h>

#include "backend/wireguard/replay.h"

static void test_window(void)
{
        struct wg_replay r;
        const uint64_t reject = UINT64_MAX - 8192;

        wg_replay_init(&r);
        g_assert_true(wg_replay_check_and_update(&r, 0, reject));
        g_assert_false(wg_replay_check_and_update(&r, 0, reject));
        g_assert_true(wg_replay_check_and_update(&r, 2, reject));
        g_assert_true(wg_replay_check_and_update(&r, 1, reject));
        g_assert_false(wg_replay_check_and_update(&r, 1, reject));
        /* A jump keeps everything inside the window usable exactly once. */
        g_assert_true(wg_replay_check_and_update(&r, WG_REPLAY_WINDOW + 10, reject));
        g_assert_true(wg_replay_check_and_update(&r, 11, reject));
        g_assert_false(wg_replay_check_and_update(&r, 11, reject));
        g_assert_false(wg_replay_check_and_update(&r, 9, reject));
        for (uint64_t c = 12; c < WG_REPLAY_WINDOW + 10; c++)
                g_assert_true(wg_replay_check_and_update(&r, c, reject));
        for (uint64_t c = 12; c < WG_REPLAY_WINDOW + 11; c++)
                g_assert_false(wg_replay_check_and_update(&r, c, reject));
        /* A far jump forgets all. */
        g_assert_true(wg_replay_check_and_update(&r, 1000000, reject));
        g_assert_false(wg_replay_check_and_update(&r, 1000000 - WG_REPLAY_WINDOW, reject));
        g_assert_true(wg_replay_check_and_update(&r, 1000000 - WG_REPLAY_WINDOW + 1, reject));
        /* The limit is a hard stop. */
        g_assert_false(wg_replay_check_and_update(&r, reject, reject));
        g_assert_true(wg_replay_check_and_update(&r, reject - 1, reject));
}

static void test_window_at_least_2048(void)
{
        struct wg_replay r;

        g_assert_cmpuint(WG_REPLAY_WINDOW, >=, 2048);
        wg_replay_init(&r);
        g_assert_true(wg_replay_check_and_update(&r, 3000, UINT64_MAX));
        for (uint64_t c = 3000 - 2048; c < 3000; c += 97)
                g_assert_true(wg_replay_check_and_update(&r, c, UINT64_MAX));
}

int main(int argc, char *argv[])
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/wireguard/replay/window", test_window);
        g_test_add_func("/wireguard/replay/at-least-2048", test_window_at_least_2048);
        return g_test_run();
}
