#!/bin/bash
# wg-quick up/down with WG_QUICK_USERSPACE_IMPLEMENTATION=kiln-wg inside a namespace, against
# wireguard-go.  wg-quick only falls back to a userspace implementation when the kernel has no
# WireGuard, so the test skips (and says why) on kernels that have it.
. "$(dirname "$0")/../support/netns.sh"
. "$(dirname "$0")/wg-lib.sh"
require_root
# UAPI sockets live in one directory for all namespaces: names unique to this run.
IQ=${NS_PREFIX}q
IG=${NS_PREFIX}g
require_cmd wg wg-quick wireguard-go

ns_add q
ns_add g
veth_link q 192.168.79.1/24 g 192.168.79.2/24
if ns_exec q ip link add dev wgprobe type wireguard 2>/dev/null; then
        skip "this kernel has WireGuard, so wg-quick would not use kiln-wg"
fi
[ -e /sys/module/wireguard ] && skip "the wireguard module is loaded, so wg-quick would not use kiln-wg"

genkey q
genkey g
start_wg g "$IG" go
configure g "$IG" "$TEST_TMP/g.key" 51821 "$(pub q)" 192.168.79.1:51820 10.79.0.2 10.79.0.1

conf="$TEST_TMP/$IQ.conf"
cat >"$conf" <<CONF
[Interface]
PrivateKey = $(cat "$TEST_TMP/q.key")
Address = 10.79.0.1/24
ListenPort = 51820

[Peer]
PublicKey = $(pub g)
AllowedIPs = 10.79.0.2/32
Endpoint = 192.168.79.2:51821
CONF
chmod 600 "$conf"
on_exit "rm -f /var/run/wireguard/$IQ.sock"

ns_exec q env WG_QUICK_USERSPACE_IMPLEMENTATION="$KILN_WG" wg-quick up "$conf" >"$TEST_TMP/wg-quick-up.log" 2>&1 ||
        fail "wg-quick up: $(cat "$TEST_TMP/wg-quick-up.log")"
ping_ok q 10.79.0.2 || fail "ping through the wg-quick interface"
ns_exec q wg show "$IQ" | grep -q 'latest handshake' || fail "wg show lists no handshake"
echo "ok - wg-quick up with kiln-wg, ping through it"

ns_exec q env WG_QUICK_USERSPACE_IMPLEMENTATION="$KILN_WG" wg-quick down "$conf" >"$TEST_TMP/wg-quick-down.log" 2>&1 ||
        fail "wg-quick down: $(cat "$TEST_TMP/wg-quick-down.log")"
wait_for 5 "! ns_exec q ip link show $IQ" || fail "$IQ still exists after wg-quick down"
wait_for 5 "! pgrep -f '^$KILN_WG $IQ\$'" || fail "kiln-wg still runs after wg-quick down"
echo "ok - wg-quick down removes the interface and stops kiln-wg"
