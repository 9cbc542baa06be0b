#!/bin/bash
# kiln-gateway against kiln-test-portal in a namespace: the gateway joins /gateway/v2/websocket,
# gets init and brings up tun-kiln with the portal's addresses, the tunnel routes and the
# forwarding rules; a client (kiln-portal-client) asks for a resource, the portal sends
# create_authorization, the gateway answers, and the client gets authorization_created with
# the gateway's public key and tunnel addresses; SIGTERM removes the TUN, the iptables rules
# and restores the forwarding sysctls, exit 0.
. "$(dirname "$0")/../support/netns.sh"
require_root
require_cmd ip iptables jq
gateway=$1 portal=$2 client=$3

ns_add gw
cat >"$TEST_TMP/portal.json" <<'JSON'
{
  "secret": "6b696c6e2d676174657761792d746573742d706f7274616c2d73656372657421",
  "accounts": [ {
      "slug": "acme", "name": "Acme",
      "users": [ { "email": "alice@example.com", "password": "pw", "name": "Alice" } ],
      "sites": [ { "name": "HQ" } ],
      "gateways": [ { "name": "gw-1", "site": "HQ", "token": "acme-gateway-token-1" } ],
      "resources": [ { "type": "cidr", "name": "LAN", "address": "10.99.0.0/24", "sites": ["HQ"],
                       "filters": [ { "protocol": "tcp", "port_range_start": 80, "port_range_end": 80 } ] } ],
      "policies": [ { "users": ["*"], "resources": ["LAN"] } ]
  } ],
  "relays": [ { "addresses": ["127.0.0.1:3478"], "secret": "relay-secret" } ]
}
JSON

ip_forward_before=$(ns_exec gw sysctl -n net.ipv4.ip_forward)
ip6_forward_before=$(ns_exec gw sysctl -n net.ipv6.conf.all.forwarding)

bg_start gw portal "$portal" --config "$TEST_TMP/portal.json" --listen 127.0.0.1 --port 0
wait_for 10 "grep -q '^listening on ' '$TEST_TMP/portal.log'" || fail "the portal did not start"
url=$(sed -n 's|^listening on http://|ws://|p' "$TEST_TMP/portal.log" | head -1)

# A wrong token (from --token-file) is the portal's 401: fatal, exit 1, nothing set up.
echo wrong-token >"$TEST_TMP/bad.token"
ns_exec gw timeout 20 "$gateway" --api-url "$url" --token-file "$TEST_TMP/bad.token" \
        --log-dir "$TEST_TMP/badlog" --state-dir "$TEST_TMP/gwstate" >"$TEST_TMP/bad-gateway.log" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "kiln-gateway with a wrong token exited $rc, not 1"
ns_exec gw ip link show tun-kiln >/dev/null 2>&1 && fail "tun-kiln exists after a refused login"
grep -q wrong-token "$TEST_TMP/badlog/kiln-gateway.log" "$TEST_TMP/bad-gateway.log" && fail "the token reached a log"
echo "ok - a wrong token file is fatal (exit 1) and leaves nothing behind"

# The token reaches kiln-gateway through the environment (as with the unit's EnvironmentFile).
KILN_GATEWAY_TOKEN=acme-gateway-token-1 bg_start gw gateway "$gateway" --api-url "$url" \
        --log-dir "$TEST_TMP/gwlog" --state-dir "$TEST_TMP/gwstate" --log-level trace
gw_pid=$BG_PID
wait_for 15 "ns_exec gw ip -4 -o addr show dev tun-kiln | grep -q inet" || fail "tun-kiln did not get an address"
log="$TEST_TMP/gwlog/kiln-gateway.log"
wait_for 5 "grep -q '\"message\":\"init\"' '$log'" || fail "no init in the gateway log"

# The TUN has exactly the init addresses (as /32 and /128), MTU 1280, and the tunnel routes.
init=$(grep '"message":"init"' "$log" | tail -1)
v4=$(jq -r .fields.ipv4 <<<"$init")
v6=$(jq -r .fields.ipv6 <<<"$init")
ns_exec gw ip -4 -o addr show dev tun-kiln | grep -q "inet $v4/32" || fail "tun-kiln lacks $v4/32"
wait_for 5 "ns_exec gw ip -6 -o addr show dev tun-kiln | grep -q 'inet6 $v6/128'" ||
        fail "tun-kiln lacks $v6/128: $(ns_exec gw ip -6 addr show dev tun-kiln)"
ns_exec gw ip link show tun-kiln | grep -q 'mtu 1280' || fail "tun-kiln MTU is not 1280"
ns_exec gw ip -4 route show dev tun-kiln | grep -q '^100.64.0.0/11' || fail "no 100.64.0.0/11 route"
wait_for 5 "ns_exec gw ip -6 route show dev tun-kiln | grep -q '^fd00:2021:1111::/107'" ||
        fail "no fd00:2021:1111::/107 route: $(ns_exec gw ip -6 route show dev tun-kiln)"
echo "ok - tun-kiln up with $v4/32 and $v6/128 and the tunnel routes"

