#!/bin/bash
# DNS control through systemd-resolved (backend/platform/dns-resolved.c) against the real
# systemd-resolved, started by this test inside a namespace on a private dbus-daemon acting as
# its system bus, with a private /run/systemd (mount namespace).  resolved drops root to the
# "systemd-resolve" user, which Debian creates only when the package is installed, so it runs
# here as nobody with the capabilities it needs.
#
# The systemd-resolved package is NOT a dependency: its postinst converts the machine's
# /etc/resolv.conf into a symlink.  Without the binary the test skips and says so; to run it
# without installing the package, unpack it (apt-get download systemd-resolved; dpkg-deb -x)
# and point KILN_SYSTEMD_RESOLVED at usr/lib/systemd/systemd-resolved or lib/systemd/....
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
resolved=${KILN_SYSTEMD_RESOLVED:-/lib/systemd/systemd-resolved}
[ -x "$resolved" ] || skip "systemd-resolved is not installed ($resolved missing); the resolved D-Bus path \
(SetLinkDNS/SetLinkDomains/RevertLink) is NOT tested in this run. Installing the systemd-resolved package \
would rewrite this machine's /etc/resolv.conf, so it is not a CI dependency; set KILN_SYSTEMD_RESOLVED to an \
unpacked binary to run this test."
require_cmd ip dbus-daemon busctl setpriv unshare
helper="$KILN_BUILD_ROOT/tests/backend/platform/platform-helper"

ns_add r
ns_exec r ip tuntap add dev tun-kiln mode tun
ns_exec r ip link set tun-kiln up
bus=$TEST_TMP/bus
cat >"$TEST_TMP/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
chmod 755 "$TEST_TMP"
caps=+net_bind_service,+net_raw,+setpcap
cat >"$TEST_TMP/run.sh" <<RUN
mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd; } || exit 1
mkdir -p /run/systemd/resolve && chown nobody /run/systemd/resolve
dbus-daemon --config-file=$TEST_TMP/bus.conf --nofork &
for i in \$(seq 50); do [ -S $bus ] && break; sleep 0.1; done
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
        --inh-caps=$caps --ambient-caps=$caps "$resolved"
RUN
bg_start r resolved unshare -m bash "$TEST_TMP/run.sh"
addr=unix:path=$bus
wait_for 10 "ns_exec r '$helper' resolved $addr tun-kiln available" || fail "systemd-resolved did not come up"
echo "ok: systemd-resolved $("$resolved" --version | head -1) runs on a private bus"

idx=$(ns_exec r cat /sys/class/net/tun-kiln/ifindex)
link=/org/freedesktop/resolve1/link/_3$idx
prop() { ns_exec r busctl --address="$addr" get-property org.freedesktop.resolve1 "$link" org.freedesktop.resolve1.Link "$1"; }

ns_exec r "$helper" resolved "$addr" tun-kiln activate --search corp.example \
        100.100.111.1 fd00:2021:1111:8000:100:100:111:1 || fail "activate"
dns=$(prop DNS)
[ "$dns" = 'a(iay) 2 2 4 100 100 111 1 10 16 253 0 32 33 17 17 128 0 1 0 1 0 1 17 0 1' ] || fail "DNS: $dns"
domains=$(prop Domains)
[ "$domains" = 'a(sb) 2 "." true "corp.example" false' ] || fail "Domains: $domains"
echo "ok: SetLinkDNS and SetLinkDomains with ~. as resolved reports them"

ns_exec r "$helper" resolved "$addr" tun-kiln revert || fail "revert"
[ "$(prop DNS)" = 'a(iay) 0' ] || fail "DNS after revert: $(prop DNS)"
[ "$(prop Domains)" = 'a(sb) 0' ] || fail "Domains after revert: $(prop Domains)"
echo "ok: RevertLink clears the link"
ns_exec r "$helper" resolved "$addr" tun-kiln activate 300.1.1.1 2>/dev/null && fail "bad address accepted"
echo "ok: bad server address refused"
