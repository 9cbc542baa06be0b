#!/bin/bash
# The whole system end to end, in namespaces (nat-lib.sh's backbone, WAN numbered 198.18/15):
#
#   client (kilnd --headless) 10.1.0.2 ─ natA ─┐                 ┌─ natB ─┬─ 10.2.0.2 gateway  (kiln-gateway gw-1)
#                                              wan (coturn W.1.1) ┤        ├─ 10.2.1.2 gateway2 (kiln-gateway gw-2)
#                                 portal 198.18.3.2 (kiln-test-portal)     └─ 10.3.0.80 res (HTTP :8080, dnsmasq)
#
# natA/natB masquerade (endpoint-independent, then symmetric with --random-fully) and drop
# unsolicited inbound.  Checks, in this order: curl a CIDR resource and a DNS resource by name
# through the tunnel (direct path); a port outside the filters fails fast (ICMP prohibited); a
# resource without a policy is not routed; the path is direct; the serving gateway killed →
# traffic resumes through the other; a resource removed in the portal config + SIGHUP → access
# stops; kilnd stopped → resolv.conf and routes restored; both NATs symmetric → relayed; a token
# that expires → "sign-in required".  Prints first packet → first byte of the HTTP reply (curl's
# time_starttransfer of the first request, which waits for authorization, ICE and WireGuard).
# Usage: test-e2e.sh BUILD_ROOT
build=${1:-${KILN_BUILD_ROOT:-.}}
. "$(dirname "$0")/e2e-lib.sh"
start_kilnd kilnd

