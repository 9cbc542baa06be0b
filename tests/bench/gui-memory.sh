#!/bin/bash
# Prints the proportional set size (PSS) of kiln and kiln-tray, idle with every window
# closed, in a private Xvfb + xfce4-panel session (the tray icon is shown).  Target: under
# 60 MB together (Firezone's WebView GUI uses about 100 MB).  A benchmark: it prints figures
# and never fails on a number.  As root, with kilnd, the test portal, Chromium and the npm
# packages present, it also signs in through the browser (as the gui-sign-in test does) and
# measures again, signed in with the portal's resources, after the Overview was open.
#   tests/bench/gui-memory.sh [BUILD_DIR]      (default _build/dev)
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/_build/dev}" && pwd)
export KILN="$build/app/kiln/kiln" KILND="$build/backend/kilnd/kilnd"
export KILN_SOURCE_ROOT="$top" KILN_BUILD_ROOT="$build"
signed_in=0
if [ "$(id -u)" -eq 0 ] && [ -x "$KILND" ] && [ -x "$build/tests/portal/kiln-test-portal" ] &&
        command -v chromium >/dev/null && command -v gnome-keyring-daemon >/dev/null &&
        [ -d "$top/tests/portal/node_modules/playwright-core" ]; then
        signed_in=1
        source "$top/tests/support/netns.sh"
fi
source "$top/tests/gui/gui-session.sh"
source "$top/tests/gui/kiln-backend.sh"

export KILN_TRAY_PATH="$build/app/kiln-tray/kiln-tray"
export KILN_ICON_THEME_PATH="$top/resources/icons"
export KILN_LOCALEDIR="$build/po"
[ -x "$build/app/kiln/kiln" ] || gui_fail "no kiln in $build (meson compile -C $build)"

[ "$signed_in" = 1 ] && kiln_backend_start
gui_session_start
if [ "$signed_in" = 1 ]; then
        kiln_desktop_services
        kiln_test_browser
else
        # No kilnd on the private bus: kiln shows "not running", as on a machine without it.
        export KILN_TUNNEL_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"
        echo "note: not root or no kilnd/portal/Chromium: measuring signed out only"
fi

pss_kb() {
        awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}

gui_bg kiln "$build/app/kiln/kiln" --background
kiln_pid=$GUI_LAST_PID
gui_wait 20 "pgrep -P $kiln_pid -x kiln-tray" || gui_fail "kiln-tray did not start"
tray_pid=$(pgrep -P "$kiln_pid" -x kiln-tray)
"$build/tests/gui/sni-menu" --wait 20 dev.kiln.Kiln >/dev/null || gui_fail "no tray item"

report() { # label
        sleep 5
        awk -v label="$1" -v k="$(pss_kb "$kiln_pid")" -v t="$(pss_kb "$tray_pid")" 'BEGIN {
                printf "%-42s kiln %6.1f MB  kiln-tray %6.1f MB  together %6.1f MB\n", label, k/1024, t/1024, (k+t)/1024
        }'
}

open_and_close_window() {
        "$build/app/kiln/kiln"
        gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "window did not open"
        sleep 1
        # Ctrl+W, as a user closes it (GTK ignores synthetic events, so focus it and use XTEST).
        local w
        w=$(xdotool search --onlyvisible --name '^Kiln$' | head -n1)
        xdotool windowactivate --sync "$w" 2>/dev/null
        xdotool windowfocus --sync "$w" key ctrl+w
        gui_wait 10 "! xdotool search --onlyvisible --name '^Kiln$'" || echo "note: the window did not close"
}

report "idle, no window opened yet:"
open_and_close_window
report "idle, after the window closed:"
if [ "$signed_in" = 1 ]; then
        "$build/tests/gui/sni-menu" --click 'Sign In' dev.kiln.Kiln >/dev/null || gui_fail "cannot click Sign In"
        gui_wait 60 "'$build/tests/gui/sni-menu' --wait 1 dev.kiln.Kiln | grep -q '^Signed in as '" ||
                gui_fail "sign-in did not complete"
        n=$("$build/tests/gui/sni-menu" dev.kiln.Kiln | grep -c '^[^ ].* \[submenu\]$')
        open_and_close_window
        report "signed in ($((n - 1)) resources), window closed:"
fi
echo "target: under 60 MB together (MB = MiB here, PSS from /proc/PID/smaps_rollup)"
