#!/bin/bash
# The gateway host's forwarding set up and removed by backend/platform/forwarding.c, checked
# with sysctl and iptables inside a namespace.
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd ip iptables ip6tables
helper="$KILN_BUILD_ROOT/tests/backend/platform/platform-helper"

ns_add gw
ns_exec gw ip tuntap add dev tun-gw mode tun
ns_exec gw sysctl -qw net.ipv4.ip_forward=0
ns_exec gw sysctl -qw net.ipv6.conf.all.forwarding=0
before4=$(ns_exec gw iptables -S; ns_exec gw iptables -t nat -S)
before6=$(ns_exec gw ip6tables -S; ns_exec gw ip6tables -t nat -S)

bg_start gw fwd "$helper" forwarding tun-gw
pid=$BG_PID
wait_for 10 "grep -q ready $TEST_TMP/fwd.log" || fail "setup failed: $(cat "$TEST_TMP/fwd.log")"
[ "$(ns_exec gw sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "IPv4 forwarding off"
ns_exec gw iptables -S FORWARD | grep -q -- '-i tun-gw .*kiln:tun-gw.* -j ACCEPT' || fail "no FORWARD -i rule"
ns_exec gw iptables -S FORWARD | grep -q -- '-o tun-gw .*kiln:tun-gw.* -j ACCEPT' || fail "no FORWARD -o rule"
ns_exec gw iptables -t nat -S POSTROUTING | grep -q -- '-s 100.64.0.0/11 ! -o tun-gw .*-j MASQUERADE' ||
        fail "no MASQUERADE"
if grep -q 'ipv6=1' "$TEST_TMP/fwd.log"; then
        [ "$(ns_exec gw sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] || fail "IPv6 forwarding off"
        ns_exec gw ip6tables -t nat -S POSTROUTING | grep -q -- '-s fd00:2021:1111::/107 ! -o tun-gw' ||
                fail "no IPv6 MASQUERADE"
        echo "ok: IPv4 and IPv6 forwarding and masquerade set up"
else
        echo "ok: IPv4 forwarding and masquerade set up (IPv6 unavailable here: $(cat "$TEST_TMP/fwd.log"))"
fi

kill -TERM "$pid"
wait_for 10 "grep -q stopped $TEST_TMP/fwd.log" || fail "teardown did not finish"
[ "$(ns_exec gw sysctl -n net.ipv4.ip_forward)" = 0 ] || fail "IPv4 forwarding not restored"
[ "$(ns_exec gw sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] || fail "IPv6 forwarding not restored"
[ "$(ns_exec gw iptables -S; ns_exec gw iptables -t nat -S)" = "$before4" ] || fail "IPv4 rules left behind"
[ "$(ns_exec gw ip6tables -S; ns_exec gw ip6tables -t nat -S)" = "$before6" ] || fail "IPv6 rules left behind"
echo "ok: teardown restores sysctls and removes exactly its rules"
