#!/bin/bash
# The whole IO shell with its threads: two io-forward processes (the UDP↔TUN test engine on
# backend/io's event loop) in two namespaces make a plain tunnel over veth.  Pings and a TCP
# transfer (TSO super-packets split on read, GSO over UDP, GRO, coalesced TUN writes) must
# cross it intact in both directions, with offloads and without.
source "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd iperf3
fwd="$KILN_BUILD_ROOT/tests/backend/io/io-forward"
[ -x "$fwd" ] || fail "io-forward not built"

ns_add a
ns_add b
veth_link a 10.93.0.1/24 b 10.93.0.2/24

start_pair() {
        local mode=$1 opt=${2:-}
        bg_start a "fwd-a-$mode" "$fwd" --tun kfa --bind 10.93.0.1:7000 --peer 10.93.0.2:7000 $opt
        PID_A=$BG_PID
        bg_start b "fwd-b-$mode" "$fwd" --tun kfb --bind 10.93.0.2:7000 --peer 10.93.0.1:7000 $opt
        PID_B=$BG_PID
        wait_for 5 "ns_exec a ip link show kfa && ns_exec b ip link show kfb" || fail "$mode: TUN devices missing"
        ns_exec a ip addr add 10.94.0.1/24 dev kfa
        ns_exec b ip addr add 10.94.0.2/24 dev kfb
        ns_exec a ip link set kfa up mtu 1400
        ns_exec b ip link set kfb up mtu 1400
}

stop_pair() {
        local mode=$1
        kill -TERM "$PID_A" "$PID_B"
        wait "$PID_A" || fail "$mode: io-forward a exited with an error: $(cat "$TEST_TMP/fwd-a-$mode.log")"
        wait "$PID_B" || fail "$mode: io-forward b exited with an error"
        grep '^io-forward' "$TEST_TMP/fwd-a-$mode.log"
        grep -q 'send drops 0, engine errors 0' "$TEST_TMP/fwd-a-$mode.log" || fail "$mode: a dropped packets"
        grep -q 'send drops 0, engine errors 0' "$TEST_TMP/fwd-b-$mode.log" || fail "$mode: b dropped packets"
}

for mode in offload plain; do
        opt=""
        [ "$mode" = plain ] && opt=--no-offload
        start_pair "$mode" "$opt"
        ns_exec a ping -c 3 -i 0.2 -W 2 10.94.0.2 >"$TEST_TMP/ping-$mode.log" || fail "$mode: no ping through the tunnel"
        bg_start b "iperf-$mode" iperf3 -s -1 -B 10.94.0.2
        wait_for 5 "ns_exec b ss -ltn | grep -q 10.94.0.2:5201" || fail "iperf3 server did not start"
        ns_exec a timeout 60 iperf3 -c 10.94.0.2 -n 40M -J >"$TEST_TMP/iperf-up-$mode.json" ||
                fail "$mode: TCP upload through the tunnel failed"
        bg_start b "iperf-r-$mode" iperf3 -s -1 -B 10.94.0.2
        wait_for 5 "ns_exec b ss -ltn | grep -q 10.94.0.2:5201" || fail "iperf3 server did not start"
        ns_exec a timeout 60 iperf3 -c 10.94.0.2 -n 40M -R -J >"$TEST_TMP/iperf-down-$mode.json" ||
                fail "$mode: TCP download through the tunnel failed"
        for dir in up down; do
                python3 - "$TEST_TMP/iperf-$dir-$mode.json" "$mode $dir" <<'PY' || fail "$mode: bad iperf3 result"
import json, sys
r = json.load(open(sys.argv[1]))["end"]
# The sender's total counts only bytes TCP delivered and acknowledged end to end; the
# receiver's summary may stop a moment early (an iperf3 quirk), so it only has to be non-zero.
sent = r["sum_sent"]["bytes"]
assert sent >= 40 * 1024 * 1024, f"only {sent} bytes"
assert r["sum_received"]["bytes"] > 0
print(f"{sys.argv[2]}: {sent} bytes, {r['sum_sent']['bits_per_second'] / 1e9:.2f} Gbit/s, "
      f"{r['sum_sent'].get('retransmits', 0)} retransmits")
PY
        done
        stop_pair "$mode"
done
echo PASS
