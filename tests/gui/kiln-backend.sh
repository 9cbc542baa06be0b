# shellcheck shell=bash
# The back end of the gui suite's signed-in tests and benchmarks, for scripts that sourced
# tests/support/netns.sh and tests/gui/gui-session.sh (as root):
#
#   kiln_backend_start        # kiln-test-portal and kilnd in a network namespace ($KILN_NS), kilnd on
#                             # a private system-like bus with the real dev.kiln.Tunnel policy;
#                             # exports KILN_TUNNEL_BUS_ADDRESS; sets PORTAL_URL, PORTAL_PID
#   kiln_portal_config 0|1    # (re)writes the portal's file: alice is (1) or is no longer (0) a user
#   kiln_kilnd_start NS [OPTION…]  # what kiln_backend_start does for kilnd alone: the bus (socket
#                             # $KILN_SYSTEM_BUS_SOCKET, default $TEST_TMP/system-bus; extra <policy>
#                             # XML in $KILN_BUS_POLICY_EXTRA) and kilnd in namespace NS (ns_add'ed)
#   kiln_tunnel_state         # kilnd's State property as gdbus prints it
#   kiln_desktop_services     # after gui_session_start: gnome-keyring-daemon (unlocked) and, when
#                             # installed, notification-daemon with a dbus-monitor of Notify calls
#                             # ($GUI_TMP/notify-monitor.log); sets HAVE_NOTIFYD
#   kiln_test_browser         # settings.ini pointing at the portal, and the "browser" (the default
#                             # http handler: tests/gui/sign-in-browser.sh as alice); the deep link it
#                             # handed over is saved in $DEEP_LINK_FILE
#
# Needs KILN, KILND, KILN_SOURCE_ROOT, KILN_BUILD_ROOT.

_kiln_gui_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_kiln_gui_dir/../support/system-bus.sh"

kiln_portal_config() {
        local users='{ "email": "alice@acme.test", "password": "wonderland", "name": "Alice Liddell" },'
        local alice='{ "users": ["alice@acme.test"], "resources": ["GitLab", "Office LAN", "Wiki", "Internet"] },'
        [ "$1" = 1 ] || users='' alice=''
        cat >"$TEST_TMP/portal.json.new" <<JSON
{
  "secret": "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')",
  "accounts": [ {
    "slug": "acme", "name": "Acme Inc",
    "users": [ $users { "email": "bob@acme.test", "password": "builder", "name": "Bob" } ],
    "sites": [ { "name": "HQ" } ],
    "resources": [
      { "type": "dns", "name": "GitLab", "address": "gitlab.corp.example",
        "address_description": "https://gitlab.corp.example/", "sites": ["HQ"] },
      { "type": "cidr", "name": "Office LAN", "address": "10.9.0.0/16",
        "address_description": "Printers and file shares", "sites": ["HQ"] },
      { "type": "dns", "name": "Wiki", "address": "wiki.corp.example", "sites": ["HQ"] },
      { "type": "internet", "name": "Internet", "sites": ["HQ"] },
      { "type": "cidr", "name": "Payroll", "address": "10.66.0.0/16", "sites": ["HQ"] }
    ],
    "policies": [ $alice { "users": ["bob@acme.test"], "resources": ["Payroll"] } ]
  } ]
}
JSON
        # The secret stays the same across rewrites, so tokens stay valid.
        if [ -f "$TEST_TMP/portal.json" ]; then
                python3 - "$TEST_TMP/portal.json" "$TEST_TMP/portal.json.new" <<'PY2'
import json, sys
old, new = (json.load(open(p)) for p in sys.argv[1:])
new["secret"] = old["secret"]
json.dump(new, open(sys.argv[2], "w"))
PY2
        fi
        mv "$TEST_TMP/portal.json.new" "$TEST_TMP/portal.json"
}

kiln_tunnel_state() {
        gdbus call --address "$KILN_TUNNEL_BUS_ADDRESS" --dest dev.kiln.Tunnel --object-path /dev/kiln/Tunnel \
                --method org.freedesktop.DBus.Properties.Get dev.kiln.Tunnel1 State
}

