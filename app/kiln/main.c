#include <glib/gi18n.h>
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
        g_autoptr(KilnApplication) app = kiln_application_new();
        return g_application_run(G_APPLICATION(app), argc, argv);
}
