#include <glib/gi18n.h>
#include <gtk/gtk.h>
#include <locale.h>

#include "app/kiln/kiln-application.h"
#include "app/kiln/kiln-log.h"

int main(int argc, char **argv)
{
        /* Tests run from the build tree, where the catalogs are not installed yet. */
        const char *localedir = g_getenv("KILN_LOCALEDIR");

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, localedir ? localedir : KILN_LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        kiln_log_init();
        /* Kiln's windows are a few rows of text, which GTK's cairo renderer draws well; not
         * initialising OpenGL or Vulkan keeps the GPU driver (Mesa's software fallback alone
         * maps LLVM: about 25 MB of PSS) out of a process that stays in the tray for days.
         * GDK reads GDK_DEBUG when the display opens, so it is set only around gtk_init and
         * programs Kiln launches (the browser) do not inherit it.  Setting GSK_RENDERER or
         * GDK_DEBUG yourself keeps GTK's own choice. */
        if (!g_getenv("GSK_RENDERER") && !g_getenv("GDK_DEBUG")) {
                g_setenv("GDK_DEBUG", "gl-disable,vulkan-disable", TRUE);
                gtk_init_check();
                g_unsetenv("GDK_DEBUG");
        }
        g_autoptr(KilnApplication) app = kiln_application_new();
        return g_application_run(G_APPLICATION(app), argc, argv);
}
