#!/bin/bash
# kilnd --headless against kiln-test-portal, both inside a network namespace (the TUN device is
# created there, never on the host): refuses a token file others can read and a missing token;
# with a 0600 token file it reaches "connected", lists exactly the granted resources, raises
# tun-kiln with the init addresses (/32 and /128), follows a resource removed by a portal reload,
# stops on SIGTERM with exit 0 and removes tun-kiln; an expired token in $KILN_TOKEN exits 4 with
# "sign-in required".  No token in any log or output.  Usage: test-kilnd-headless.sh BUILD_ROOT
. "$(dirname "$0")/../../support/netns.sh"
require_root
require_cmd jq

build=${1:-${KILN_BUILD_ROOT:-.}}
kilnd=$build/backend/kilnd/kilnd
portal=$build/tests/portal/kiln-test-portal
n=0
ok() {
        n=$((n + 1))
        echo "ok $n - $*"
}

secret=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
write_config() { # $1: "lan" to include and grant the lan resource
        local lan_res="" lan_pol=""
        if [ "$1" = lan ]; then
                lan_res='{"id":"22222222-2222-4222-8222-222222222222","type":"cidr","name":"lan","address":"10.9.0.0/16","sites":["one"]},'
                lan_pol='"lan",'
        fi
        cat >"$TEST_TMP/portal.json" <<JSON
{"secret":"$secret","accounts":[{"slug":"acme","name":"Acme Inc",
 "users":[{"email":"alice@acme.test","password":"a","name":"Alice"}],
 "sites":[{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","name":"one"}],
 "resources":[$lan_res
  {"id":"11111111-1111-4111-8111-111111111111","type":"dns","name":"web","address":"web.acme.test","sites":["one"]},
  {"id":"44444444-4444-4444-8444-444444444444","type":"cidr","name":"hidden","address":"10.66.0.0/16","sites":["one"]}],
 "policies":[{"users":["*"],"resources":[$lan_pol "web"]}]}]}
JSON
}

echo "1..7"
ns_add host
write_config lan
bg_start host portal "$portal" --config "$TEST_TMP/portal.json" --port 0
portal_pid=$BG_PID
wait_for 10 "grep -q '^listening on ' '$TEST_TMP/portal.log'" || fail "the portal did not start"
url=$(sed -n 's/^listening on http:/ws:/p' "$TEST_TMP/portal.log")
"$portal" --config "$TEST_TMP/portal.json" --issue-token alice@acme.test --account acme >"$TEST_TMP/token" 2>/dev/null ||
        fail "cannot issue a token"
token=$(cat "$TEST_TMP/token")
common=(--log-dir "$TEST_TMP/logs" --state-dir "$TEST_TMP/state" --api-url "$url")

chmod 644 "$TEST_TMP/token"
ns_exec host "$kilnd" --headless "${common[@]}" --token-file "$TEST_TMP/token" >"$TEST_TMP/refused.log" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "a world-readable token file: exit $rc, wanted 2"
grep -q "accessible to group or others (mode 0644)" "$TEST_TMP/refused.log" || fail "no clear message for mode 0644"
ok "a token file readable by others is refused (exit 2, says why)"

ns_exec host env -u KILN_TOKEN "$kilnd" --headless "${common[@]}" >"$TEST_TMP/none.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "no token" "$TEST_TMP/none.log" || fail "no token: exit $rc"
ok "no token: exit 2 with a message"

chmod 600 "$TEST_TMP/token"
start=$(date +%s%N)
bg_start host kilnd "$kilnd" --headless "${common[@]}" --token-file "$TEST_TMP/token"
kilnd_pid=$BG_PID
wait_for 15 "grep -q '^state connected' '$TEST_TMP/kilnd.log'" || fail "kilnd did not reach connected"
echo "# --headless start -> connected in $((($(date +%s%N) - start) / 1000000)) ms (process start included)"
[ "$(grep '^state ' "$TEST_TMP/kilnd.log" | head -1)" = "state connecting" ] || fail "first state is not connecting"
ok "headless session: connecting -> connected"

ids=$(awk '/^resources /{block=""} /^resource /{block=block $2 " " $3 " " $4 "\n"} END{printf "%s", block}' "$TEST_TMP/kilnd.log" | sort)
want=$(printf '%s\n' "11111111-1111-4111-8111-111111111111 dns web.acme.test" \
        "22222222-2222-4222-8222-222222222222 cidr 10.9.0.0/16" | sort)
[ "$ids" = "$want" ] || fail "resources: got [$ids], wanted [$want]"
ok "resources are exactly the granted ones (web, lan; not hidden)"

init=$(grep -h '"message":"init"' "$TEST_TMP"/logs/kilnd.log | head -1)
v4=$(jq -r .fields.ipv4 <<<"$init")
v6=$(jq -r .fields.ipv6 <<<"$init")
got=$(ns_exec host ip -j addr show dev tun-kiln | jq -r '.[0].addr_info[] | "\(.local)/\(.prefixlen)"' | sort)
[ "$got" = "$(printf '%s\n' "$v4/32" "$v6/128" | sort)" ] || fail "tun-kiln addresses [$got], init said $v4 $v6"
[ "$(ns_exec host cat /sys/class/net/tun-kiln/mtu)" = 1280 ] || fail "tun-kiln MTU"
[ ! -e /sys/class/net/tun-kiln ] || fail "tun-kiln appeared on the host"
ok "tun-kiln in the namespace with only $v4/32 and $v6/128 (no link-local), MTU 1280"

write_config nolan
kill -HUP "$portal_pid"
wait_for 10 "grep -q '^resources 1$' '$TEST_TMP/kilnd.log'" || fail "the removed resource was not dropped"
tail -n 2 "$TEST_TMP/kilnd.log" | grep -q "^resource 11111111-1111-4111-8111-111111111111 dns" || fail "web missing after reload"
kill -TERM "$kilnd_pid"
wait "$kilnd_pid"
rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: exit $rc"
! ns_exec host ip link show tun-kiln >/dev/null 2>&1 || fail "tun-kiln left behind"
ok "reload drops the resource; SIGTERM exits 0 and removes tun-kiln"

"$portal" --config "$TEST_TMP/portal.json" --issue-token alice@acme.test --account acme --expires-in -60 \
        >"$TEST_TMP/expired" 2>/dev/null || fail "cannot issue an expired token"
expired=$(cat "$TEST_TMP/expired")
KILN_TOKEN=$expired ns_exec host "$kilnd" --headless "${common[@]}" >"$TEST_TMP/expired.out" 2>"$TEST_TMP/expired.err"
rc=$?
[ $rc -eq 4 ] || fail "expired token: exit $rc, wanted 4"
grep -q "sign-in required" "$TEST_TMP/expired.err" || fail "expired token: no sign-in message"
for t in "$token" "$expired"; do
        ! grep -rqF -- "$t" "$TEST_TMP"/logs "$TEST_TMP"/*.log "$TEST_TMP"/*.out "$TEST_TMP"/*.err ||
                fail "a token reached a log"
done
ok "expired token: exit 4, 'sign-in required'; no token in any log"
