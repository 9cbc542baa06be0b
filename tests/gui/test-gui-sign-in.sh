#!/bin/bash
# The gui suite's sign-in test: the whole flow against the real kilnd and the test portal.
#   kiln-test-portal and kilnd run in a network namespace (tun-kiln never touches the host),
#   kilnd on a private system-like bus with the real dev.kiln.Tunnel policy; kiln, kiln-tray
#   and xfce4-panel on the host's private X display and session bus (D-Bus over unix socket
#   paths works across namespaces), gnome-keyring-daemon and notification-daemon on that bus.
#   Sign In in the tray → kiln opens <portal>/<slug>?as=gui-client&nonce=…&state=… in "the
#   browser" (tests/gui/sign-in-browser.sh, registered as the default http handler: headless
#   Chromium in the namespace fills the portal's form through tests/portal/signin-driver.mjs)
#   → the portal redirects to firezone-fd0020211111://handle_client_sign_in_callback?… → the
#   browser runs `kiln <callback URL>` (after a forged copy with another state) → kiln stores
#   the token in gnome-keyring and calls SignIn → the tray shows "Signed in as …", the portal's
#   resources and the connected icon.  Then: copy to clipboard, a replayed callback, Export
#   Logs with kilnd's logs, Sign Out, and the portal revoking the user ("sign in again").
# Screenshots go to $GUI_ARTIFACTS/sign-in/.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/netns.sh
source "$here/../support/netns.sh"
# shellcheck source=gui-session.sh
source "$here/gui-session.sh"
# shellcheck source=kiln-backend.sh
source "$here/kiln-backend.sh"

: "${KILN:?}" "${SNI_MENU:?}" "${GUI_ARTIFACTS:?}" "${KILN_SOURCE_ROOT:?}" "${KILN_BUILD_ROOT:?}"
[ "$(id -u)" -eq 0 ] || gui_skip "kilnd needs root for its TUN device and the network namespace"
[ -n "${KILND:-}" ] && [ -x "${KILND:-}" ] || gui_skip "kilnd is not built in this tree"
[ -x "$KILN_BUILD_ROOT/tests/portal/kiln-test-portal" ] || gui_skip "kiln-test-portal is not built in this tree"
for c in chromium node xclip xdotool import gnome-keyring-daemon secret-tool dbus-monitor python3 gdbus; do
        command -v "$c" >/dev/null 2>&1 || gui_skip "$c not installed (build-aux/install-deps installs it)"
done
[ -d "$KILN_SOURCE_ROOT/tests/portal/node_modules/playwright-core" ] ||
        gui_skip "playwright-core missing: run build-aux/install-deps (npm ci in tests/portal)"
