#!/bin/bash
# Builds Kiln's .deb packages from a clean checkout of HEAD, lints them, installs them on this
# machine with apt, checks what they put where and that the installed kilnd serves its
# interface under the installed D-Bus policy, then purges them and checks that nothing is left.
#
# It installs packages, creates a user and (through the package) the kiln group, so it runs only
# as root and only when asked: KILN_TEST_PACKAGING=1, or CI=true (build-aux/run-tests runs it
# after the test suites).  Everything it changes is undone on any exit.
# Exit status: 0 passed, 1 failed, 77 skipped (TAP-less, like the other root scripts).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

skip() { echo "test-deb: SKIP: $*"; exit 77; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
note() { printf 'test-deb: %s\n' "$*"; }
elapsed() { echo "$((SECONDS - $1)) s"; }

[ "${KILN_TEST_PACKAGING:-}" = 1 ] || [ "${CI:-}" = true ] ||
        skip "installs packages on this machine; set KILN_TEST_PACKAGING=1 (CI sets CI=true)"
[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get install, a test user)"
for cmd in git dpkg-buildpackage lintian apt-get systemd-analyze dbus-daemon gdbus setpriv useradd \
        desktop-file-validate appstreamcli; do
        command -v "$cmd" >/dev/null || fail "$cmd not found (build-aux/install-deps installs it)"
done
git -C "$top" rev-parse --verify -q HEAD >/dev/null || fail "$top is not a git checkout"

for pkg in kilnd kiln-wg kiln kiln-gateway; do
        if dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; then
                fail "$pkg is already installed here; this test installs and purges it, so it refuses to run"
        fi
done

tmp=$(mktemp -d /tmp/kiln-test-deb.XXXXXX)
user=kilnpkg$$
user2=kilnpkx$$
group_existed=1
state_existed=0
[ -e /var/lib/kiln ] || [ -e /var/log/kiln ] && state_existed=1
policy=/usr/sbin/policy-rc.d
created_policy=0
pids=()
packages=()

cleanup() {
        local pid
        for pid in "${pids[@]}"; do
                kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        done
        for pkg in "${packages[@]}"; do
                if dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; then
                        echo "test-deb: cleanup: purging $pkg"
                        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 purge -y -qq "$pkg" \
                                >/dev/null 2>&1
                fi
        done
        getent passwd "$user" >/dev/null && userdel "$user"
        getent passwd "$user2" >/dev/null && userdel "$user2"
        # The package keeps the group (checked below); the machine gets back the state it had.
        [ $group_existed -eq 0 ] && getent group kiln >/dev/null && groupdel kiln
        [ $created_policy -eq 1 ] && rm -f "$policy"
        rm -rf "$tmp"
}
trap cleanup EXIT

# --- build from a clean checkout --------------------------------------------------------------
rev=$(git -C "$top" rev-parse --short HEAD)
mkdir "$tmp/src"
git -C "$top" archive --format=tar HEAD | tar -x -C "$tmp/src" || fail "git archive HEAD"
note "building the packages from a clean checkout of $rev (uncommitted changes are not in it)"
t0=$SECONDS
(cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" DEB_BUILD_PROFILES=nocheck \
        dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
        tail -40 "$tmp/build.log"
        fail "dpkg-buildpackage failed (the last 40 lines above)"
}
note "dpkg-buildpackage -b: $(elapsed $t0)"
mapfile -t debs < <(ls "$tmp"/*.deb | grep -v -- '-dbgsym_')
[ ${#debs[@]} -gt 0 ] || fail "no .deb built"
for deb in "${debs[@]}"; do
        packages+=("$(dpkg-deb -f "$deb" Package)")
done
note "built: ${packages[*]}"

# --- lintian: errors fail, warnings are listed --------------------------------------------------
t0=$SECONDS
lintian --pedantic --display-info "$tmp"/*.changes 2>&1 | grep -v 'running with root privileges' >"$tmp/lintian.txt"
note "lintian ($(elapsed $t0)): $(grep -c '^E:' "$tmp/lintian.txt") errors, $(grep -c '^W:' "$tmp/lintian.txt") warnings, $(grep -c '^[IP]:' "$tmp/lintian.txt") info/pedantic"
sed 's/^/    /' "$tmp/lintian.txt"
grep -q '^E:' "$tmp/lintian.txt" && fail "lintian reports errors"

# --- install, as a user would with sudo ---------------------------------------------------------
useradd --no-create-home --shell /usr/sbin/nologin "$user" || fail "useradd $user"
# No service is started on the host, should this machine run systemd (deb-systemd-invoke
# honours policy-rc.d); the smoke test below starts kilnd on a private bus instead.
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
# Decided right before the install, so that only a group the package created is removed again.
group_existed=0
getent group kiln >/dev/null && group_existed=1
t0=$SECONDS
SUDO_USER=$user DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y \
        --no-install-recommends "${debs[@]}" >"$tmp/install.log" 2>&1 || {
        cat "$tmp/install.log"
        fail "apt-get install of the built packages failed"
}
note "apt-get install: $(elapsed $t0)"
grep '^kilnd:\|^\*\*\*' "$tmp/install.log" | sed 's/^/    /'
grep -q "kilnd: added user '$user' to the group 'kiln'" "$tmp/install.log" ||
        fail "postinst did not say it added SUDO_USER=$user to the group kiln"
grep -q "LOG OUT AND LOG IN AGAIN" "$tmp/install.log" || fail "postinst did not ask for a re-login"
getent group kiln >/dev/null || fail "no group kiln after install (systemd-sysusers)"
id -nG "$user" | tr ' ' '\n' | grep -qx kiln || fail "$user is not in the group kiln after install"

# The other ways in: pkexec (a software centre) names the user by PKEXEC_UID; with neither
# variable (root's own shell) nobody is added and the administrator is told how.
useradd --no-create-home --shell /usr/sbin/nologin "$user2" || fail "useradd $user2"
out=$(env -u SUDO_USER PKEXEC_UID="$(id -u "$user2")" /var/lib/dpkg/info/kilnd.postinst configure 2>&1) ||
        fail "kilnd.postinst configure with PKEXEC_UID failed: $out"
grep -q "added user '$user2' to the group 'kiln'" <<<"$out" || fail "PKEXEC_UID: no banner for $user2: $out"
id -nG "$user2" | tr ' ' '\n' | grep -qx kiln || fail "PKEXEC_UID: $user2 is not in the group kiln"
out=$(env -u SUDO_USER -u PKEXEC_UID /var/lib/dpkg/info/kilnd.postinst configure 2>&1) ||
        fail "kilnd.postinst configure without an installing user failed: $out"
grep -q "usermod -aG kiln USER" <<<"$out" || fail "without an installing user, postinst gives no hint: $out"
note "postinst: SUDO_USER and PKEXEC_UID users added with the re-login banner; none: the usermod hint"

# --- contents -----------------------------------------------------------------------------------
# What each package must install; a new package gets its list here (debian/README.source).
expected_files() {
        case "$1" in
        kilnd)
                echo /usr/libexec/kilnd /lib/systemd/system/kilnd.service /usr/lib/sysusers.d/kiln.conf \
                        /usr/share/dbus-1/system.d/dev.kiln.Tunnel.conf \
                        /usr/share/dbus-1/interfaces/dev.kiln.Tunnel1.xml /usr/share/man/man8/kilnd.8.gz \
                        /usr/share/doc/kilnd/copyright
                ;;
        kiln)
                echo /usr/bin/kiln /usr/libexec/kiln-tray /usr/share/applications/dev.kiln.Kiln.desktop \
                        /usr/share/metainfo/dev.kiln.Kiln.metainfo.xml \
                        /usr/share/icons/hicolor/scalable/apps/dev.kiln.Kiln.svg \
                        /usr/share/icons/hicolor/48x48/apps/dev.kiln.Kiln.png \
                        /usr/share/icons/hicolor/256x256/apps/dev.kiln.Kiln.png \
                        /etc/xdg/autostart/dev.kiln.Kiln.desktop \
                        /usr/share/locale/de/LC_MESSAGES/kiln.mo /usr/share/man/man1/kiln.1.gz \
                        /usr/share/doc/kiln/copyright
                ;;
        kiln-wg)
                echo /usr/bin/kiln-wg /usr/share/man/man8/kiln-wg.8.gz /usr/share/doc/kiln-wg/copyright
                ;;
        kiln-gateway)
                echo /usr/libexec/kiln-gateway /lib/systemd/system/kiln-gateway.service /usr/share/man/man8/kiln-gateway.8.gz \
                        /usr/share/doc/kiln-gateway/copyright
                ;;
        *) return 1 ;;
        esac
}
for pkg in "${packages[@]}"; do
        dpkg -L "$pkg" >"$tmp/$pkg.list" || fail "dpkg -L $pkg"
        note "dpkg -L $pkg:"
        sed 's/^/    /' "$tmp/$pkg.list"
        expected=$(expected_files "$pkg") || fail "package $pkg has no expected-contents list in $0"
        for f in $expected; do
                grep -qxF "$f" "$tmp/$pkg.list" || fail "$pkg does not install $f"
                [ -f "$f" ] || fail "$f is in dpkg -L $pkg but not on disk"
        done
        # Every unit, desktop file and metainfo any package ships is validated.
        while read -r f; do
                [ -f "$f" ] || continue
                case "$f" in
                */systemd/system/*.service)
                        out=$(systemd-analyze verify --man=no "$f" 2>&1) || fail "systemd-analyze verify $f: $out"
                        [ -z "$out" ] || fail "systemd-analyze verify $f warns: $out"
                        note "systemd-analyze verify $f: clean"
                        ;;
                */share/applications/*.desktop)
                        out=$(desktop-file-validate "$f" 2>&1) || fail "desktop-file-validate $f: $out"
                        note "desktop-file-validate $f: ok${out:+ ($out)}"
                        ;;
                */share/metainfo/*.xml)
                        appstreamcli validate --no-net "$f" || fail "appstreamcli validate $f"
                        ;;
                esac
        done <"$tmp/$pkg.list"
done
enabled=/etc/systemd/system/multi-user.target.wants/kilnd.service
[ "$(readlink "$enabled")" = /lib/systemd/system/kilnd.service ] ||
        fail "kilnd.service is not enabled on install ($enabled)"
note "kilnd.service enabled: $enabled -> $(readlink "$enabled")"

# The sign-in callback scheme: in the app's desktop file, and registered by the desktop
# database trigger (desktop-file-utils) when the package was installed.
scheme=x-scheme-handler/firezone-fd0020211111
mimecache=/usr/share/applications/mimeinfo.cache
if [[ " ${packages[*]} " == *" kiln "* ]]; then
        grep -q "^MimeType=.*$scheme;" /usr/share/applications/dev.kiln.Kiln.desktop ||
                fail "dev.kiln.Kiln.desktop does not declare $scheme"
        grep -q "^$scheme=.*dev.kiln.Kiln.desktop" "$mimecache" ||
                fail "$scheme is not registered in $mimecache after install"
        note "$scheme handled by dev.kiln.Kiln.desktop ($mimecache)"
fi

version=$(dpkg-query -W -f='${Version}' kilnd)
out=$(/usr/libexec/kilnd --version) || fail "/usr/libexec/kilnd --version failed"
[ "$out" = "kilnd ${version%%-*}" ] || fail "kilnd --version says '$out', the package is $version"
note "/usr/libexec/kilnd --version: $out"
out=$(kiln-wg --help 2>&1)
grep -q '^Usage: kiln-wg' <<<"$out" || fail "kiln-wg --help: $out"

# --- D-Bus smoke test from the installed files --------------------------------------------------
# A private system-like bus whose only service policy is the installed one; the installed kilnd
# serves on it.  Root and the kiln group may introspect it; a user outside the group may not.
chmod 0755 "$tmp"
mkdir "$tmp/bus" "$tmp/log" "$tmp/state"
chmod 0755 "$tmp/bus"
. "$top/tests/support/system-bus.sh"
system_bus_config "$tmp/bus/socket" /usr/share/dbus-1/system.d/dev.kiln.Tunnel.conf >"$tmp/bus.conf"
address=unix:path=$tmp/bus/socket
dbus-daemon --nofork --nopidfile --config-file="$tmp/bus.conf" 2>"$tmp/dbus.log" &
pids+=($!)
for _ in $(seq 100); do
        [ -S "$tmp/bus/socket" ] && break
        sleep 0.1
done
[ -S "$tmp/bus/socket" ] || fail "the private dbus-daemon did not start: $(cat "$tmp/dbus.log")"
/usr/libexec/kilnd --bus-address="$address" --log-dir="$tmp/log" --state-dir="$tmp/state" --quiet \
        2>"$tmp/kilnd.err" &
pids+=($!)
owned=0
for _ in $(seq 100); do
        if gdbus call --address "$address" --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
                --method org.freedesktop.DBus.NameHasOwner dev.kiln.Tunnel 2>/dev/null | grep -q true; then
                owned=1
                break
        fi
        sleep 0.1
done
[ $owned -eq 1 ] || fail "the installed kilnd did not own dev.kiln.Tunnel: $(cat "$tmp/kilnd.err")"

introspect() {
        HOME=/ "$@" gdbus introspect --address "$address" --dest dev.kiln.Tunnel --object-path /dev/kiln/Tunnel 2>&1
}
out=$(introspect env) || fail "introspection as root: $out"
grep -q 'interface dev.kiln.Tunnel1 {' <<<"$out" || fail "dev.kiln.Tunnel1 not introspected as root: $out"
note "gdbus introspect as root: dev.kiln.Tunnel1 with $(grep -c '^ *[A-Za-z]*(' <<<"$out") methods"
# The test user's groups come from /etc/group, where the postinst put kiln.
out=$(introspect setpriv --reuid="$user" --regid="$user" --init-groups) || fail "introspection as $user (group kiln): $out"
grep -q 'interface dev.kiln.Tunnel1 {' <<<"$out" || fail "dev.kiln.Tunnel1 not introspected as $user: $out"
note "gdbus introspect as $user (member of kiln): dev.kiln.Tunnel1"
if out=$(introspect setpriv --reuid=nobody --regid=nogroup --clear-groups); then
        fail "a user outside the kiln group could introspect kilnd: the installed policy was not applied"
fi
grep -q 'AccessDenied' <<<"$out" || fail "nobody's introspection failed, but not with AccessDenied: $out"
note "gdbus introspect as nobody: AccessDenied"
[ -s "$tmp/log/kilnd.log" ] || fail "the installed kilnd wrote no $tmp/log/kilnd.log"
for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
done
pids=()

# --- purge --------------------------------------------------------------------------------------
# What the running unit would have left: its StateDirectory= and LogsDirectory=.  Only when
# this machine had neither before, so that no real state is ever removed by the test.
if [ $state_existed -eq 0 ]; then
        install -d -m 0750 -g kiln /var/lib/kiln /var/log/kiln
        echo test >/var/lib/kiln/device-id
        echo '{}' >/var/log/kiln/kilnd.log
fi
t0=$SECONDS
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 purge -y "${packages[@]}" \
        >"$tmp/purge.log" 2>&1 || {
        cat "$tmp/purge.log"
        fail "apt-get purge failed"
}
note "apt-get purge: $(elapsed $t0)"
left=()
for pkg in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || echo not-installed)
        [ "$status" = not-installed ] || left+=("dpkg status of $pkg: $status")
        while read -r f; do
                # Directories other packages share (/usr, /lib → usr/lib …) stay; our own must go.
                if [ -d "$f" ]; then
                        case "$f" in
                        /usr/share/doc/"$pkg") left+=("$f") ;;
                        esac
                elif [ -e "$f" ] || [ -L "$f" ]; then
                        left+=("$f")
                fi
        done <"$tmp/$pkg.list"
done
for f in "$enabled" /var/lib/systemd/deb-systemd-helper-enabled/kilnd.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/kilnd.service; do
        [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
if [ $state_existed -eq 0 ]; then
        for f in /var/lib/kiln /var/log/kiln; do
                [ -e "$f" ] && left+=("$f")
        done
fi
grep -qs "^$scheme=" "$mimecache" && left+=("$scheme in $mimecache")
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
getent group kiln >/dev/null || fail "purge removed the group kiln (Debian keeps system groups)"
note "purged: no file, unit link or state left; the group kiln is kept (Debian policy)"
note "PASS"
