#!/bin/bash
# The IO shell's ceiling with the TUN in the path: two io-forward processes (backend/io's event
# loop with a plain UDP↔TUN engine, no crypto) tunnel TCP between two namespaces over veth.
# Prints iperf3 Gbit/s, retransmits and the tunnel processes' CPU, offloads on vs off.
# A benchmark: it prints, it never fails on a number.
#   tests/bench/io-forward.sh [SECONDS]     (as root; default 5; BUILD=dir for another build)
top=$(cd "$(dirname "$0")/../.." && pwd)
source "$top/tests/support/netns.sh"
require_root
require_cmd iperf3
seconds=${1:-5}
fwd="${BUILD:-$top/_build/dev}/tests/backend/io/io-forward"
[ -x "$fwd" ] || fail "$fwd not built (meson compile -C _build/dev)"

ns_add a
ns_add b
veth_link a 10.95.0.1/24 b 10.95.0.2/24

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A result
for mode in offload plain; do
        opt=""
        [ "$mode" = plain ] && opt=--no-offload
        bg_start a "fwd-a-$mode" "$fwd" --tun kba --bind 10.95.0.1:7000 --peer 10.95.0.2:7000 $opt
        pa=$BG_PID
        bg_start b "fwd-b-$mode" "$fwd" --tun kbb --bind 10.95.0.2:7000 --peer 10.95.0.1:7000 $opt
        pb=$BG_PID
        wait_for 5 "ns_exec a ip link show kba && ns_exec b ip link show kbb" || fail "TUN devices missing"
        ns_exec a ip addr add 10.96.0.1/24 dev kba
        ns_exec b ip addr add 10.96.0.2/24 dev kbb
        ns_exec a ip link set kba up mtu 1420
        ns_exec b ip link set kbb up mtu 1420
        bg_start b "iperf-server-$mode" iperf3 -s -B 10.96.0.2
        ps=$BG_PID
        wait_for 5 "ns_exec b ss -ltn | grep -q 10.96.0.2:5201" || fail "iperf3 server did not start"
        for streams in 1 4; do
                for dir in up down; do
                        r=""
                        [ "$dir" = down ] && r=-R
                        c0=$(($(cpu_ticks $pa) + $(cpu_ticks $pb)))
                        ns_exec a iperf3 -c 10.96.0.2 -t "$seconds" -P "$streams" $r -J >"$TEST_TMP/i.json" ||
                                fail "iperf3 failed"
                        c1=$(($(cpu_ticks $pa) + $(cpu_ticks $pb)))
                        python3 - "$TEST_TMP/i.json" "$mode" "$streams" "$dir" "$((c1 - c0))" "$seconds" \
                                "$(getconf CLK_TCK)" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["end"]
mode, streams, d, ticks, secs, hz = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
print(f"{mode:8} TCP {streams} stream(s) {d:4}: {e['sum_received']['bits_per_second'] / 1e9:6.2f} Gbit/s, "
      f"{e['sum_sent'].get('retransmits', 0)} retransmits, tunnel CPU {100 * ticks / hz / secs:.0f}% (both processes)")
PY
                done
        done
        kill -TERM "$pa" "$pb" "$ps"
        wait "$pa" "$pb" "$ps"
        grep '^io-forward: stopped' "$TEST_TMP/fwd-a-$mode.log" | sed "s/^/  $mode a: /"
done