# Forwarding and masquerade (spec §8).
[ "$(ns_exec gw sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "ip_forward is not on"
ns_exec gw iptables -S FORWARD | grep -- '-i tun-kiln' | grep -q ACCEPT || fail "no FORWARD -i tun-kiln ACCEPT"
ns_exec gw iptables -S FORWARD | grep -- '-o tun-kiln' | grep -q ACCEPT || fail "no FORWARD -o tun-kiln ACCEPT"
ns_exec gw iptables -t nat -S POSTROUTING | grep -- '100.64.0.0/11' | grep -q MASQUERADE || fail "no MASQUERADE"
echo "ok - forwarding and masquerade installed"

# The portal learned the gateway's public key from the login URL.
pub=$(jq -r 'select(.message=="starting") | .fields.public_key' "$log" | tail -1)
[ ${#pub} -eq 44 ] || fail "no public key in the gateway log"
grep -q 'acme-gateway-token-1' "$log" "$TEST_TMP/gateway.log" && fail "the token reached a log"

# A client asks for the resource.
token=$("$portal" --config "$TEST_TMP/portal.json" --issue-token alice@example.com --account acme)
mkfifo "$TEST_TMP/client.in"
# Read-write, so opening it does not wait for a reader; the client reads requests from it.
exec 3<>"$TEST_TMP/client.in"
on_exit 'exec 3>&-'
# (bash gives background jobs /dev/null as stdin, so the redirection happens in the job itself.)
KILN_PORTAL_TOKEN=$token bg_start gw client bash -c 'exec "$@" <"$0"' "$TEST_TMP/client.in" \
        "$client" --url "$url" --device-id-file "$TEST_TMP/client-id.json"
wait_for 10 "grep -q '\"event\":\"init\"' '$TEST_TMP/client.log'" || fail "the client got no init"
rid=$(grep '"event":"init"' "$TEST_TMP/client.log" | head -1 | jq -r '.resources[] | select(.name=="LAN") | .id')
echo "{\"event\":\"request_authorization\",\"payload\":{\"resource_id\":\"$rid\",\"connected_gateway_ids\":[]}}" >&3
wait_for 10 "grep -q '\"event\":\"authorization_created\"' '$TEST_TMP/client.log'" ||
        fail "the client got no authorization_created"
created=$(grep '"event":"authorization_created"' "$TEST_TMP/client.log" | head -1)
[ "$(jq -r .gateway_public_key <<<"$created")" = "$pub" ] || fail "authorization_created has another gateway key"
[ "$(jq -r .gateway_ipv4 <<<"$created")" = "$v4" ] || fail "authorization_created has another gateway_ipv4"
[ "$(jq -r .resource_id <<<"$created")" = "$rid" ] || fail "authorization_created is for another resource"
grep -q '"message":"client authorized"' "$log" || fail "the gateway did not log the authorization"
echo "ok - create_authorization answered; the client accepted authorization_created with the gateway's key"

# No secret of this session in the gateway's trace log (nor the portal's): the client's token,
# the TURN passwords of init, and no 32-byte key (the PSK of the authorization, the private
# key) other than the public keys the log names as such.  (The client tool prints the PSK's
# length only, so the PSK is caught by the key rule.)
for secret in "$token" $(grep '"event":"init"' "$TEST_TMP/client.log" | head -1 | jq -r '.relays[].password'); do
        [ ${#secret} -ge 16 ] || fail "a secret to look for is too short: ${#secret}"
        grep -qF -- "$secret" "$log" "$TEST_TMP/gateway.log" "$TEST_TMP/portal.log" &&
                fail "a secret of this session (${secret:0:6}…) is in a log"
done
public=$(jq -r '.. | objects | to_entries[] | select(.key | test("public")) | .value | strings' "$log" | sort -u)
[ -n "$public" ] || fail "no public key named in the gateway log"
for key in $(grep -ohE '[A-Za-z0-9+/]{43}=' "$log" "$TEST_TMP/gateway.log" | sort -u); do
        grep -qxF -- "$key" <<<"$public" || fail "a 32-byte key that is not a public one is in the gateway log"
done
echo "ok - no PSK, TURN password or non-public key in the trace logs"

# SIGTERM: clean teardown, exit 0.
kill -TERM "$gw_pid"
wait "$gw_pid"
rc=$?
[ "$rc" -eq 0 ] || fail "kiln-gateway exited $rc on SIGTERM"
ns_exec gw ip link show tun-kiln >/dev/null 2>&1 && fail "tun-kiln is still there"
ns_exec gw iptables -S | grep -q tun-kiln && fail "FORWARD rules are left"
ns_exec gw iptables -t nat -S | grep -q MASQUERADE && fail "MASQUERADE is left"
[ "$(ns_exec gw sysctl -n net.ipv4.ip_forward)" = "$ip_forward_before" ] || fail "ip_forward not restored"
[ "$(ns_exec gw sysctl -n net.ipv6.conf.all.forwarding)" = "$ip6_forward_before" ] || fail "IPv6 forwarding not restored"
echo "ok - SIGTERM removed the TUN and the forwarding rules and restored the sysctls"
