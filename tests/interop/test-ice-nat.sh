#!/bin/bash
# Two Kiln ICE endpoints (client: controlling, gateway: controlled) behind iptables NATs,
# with coturn on the "Internet" between them:
#   client 10.1.0.2 ─ natA 10.1.0.1|100.64.1.2 ─ 100.64.1.1 wan (router + coturn) 100.64.2.1 ─
#   100.64.2.2|10.2.0.1 natB ─ 10.2.0.2 gateway
# 1. MASQUERADE (endpoint-independent mapping) on both → a direct path (host/srflx/prflx).
# 2. MASQUERADE --random-fully (symmetric) on both → relayed through coturn.
# 3. Direct path, then iptables DROP between the NATs mid-session → fails over to the relay.
# Prints time-to-connected (first check → nominated pair) for each.
. "$(dirname "$0")/../support/netns.sh"
require_root
require_cmd turnserver python3 iptables
probe=${KILN_ICE_PROBE:?}

for n in client natA wan natB gateway; do ns_add $n; done
veth_link client 10.1.0.2/24 natA 10.1.0.1/24 c-lan a-lan
veth_link natA 100.64.1.2/24 wan 100.64.1.1/24 a-wan w-a
veth_link natB 100.64.2.2/24 wan 100.64.2.1/24 b-wan w-b
veth_link gateway 10.2.0.2/24 natB 10.2.0.1/24 g-lan b-lan
ns_exec client ip route add default via 10.1.0.1
ns_exec gateway ip route add default via 10.2.0.1
ns_exec natA ip route add default via 100.64.1.1
ns_exec natB ip route add default via 100.64.2.1
for n in natA natB wan; do ns_exec $n sysctl -qw net.ipv4.ip_forward=1; done

set_nat() {
        local flags=$1
        local n
        for n in natA:a-wan natB:b-wan; do
                ns_exec "${n%%:*}" iptables -t nat -F POSTROUTING
                ns_exec "${n%%:*}" iptables -t nat -A POSTROUTING -o "${n##*:}" -j MASQUERADE $flags ||
                        fail "iptables MASQUERADE $flags"
                # Like any home router, drop unsolicited inbound datagrams: without this the
                # NAT keeps a conntrack entry for them, and the inside host's own later flow to
                # the same peer clashes with it and gets another port (no longer EIM).
                ns_exec "${n%%:*}" iptables -F INPUT
                ns_exec "${n%%:*}" iptables -A INPUT -i "${n##*:}" -m conntrack --ctstate NEW -j DROP
        done
}

secret=kiln-nat-secret-$RANDOM
cat >"$TEST_TMP/turnserver.conf" <<CONF
listening-ip=100.64.1.1
listening-port=3478
relay-ip=100.64.1.1
min-port=49152
max-port=49352
use-auth-secret
static-auth-secret=$secret
realm=firezone
no-tls
no-dtls
no-cli
no-tcp-relay
userdb=$TEST_TMP/turndb
pidfile=$TEST_TMP/turnserver.pid
simple-log
log-file=stdout
CONF
bg_start wan coturn turnserver -c "$TEST_TMP/turnserver.conf"
wait_for 10 "ns_exec wan ss -uln | grep -q '100.64.1.1:3478'" || fail "coturn did not start"
user="$(($(date +%s) + 3600)):kiln-nat-salt"
pass=$(python3 -c 'import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha1).digest()).decode())' "$secret" "$user")

start_pair() {
        local name=$1 port=$2
        : >"$TEST_TMP/$name-c.cands"
        : >"$TEST_TMP/$name-g.cands"
        bg_start gateway "$name-gateway" "$probe" ice --role controlled --bind "10.2.0.2:$port" \
                --server 100.64.1.1:3478 --user "$user" --pass "$pass" \
                --ufrag gwuf --pwd gateway-password-22chars --remote-ufrag cluf --remote-pwd client-password-22chars \
                --cand-out "$TEST_TMP/$name-g.cands" --cand-in "$TEST_TMP/$name-c.cands" --seconds 90
        gw_pid=$BG_PID
        bg_start client "$name-client" "$probe" ice --role controlling --bind "10.1.0.2:$port" \
                --server 100.64.1.1:3478 --user "$user" --pass "$pass" \
                --ufrag cluf --pwd client-password-22chars --remote-ufrag gwuf --remote-pwd gateway-password-22chars \
                --cand-out "$TEST_TMP/$name-c.cands" --cand-in "$TEST_TMP/$name-g.cands" --seconds 90
        cl_pid=$BG_PID
}

stop_pair() {
        kill "$cl_pid" "$gw_pid" 2>/dev/null
        wait "$cl_pid" "$gw_pid" 2>/dev/null
}

pongs() { grep -c '^PONG' "$TEST_TMP/$1-client.log"; }

echo "# 1. endpoint-independent NATs → direct"
set_nat ""
start_pair eim 40001
log=$TEST_TMP/eim-client.log
wait_for 20 "grep -q '^SELECTED' '$log'" || fail "no pair selected behind endpoint-independent NATs"
wait_for 10 "grep -q '^PONG' '$log'" || fail "no data over the selected pair"
grep '^SRFLX' "$log" | head -1
sel=$(grep '^SELECTED' "$log" | tail -1)
echo "client: $sel"
case "$sel" in *relayed=0*) ;; *) fail "expected a direct path behind endpoint-independent NATs" ;; esac
direct_ttc=$(grep -m1 '^SELECTED' "$log" | sed 's/.*time_to_connected_ms=//')
stop_pair

echo "# 2. symmetric NATs (--random-fully) → relayed"
set_nat "--random-fully"
start_pair sym 40002
log=$TEST_TMP/sym-client.log
wait_for 30 "grep -q '^SELECTED.*relayed=1' '$log'" || fail "no relayed pair behind symmetric NATs"
n=$(pongs sym)
wait_for 10 "[ \$(pongs sym) -gt $((n + 2)) ]" || fail "no data over the relayed pair"
grep -q '^SELECTED.*relayed=0' "$log" && fail "a direct pair worked through two symmetric NATs?"
echo "client: $(grep '^SELECTED' "$log" | tail -1)"
relayed_ttc=$(grep -m1 '^SELECTED' "$log" | sed 's/.*time_to_connected_ms=//')
stop_pair

echo "# 3. direct path cut mid-session → relay"
set_nat ""
start_pair cut 40003
log=$TEST_TMP/cut-client.log
wait_for 20 "grep -q '^SELECTED.*relayed=0' '$log'" || fail "no direct pair before the cut"
wait_for 10 "grep -q '^PONG' '$log'" || fail "no data before the cut"
ns_exec wan iptables -A FORWARD -s 100.64.1.2 -d 100.64.2.2 -j DROP
ns_exec wan iptables -A FORWARD -s 100.64.2.2 -d 100.64.1.2 -j DROP
cut_at=$SECONDS
wait_for 30 "grep -q '^SELECTED.*relayed=1' '$log'" || fail "no failover to the relay after the cut"
echo "failover after ~$((SECONDS - cut_at)) s: $(grep '^SELECTED.*relayed=1' "$log" | tail -1)"
n=$(pongs cut)
wait_for 10 "[ \$(pongs cut) -gt $((n + 2)) ]" || fail "no data over the relay after the cut"
stop_pair

echo "time-to-connected (first check → nominated): direct ${direct_ttc} ms, relayed ${relayed_ttc} ms"
echo "PASS: direct behind EIM NATs, relayed behind symmetric NATs, failover after a cut"
