#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* More resources than this (outside favorites) are grouped in one submenu per site, so a
 * long list still fits on the screen (Firezone #8790). */
#define KILN_TRAY_MENU_GROUP_THRESHOLD 15

/* What the user sees, derived from kilnd's state and kiln's own sign-in progress. */
typedef enum {
        KILN_PHASE_LOADING,
        KILN_PHASE_SERVICE_UNAVAILABLE,
        KILN_PHASE_SIGNED_OUT,
        KILN_PHASE_WAITING_FOR_BROWSER,
        KILN_PHASE_CONNECTING,
        KILN_PHASE_RAISING_TUNNEL,
        KILN_PHASE_SIGNED_IN,
        KILN_PHASE_QUITTING,
} KilnPhase;

typedef struct {
        KilnPhase phase;
        const char *actor_name;
        /* Shown under the state line when set: why kilnd is unavailable, or the last error. */
        const char *notice;
        GListModel *resources; /* KilnResource, kilnd's order */
        const char *const *favorites;
        gboolean internet_resource_enabled;
        const char *admin_portal_url;
} KilnTrayMenuInput;

/* The whole tray menu for @in.  Actions are in the "tray." group: sign-in, cancel-sign-in,
 * sign-out, copy(s), open-url(s), add-favorite(s), remove-favorite(s),
 * set-internet-resource(b), show-window, about, settings, quit; items that only inform use
 * the always-disabled "tray.noop". */
GMenu *kiln_tray_menu_build(const KilnTrayMenuInput *in);

/* Makes @target look like @fresh, replacing only the top-level items that differ, so an
 * open menu stays open and unchanged parts are not re-sent over D-Bus (Firezone #6054). */
void kiln_tray_menu_update(GMenu *target, GMenuModel *fresh);

gboolean kiln_menu_model_equal(GMenuModel *a, GMenuModel *b);

G_END_DECLS
