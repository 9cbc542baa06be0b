#!/bin/bash
# Client and gateway state machines against the Linux stack (tunnel-pair-harness.c): curl in
# the client namespace reaches an HTTP server behind the gateway by a DNS resource name (proxy
# IP → ASSIGNED_IPS → the gateway resolves and NATs) and by a CIDR resource (forwarded
# unchanged, masqueraded by the gateway's kernel as backend/platform/forwarding.c set it up); a port outside the filters fails fast with
# ICMP "administratively prohibited".  WireGuard and the portal are replaced by the harness.
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd ip curl python3 iptables
harness="$KILN_BUILD_ROOT/tests/backend/tunnel/tunnel-pair-harness"

ns_add c
ns_add gw
ns_add res
veth_link gw 10.30.0.1/24 res 10.30.0.80/24
ns_exec res ip route add default via 10.30.0.1
ns_exec c ip tuntap add dev tun-kiln mode tun
ns_exec c ip addr add 100.64.0.5/32 dev tun-kiln
ns_exec c ip link set tun-kiln up mtu 1280
for r in 100.64.0.0/11 100.96.0.0/11 100.100.111.0/24 10.30.0.0/24; do
        ns_exec c ip route add "$r" dev tun-kiln
done
ns_exec gw ip tuntap add dev tun-gw mode tun
ns_exec gw ip addr add 100.64.0.1/32 dev tun-gw
ns_exec gw ip link set tun-gw up mtu 1280
ns_exec gw ip route add 100.64.0.0/11 dev tun-gw
bg_start gw forwarding "$KILN_BUILD_ROOT/tests/backend/platform/platform-helper" forwarding tun-gw
wait_for 10 "grep -q ready $TEST_TMP/forwarding.log" || fail "gateway forwarding setup failed"
echo "10.30.0.80 app.corp.example" >"/etc/netns/$(ns_name gw)/hosts"
echo "nameserver 100.100.111.1" >"/etc/netns/$(ns_name c)/resolv.conf"

mkdir -p "$TEST_TMP/www"
echo "hello from the resource" >"$TEST_TMP/www/index.html"
bg_start res http python3 -m http.server --bind 10.30.0.80 --directory "$TEST_TMP/www" 8080
wait_for 10 "ns_exec res curl -s http://10.30.0.80:8080/ | grep -q hello" || fail "HTTP server did not start"
bg_start res http22 python3 -m http.server --bind 10.30.0.80 --directory "$TEST_TMP/www" 22

bg_start gw harness "$harness" "/run/netns/$(ns_name c)" tun-kiln tun-gw
wait_for 5 "grep -q ready $TEST_TMP/harness.log" || fail "harness did not start"

out=$(ns_exec c curl -s --max-time 10 http://app.corp.example:8080/) || fail "curl by DNS resource name failed"
[ "$out" = "hello from the resource" ] || fail "unexpected body: $out"
grep -q 'resolved app.corp.example: 1 addresses' "$TEST_TMP/harness.log" || fail "gateway did not resolve"
grep -q 'authorize res-dns' "$TEST_TMP/harness.log" || fail "no authorization request"
echo "ok: HTTP by DNS resource name through proxy IP and gateway NAT"

out=$(ns_exec c curl -s --max-time 10 http://10.30.0.80:8080/) || fail "curl by CIDR resource failed"
[ "$out" = "hello from the resource" ] || fail "unexpected body: $out"
grep -q 'authorize res-cidr' "$TEST_TMP/harness.log" || fail "no CIDR authorization"
echo "ok: HTTP by CIDR resource, forwarded and masqueraded by the gateway's kernel"

wait_for 10 "ns_exec res curl -s --max-time 2 http://10.30.0.80:22/ | grep -q hello" || fail "port 22 server not up"
# The application sees the ICMP error as EHOSTUNREACH right away (not a timeout).
connect_errno() {
        ns_exec c python3 -c 'import socket, sys
try:
    socket.create_connection((socket.gethostbyname(sys.argv[1]), int(sys.argv[2])), timeout=5)
    print("connected")
except OSError as e:
    print(e.errno)' "$@"
}
start=$SECONDS
[ "$(connect_errno 10.30.0.80 22)" = 113 ] || fail "CIDR port 22: expected EHOSTUNREACH (ICMP prohibited)"
[ "$(connect_errno app.corp.example 22)" = 113 ] || fail "DNS resource port 22: expected EHOSTUNREACH"
[ $((SECONDS - start)) -lt 5 ] || fail "denied connections did not fail fast"
echo "ok: ports outside the filters fail fast with ICMP administratively prohibited"
