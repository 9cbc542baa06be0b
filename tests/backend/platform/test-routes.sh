#!/bin/bash
# Routes and policy rules of backend/platform/routes.c in a namespace with a TUN "tun-kiln"
# device and a LAN; checked with ip(8), and with the source address a (marked) socket picks.
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd ip
helper="$KILN_BUILD_ROOT/tests/backend/platform/platform-helper"

ns_add c
ns_add lan
veth_link c 192.168.50.2/24 lan 192.168.50.1/24 veth-lan veth-c
ns_exec c ip route add default via 192.168.50.1
# A persistent TUN (no dummy module on every kernel); routes only need the device.
ns_exec c ip tuntap add dev tun-kiln mode tun
ns_exec c ip addr add 100.64.0.5/32 dev tun-kiln
ns_exec c ip -6 addr add fd00:2021:1111::5/128 dev tun-kiln nodad
ns_exec c ip link set tun-kiln up

t0=$(printf '%d' 0x2021fd00)
t1=$(printf '%d' 0x2021fd01)
t2=$(printf '%d' 0x2021fd02)
h() { ns_exec c "$helper" "$@" || fail "platform-helper $*"; }
dev_of() { ns_exec c ip -o route get "$@" | sed -n 's/.* dev \([^ ]*\).*/\1/p'; }

h routes tun-kiln rules-add
h routes tun-kiln rules-add # idempotent
for prio_table in "100 $t0" "200 $t1" "300 $t2"; do
        set -- $prio_table
        for fam in -4 -6; do
                rule=$(ns_exec c ip $fam rule show priority "$1")
                echo "$rule" | grep -q "not from all fwmark 0xfd002021 lookup $2" ||
                        fail "ip $fam rule $1: got '$rule'"
                [ "$(echo "$rule" | wc -l)" -eq 1 ] || fail "duplicate rule $1"
        done
done
echo "ok: rules at 100/200/300 for v4 and v6"

h routes tun-kiln set 10.20.0.0/16 fd20::/64 0.0.0.0/0
ns_exec c ip route show table "$t0" | grep -q '^10.20.0.0/16 dev tun-kiln proto static' || fail "no CIDR route"
ns_exec c ip -6 route show table "$t0" | grep -q '^fd20::/64 dev tun-kiln proto static' || fail "no v6 route"
ns_exec c ip route show table "$t2" | grep -q '^default dev tun-kiln proto static' || fail "no Internet route"
[ "$(dev_of 10.20.1.1)" = tun-kiln ] || fail "10.20.1.1 not through the tunnel"
[ "$(dev_of 8.8.8.8)" = tun-kiln ] || fail "Internet resource not through the tunnel"
[ "$(dev_of 8.8.8.8 mark 0xfd002021)" = veth-lan ] || fail "marked traffic loops into the tunnel"
echo "ok: resource, v6 and default routes; fwmark bypass"

# Kiln's own marked socket uses the LAN, an unmarked one the tunnel.
[ "$(ns_exec c "$helper" source --mark 8.8.8.8)" = 192.168.50.2 ] || fail "marked socket source"
[ "$(ns_exec c "$helper" source 8.8.8.8)" = 100.64.0.5 ] || fail "unmarked socket source"
echo "ok: SO_MARK sockets bypass the tunnel"

# Local-network bypass of the Internet resource.
[ "$(dev_of 192.168.50.7)" = tun-kiln ] || fail "LAN should be captured before the bypass"
h routes tun-kiln sync-link-scope
ns_exec c ip route show table "$t1" | grep -q '^192.168.50.0/24 dev veth-lan' || fail "no link-scope copy"
[ "$(dev_of 192.168.50.7)" = veth-lan ] || fail "LAN not bypassing the tunnel"
echo "ok: link-scope routes bypass the Internet resource"

# Diffing: one process applies two sets; the stale routes go.
h routes tun-kiln flush
h routes tun-kiln set 10.20.0.0/16 10.21.0.0/16 -- 10.21.0.0/16 10.30.0.0/16
routes=$(ns_exec c ip route show table "$t0" | cut -d' ' -f1 | sort | tr '\n' ' ')
[ "$routes" = "10.21.0.0/16 10.30.0.0/16 " ] || fail "diffed set: '$routes'"
[ -z "$(ns_exec c ip route show table "$t1")" ] || fail "flush left link-scope routes"
echo "ok: routes diffed against the previous set"

h routes tun-kiln flush
for t in "$t0" "$t1" "$t2"; do
        [ -z "$(ns_exec c ip route show table "$t")$(ns_exec c ip -6 route show table "$t")" ] || fail "table $t not flushed"
done
h routes tun-kiln rules-del
[ -z "$(ns_exec c ip rule show | grep fwmark)$(ns_exec c ip -6 rule show | grep fwmark)" ] || fail "rules left"
echo "ok: flush and rule removal leave nothing behind"
