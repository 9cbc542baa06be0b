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
probe=${KILN_ICE_PROBE:?}
. "$(dirname "$0")/nat-lib.sh"
user=$turn_user
pass=$turn_pass

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
cut_direct_path
cut_at=$SECONDS
wait_for 30 "grep -q '^SELECTED.*relayed=1' '$log'" || fail "no failover to the relay after the cut"
echo "failover after ~$((SECONDS - cut_at)) s: $(grep '^SELECTED.*relayed=1' "$log" | tail -1)"
n=$(pongs cut)
wait_for 10 "[ \$(pongs cut) -gt $((n + 2)) ]" || fail "no data over the relay after the cut"
stop_pair

echo "time-to-connected (first check → nominated): direct ${direct_ttc} ms, relayed ${relayed_ttc} ms"
echo "PASS: direct behind EIM NATs, relayed behind symmetric NATs, failover after a cut"
