#!/bin/bash
# Kiln's TURN client against coturn (use-auth-secret, realm "firezone", no TLS) in a namespace:
# allocate, channel-bind, relay data to a UDP echo peer and back, refresh; a wrong password
# gets a clear error; coturn restarted → the client allocates again and data flows again.
#   client ns 10.77.0.2 ── 10.77.0.1 relay ns (coturn) 10.78.0.1 ── 10.78.0.2 peer ns (echo)
. "$(dirname "$0")/../support/netns.sh"
require_root
require_cmd turnserver python3
probe=${KILN_ICE_PROBE:?}
# KILN_STUN_DUMP=DIR keeps coturn's STUN answers (seed material for tests/fuzz/corpus/stun).

ns_add client
ns_add relay
ns_add peer
veth_link client 10.77.0.2/24 relay 10.77.0.1/24
veth_link relay 10.78.0.1/24 peer 10.78.0.2/24

secret=kiln-test-secret-$RANDOM
cat >"$TEST_TMP/turnserver.conf" <<CONF
listening-ip=10.77.0.1
listening-port=3478
relay-ip=10.78.0.1
min-port=49152
max-port=49252
use-auth-secret
static-auth-secret=$secret
realm=firezone
no-tls
no-dtls
no-cli
no-tcp-relay
userdb=$TEST_TMP/turndb
pidfile=$TEST_TMP/turnserver.pid
simple-log
log-file=stdout
CONF

start_coturn() {
        bg_start relay "coturn$1" turnserver -c "$TEST_TMP/turnserver.conf"
        coturn_pid=$BG_PID
        wait_for 10 "ns_exec relay ss -uln | grep -q '10.77.0.1:3478'" || fail "coturn did not start"
}
start_coturn 1

# TURN REST credentials (coturn's use-auth-secret): "<expiry>:<salt>", base64(HMAC-SHA1(secret, user)).
user="$(($(date +%s) + 3600)):kiln-test-salt"
pass=$(python3 -c 'import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha1).digest()).decode())' "$secret" "$user")

bg_start peer echo "$probe" echo --bind 10.78.0.2:7000

echo "# wrong password"
rc=0
ns_exec client timeout 30 "$probe" turn --bind 10.77.0.2:50001 --server 10.77.0.1:3478 --user "$user" \
        --pass "not-$pass" --peer 10.78.0.2:7000 --seconds 20 ${KILN_STUN_DUMP:+--dump "$KILN_STUN_DUMP/wrong"} >"$TEST_TMP/wrong.log" 2>&1 || rc=$?
cat "$TEST_TMP/wrong.log"
[ "$rc" -eq 2 ] || fail "wrong password: expected exit 2, got $rc"
grep -q '^ERROR 401 TURN credentials rejected by the relay' "$TEST_TMP/wrong.log" || fail "no clear 401 error"

echo "# allocate, channel-bind, relay to the echo peer"
mkfifo "$TEST_TMP/cmd"
exec 3<>"$TEST_TMP/cmd"
bg_start client turn sh -c "exec '$probe' turn --bind 10.77.0.2:50002 --server 10.77.0.1:3478 --user '$user' --pass '$pass' --peer 10.78.0.2:7000 --seconds 100 ${KILN_STUN_DUMP:+--dump '$KILN_STUN_DUMP/good'} <'$TEST_TMP/cmd'"
log=$TEST_TMP/turn.log
wait_for 15 "grep -q '^ECHO kiln-' '$log'" || fail "no data relayed through coturn"
grep -q '^RELAY 10.78.0.1:' "$log" || fail "relayed address is not coturn's relay-ip"
grep -q '^CHANNEL 0x4000 10.78.0.2:7000' "$log" || fail "channel 0x4000 not bound to the peer"
grep -q '^SRFLX\|^HOST 10.77.0.2:50002' "$log" || fail "no host candidate from the BINDING answer"
head -n 8 "$log"

echo "# refresh keeps the allocation"
echo refresh >&3
n=$(grep -c '^ECHO' "$log")
wait_for 5 "[ \$(grep -c '^ECHO' '$log') -gt $((n + 3)) ]" || fail "data stopped after REFRESH"
grep -q '^ERROR' "$log" && fail "error after REFRESH"

echo "# coturn restarted: the client allocates again"
kill "$coturn_pid"
wait "$coturn_pid" 2>/dev/null
start_coturn 2
echo refresh >&3
wait_for 30 "[ \$(grep -c '^RELAY ' '$log') -ge 2 ]" || fail "no re-allocation after the restart"
n=$(grep -c '^ECHO' "$log")
wait_for 10 "[ \$(grep -c '^ECHO' '$log') -gt $((n + 2)) ]" || fail "no data after re-allocation"
grep -E '^(RELAY|RELAY-INVALIDATED|ERROR|CHANNEL)' "$log"
echo "PASS: coturn allocate/channel/refresh/restart; $(grep -c '^ECHO' "$log") datagrams echoed via the relay"
