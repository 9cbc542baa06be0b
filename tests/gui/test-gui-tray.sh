#!/bin/bash
# The gui suite's tray test, in a private X session (Xvfb + xfwm4 + xfce4-panel with its
# StatusNotifier tray) and a private session bus.  kilnd is not on that bus, so kiln is in its
# "tunnel service not running" state; the parts that need kilnd and the test portal (sign-in,
# resources in the menu, copying a resource's address from the menu) are in
# test-gui-sign-in.sh.  Screenshots are kept in $GUI_ARTIFACTS.
source "$(dirname "$0")/gui-session.sh"

for c in xdotool xclip import compare python3 gdbus; do
        command -v "$c" >/dev/null 2>&1 || gui_skip "$c not installed (build-aux/install-deps installs it)"
done
: "${KILN:?}" "${KILN_TRAY_PATH:?}" "${SNI_MENU:?}" "${GUI_ARTIFACTS:?}"
mkdir -p "$GUI_ARTIFACTS"
rm -f "$GUI_ARTIFACTS"/*.png "$GUI_ARTIFACTS"/*.zip

gui_session_start
export KILN_TUNNEL_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"
export LANG=C.UTF-8 LC_ALL= LANGUAGE=

n=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}

kiln_action() { # object path, action, [parameter as GVariant text]
        local params="[]"
        [ $# -ge 3 ] && params="[<$3>]"
        gdbus call --session --dest dev.kiln.Kiln --object-path "$1" \
                --method org.gtk.Actions.Activate "$2" "$params" '{}' >/dev/null
}

start_kiln() { # log name, extra env…
        local name=$1
        shift
        gui_bg "$name" env "$@" "$KILN" --background
        KILN_PID=$GUI_LAST_PID
        gui_wait 20 "gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
                --method org.freedesktop.DBus.NameHasOwner dev.kiln.Kiln | grep -q true" ||
                gui_fail "kiln did not take its bus name"
}

stop_kiln() {
        kiln_action /dev/kiln/Kiln quit
        gui_wait 10 "! kill -0 $KILN_PID" || gui_fail "kiln did not quit"
        gui_wait 10 "! $SNI_MENU --wait 0 dev.kiln.Kiln" || gui_fail "kiln-tray outlived kiln"
}

echo "1..14"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/panel-before.png"

# --- the tray icon and its menu, signed out with kilnd absent
start_kiln kiln
menu=$("$SNI_MENU" --wait 20 dev.kiln.Kiln) || gui_fail "no StatusNotifierItem for kiln"
expected="Id=dev.kiln.Kiln
Status=Active
IconName=dev.kiln.Kiln-signed-out
IconThemePath=$KILN_ICON_THEME_PATH
The Kiln tunnel service (kilnd) is not running. [disabled]
Sign In [disabled]
[separator]
Open Kiln
About Kiln
Admin Portal…
Help [submenu]
  Documentation…
  Support…
Settings
[separator]
Quit Kiln"
# kiln-tray fetches submenus lazily: give the menu a moment to settle.
for _ in $(seq 50); do
        [ "$menu" = "$expected" ] && break
        sleep 0.2
        menu=$("$SNI_MENU" --wait 5 dev.kiln.Kiln)
done
[ "$menu" = "$expected" ] || gui_fail "tray menu differs:
--- expected
$expected
--- got
$menu"
ok "the indicator's dbusmenu (GetLayout) has the signed-out items, kilnd reported as not running"

sleep 1
gui_screenshot "$GUI_ARTIFACTS/tray.png"
# The panel strip must have changed where the icon appeared.
diff_px=$(compare -metric AE -crop 1024x32+0+0 "$GUI_ARTIFACTS/panel-before.png" "$GUI_ARTIFACTS/tray.png" null: 2>&1 || true)
[ "${diff_px%% *}" -gt 50 ] 2>/dev/null || gui_fail "the panel shows no new icon ($diff_px pixels changed)"
ok "xfce4-panel shows the tray icon ($diff_px pixels changed; $GUI_ARTIFACTS/tray.png)"

# The menu as the user sees it: right-click the icon at the panel's right end.
xdotool mousemove 1008 16 click 3
gui_wait 5 "xdotool search --onlyvisible --class xfce4-panel | wc -l | grep -qv '^1$'" || true
sleep 1
gui_screenshot "$GUI_ARTIFACTS/tray-menu.png"
xdotool key Escape

# --- a window appears only when asked: a second launch hands over to the running instance
xdotool search --onlyvisible --name '^Kiln$' >/dev/null 2>&1 && gui_fail "kiln --background opened a window"
"$KILN" || gui_fail "second launch failed"
gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "second launch did not show the window"
[ "$(pgrep -c -x kiln)" -ge 1 ] && kill -0 "$KILN_PID" || gui_fail "the first instance went away"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/window.png"
ok "a second launch shows the first instance's window ($GUI_ARTIFACTS/window.png)"

# --- a click in the tray menu reaches kiln (Settings opens its window)
"$SNI_MENU" --click Settings dev.kiln.Kiln >/dev/null || gui_fail "cannot click Settings"
gui_wait 10 "xdotool search --onlyvisible --name '^Settings$'" || gui_fail "Settings did not open from the tray"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/settings.png"
# An invalid slug is flagged inline (look at settings-invalid.png).
w=$(xdotool search --onlyvisible --name '^Settings$' | head -n1)
xdotool windowactivate --sync "$w" 2>/dev/null
xdotool windowfocus --sync "$w" mousemove --window "$w" 200 140 click 1 sleep 0.3 type 'acme corp'
sleep 1
gui_screenshot "$GUI_ARTIFACTS/settings-invalid.png"
xdotool key ctrl+a BackSpace
ok "clicking Settings in the indicator's menu opens the Settings window"

# --- Diagnostics and About, from the app's actions (the window's menu uses the same)
kiln_action /dev/kiln/Kiln diagnostics
gui_wait 10 "xdotool search --onlyvisible --name '^Diagnostics$'" || gui_fail "Diagnostics did not open"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/diagnostics.png"
kiln_action /dev/kiln/Kiln about
gui_wait 10 "xdotool search --onlyvisible --name '^About Kiln$'" || gui_fail "About did not open"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/about.png"
ok "Diagnostics and About windows open"

# --- copy to clipboard through the tray's action group (the menu's copy items use it)
kiln_action /dev/kiln/Kiln/tray copy "'gitlab.corp.example 10.0.0.0/16'"
gui_wait 5 "[ \"\$(xclip -o -selection clipboard)\" = 'gitlab.corp.example 10.0.0.0/16' ]" ||
        gui_fail "clipboard holds '$(xclip -o -selection clipboard 2>&1)'"
ok "tray.copy puts the text on the X clipboard (read back with xclip)"

# --- deep links reach the running instance; without a pending sign-in they are ignored
state=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$KILN" "firezone-fd0020211111://handle_client_sign_in_callback/?account_slug=a&actor_name=b&fragment=f&state=$state" ||
        gui_fail "deep link hand-off failed"
"$KILN" "firezone-fd0020211111://handle_client_sign_in_callback/?state=nope" || gui_fail "hand-off failed"
gui_wait 5 "grep -q 'ignoring a sign-in callback: no sign-in is pending' '$GUI_TMP/kiln.log'" ||
        gui_fail "the unexpected callback was not logged as ignored"
gui_wait 5 "grep -q 'ignoring a deep link: invalid sign-in callback: missing account_slug' '$GUI_TMP/kiln.log'" ||
        gui_fail "the malformed callback was not logged as ignored"
[ "$(grep -c 'kiln 0.1.0 starting' "$GUI_TMP/kiln.log")" -eq 1 ] || gui_fail "a second kiln instance started"
ok "kiln URL hands deep links to the running instance, which ignores unexpected and malformed ones"

# --- Export Logs: app log, a note that kilnd was unreachable, system info
zip="$GUI_ARTIFACTS/logs.zip"
kiln_action /dev/kiln/Kiln export-logs "'$zip'"
gui_wait 10 "test -s '$zip'" || gui_fail "no zip written"
sleep 0.5
python3 - "$zip" <<'PY' || gui_fail "zip members wrong"
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
names = z.namelist()
stems = {n.split("/")[0] for n in names}
assert len(stems) == 1 and re.fullmatch(r"kiln-logs-\d{4}_\d\d_\d\d-\d\d-\d\d", stems.pop()), names
rest = sorted(n.split("/", 1)[1] for n in names)
assert rest == ["app/kiln.log", "kilnd/UNAVAILABLE.txt", "system-info.txt"], rest
note = z.read([n for n in names if n.endswith("UNAVAILABLE.txt")][0]).decode()
assert "was unreachable over D-Bus" in note and "not running" in note, note
app = z.read([n for n in names if n.endswith("kiln.log")][0]).decode()
assert "kiln 0.1.0 starting" in app, app[:200]
info = z.read([n for n in names if n.endswith("system-info.txt")][0]).decode()
assert info.startswith("kiln 0.1.0\n") and "kilnd version unavailable" in info, info
PY
ok "Export Logs writes a zip with app/kiln.log, kilnd/UNAVAILABLE.txt and system-info.txt"

# --- kiln-tray is supervised: killed, it comes back
tray_pid=$(pgrep -P "$KILN_PID" -x kiln-tray) || gui_fail "no kiln-tray child"
kill "$tray_pid"
gui_wait 15 "pgrep -P $KILN_PID -x kiln-tray | grep -qv '^$tray_pid\$'" || gui_fail "kiln-tray was not restarted"
"$SNI_MENU" --wait 15 dev.kiln.Kiln | grep -q '^Open Kiln$' || gui_fail "restarted kiln-tray shows no menu"
ok "kiln restarts kiln-tray when it dies"

stop_kiln
ok "Quit ends kiln and kiln-tray"

# --- German
start_kiln kiln-de LANGUAGE=de
menu=$("$SNI_MENU" --wait 20 dev.kiln.Kiln) || gui_fail "no StatusNotifierItem for kiln (de)"
for label in "Anmelden [disabled]" "Kiln öffnen" "Über Kiln" "Hilfe [submenu]" "  Dokumentation …" \
        "Einstellungen" "Kiln beenden"; do
        grep -qxF "$label" <<<"$menu" || gui_fail "German menu lacks '$label':
$menu"
done
ok "LANGUAGE=de shows the German tray menu"
"$KILN" || gui_fail "second launch failed (de)"
gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "no window (de)"
sleep 1
gui_screenshot "$GUI_ARTIFACTS/window-de.png"
stop_kiln
ok "German window shown ($GUI_ARTIFACTS/window-de.png)"

# --- no StatusNotifierWatcher (plain GNOME): the window and a notification stand in
kill "$GUI_PANEL_PID"
gui_wait 10 "! gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.kde.StatusNotifierWatcher | grep -q true" ||
        gui_fail "the watcher stayed after the panel was stopped"
start_kiln kiln-no-tray
gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "no window without a tray"
gui_wait 5 "grep -q 'notification: No system tray found' '$GUI_TMP/kiln-no-tray.log'" ||
        gui_fail "the user was not told that there is no tray"
[ "$(grep -c 'notification: No system tray found' "$GUI_TMP/kiln-no-tray.log")" -eq 1 ] || gui_fail "told more than once"
pgrep -P "$KILN_PID" -x kiln-tray >/dev/null && gui_fail "kiln-tray started without a tray host"
ok "without a StatusNotifierWatcher kiln shows its window and says so once"
stop_kiln_quietly() {
        kiln_action /dev/kiln/Kiln quit
        gui_wait 10 "! kill -0 $KILN_PID" || gui_fail "kiln did not quit"
}
stop_kiln_quietly
