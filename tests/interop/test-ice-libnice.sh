#!/bin/bash
# Kiln's ICE agent against a libnice agent (a peer nobody here wrote), in two namespaces,
# once with Kiln controlling and once controlled.  Credentials are given to both up front as
# the portal does; candidates are trickled through files.  Success = both sides select a
# pair and application datagrams flow both ways over it.
. "$(dirname "$0")/../support/netns.sh"
require_root
probe=${KILN_ICE_PROBE:?}
[ -n "${KILN_NICE_PEER:-}" ] || skip "nice-peer not built (libnice-dev missing at configure time)"

ns_add kiln
ns_add nice
veth_link kiln 10.79.0.1/24 nice 10.79.0.2/24
ns_exec kiln ip -6 addr add fd79::1/64 dev veth-nice nodad
ns_exec nice ip -6 addr add fd79::2/64 dev veth-kiln nodad

run_round() {
        local kiln_role=$1 nice_role=$2 port=$3 kiln_ip=${4:-10.79.0.1} nice_ip=${5:-10.79.0.2}
        local kc=$TEST_TMP/kiln-$port.cands nc=$TEST_TMP/nice-$port.cands
        local klog=$TEST_TMP/kiln-$port.log nlog=$TEST_TMP/nice-$port.log
        local kpid npid

        : >"$kc"
        : >"$nc"
        bg_start nice "nice-$port" "$KILN_NICE_PEER" --role "$nice_role" --bind "$nice_ip" \
                --ufrag nice --pwd nicepassword-nicepassword --remote-ufrag kiln --remote-pwd kilnpassword-kilnpassword \
                --cand-out "$nc" --cand-in "$kc" --seconds 30
        npid=$BG_PID
        bg_start kiln "kiln-$port" "$probe" ice --role "$kiln_role" --bind "$kiln_ip:$port" \
                --ufrag kiln --pwd kilnpassword-kilnpassword --remote-ufrag nice --remote-pwd nicepassword-nicepassword \
                --cand-out "$kc" --cand-in "$nc" --seconds 30
        kpid=$BG_PID
        wait_for 15 "grep -q '^SELECTED' '$klog'" || fail "Kiln ($kiln_role) selected no pair with libnice"
        wait_for 10 "grep -q '^PONG' '$klog'" || fail "no pong from libnice over the selected pair"
        wait_for 10 "grep -q '^NICE-RECV ping' '$nlog'" || fail "libnice received no ping"
        wait_for 10 "grep -q '^NICE-STATE ready' '$nlog'" || fail "libnice never reached ready"
        grep -q '^ROLE-CHANGED' "$klog" && fail "unexpected role change"
        echo "Kiln $kiln_role: $(grep -m1 '^SELECTED' "$klog")"
        echo "libnice $nice_role: $(grep -m1 '^NICE-SELECTED' "$nlog")"
        kill "$kpid" "$npid" 2>/dev/null
        wait "$kpid" "$npid" 2>/dev/null
}

run_round controlling controlled 5001
run_round controlled controlling 5002
echo "# IPv6"
run_round controlling controlled 5003 "[fd79::1]" fd79::2
echo "PASS: Kiln ↔ libnice in both roles, IPv4 and IPv6"
