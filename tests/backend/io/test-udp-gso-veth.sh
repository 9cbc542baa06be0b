#!/bin/bash
# backend/io's UDP socket between two namespaces over veth: a GSO batch (UDP_SEGMENT) sent
# in one, received with UDP_GRO in the other, must arrive complete, in order, with the right
# sizes and ECN bits; the same without GRO (the kernel splits) and over IPv6.
source "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
probe="$KILN_BUILD_ROOT/tests/backend/io/udp-probe"
[ -x "$probe" ] || fail "udp-probe not built"

ns_add a
ns_add b
veth_link a 10.91.0.1/24 b 10.91.0.2/24
ns_exec a ip -6 addr add fd91::1/64 dev veth-b nodad
ns_exec b ip -6 addr add fd91::2/64 dev veth-a nodad
# A second source address on the sender: the source is chosen per datagram with IP_PKTINFO.
ns_exec a ip addr add 10.91.0.11/24 dev veth-b
ns_exec a ip -6 addr add fd91::11/64 dev veth-b nodad
SRC=""

# run_case NAME RECV_ADDR SEND_DST PORT SIZES ECN [recv flags]
run_case() {
        local name=$1 raddr=$2 dst=$3 port=$4 sizes=$5 ecn=$6
        shift 6
        local n
        n=$(tr ',' '\n' <<<"$sizes" | wc -l)
        bg_start b "recv-$name" "$probe" recv "$raddr" "$port" "$n" --timeout 10 "$@"
        local pid=$BG_PID
        wait_for 5 "grep -q '^gro' '$TEST_TMP/recv-$name.log'" || fail "$name: receiver did not start"
        ns_exec a "$probe" send "$dst" "$port" "$sizes" --ecn "$ecn" ${SRC:+--src "$SRC"} >"$TEST_TMP/send-$name.log" 2>&1 ||
                fail "$name: send failed: $(cat "$TEST_TMP/send-$name.log")"
        wait "$pid" || fail "$name: receiver: $(cat "$TEST_TMP/recv-$name.log")"
        # Every datagram, in order, with its size and the ECN bits it was sent with.
        local i=0 size seq len e train peer local max_train=0
        while IFS=' ' read -r seq len e train peer local; do
                [ "$local" = "$raddr" ] || fail "$name: IP_PKTINFO reports local address $local, not $raddr"
                [ -z "$SRC" ] || [ "$peer" = "$SRC" ] || fail "$name: arrived from $peer, not from the chosen source $SRC"
                RESULT_PEER=$peer
                size=$(cut -d, -f$((i + 1)) <<<"$sizes")
                [ "$seq" = "$i" ] || fail "$name: datagram $i arrived as $seq (out of order)"
                [ "$len" = "$size" ] || fail "$name: datagram $i has $len bytes, sent $size"
                [ "$e" = "$ecn" ] || fail "$name: datagram $i ECN $e, sent $ecn"
                [ "$train" -gt "$max_train" ] && max_train=$train
                i=$((i + 1))
        done < <(grep -E '^[0-9]+ ' "$TEST_TMP/recv-$name.log")
        [ "$i" = "$n" ] || fail "$name: received $i of $n"
        echo "$name: $n datagrams in order, sizes and ECN $ecn intact; largest GRO train $max_train;" \
                "sender: $(grep '^batch segments' "$TEST_TMP/send-$name.log" | tail -n1)"
        RESULT_TRAIN=$max_train
}

# The regression case: 3 × 1252 + 744 leaves as one batch, the short one last.
run_case v4-gro 10.91.0.2 10.91.0.2 5001 1252,1252,1252,744 2
grep -q '^batches 1$' "$TEST_TMP/send-v4-gro.log" || fail "v4-gro: not one GSO batch"
grep -q 'segments 4 size 1252 syscalls 1$' "$TEST_TMP/send-v4-gro.log" || fail "v4-gro: not one UDP_SEGMENT sendmsg"
[ "$RESULT_TRAIN" -gt 1 ] || fail "v4-gro: the receiver never saw a coalesced (GRO) receive"

run_case v4-ce 10.91.0.2 10.91.0.2 5002 1200,1200,1200,1200,1200,1200,1200,1200,300 3
run_case v4-nogro 10.91.0.2 10.91.0.2 5003 1252,1252,1252,744 1 --no-gro
[ "$RESULT_TRAIN" = 1 ] || fail "v4-nogro: a coalesced receive although GRO is off"
run_case v6-gro fd91::2 fd91::2 5004 1232,1232,1232,1232,1000 2
[ "$RESULT_TRAIN" -gt 1 ] || fail "v6-gro: no coalesced receive"
# Source address selection (IP_PKTINFO / IPV6_PKTINFO on send).
SRC=10.91.0.11 run_case v4-src 10.91.0.2 10.91.0.2 5005 1000,1000,400 0
[ "$RESULT_PEER" = 10.91.0.11 ] || fail "v4-src: source address not applied"
SRC=fd91::11 run_case v6-src fd91::2 fd91::2 5006 1000,1000,400 1
[ "$RESULT_PEER" = fd91::11 ] || fail "v6-src: source address not applied"
echo "PASS"
