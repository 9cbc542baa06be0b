# shellcheck shell=bash
# Shared by Kiln's root test scripts: network namespaces, veth links and processes that are
# cleaned up when the script exits, however it exits.  Source it, then:
#
#   require_root                       # exit 77 (meson: skipped) with a message unless root
#   require_cmd wg wireguard-go        # fail with a clear message when a tool is missing
#   ns_add client                      # namespace "$NS_PREFIX-client", lo up
#   veth_link client 10.9.0.1/24 gateway 10.9.0.2/24   # veth pair between two namespaces
#   ns_exec client ping -c1 10.9.0.2   # run inside a namespace
#   bg_start client NAME cmd…          # background process in a namespace, killed at exit,
#                                      # output in "$TEST_TMP/NAME.log"
#   on_exit 'command'                  # extra cleanup, run in reverse order
#   wait_for 5 'condition command'     # poll a condition up to N seconds
#
# Names are unique per run (the prefix carries the PID), so suites can run in parallel and a
# crashed run never collides with the next.  Interface names stay within IFNAMSIZ.

set -uo pipefail

NS_PREFIX="k$BASHPID"
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
_ns_list=()
_bg_pids=()
_exit_cmds=()

_cleanup() {
        local rc=$?
        local i
        for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do
                eval "${_exit_cmds[$i]}" >/dev/null 2>&1 || true
        done
        for pid in "${_bg_pids[@]}"; do
                kill "$pid" 2>/dev/null || true
        done
        # Reap them, so nothing outlives the script even briefly.
        for pid in "${_bg_pids[@]}"; do
                wait "$pid" 2>/dev/null || true
        done
        for ns in "${_ns_list[@]}"; do
                # Anything still running inside the namespace goes with it.
                for pid in $(ip netns pids "$ns" 2>/dev/null); do
                        kill -9 "$pid" 2>/dev/null || true
                done
                ip netns delete "$ns" 2>/dev/null || true
                rm -rf "/etc/netns/$ns"
        done
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -d "$TEST_TMP" ]; then
                echo "--- logs of the failed run ($TEST_TMP):" >&2
                for f in "$TEST_TMP"/*.log; do
                        [ -f "$f" ] || continue
                        echo "--- $f" >&2
                        tail -n 40 "$f" >&2
                done
        fi
        rm -rf "$TEST_TMP"
        exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

skip() {
        echo "SKIP: $*"
        exit 77
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

require_root() {
        [ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces; run the suite with sudo"
}

require_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || fail "$c not found (build-aux/install-deps installs it)"
        done
}

on_exit() {
        _exit_cmds+=("$1")
}

ns_name() {
        echo "$NS_PREFIX-$1"
}

ns_add() {
        local ns
        ns=$(ns_name "$1")
        ip netns add "$ns" || fail "ip netns add $ns"
        _ns_list+=("$ns")
        ip -n "$ns" link set lo up
        # Give each namespace its own resolv.conf (ip netns exec bind-mounts it) so that no
        # test ever touches the machine's.
        mkdir -p "/etc/netns/$ns"
        echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
}

ns_exec() {
        local ns
        ns=$(ns_name "$1")
        shift
        ip netns exec "$ns" "$@"
}

# veth_link NS_A ADDR_A NS_B ADDR_B [IFNAME_A IFNAME_B]
veth_link() {
        local a=$1 addr_a=$2 b=$3 addr_b=$4
        local if_a=${5:-veth-$b} if_b=${6:-veth-$a}
        if_a=${if_a:0:15}
        if_b=${if_b:0:15}
        ip link add "$if_a" netns "$(ns_name "$a")" type veth peer name "$if_b" netns "$(ns_name "$b")" ||
                fail "veth $a<->$b"
        ns_exec "$a" ip addr add "$addr_a" dev "$if_a"
        ns_exec "$b" ip addr add "$addr_b" dev "$if_b"
        ns_exec "$a" ip link set "$if_a" up
        ns_exec "$b" ip link set "$if_b" up
}

# bg_start NS NAME cmd…: the PID is left in $BG_PID
bg_start() {
        local ns=$1 name=$2
        shift 2
        ip netns exec "$(ns_name "$ns")" "$@" >"$TEST_TMP/$name.log" 2>&1 &
        BG_PID=$!
        _bg_pids+=("$BG_PID")
}

# wait_for SECONDS 'shell condition'
wait_for() {
        local deadline=$((SECONDS + $1))
        while ! eval "$2" >/dev/null 2>&1; do
                [ $SECONDS -lt "$deadline" ] || return 1
                sleep 0.1
        done
}
