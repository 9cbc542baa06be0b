#pragma once

#include <adwaita.h>

#include "app/kiln/kiln-application.h"

G_BEGIN_DECLS

#define KILN_TYPE_PREFERENCES_WINDOW (kiln_preferences_window_get_type())
G_DECLARE_FINAL_TYPE(KilnPreferencesWindow, kiln_preferences_window, KILN, PREFERENCES_WINDOW,
                     AdwPreferencesWindow)

/* Settings: account slug, sign-in and API addresses, log level, start on login, connect
 * on start.  Inputs are checked as they are typed; Apply is only possible when all are valid. */
KilnPreferencesWindow *kiln_preferences_window_new(KilnApplication *app);

G_END_DECLS
