#!/bin/bash
# kilnd --headless under valgrind memcheck on the e2e topology (tests/e2e/e2e-lib.sh): sign-in,
# traffic to a CIDR and a DNS resource, a resource removed + SIGHUP, SIGTERM; prints valgrind's
# error and leak summaries.  A script, not a CI test (valgrind makes kilnd ~20x slower); root.
#   kilnd-memcheck.sh [BUILD_ROOT]          (default _build/dev; a build without ASan)
build=${1:-_build/dev}
. "$(dirname "$0")/../e2e/e2e-lib.sh"
require_cmd valgrind

bg_start client kilnd valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --log-file="$TEST_TMP/valgrind.log" \
        "$kilnd" --headless --api-url "$url" --token-file "$TEST_TMP/token" \
        --log-dir "$TEST_TMP/kilnd-logs" --state-dir "$TEST_TMP/kilnd-state" --log-level debug
kilnd_pid=$BG_PID
wait_for 90 "grep -q '^state connected' '$TEST_TMP/kilnd.log'" || fail "kilnd under valgrind did not connect"
out=$(fetch http://10.3.0.80:8080/ 60) && grep -q hello "$TEST_TMP/body" || fail "CIDR resource: $out"
out=$(fetch http://app.corp.test:8080/ 60) && grep -q hello "$TEST_TMP/body" || fail "DNS resource: $out"
write_config noapp
kill -HUP "$portal_pid"
wait_for 30 "tail -n 3 '$TEST_TMP/kilnd.log' | grep -q '^resources 1$'" || fail "kilnd still lists the removed resource"
kill -TERM "$kilnd_pid"
wait "$kilnd_pid"
rc=$?
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|in use at exit' "$TEST_TMP/valgrind.log" |
        sed 's/^==[0-9]*== */# /'
[ $rc -eq 0 ] || { sed 's/^/  /' "$TEST_TMP/valgrind.log" | tail -80; fail "kilnd under valgrind exited $rc"; }
echo "ok - kilnd under memcheck: sign-in, traffic, resource removed, SIGTERM: no error, no definite/indirect leak"
