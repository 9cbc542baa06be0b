#!/bin/bash
# Proves the namespace library cleans up after itself, also when the script fails.
. "$(dirname "$0")/netns.sh"
require_root

probe() {
        (
                . "$(dirname "$0")/netns.sh"
                ns_add a
                ns_add b
                veth_link a 10.250.0.1/30 b 10.250.0.2/30
                ns_exec a ping -c1 -W2 10.250.0.2 >/dev/null || exit 3
                echo "$NS_PREFIX" >"$1"
                bg_start a sleeper sleep 60
                echo "$BG_PID" >"$1.pid"
                [ "$2" = fail ] && exit 5
                exit 0
        )
}
probe "$TEST_TMP/ok-prefix" ok || fail "a clean run failed"
probe "$TEST_TMP/fail-prefix" fail 2>/dev/null
[ $? -eq 5 ] || fail "the failing run did not fail as asked"
for f in ok-prefix fail-prefix; do
        prefix=$(cat "$TEST_TMP/$f")
        if ip netns list | grep -q "^$prefix-"; then
                fail "namespaces of $prefix left behind"
        fi
        [ ! -e "/etc/netns/$prefix-a" ] || fail "/etc/netns/$prefix-a left behind"
done
for f in ok-prefix fail-prefix; do
        pid=$(cat "$TEST_TMP/$f.pid")
        # A zombie awaiting its reaper counts as gone.
        [ -d "/proc/$pid" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" && fail "background process $pid of the $f run survived"
done
echo "ok: namespaces, links and processes removed after success and failure"
