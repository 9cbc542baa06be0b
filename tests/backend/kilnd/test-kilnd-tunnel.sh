#!/bin/bash
# kilnd --headless with its client engine, against kiln-test-portal, all inside one network
# namespace (with its own /etc/netns/NS/resolv.conf; the host's is never touched): after
# sign-in the fwmark rules and the routes of the CIDR resource and the tunnel/proxy/sentinel
# ranges are on tun-kiln; resolv.conf points at the sentinel 100.100.111.1; the stub answers a
# DNS resource with a proxy IP (100.96.0.0/11, TTL 1) and forwards other names to a dnsmasq in
# the namespace; a ping to the CIDR resource makes kilnd send request_authorization, and with no
# gateway online the portal's "offline" failure comes out as resource-unreachable … offline;
# a new default route resets the engine and reconnects to the portal with a new key; SIGTERM
# removes rules, routes and tun-kiln and restores resolv.conf byte for byte; after SIGKILL the
# next start restores resolv.conf from the crash state.  No token in any log.
# Usage: test-kilnd-tunnel.sh BUILD_ROOT
. "$(dirname "$0")/../../support/netns.sh"
require_root
require_cmd jq dig dnsmasq ping

build=${1:-${KILN_BUILD_ROOT:-.}}
kilnd=$build/backend/kilnd/kilnd
portal=$build/tests/portal/kiln-test-portal
n=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

