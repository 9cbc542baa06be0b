#pragma once

#include <adwaita.h>

#include "app/kiln/kiln-application.h"

G_BEGIN_DECLS

#define KILN_TYPE_WINDOW (kiln_window_get_type())
G_DECLARE_FINAL_TYPE(KilnWindow, kiln_window, KILN, WINDOW, AdwApplicationWindow)

/* The Overview: who is signed in to which account, the resources with a search, status. */
KilnWindow *kiln_window_new(KilnApplication *app);

G_END_DECLS
