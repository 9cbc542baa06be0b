#!/bin/bash
# Runs test-token-store against gnome-keyring-daemon on a private session bus, then against
# a bus with no Secret Service at all.  Skips when gnome-keyring is not installed.
set -uo pipefail
exe=${1:?test-token-store binary}
command -v gnome-keyring-daemon >/dev/null || { echo "1..0 # SKIP gnome-keyring-daemon not installed"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/home/.local/share"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# A bus with no activatable services: libsecret finds no keyring.
cat >"$tmp/bare.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$tmp</listen>
  <servicedir>$tmp/none</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
XML
mkdir -p "$tmp/none"
echo "1..2"
if KILN_TEST_KEYRING=absent dbus-run-session --config-file="$tmp/bare.conf" -- "$exe" >"$tmp/absent.log" 2>&1 &&
        grep -q '^ok' "$tmp/absent.log"; then
        echo "ok 1 - without a Secret Service the user is told plainly"
else
        echo "not ok 1 - no-keyring case"; sed 's/^/# /' "$tmp/absent.log"; exit 1
fi
# gnome-keyring creates and unlocks a fresh login keyring with the password on stdin.  The test's
# TAP goes to its own file: daemons the bus activates write to the same terminal and may
# interleave with it ("discover_other_daemon: 1ok 1 …").
if KILN_TEST_KEYRING=present dbus-run-session -- sh -c \
        'printf kiln-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" >"$1"' \
        "$exe" "$tmp/present.tap" >"$tmp/present.log" 2>&1 && grep -q '^ok' "$tmp/present.tap"; then
        echo "ok 2 - the token is stored, read back and deleted in gnome-keyring"
else
        echo "not ok 2 - keyring round trip"; sed 's/^/# /' "$tmp/present.tap" "$tmp/present.log"; exit 1
fi
