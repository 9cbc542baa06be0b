#pragma once

#include <adwaita.h>

#include "app/kiln/kiln-settings.h"
#include "app/kiln/kiln-tray-menu.h"
#include "app/kiln/kiln-tunnel-state.h"

G_BEGIN_DECLS

#define KILN_APP_ID           "dev.kiln.Kiln"

#define KILN_TYPE_APPLICATION (kiln_application_get_type())
G_DECLARE_FINAL_TYPE(KilnApplication, kiln_application, KILN, APPLICATION, AdwApplication)

/* The single-instance app: state, sign-in, tray menu, windows, notifications.
 * Property "phase" (KilnPhase as int) changes with what the tray shows. */
KilnApplication *kiln_application_new(void);

KilnSettings *kiln_application_get_settings(KilnApplication *self);
KilnTunnelState *kiln_application_get_tunnel(KilnApplication *self);
KilnPhase kiln_application_get_phase(KilnApplication *self);
/* Why the app is not signed in (kilnd missing, last error, keyring trouble), or NULL. */
const char *kiln_application_get_notice(KilnApplication *self);

G_END_DECLS
