#!/bin/bash
# The IO layer's UDP ceiling: backend/io's socket between two namespaces over veth, with
# UDP_SEGMENT + UDP_GRO on and off.  Prints datagrams/s and Gbit/s as received, the sender's
# syscall count, and the GSO/no-GSO ratio.  A benchmark: it prints, it never fails on a number.
#   tests/bench/udp-gso.sh [SECONDS] [DATAGRAM_SIZE]      (as root; default 5 s, 1280 bytes)
# Build first: meson setup _build/dev && meson compile -C _build/dev  (or set BUILD=dir).
top=$(cd "$(dirname "$0")/../.." && pwd)
source "$top/tests/support/netns.sh"
require_root
seconds=${1:-5}
size=${2:-1280}
probe="${BUILD:-$top/_build/dev}/tests/backend/io/udp-probe"
[ -x "$probe" ] || fail "$probe not built (meson compile -C _build/dev)"

ns_add tx
ns_add rx
veth_link tx 10.92.0.1/24 rx 10.92.0.2/24

# run LABEL PORT [--no-gso/--no-gro]
run() {
        local label=$1 port=$2 opt=${3:-}
        local rxopt="" txopt=""
        [ -n "$opt" ] && rxopt="--no-gro" && txopt="--no-gso"
        bg_start rx "sink-$label" "$probe" sink 10.92.0.2 "$port" "$seconds" $rxopt
        local pid=$BG_PID
        wait_for 5 "grep -q ready '$TEST_TMP/sink-$label.log'" || fail "sink did not start"
        ns_exec tx "$probe" flood 10.92.0.2 "$port" "$seconds" "$size" $txopt >"$TEST_TMP/flood-$label.log" ||
                fail "flood failed: $(cat "$TEST_TMP/flood-$label.log")"
        wait "$pid"
        local sink flood
        sink=$(grep '^sink' "$TEST_TMP/sink-$label.log")
        flood=$(grep '^flood' "$TEST_TMP/flood-$label.log")
        eval "$(awk '{for (i = 2; i < NF; i += 2) printf "%s_%s=%s\n", "'"$label"'", $i, $(i + 1)}' <<<"$sink")"
        eval "$(awk '{for (i = 2; i < NF; i += 2) printf "%s_tx_%s=%s\n", "'"$label"'", $i, $(i + 1)}' <<<"$flood")"
        printf '%-8s received %12.0f datagrams/s  %7.3f Gbit/s   (sent %s datagrams in %s send syscalls, %s dropped by the sender)\n' \
                "$label" "$(eval echo \$"${label}"_dgram_per_s)" "$(eval echo \$"${label}"_gbit_per_s)" \
                "$(eval echo \$"${label}"_tx_datagrams)" "$(eval echo \$"${label}"_tx_send_syscalls)" \
                "$(eval echo \$"${label}"_tx_dropped)"
}

echo "backend/io UDP over veth, ${size}-byte datagrams, ${seconds} s each, $(nproc) CPUs, kernel $(uname -r)"
run gso 6001
run nogso 6002 off
awk -v a="$gso_gbit_per_s" -v b="$nogso_gbit_per_s" 'BEGIN { if (b > 0) printf "ratio GSO/no-GSO: %.2fx\n", a / b }'