ART=$GUI_ARTIFACTS/sign-in
mkdir -p "$ART"
rm -f "$ART"/*.png "$ART"/*.zip

n=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}

# --- the portal and kilnd in a namespace; the desktop with keyring and notification server ------
kiln_backend_start
gui_session_start
export LANG=C.UTF-8 LC_ALL= LANGUAGE=
kiln_desktop_services
kiln_test_browser

kiln_action() { # object path, action, [parameter as GVariant text]
        local params="[]"
        [ $# -ge 3 ] && params="[<$3>]"
        gdbus call --session --dest dev.kiln.Kiln --object-path "$1" \
                --method org.gtk.Actions.Activate "$2" "$params" '{}' >/dev/null
}
menu_now() {
        "$SNI_MENU" --wait 5 dev.kiln.Kiln
}
# wait_menu SECONDS GREP-PATTERN: until the dbusmenu has a line matching the pattern
wait_menu() {
        gui_wait "$1" "menu_now | grep -qx -- '$2'"
}
stored_token() {
        secret-tool lookup xdg:schema dev.kiln.Kiln.Token purpose portal-token 2>/dev/null
}

echo "1..11"
gui_bg kiln "$KILN" --background
KILN_PID=$GUI_LAST_PID
wait_menu 20 'Sign In' || gui_fail "no enabled Sign In with kilnd running: $(menu_now)"
menu_now | grep -qx 'IconName=dev.kiln.Kiln-signed-out' || gui_fail "not the signed-out icon: $(menu_now)"
[ -z "$(stored_token)" ] || gui_fail "a token is in the keyring before sign-in"
ok "with kilnd signed out the tray offers Sign In and shows the signed-out icon"

# --- sign in through the browser
"$SNI_MENU" --click 'Sign In' dev.kiln.Kiln >/dev/null || gui_fail "cannot click Sign In"
wait_menu 60 'Signed in as Alice Liddell \[disabled\]' || gui_fail "sign-in did not complete: $(menu_now)"
gui_wait 10 "kiln_tunnel_state | grep -q connected" || gui_fail "kilnd is not connected: $(kiln_tunnel_state)"
grep -q "ignoring a sign-in callback: the callback's state does not match the pending sign-in" "$GUI_TMP/kiln.log" ||
        gui_fail "the forged callback was not logged as ignored"
[ "$(grep -c 'sign-in callback accepted' "$GUI_TMP/kiln.log")" -eq 1 ] || gui_fail "not exactly one callback accepted"
ok "Sign In → browser → portal form → deep link → kiln; a forged callback (wrong state) before it was ignored"

# The exact menu: state, the portal's resources for alice (not Bob's Payroll), bottom section.
expected="Id=dev.kiln.Kiln
Status=Active
IconName=dev.kiln.Kiln-connected
IconThemePath=${KILN_ICON_THEME_PATH:-}
Signed in as Alice Liddell [disabled]
Sign Out
[separator]
Resources [disabled]
— Internet Resource [submenu]
  All network traffic [disabled]
  [separator]
  Enable this resource
  [separator]
  Site [disabled]
  HQ
  No activity
GitLab [submenu]
  <https://gitlab.corp.example/>
  [separator]
  Resource [disabled]
  GitLab
  gitlab.corp.example
  [separator]
  Add to favorites
  [separator]
  Site [disabled]
  HQ
  No activity
Office LAN [submenu]
  Printers and file shares
  [separator]
  Resource [disabled]
  Office LAN
  10.9.0.0/16
  [separator]
  Add to favorites
  [separator]
  Site [disabled]
  HQ
  No activity
Wiki [submenu]
  wiki.corp.example
  [separator]
  Resource [disabled]
  Wiki
  wiki.corp.example
  [separator]
  Add to favorites
  [separator]
  Site [disabled]
  HQ
  No activity
[separator]
Open Kiln
About Kiln
Admin Portal…
Help [submenu]
  Documentation…
  Support…
Settings
[separator]
Disconnect and Quit Kiln"
menu=$(menu_now)
for _ in $(seq 50); do # kiln-tray fetches submenus lazily
        [ "$menu" = "$expected" ] && break
        sleep 0.2
        menu=$(menu_now)
done
[ "$menu" = "$expected" ] || gui_fail "signed-in tray menu differs:
$(diff <(echo "$expected") <(echo "$menu"))"
ok "the tray menu lists exactly alice's resources from the portal, with the connected icon"

# The token in the keyring is nonce ‖ fragment of the deep link the portal sent.
link=$(cat "$DEEP_LINK_FILE")
fragment=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["fragment"][0])' "$link")
token=$(stored_token)
[ ${#token} -eq $((64 + ${#fragment})) ] && [ "${token:64}" = "$fragment" ] &&
        [[ "${token:0:64}" =~ ^[0-9a-f]{64}$ ]] || gui_fail "the keyring does not hold nonce ‖ fragment"
ok "gnome-keyring holds the token (nonce ‖ fragment)"

# --- copy to clipboard from the resource's submenu
"$SNI_MENU" --click 'gitlab.corp.example' dev.kiln.Kiln >/dev/null || gui_fail "no copy item for the resource"
gui_wait 5 "[ \"\$(xclip -o -selection clipboard)\" = gitlab.corp.example ]" ||
        gui_fail "clipboard holds '$(xclip -o -selection clipboard 2>&1)'"
"$SNI_MENU" --click '10.9.0.0/16' dev.kiln.Kiln >/dev/null || gui_fail "no copy item for the CIDR resource"
gui_wait 5 "[ \"\$(xclip -o -selection clipboard)\" = 10.9.0.0/16 ]" ||
        gui_fail "clipboard holds '$(xclip -o -selection clipboard 2>&1)'"
ok "copy items put the resource addresses on the clipboard (read back with xclip)"

# --- screenshots: the tray menu with a resource's submenu open, the Overview window
close_notifications() { # notification-daemon's bubbles would cover the menu
        local w
        for w in $(xdotool search --name '^Notification$' 2>/dev/null); do
                xdotool windowunmap "$w" 2>/dev/null
        done
}
close_notifications
sleep 0.5
xdotool mousemove 1008 16 click 3
sleep 1
# Down to the first resource after the Internet Resource, and open its submenu.
xdotool key Down Down Down Down Right
sleep 1
gui_screenshot "$ART/tray-menu-signed-in.png"
xdotool key Escape Escape Escape
kiln_action /dev/kiln/Kiln show-window
gui_wait 10 "xdotool search --onlyvisible --name '^Kiln$'" || gui_fail "the Overview window did not open"
sleep 1
gui_screenshot "$ART/overview-signed-in.png"
ok "screenshots: $ART/tray-menu-signed-in.png, $ART/overview-signed-in.png"

# --- a replayed callback changes nothing
signins=$(grep -c 'signing in to' "$GUI_TMP/kiln.log")
"$KILN" "$link" || gui_fail "deep link hand-off failed"
gui_wait 5 "grep -q 'ignoring a sign-in callback: no sign-in is pending' '$GUI_TMP/kiln.log'" ||
        gui_fail "the replayed callback was not logged as ignored"
sleep 0.5
[ "$(grep -c 'signing in to' "$GUI_TMP/kiln.log")" -eq "$signins" ] || gui_fail "the replay signed in again"
menu_now | grep -qx 'Signed in as Alice Liddell \[disabled\]' || gui_fail "the replay changed the state"
ok "a replayed callback is ignored with a log line"

# --- Export Logs with kilnd: app logs, kilnd's JSON lines, system info; no token anywhere
zip="$ART/logs.zip"
kiln_action /dev/kiln/Kiln export-logs "'$zip'"
gui_wait 15 "grep -q 'logs exported' '$GUI_TMP/kiln.log'" || gui_fail "no zip written"
python3 - "$zip" "$token" <<'PY' || gui_fail "exported zip is wrong"
import json, re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
token = sys.argv[2]
assert z.testzip() is None
names = z.namelist()
stems = {n.split("/")[0] for n in names}
assert len(stems) == 1 and re.fullmatch(r"kiln-logs-\d{4}_\d\d_\d\d-\d\d-\d\d", stems.pop()), names
rest = sorted(n.split("/", 1)[1] for n in names)
assert rest == ["app/kiln.log", "kilnd/kilnd.jsonl", "system-info.txt"], rest
data = {n.split("/", 1)[1]: z.read(n).decode() for n in names}
assert "sign-in callback accepted" in data["app/kiln.log"], data["app/kiln.log"][-500:]
lines = [json.loads(l) for l in data["kilnd/kilnd.jsonl"].splitlines() if l]
assert lines, "kilnd's log is empty"
text = " ".join(json.dumps(l) for l in lines)
assert "init" in text or "connected" in text, text[-800:]
info = data["system-info.txt"]
assert info.startswith("kiln 0.1.0\n") and "kilnd version unavailable" not in info, info
for name, body in data.items():
    for secret in (token, token[:64], token[64:]):
        assert secret not in body, f"{name} contains the token"
raw = open(sys.argv[1], "rb").read()
assert token[64:].encode() not in raw and token[:64].encode() not in raw
print(f"# {len(lines)} kilnd log lines, {len(data['app/kiln.log'])} bytes of app log")
PY
ok "Export Logs: app/kiln.log, kilnd/kilnd.jsonl (JSON lines via ExportLogs) and system-info.txt; no token in the zip"

# --- Sign Out: back to Sign In, the token leaves the keyring
"$SNI_MENU" --click 'Sign Out' dev.kiln.Kiln >/dev/null || gui_fail "cannot click Sign Out"
wait_menu 15 'Sign In' || gui_fail "Sign Out did not return to Sign In: $(menu_now)"
gui_wait 10 "kiln_tunnel_state | grep -q signed-out" || gui_fail "kilnd did not sign out: $(kiln_tunnel_state)"
gui_wait 5 "[ -z \"\$(stored_token)\" ]" || gui_fail "the token is still in the keyring"
menu_now | grep -qx 'IconName=dev.kiln.Kiln-signed-out' || gui_fail "not the signed-out icon after Sign Out"
ok "Sign Out returns the tray to Sign In and deletes the token from gnome-keyring"

# --- the portal revokes the session: "sign in again"
"$SNI_MENU" --click 'Sign In' dev.kiln.Kiln >/dev/null || gui_fail "cannot click Sign In (2nd)"
wait_menu 60 'Signed in as Alice Liddell \[disabled\]' || gui_fail "second sign-in did not complete: $(menu_now)"
[ -n "$(stored_token)" ] || gui_fail "no token after the second sign-in"
kiln_portal_config 0
kill -HUP "$PORTAL_PID"
wait_menu 20 'Sign In' || gui_fail "kiln did not return to Sign In after the portal removed the user: $(menu_now)"
menu_now | grep -qx 'Your session has ended. To access resources, sign in again. \[disabled\]' ||
        gui_fail "the tray does not say why: $(menu_now)"
gui_wait 5 "[ -z \"\$(stored_token)\" ]" || gui_fail "the revoked token is still in the keyring"
grep -q 'notification: Kiln disconnected: To access resources, sign in again.' "$GUI_TMP/kiln.log" ||
        gui_fail "no 'sign in again' notification in kiln's log"
[ "$(grep -c 'notification: Kiln disconnected' "$GUI_TMP/kiln.log")" -eq 1 ] ||
        gui_fail "the user was told more than once (or not) that the session ended"
sleep 1
gui_screenshot "$ART/sign-in-again.png"
ok "the portal removing the user signs out with 'sign in again' and deletes the token"

# --- notifications reached a real notification server
if [ "$HAVE_NOTIFYD" = 1 ]; then
        python3 - "$GUI_TMP/notify-monitor.log" <<'PY' || gui_fail "notifications not delivered to notification-daemon"
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n(?=method |signal |error )", text)
calls = {}   # serial → (summary, body)
answered = []
for b in blocks:
    m = re.match(r"method call .*? serial=(\d+) .*?member=Notify", b)
    if m:
        strings = re.findall(r'^\s+string "(.*)"$', b, re.M)
        # app_name, app_icon, summary, body, then actions
        calls[m.group(1)] = (strings[2], strings[3])
        continue
    m = re.match(r"method return .*? reply_serial=(\d+)", b)
    if m and m.group(1) in calls and re.search(r"^\s+uint32 [1-9]\d*$", b, re.M):
        answered.append(calls[m.group(1)])
want = [("Kiln connected", "You are now signed in and able to access resources."),
        ("Kiln disconnected", "To access resources, sign in again.")]
for w in want:
    assert w in answered, f"{w} not answered by the server; answered: {answered}"
print(f"# notification-daemon answered {len(answered)} notifications: {[a[0] for a in answered]}")
PY
        ok "notification-daemon received 'Kiln connected' and 'sign in again' (Notify calls answered with an id)"
else
        grep -q 'notification: Kiln connected' "$GUI_TMP/kiln.log" || gui_fail "no 'connected' notification logged"
        ok "# SKIP notification-daemon not installed; the 'connected' notification was logged"
fi