kiln_backend_start() {
        ns_add kilnd
        KILN_NS=$(ns_name kilnd)
        kiln_portal_config 1
        bg_start kilnd portal "$KILN_BUILD_ROOT/tests/portal/kiln-test-portal" --config "$TEST_TMP/portal.json" \
                --listen 127.0.0.1 --port 0
        PORTAL_PID=$BG_PID
        wait_for 10 "grep -q '^listening on http://' '$TEST_TMP/portal.log'" || fail "the test portal did not start"
        PORTAL_URL=$(sed -n 's/^listening on \(http:\/\/[^ ]*\)$/\1/p' "$TEST_TMP/portal.log" | head -n1)
        kiln_kilnd_start kilnd
}

kiln_kilnd_start() {
        local ns=$1 system_bus=${KILN_SYSTEM_BUS_SOCKET:-$TEST_TMP/system-bus}
        shift
        # A system-like bus (the essentials of Debian's system.conf) with the real kilnd policy.
        system_bus_config "$system_bus" "$KILN_SOURCE_ROOT/resources/kilnd/dev.kiln.Tunnel.conf" \
                "${KILN_BUS_POLICY_EXTRA:-}" >"$TEST_TMP/system-bus.conf"
        bg_start "$ns" system-bus dbus-daemon --nofork --nopidfile --config-file="$TEST_TMP/system-bus.conf"
        wait_for 10 "test -S '$system_bus'" || fail "the system-like dbus-daemon did not start"
        export KILN_TUNNEL_BUS_ADDRESS="unix:path=$system_bus"
        mkdir -p "$TEST_TMP/kilnd-log" "$TEST_TMP/kilnd-state"
        bg_start "$ns" kilnd "$KILND" --bus-address "$KILN_TUNNEL_BUS_ADDRESS" --log-dir "$TEST_TMP/kilnd-log" \
                --state-dir "$TEST_TMP/kilnd-state" "$@"
        wait_for 10 "gdbus call --address '$KILN_TUNNEL_BUS_ADDRESS' --dest org.freedesktop.DBus \
                --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner dev.kiln.Tunnel |
                grep -q true" || fail "kilnd did not take dev.kiln.Tunnel"
}

_kiln_session_has() {
        gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
                --method org.freedesktop.DBus.NameHasOwner "$1" | grep -q true
}

kiln_desktop_services() {
        local notifyd=/usr/lib/notification-daemon/notification-daemon name
        gui_bg keyring sh -c 'printf kiln-test | exec gnome-keyring-daemon --foreground --unlock --components=secrets'
        gui_wait 10 "_kiln_session_has org.freedesktop.secrets" || gui_fail "gnome-keyring-daemon did not start"
        HAVE_NOTIFYD=0
        [ -x "$notifyd" ] || return 0
        # It finds Kiln's icon as it would once installed.
        gui_bg notifyd env XDG_DATA_DIRS="$KILN_SOURCE_ROOT/resources:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" \
                "$notifyd" --replace
        gui_wait 10 "_kiln_session_has org.freedesktop.Notifications" || gui_fail "notification-daemon did not start"
        name=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
                --method org.freedesktop.DBus.GetNameOwner org.freedesktop.Notifications | sed "s/^('\(.*\)',)$/\1/")
        # Every Notify call and the server's replies to it.
        gui_bg notify-monitor dbus-monitor --session \
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
                "type='method_return',sender='$name'"
        HAVE_NOTIFYD=1
}

kiln_test_browser() {
        mkdir -p "$XDG_CONFIG_HOME/kiln" "$XDG_DATA_HOME/applications"
        cat >"$XDG_CONFIG_HOME/kiln/settings.ini" <<INI
[kiln]
account-slug=acme
auth-url=$PORTAL_URL
api-url=${PORTAL_URL/http:/ws:}/
INI
        # Completes the portal's form in headless Chromium (inside the namespace, where the portal
        # listens) and hands the callback to kiln, after a forged copy with another state.
        DEEP_LINK_FILE=$GUI_TMP/deep-link
        cat >"$GUI_TMP/browser.sh" <<SH
#!/bin/bash
export SIGN_IN_NETNS='$KILN_NS' SIGN_IN_EMAIL=alice@acme.test SIGN_IN_PASSWORD=wonderland
export SIGN_IN_SAVE='$DEEP_LINK_FILE' SIGN_IN_FORGE_FIRST=1 KILN_SOURCE_ROOT='$KILN_SOURCE_ROOT'
exec '$_kiln_gui_dir/sign-in-browser.sh' "\$1" '$KILN' >>'$GUI_TMP/browser.log' 2>&1
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
}
