#pragma once

#include <adwaita.h>

#include "app/kiln/kiln-application.h"

G_BEGIN_DECLS

#define KILN_TYPE_DIAGNOSTICS_WINDOW (kiln_diagnostics_window_get_type())
G_DECLARE_FINAL_TYPE(KilnDiagnosticsWindow, kiln_diagnostics_window, KILN, DIAGNOSTICS_WINDOW, AdwWindow)

/* Log size, Export Logs (a .zip chosen with GtkFileChooserNative) and Clear Logs. */
KilnDiagnosticsWindow *kiln_diagnostics_window_new(KilnApplication *app);

G_END_DECLS
