#!/bin/bash
# Two Kiln Nodes (tunnel/node.h: WireGuard + ICE + TURN on one UDP socket; client role
# controlling, gateway role controlled and WireGuard responder) behind iptables NATs with
# coturn between them (topology in nat-lib.sh).  WireGuard data (84-byte IP packets every
# 200 ms, echoed by the gateway) goes through the Node API both ways.
# 1. endpoint-independent NATs → direct path;
# 2. both symmetric (--random-fully) → relayed through coturn;
# 3. direct path cut mid-session → fails over to the relay, WireGuard data continues.
# Prints time-to-connected: first ICE check → WireGuard session, and → first echoed packet.
. "$(dirname "$0")/../support/netns.sh"
require_root
probe=${KILN_NODE_PROBE:?}
. "$(dirname "$0")/nat-lib.sh"

psk=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

start_pair() {
        local name=$1 port=$2
        : >"$TEST_TMP/$name-c.cands"
        : >"$TEST_TMP/$name-g.cands"
        rm -f "$TEST_TMP/$name-c.key" "$TEST_TMP/$name-g.key"
        bg_start gateway "$name-gateway" "$probe" --role controlled --bind "10.2.0.2:$port" \
                --server 100.64.1.1:3478 --user "$turn_user" --pass "$turn_pass" --psk "$psk" \
                --ufrag gwuf --pwd gateway-password-22chars --remote-ufrag cluf --remote-pwd client-password-22chars \
                --key-out "$TEST_TMP/$name-g.key" --key-in "$TEST_TMP/$name-c.key" \
                --cand-out "$TEST_TMP/$name-g.cands" --cand-in "$TEST_TMP/$name-c.cands" --seconds 60
        gw_pid=$BG_PID
        bg_start client "$name-client" "$probe" --role controlling --bind "10.1.0.2:$port" \
                --server 100.64.1.1:3478 --user "$turn_user" --pass "$turn_pass" --psk "$psk" \
                --ufrag cluf --pwd client-password-22chars --remote-ufrag gwuf --remote-pwd gateway-password-22chars \
                --key-out "$TEST_TMP/$name-c.key" --key-in "$TEST_TMP/$name-g.key" \
                --cand-out "$TEST_TMP/$name-c.cands" --cand-in "$TEST_TMP/$name-g.cands" --seconds 60
        cl_pid=$BG_PID
}

stop_pair() {
        kill "$cl_pid" "$gw_pid" 2>/dev/null
        wait "$cl_pid" "$gw_pid" 2>/dev/null
}

data() { grep -c '^DATA' "$TEST_TMP/$1-client.log"; }

echo "# 1. endpoint-independent NATs → direct"
set_nat ""
start_pair eim 41001
log=$TEST_TMP/eim-client.log
wait_for 20 "grep -q '^ESTABLISHED' '$log'" || fail "no WireGuard session behind endpoint-independent NATs"
wait_for 10 "[ \$(data eim) -ge 3 ]" || fail "no WireGuard data over the direct path"
est=$(grep -m1 '^ESTABLISHED' "$log")
echo "client: $est"
case "$est" in *relayed=0*) ;; *) fail "expected a direct path behind endpoint-independent NATs" ;; esac
direct_ttc=$(echo "$est" | sed 's/.*ttc_ms=//')
direct_data=$(grep -m1 '^FIRST-DATA' "$log" | sed 's/.*ms=//')
stop_pair

echo "# 2. symmetric NATs (--random-fully) → relayed"
set_nat "--random-fully"
start_pair sym 41002
log=$TEST_TMP/sym-client.log
wait_for 30 "grep -q '^ESTABLISHED' '$log'" || fail "no WireGuard session behind symmetric NATs"
wait_for 10 "[ \$(data sym) -ge 3 ]" || fail "no WireGuard data over the relay"
est=$(grep -m1 '^ESTABLISHED' "$log")
echo "client: $est"
case "$est" in *relayed=1*) ;; *) fail "expected a relayed path behind two symmetric NATs" ;; esac
grep -q '^PATH relayed=0' "$log" && fail "a direct pair worked through two symmetric NATs?"
relayed_ttc=$(echo "$est" | sed 's/.*ttc_ms=//')
relayed_data=$(grep -m1 '^FIRST-DATA' "$log" | sed 's/.*ms=//')
stop_pair

echo "# 3. direct path cut mid-session → relay, WireGuard data continues"
set_nat ""
start_pair cut 41003
log=$TEST_TMP/cut-client.log
wait_for 20 "grep -q '^ESTABLISHED relayed=0' '$log'" || fail "no direct WireGuard session before the cut"
wait_for 10 "[ \$(data cut) -ge 3 ]" || fail "no data before the cut"
cut_direct_path
cut_at=$SECONDS
wait_for 30 "grep -q '^PATH relayed=1' '$log'" || fail "no failover to the relay after the cut"
echo "failover after ~$((SECONDS - cut_at)) s: $(grep '^PATH relayed=1' "$log" | tail -1)"
n=$(data cut)
wait_for 10 "[ \$(data cut) -gt $((n + 3)) ]" || fail "no WireGuard data over the relay after the cut"
stop_pair

echo "time-to-connected, first ICE check → WireGuard session: direct ${direct_ttc} ms, relayed ${relayed_ttc} ms"
echo "first ICE check → first WireGuard data packet echoed back: direct ${direct_data} ms, relayed ${relayed_data} ms"
echo "PASS: direct behind EIM NATs, relayed behind symmetric NATs, failover after a cut, WireGuard data in each"