secret=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
lan_id=22222222-2222-4222-8222-222222222222
write_config() { # $1: the account's upstream_do53 list (JSON array)
        cat >"$TEST_TMP/portal.json" <<JSON
{"secret":"$secret","accounts":[{"slug":"acme","name":"Acme Inc","upstream_do53":$1,
 "users":[{"email":"alice@acme.test","password":"a","name":"Alice"}],
 "sites":[{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","name":"one"}],
 "resources":[
  {"id":"$lan_id","type":"cidr","name":"lan","address":"10.9.0.0/16","sites":["one"]},
  {"id":"11111111-1111-4111-8111-111111111111","type":"dns","name":"web","address":"web.acme.test","sites":["one"]}],
 "policies":[{"users":["*"],"resources":["lan","web"]}]}]}
JSON
}
write_config '[]'

echo "1..10"
ns_add host
ns=$(ns_name host)
resolv=/etc/netns/$ns/resolv.conf
printf '# the namespace'"'"'s own resolv.conf\nnameserver 127.0.0.1\noptions edns0 timeout:2\n' >"$resolv"
cp "$resolv" "$TEST_TMP/resolv.orig"

# The "system" resolver: a name only it knows.
bg_start host dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
        --port=53 --address=/upstream.kiln.test/192.0.2.77 --pid-file="$TEST_TMP/dnsmasq.pid" --user=root
bg_start host portal "$portal" --config "$TEST_TMP/portal.json" --port 0
portal_pid=$BG_PID
wait_for 10 "grep -q '^listening on ' '$TEST_TMP/portal.log'" || fail "the portal did not start"
url=$(sed -n 's/^listening on http:/ws:/p' "$TEST_TMP/portal.log")
"$portal" --config "$TEST_TMP/portal.json" --issue-token alice@acme.test --account acme >"$TEST_TMP/token" 2>/dev/null ||
        fail "cannot issue a token"
chmod 600 "$TEST_TMP/token"
token=$(cat "$TEST_TMP/token")
wait_for 5 "ns_exec host dig +time=1 +tries=1 @127.0.0.1 upstream.kiln.test +short | grep -q 192.0.2.77" ||
        fail "dnsmasq does not answer"

start_kilnd() { # $1: log name
        bg_start host "$1" "$kilnd" --headless --dns-control resolv-conf --log-dir "$TEST_TMP/logs" \
                --state-dir "$TEST_TMP/state" --api-url "$url" --token-file "$TEST_TMP/token"
        kilnd_pid=$BG_PID
}

t0=$(date +%s%N)
start_kilnd kilnd
wait_for 15 "grep -q '^state connected' '$TEST_TMP/kilnd.log'" || fail "kilnd did not reach connected"
echo "# --headless start -> connected (routes, rules, DNS in place) in $(ms_since "$t0") ms (process start included)"
setup=$(grep -h '"message":"tunnel ready: routes and DNS in place"' "$TEST_TMP"/logs/kilnd.log | head -1 | jq -r .fields.setup_ms)
echo "# init -> TUN + routes + DNS ready inside kilnd: $setup ms"
ok "signed in, connected"

routes=$(ns_exec host ip -j route show table all dev tun-kiln | jq -r '.[] | select(.table != "local") | "\(.dst) \(.table)"' | sort)
for want in "10.9.0.0/16" "100.64.0.0/11" "100.96.0.0/11" "100.100.111.0/24" "fd00:2021:1111::/107" \
        "fd00:2021:1111:8000::/107" "fd00:2021:1111:8000:100:100:111:0/120"; do
        grep -q "^$want 539098368$" <<<"$routes" || fail "no route $want in table 0x2021fd00 on tun-kiln: [$routes]"
done
! grep -q "^default" <<<"$routes" || fail "a default route without the Internet resource"
for fam in -4 -6; do
        rules=$(ns_exec host ip -j $fam rule show | jq -r '.[] | select(.fwmark == "0xfd002021") | "\(.priority) \(has("not")) \(.table)"' | sort)
        want=$(printf '%s\n' "100 true 539098368" "200 true 539098369" "300 true 539098370")
        [ "$rules" = "$want" ] || fail "ip $fam rules: [$rules], wanted [$want]"
done
ok "routes for the CIDR resource and the tunnel/proxy/sentinel ranges on tun-kiln; not fwmark 0xfd002021 rules 100/200/300 (v4+v6)"

ns_exec host head -1 /etc/resolv.conf | grep -qx '# BEGIN Kiln DNS configuration' || fail "resolv.conf not ours"
ns_exec host grep -qx 'nameserver 100.100.111.1' /etc/resolv.conf || fail "resolv.conf lacks the sentinel"
! grep -q "100.100.111" "$TEST_TMP/state/resolv.conf.before-kiln" || fail "the backup is not the original"
cmp -s "$TEST_TMP/state/resolv.conf.before-kiln" "$TEST_TMP/resolv.orig" || fail "the backup differs from the original"
ok "the namespace's resolv.conf points at 100.100.111.1, the original is backed up in the state dir"

answer=$(ns_exec host dig +time=2 +tries=2 @100.100.111.1 web.acme.test A +noall +answer)
read -r _ ttl _ type ip <<<"$(head -1 <<<"$answer")"
[ "$type" = A ] && [ "$ttl" = 1 ] || fail "web.acme.test: [$answer]"
python3 -c "import ipaddress,sys; sys.exit(ipaddress.ip_address('$ip') not in ipaddress.ip_network('100.96.0.0/11'))" ||
        fail "web.acme.test -> $ip, not a proxy IP"
[ "$(grep -cP '\sA\s' <<<"$answer")" = 4 ] || fail "wanted 4 proxy IPv4s: [$answer]"
# Through the system resolver path too: the namespace's resolv.conf now names the sentinel.
ns_exec host dig +time=2 +tries=2 web.acme.test A +short | grep -qx "$ip" || fail "resolv.conf path disagrees"
ok "dig @100.100.111.1 web.acme.test: 4 proxy IPs in 100.96.0.0/11 ($ip …), TTL 1"

up=$(ns_exec host dig +time=3 +tries=2 @100.100.111.1 upstream.kiln.test A +short)
[ "$up" = 192.0.2.77 ] || fail "upstream.kiln.test via the stub: [$up]"
ok "a non-resource name is forwarded to the upstream dnsmasq (192.0.2.77)"

ns_exec host ping -c1 -W1 10.9.0.1 >/dev/null 2>&1
wait_for 10 "grep -q 'request_authorization for $lan_id' '$TEST_TMP/portal.log'" ||
        fail "the portal never saw request_authorization"
wait_for 10 "grep -q '^unreachable $lan_id offline ' '$TEST_TMP/kilnd.log'" || fail "no resource-unreachable offline"
ok "ping 10.9.0.1 -> request_authorization at the portal -> resource-unreachable $lan_id offline"

# The portal's upstream_do53 wins over the system's resolvers (config_changed on reload).
bg_start host dnsmasq2 dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=127.0.0.2 --bind-interfaces \
        --port=53 --address=/upstream.kiln.test/192.0.2.88 --pid-file="$TEST_TMP/dnsmasq2.pid" --user=root
write_config '["127.0.0.2"]'
kill -HUP "$portal_pid"
wait_for 10 "ns_exec host dig +time=1 +tries=1 @100.100.111.1 upstream.kiln.test A +short | grep -qx 192.0.2.88" ||
        fail "the portal's upstream_do53 is not used"
ok "after config_changed with upstream_do53 [127.0.0.2] the stub forwards there (192.0.2.88)"

connects() { grep -c "client .* connected: " "$TEST_TMP/portal.log"; }
before=$(connects)
# A new uplink with a default route (a veth pair inside the namespace: no dummy module needed).
ns_exec host ip link add kiln-up0 type veth peer name kiln-up1
ns_exec host ip addr add 192.0.2.1/24 dev kiln-up0
ns_exec host ip link set kiln-up1 up
ns_exec host ip link set kiln-up0 up
ns_exec host ip route add default via 192.0.2.254 dev kiln-up0 || fail "cannot add a default route"
wait_for 10 "grep -q 'network changed (default route)' '$TEST_TMP'/logs/kilnd.log" || fail "no network change seen"
wait_for 10 '[ "$(connects)" -gt "$before" ]' || fail "kilnd did not reconnect to the portal after the change"
old_key=$(grep -h '"message":"connecting to the portal"' "$TEST_TMP"/logs/kilnd.log | tail -1 | jq -r .fields.public_key)
new_key=$(grep -h '"message":"reconnecting to the portal with the new WireGuard key"' "$TEST_TMP"/logs/kilnd.log | tail -1 | jq -r .fields.public_key)
[ -n "$new_key" ] && [ "$new_key" != null ] && [ "$new_key" != "$old_key" ] || fail "key not rotated: [$old_key] -> [$new_key]"
ns_exec host ip link show tun-kiln >/dev/null 2>&1 || fail "tun-kiln went away on a network change"
wait_for 10 "ns_exec host dig +time=1 +tries=1 @100.100.111.1 web.acme.test A +short | grep -q '^100\\.96\\.'" ||
        fail "the stub no longer answers after the reset"
ok "a new default route resets the engine: new WireGuard key, portal reconnect, tunnel and stub still up"

kill -TERM "$kilnd_pid"
t0=$(date +%s%N)
wait "$kilnd_pid"
rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: exit $rc"
echo "# SIGTERM -> exit in $(ms_since "$t0") ms"
! ns_exec host ip link show tun-kiln >/dev/null 2>&1 || fail "tun-kiln left behind"
[ -z "$(ns_exec host ip -j rule show | jq -r '.[] | select(.fwmark == "0xfd002021") | .priority')" ] || fail "v4 rules left"
[ -z "$(ns_exec host ip -j -6 rule show | jq -r '.[] | select(.fwmark == "0xfd002021") | .priority')" ] || fail "v6 rules left"
[ -z "$(ns_exec host ip route show table 0x2021fd00)" ] || fail "routes left in 0x2021fd00"
cmp "$resolv" "$TEST_TMP/resolv.orig" || fail "resolv.conf not restored byte for byte"
[ ! -e "$TEST_TMP/state/resolvconf-active" ] || fail "crash state left behind"
ok "SIGTERM: exit 0, rules, routes and tun-kiln gone, resolv.conf restored byte for byte"

start_kilnd kilnd2
wait_for 15 "grep -q '^state connected' '$TEST_TMP/kilnd2.log'" || fail "second kilnd did not connect"
ns_exec host grep -qx 'nameserver 100.100.111.1' /etc/resolv.conf || fail "second run: resolv.conf not ours"
kill -KILL "$kilnd_pid"
wait "$kilnd_pid" 2>/dev/null
head -1 "$resolv" | grep -qx '# BEGIN Kiln DNS configuration' || fail "SIGKILL: our resolv.conf should still be there"
[ -e "$TEST_TMP/state/resolvconf-active" ] || fail "SIGKILL: no crash state"
ns_exec host "$kilnd" --headless --dns-control resolv-conf --log-dir "$TEST_TMP/logs" --state-dir "$TEST_TMP/state" \
        --api-url "$url" --token-file /nonexistent >"$TEST_TMP/kilnd3.log" 2>&1
cmp "$resolv" "$TEST_TMP/resolv.orig" || fail "the next start did not restore resolv.conf"
grep -q 'restored /etc/resolv.conf left behind by a previous run' "$TEST_TMP"/logs/kilnd.log || fail "no log of the restore"
[ ! -e "$TEST_TMP/state/resolvconf-active" ] || fail "crash state left behind after recovery"
# SIGKILL leaves the rules (the device and its routes died with the process); the next
# session's start re-uses them.  Clean them here so the namespace ends as it began.
for fam in -4 -6; do
        for p in 100 200 300; do ns_exec host ip $fam rule del priority $p 2>/dev/null; done
done
! grep -rqF -- "$token" "$TEST_TMP"/logs "$TEST_TMP"/*.log || fail "the token reached a log"
ok "after SIGKILL the next kilnd start restores resolv.conf from the crash state; no token in any log"