# 1. A CIDR resource by IP, then a DNS resource by name, through the tunnel.
out=$(fetch http://10.3.0.80:8080/ 30) || fail "curl of the CIDR resource failed (exit $?, $out)"
grep -q "hello from the site" "$TEST_TMP/body" || fail "the CIDR resource answered something else: $out"
echo "# first packet -> first byte of the HTTP reply, direct (CIDR resource, new connection): ${out#* }s"
ok "curl http://10.3.0.80:8080/ (CIDR resource) through the tunnel"

out=$(fetch http://app.corp.test:8080/ 30) || fail "curl of the DNS resource failed (exit $?, $out)"
grep -q "hello from the site" "$TEST_TMP/body" || fail "the DNS resource answered something else: $out"
echo "# first packet -> first byte, DNS resource by name (resolution + ASSIGNED_IPS + NAT): ${out#* }s"
ok "curl http://app.corp.test:8080/ (DNS resource) through the tunnel"

# 2. A port outside the filters: ICMP prohibited from the client's own filter, at once.
icmp_unreachable() { # the client stack's Icmp InDestUnreachs counter
        ns_exec client awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InDestUnreachs") c = i; h = 1 } else print $c }' /proc/net/snmp
}
unreach_before=$(icmp_unreachable)
t0=$(date +%s%N)
ns_exec client curl -sS --max-time 10 http://10.3.0.80:9090/ >/dev/null 2>"$TEST_TMP/denied.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# a denied port failed after $ms ms (curl exit $rc: $(cat "$TEST_TMP/denied.err"))"
[ $rc -eq 7 ] || fail "denied port: curl exit $rc, wanted 7 (could not connect): $(cat "$TEST_TMP/denied.err")"
[ $ms -lt 2000 ] || fail "denied port took $ms ms: no ICMP prohibited?"
[ "$(icmp_unreachable)" -gt "$unreach_before" ] || fail "no ICMP destination unreachable reached the client's stack"
ok "tcp/9090 outside the filters fails fast with ICMP unreachable (curl exit 7 in $ms ms)"

# 3. A resource without a policy is not routed into the tunnel.
ns_exec client ip route get 10.4.0.5 2>/dev/null | grep -q 'dev tun-kiln' && fail "10.4.0.5 (no policy) is routed to tun-kiln"
ok "the resource without a policy (10.4.0.0/24) is not routed into the tunnel"

# 4. Direct path with endpoint-independent NATs: the serving gateway says so.
serving=$(grep -l '"message":"client connected"' "$TEST_TMP"/gw1/kiln-gateway.log "$TEST_TMP"/gw2/kiln-gateway.log | head -1)
[ -n "$serving" ] || fail "no gateway logged a connected client"
connected=$(grep '"message":"client connected"' "$serving" | tail -1)
[ "$(jq -r .fields.via_relay <<<"$connected")" = false ] || fail "the connection is relayed: $connected"
echo "# ICE + WireGuard set-up on the gateway: $(jq -r .fields.time_to_connect_ms <<<"$connected") ms"
ok "direct path through endpoint-independent NATs ($(basename "$(dirname "$serving")") serves)"

# 5. The serving gateway killed: traffic resumes through the other one.
if [ "$(basename "$(dirname "$serving")")" = gw1 ]; then victim=$gw1_pid other=gw2; else victim=$gw2_pid other=gw1; fi
kill -9 "$victim"
t0=$(date +%s%N)
deadline=$((SECONDS + 60))
until out=$(fetch http://10.3.0.80:8080/ 5) && grep -q hello "$TEST_TMP/body"; do
        [ $SECONDS -lt $deadline ] || fail "no traffic through $other within 60 s of killing the other gateway"
        sleep 0.5
done
echo "# traffic resumed $((($(date +%s%N) - t0) / 1000000)) ms after the gateway was killed"
grep -q '"message":"client connected"' "$TEST_TMP/$other/kiln-gateway.log" || fail "$other never connected the client"
out=$(fetch http://app.corp.test:8080/ 20) && grep -q hello "$TEST_TMP/body" || fail "DNS resource through $other: $out"
ok "one gateway killed: traffic (CIDR and DNS resources) resumes through $other"

# 6. The DNS resource removed in the portal config + SIGHUP: access stops.
write_config noapp
kill -HUP "$portal_pid"
wait_for 10 "tail -n 3 '$TEST_TMP/kilnd.log' | grep -q '^resources 1$'" || fail "kilnd still lists the removed resource"
if fetch http://app.corp.test:8080/ 5 >/dev/null && grep -q hello "$TEST_TMP/body"; then
        fail "the removed DNS resource is still reachable"
fi
wait_for 10 "grep -q '\"message\":\"access revoked\"' '$TEST_TMP/$other/kiln-gateway.log'" ||
        fail "$other was not told to revoke the removed resource"
ok "resource removed in the portal + SIGHUP: kilnd drops it, $other revokes it, app.corp.test unreachable"

# 7. kilnd stopped: resolv.conf and routes as before.
kill -TERM "$kilnd_pid"
wait "$kilnd_pid"
rc=$?
[ $rc -eq 0 ] || fail "kilnd exited $rc on SIGTERM"
[ "$(cat "$client_resolv")" = "$resolv_before" ] || fail "resolv.conf not restored: $(cat "$client_resolv")"
[ "$(routing)" = "$routes_before" ] || fail "routes or rules not restored: $(diff <(echo "$routes_before") <(routing))"
ok "kilnd stopped: resolv.conf, routes and policy rules restored"

# 8. Both NATs symmetric: the only path is the relay.  Conntrack keeps the mappings of flows
# that already exist, so the gateway that served so far stops and the killed one comes back
# with a fresh socket (fresh flows through natB); kilnd starts anew.
set_nat --random-fully
if [ $other = gw1 ]; then
        kill -TERM "$gw1_pid"; wait "$gw1_pid"; fresh=gw2; start_gateway gateway2 2
else
        kill -TERM "$gw2_pid"; wait "$gw2_pid"; fresh=gw1; start_gateway gateway 1
fi
write_config app
kill -HUP "$portal_pid"
start_kilnd kilnd-relayed
out=$(fetch http://10.3.0.80:8080/ 30) || fail "curl through symmetric NATs failed (exit $?, $out)"
grep -q hello "$TEST_TMP/body" || fail "relayed: wrong answer"
echo "# first packet -> first byte of the HTTP reply, relayed (new connection): ${out#* }s"
connected=$(grep -h '"message":"client connected"' "$TEST_TMP/$fresh/kiln-gateway.log" | tail -1)
[ -n "$connected" ] || fail "$fresh did not connect the client"
[ "$(jq -r .fields.via_relay <<<"$connected")" = true ] || fail "symmetric NATs but not relayed: $connected"
echo "# ICE + WireGuard set-up on the gateway, relayed: $(jq -r .fields.time_to_connect_ms <<<"$connected") ms"
ok "both NATs symmetric: relayed (via_relay true on $fresh)"
kill -TERM "$kilnd_pid"
wait "$kilnd_pid"

# 9. A token that expires: the portal disconnects, kilnd reports sign-in required.
"$portal" --config "$TEST_TMP/portal.json" --issue-token alice@acme.test --account acme --expires-in 6 \
        >"$TEST_TMP/token" 2>/dev/null || fail "cannot issue a short token"
bg_start client kilnd-expiry "$kilnd" --headless --api-url "$url" --token-file "$TEST_TMP/token" \
        --log-dir "$TEST_TMP/kilnd-expiry-logs" --state-dir "$TEST_TMP/kilnd-state"
kilnd_pid=$BG_PID
wait_for 20 "grep -q 'sign-in required' '$TEST_TMP/kilnd-expiry.log'" || fail "no 'sign-in required' after the token expired"
wait "$kilnd_pid"
echo "# kilnd exit code at token expiry: $?"
ok "token expiry: kilnd reports sign-in required"
echo "1..$checks"
