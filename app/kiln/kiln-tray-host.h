#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KILN_TRAY_OBJECT_PATH        "/dev/kiln/Kiln/tray"
#define KILN_STATUS_NOTIFIER_WATCHER "org.kde.StatusNotifierWatcher"

#define KILN_TYPE_TRAY_HOST          (kiln_tray_host_get_type())
G_DECLARE_FINAL_TYPE(KilnTrayHost, kiln_tray_host, KILN, TRAY_HOST, GObject)

/* Exports @menu and @actions at KILN_TRAY_OBJECT_PATH on @bus and, while a
 * StatusNotifierWatcher is on the bus, runs kiln-tray to show them, restarting it with
 * backoff when it dies.  Property "available" is TRUE while a tray host (watcher) exists;
 * it starts FALSE and is settled once the bus answers ("settled" becomes TRUE). */
KilnTrayHost *kiln_tray_host_new(GDBusConnection *bus, GMenuModel *menu, GActionGroup *actions,
                                 GError **error);
gboolean kiln_tray_host_get_available(KilnTrayHost *self);
gboolean kiln_tray_host_get_settled(KilnTrayHost *self);
/* Stops kiln-tray for good (quit). */
void kiln_tray_host_stop(KilnTrayHost *self);

G_END_DECLS
