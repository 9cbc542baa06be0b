#!/bin/bash
# The gui suite's sign-in test: the whole flow against the real kilnd and the test portal.
#   Sign In in the tray → kiln opens <portal>/<slug>?as=gui-client&nonce=…&state=… in "the
#   browser" (a desktop entry registered as the default http handler that drives headless
#   chromium through the portal's sign-in form) → the portal redirects to
#   firezone-fd0020211111://handle_client_sign_in_callback?… → the browser script runs
#   `kiln <callback URL>` → kiln stores the token in gnome-keyring and calls SignIn → the tray
#   shows "Signed in as …" and the portal's resources → Copy puts an address on the clipboard.
#
# It needs kilnd (backend/kilnd) and the test portal (tests/portal), which are built on other
# branches; until they are merged it skips and says so.  To complete after the merge:
# start_portal and start_kilnd below (their command lines belong to those areas), and
# tests/gui/sign-in-browser.sh URL KILN, which drives chromium through the portal's form.
source "$(dirname "$0")/gui-session.sh"

[ -n "${KILND:-}" ] && [ -x "${KILND:-}" ] || gui_skip "kilnd is not built in this tree (it comes with the kilnd merge)"
[ -n "${KILN_PORTAL:-}" ] && [ -e "${KILN_PORTAL:-}" ] || gui_skip "the test portal is not in this tree (it comes with the portal merge)"
[ "$(id -u)" -eq 0 ] || gui_skip "kilnd needs root for its TUN device"
for c in chromium xclip gnome-keyring-daemon; do
        command -v "$c" >/dev/null 2>&1 || gui_skip "$c not installed"
done

start_portal() { # after the portal merge: start it on 127.0.0.1:$PORTAL_PORT with the resources below
        gui_skip "pending integration: start_portal needs the test portal's command line (tests/portal)"
}
start_kilnd() { # after the kilnd merge: kilnd serving dev.kiln.Tunnel1 on $KILN_TUNNEL_BUS_ADDRESS
        gui_skip "pending integration: start_kilnd needs kilnd's command line (backend/kilnd)"
}

gui_session_start
export KILN_TUNNEL_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"
printf kiln-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
PORTAL_PORT=$((20000 + RANDOM % 20000))
start_portal
start_kilnd

mkdir -p "$XDG_CONFIG_HOME/kiln" "$XDG_DATA_HOME/applications"
cat >"$XDG_CONFIG_HOME/kiln/settings.ini" <<INI
[kiln]
account-slug=acme
auth-url=http://127.0.0.1:$PORTAL_PORT
api-url=ws://127.0.0.1:$PORTAL_PORT/
INI
# The "browser": completes the portal's form in headless chromium and hands the callback to kiln.
cat >"$GUI_TMP/browser.sh" <<SH
#!/bin/bash
exec "$(dirname "$0")/sign-in-browser.sh" "\$1" "$KILN"
SH
chmod +x "$GUI_TMP/browser.sh"
cat >"$XDG_DATA_HOME/applications/kiln-test-browser.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Test browser
Exec=$GUI_TMP/browser.sh %u
MimeType=x-scheme-handler/http;x-scheme-handler/https;
DESKTOP
printf '[Default Applications]\nx-scheme-handler/http=kiln-test-browser.desktop\n' >"$XDG_CONFIG_HOME/mimeapps.list"

gui_bg kiln "$KILN" --background
"$SNI_MENU" --wait 20 dev.kiln.Kiln | grep -qx 'Sign In' || gui_fail "no enabled Sign In with kilnd running"
"$SNI_MENU" --click 'Sign In' dev.kiln.Kiln >/dev/null
gui_wait 60 "'$SNI_MENU' --wait 1 dev.kiln.Kiln | grep -q '^Signed in as '" || gui_fail "sign-in did not complete"
menu=$("$SNI_MENU" dev.kiln.Kiln)
grep -qx 'Resources \[disabled\]' <<<"$menu" || gui_fail "no resources in the menu: $menu"
"$SNI_MENU" --click 'gitlab.corp.example' dev.kiln.Kiln >/dev/null || gui_fail "no copy item for the resource"
gui_wait 5 "[ \"\$(xclip -o -selection clipboard)\" = gitlab.corp.example ]" || gui_fail "address not copied"
gui_screenshot "${GUI_ARTIFACTS:?}/signed-in.png"
echo "ok - signed in through the browser; resources listed; copy works"
