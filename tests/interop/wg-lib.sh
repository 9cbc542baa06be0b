# shellcheck shell=bash
# Helpers for the WireGuard interop scripts: start kiln-wg or wireguard-go in a namespace,
# configure it with wg(8), read wg(8)'s figures.  Source after tests/support/netns.sh.

KILN_WG=${KILN_BUILD_ROOT:?}/backend/kiln-wg/kiln-wg

# start_wg NS IFNAME IMPL (kiln|go): the daemon runs in the foreground, killed at exit.
start_wg() {
        local ns=$1 ifname=$2 impl=$3
        if [ "$impl" = kiln ]; then
                bg_start "$ns" "$impl-$ns-$ifname" "$KILN_WG" -f "$ifname"
        else
                bg_start "$ns" "$impl-$ns-$ifname" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
                        wireguard-go -f "$ifname"
        fi
        eval "PID_${ns}_${ifname//-/_}=$BG_PID"
        wait_for 10 "[ -S /var/run/wireguard/$ifname.sock ] && ns_exec $ns wg show $ifname" ||
                fail "$impl did not come up in $ns"
        on_exit "rm -f /var/run/wireguard/$ifname.sock"
}

# stop_wg NS IFNAME: SIGTERM, then check the process, socket and interface are gone.
stop_wg() {
        local ns=$1 ifname=$2 var="PID_${1}_${2//-/_}"
        local pid=${!var}
        kill "$pid" 2>/dev/null
        wait_for 5 "! kill -0 $pid" || fail "$ifname in $ns did not exit on SIGTERM"
        wait_for 5 "! ns_exec $ns ip link show $ifname" || fail "$ifname still exists in $ns after exit"
}

# configure NS IFNAME KEYFILE PORT PEER_PUB PEER_ENDPOINT INNER_ADDR PEER_INNER
configure() {
        local ns=$1 ifname=$2 key=$3 port=$4 peer=$5 endpoint=$6 inner=$7 peer_inner=$8
        ns_exec "$ns" wg set "$ifname" private-key "$key" listen-port "$port" \
                peer "$peer" allowed-ips "$peer_inner/32" endpoint "$endpoint" ||
                fail "wg set $ifname in $ns"
        ns_exec "$ns" ip addr add "$inner/24" dev "$ifname"
        ns_exec "$ns" ip link set "$ifname" up
}

genkey() {
        umask 077
        wg genkey >"$TEST_TMP/$1.key"
        wg pubkey <"$TEST_TMP/$1.key" >"$TEST_TMP/$1.pub"
}

pub() {
        cat "$TEST_TMP/$1.pub"
}

# ping_ok NS ADDR: a few tries, since the first packet waits for the handshake.
ping_ok() {
        ns_exec "$1" ping -c 3 -i 0.2 -W 2 -w 6 "$2" >/dev/null
}

# transfer NS IFNAME: "RX TX" for the first peer.
transfer() {
        ns_exec "$1" wg show "$2" transfer | awk '{ print $2, $3; exit }'
}

latest_handshake() {
        ns_exec "$1" wg show "$2" latest-handshakes | awk '{ print $2; exit }'
}

# close_enough A B: within 2 % + 4 KiB (a packet in flight, a keepalive).
close_enough() {
        python3 -c "import sys; a, b = int(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if abs(a - b) <= 0.02 * max(a, b) + 4096 else 1)" "$1" "$2"
}

# iperf NS_SERVER SERVER_ADDR NS_CLIENT LABEL ARGS…: prints the rate, fails on any error.
iperf() {
        local ns_s=$1 addr=$2 ns_c=$3 label=$4
        shift 4
        local json="$TEST_TMP/iperf-$label.json"
        bg_start "$ns_s" "iperf-server-$label" iperf3 -s -1 -B "$addr"
        wait_for 5 "ns_exec $ns_s ss -ltn | grep -q ':5201 '" || fail "iperf3 server did not start"
        ns_exec "$ns_c" iperf3 -c "$addr" -t 2 --json "$@" >"$json" || {
                cat "$json" >&2
                fail "iperf3 $label failed"
        }
        python3 - "$json" "$label" <<'PY' || fail "iperf3 $label reported an error"
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("error"):
    print(r["error"], file=sys.stderr)
    sys.exit(1)
end = r["end"]
if "sum_received" in end:
    bps = end["sum_received"]["bits_per_second"]
    extra = ""
else:
    s = end["sum"]
    bps = s["bits_per_second"]
    extra = ", lost %.2f %%" % s.get("lost_percent", 0)
if bps <= 0:
    sys.exit(1)
print("# iperf3 %s: %.0f Mbit/s%s" % (sys.argv[2], bps / 1e6, extra))
PY
}

# udp_in_order NS_SERVER SERVER_ADDR NS_CLIENT [GAP_MS]: 4 interleaved UDP flows, sent as USO
# super-packets (4 x 48 KB every GAP_MS, default 0.5), must arrive in per-flow order (the GSO
# path must never reorder).
udp_in_order() {
        local ns_s=$1 addr=$2 ns_c=$3 gap=${4:-0.5} order log
        order="$(dirname "${BASH_SOURCE[0]}")/udp-order.py"
        UDP_ORDER_RUNS=$((${UDP_ORDER_RUNS:-0} + 1))
        log="udp-order-recv-$UDP_ORDER_RUNS" # a fresh log: an old "ready" must not count
        bg_start "$ns_s" "$log" python3 "$order" recv "$addr" 5300 4 5000
        local pid=$BG_PID
        wait_for 5 "grep -q ready '$TEST_TMP/$log.log'" || fail "udp-order receiver did not start"
        ns_exec "$ns_c" python3 "$order" send "$addr" 5300 4 5000 "$gap" || fail "udp-order sender failed"
        wait "$pid"
        local rc=$?
        echo "# udp-order: $(tail -n 1 "$TEST_TMP/$log.log")"
        [ $rc -eq 0 ] || fail "UDP flows reordered or lost through the tunnel"
}
