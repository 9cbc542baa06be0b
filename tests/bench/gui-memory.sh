#!/bin/bash
# Prints the proportional set size (PSS) of kiln and kiln-tray, idle with every window
# closed, in a private Xvfb + xfce4-panel session (the tray icon is shown).  Target: under
# 60 MB together (Firezone's WebView GUI uses about 100 MB).  A benchmark: it prints figures
# and never fails on a number.
#   tests/bench/gui-memory.sh [BUILD_DIR]      (default _build/dev)
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/_build/dev}" && pwd)
source "$top/tests/gui/gui-session.sh"

export KILN_TRAY_PATH="$build/app/kiln-tray/kiln-tray"
export KILN_ICON_THEME_PATH="$top/resources/icons"
export KILN_LOCALEDIR="$build/po"
[ -x "$build/app/kiln/kiln" ] || gui_fail "no kiln in $build (meson compile -C $build)"

gui_session_start
# No kilnd on the private bus: kiln shows "not running", as on a machine without the service.
export KILN_TUNNEL_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"

pss_kb() {
        awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}

gui_bg kiln "$build/app/kiln/kiln" --background
kiln_pid=$GUI_LAST_PID
gui_wait 20 "pgrep -P $kiln_pid -x kiln-tray" || gui_fail "kiln-tray did not start"
tray_pid=$(pgrep -P "$kiln_pid" -x kiln-tray)
"$build/tests/gui/sni-menu" --wait 20 dev.kiln.Kiln >/dev/null || gui_fail "no tray item"

# Once with no window ever opened, once after opening and closing the main window.
sleep 5
k1=$(pss_kb "$kiln_pid")
t1=$(pss_kb "$tray_pid")
"$build/app/kiln/kiln"
gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "window did not open"
sleep 1
# Ctrl+W, as a user closes it (GTK ignores synthetic events, so focus it and use XTEST).
w=$(xdotool search --onlyvisible --name '^Kiln$' | head -n1)
xdotool windowactivate --sync "$w" 2>/dev/null
xdotool windowfocus --sync "$w" key ctrl+w
gui_wait 10 "! xdotool search --onlyvisible --name '^Kiln$'" || echo "note: the window did not close"
sleep 5
k2=$(pss_kb "$kiln_pid")
t2=$(pss_kb "$tray_pid")

awk -v k1="$k1" -v t1="$t1" -v k2="$k2" -v t2="$t2" 'BEGIN {
        printf "idle, no window opened yet:   kiln %6.1f MB  kiln-tray %6.1f MB  together %6.1f MB\n", k1/1024, t1/1024, (k1+t1)/1024
        printf "idle, after the window closed: kiln %6.1f MB  kiln-tray %6.1f MB  together %6.1f MB\n", k2/1024, t2/1024, (k2+t2)/1024
}'
echo "target: under 60 MB together (MB = MiB here, PSS from /proc/PID/smaps_rollup)"
