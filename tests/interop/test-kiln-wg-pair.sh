#!/bin/bash
# kiln-wg against kiln-wg, configured with wg(8): either side initiates, data both ways,
# `wg showconf | wg setconf` round-trips without breaking the session, a bad `set` gets errno=22
# and changes nothing, and listen-port, fwmark and persistent keepalive show up as set.
. "$(dirname "$0")/../support/netns.sh"
. "$(dirname "$0")/wg-lib.sh"
require_root
# UAPI sockets live in one directory for all namespaces: names unique to this run.
IA=${NS_PREFIX}a
IB=${NS_PREFIX}b
require_cmd wg iperf3 python3 ss

ns_add a
ns_add b
veth_link a 192.168.78.1/24 b 192.168.78.2/24
genkey a
genkey b

up_pair() {
        start_wg a "$IA" kiln
        start_wg b "$IB" kiln
        configure a "$IA" "$TEST_TMP/a.key" 51820 "$(pub b)" 192.168.78.2:51821 10.78.0.1 10.78.0.2
        configure b "$IB" "$TEST_TMP/b.key" 51821 "$(pub a)" 192.168.78.1:51820 10.78.0.2 10.78.0.1
}

up_pair
# The UAPI socket as wireguard-go makes it (bound under umask 077): only root may configure.
[ "$(stat -c '%a %U' "/var/run/wireguard/$IA.sock")" = "700 root" ] ||
        fail "UAPI socket mode: $(stat -c '%a %U' "/var/run/wireguard/$IA.sock")"
ping_ok a 10.78.0.2 || fail "ping a -> b"
ping_ok b 10.78.0.1 || fail "ping b -> a"
stop_wg a "$IA"
stop_wg b "$IB"
echo "ok - a initiated, ping both ways, clean shutdown"

up_pair
ping_ok b 10.78.0.1 || fail "ping b -> a (b initiating)"
ping_ok a 10.78.0.2 || fail "ping a -> b"
echo "ok - b initiated, ping both ways"

iperf b 10.78.0.2 a tcp-a-to-b
iperf b 10.78.0.2 a tcp-b-to-a -R
echo "ok - iperf3 TCP both ways"
udp_in_order b 10.78.0.2 a
udp_in_order a 10.78.0.1 b
echo "ok - interleaved UDP flows sent as USO super-packets keep their order both ways"

# IPv6 inside the tunnel, longest-prefix routing across two prefixes of one peer.
ns_exec a ip addr add fd78::1/64 dev "$IA" nodad
ns_exec b ip addr add fd78::2/64 dev "$IB" nodad
ns_exec a wg set "$IA" peer "$(pub b)" allowed-ips 10.78.0.2/32,fd78::2/128
ns_exec b wg set "$IB" peer "$(pub a)" allowed-ips 10.78.0.1/32,fd78::/64
ns_exec a ping -6 -c 3 -i 0.2 -W 2 -w 6 fd78::2 >/dev/null || fail "IPv6 ping through the tunnel"
echo "ok - IPv6 inside the tunnel"

# IPv6 outside: a moves its endpoint for b to b's IPv6 address on the veth.
ns_exec a ip addr add fd79::1/64 dev veth-b nodad
ns_exec b ip addr add fd79::2/64 dev veth-a nodad
ns_exec a wg set "$IA" peer "$(pub b)" endpoint '[fd79::2]:51821'
ping_ok a 10.78.0.2 || fail "ping over an IPv6 endpoint"
ns_exec b wg show "$IB" endpoints | grep -q '\[fd79::1\]:51820' || fail "b did not roam to a's IPv6 address"
ns_exec a wg set "$IA" peer "$(pub b)" endpoint 192.168.78.2:51821
echo "ok - IPv6 endpoint, and b roamed to it"

# showconf | setconf keeps the configuration and the session.
ns_exec a wg set "$IA" fwmark 0x1234 peer "$(pub b)" persistent-keepalive 7
ns_exec a wg showconf "$IA" >"$TEST_TMP/before.conf"
grep -q '^FwMark = 0x1234' "$TEST_TMP/before.conf" || fail "fwmark not shown: $(cat "$TEST_TMP/before.conf")"
grep -q '^PersistentKeepalive = 7' "$TEST_TMP/before.conf" || fail "persistent keepalive not shown"
grep -q '^ListenPort = 51820' "$TEST_TMP/before.conf" || fail "listen port not shown"
grep -q '^AllowedIPs = 10.78.0.2/32, fd78::2/128' "$TEST_TMP/before.conf" || fail "allowed IPs not shown"
hs_before=$(latest_handshake a "$IA")
ns_exec a wg setconf "$IA" "$TEST_TMP/before.conf" || fail "wg setconf"
ns_exec a wg showconf "$IA" >"$TEST_TMP/after.conf"
diff -u "$TEST_TMP/before.conf" "$TEST_TMP/after.conf" || fail "showconf changed across setconf"
[ "$(latest_handshake a "$IA")" = "$hs_before" ] || fail "setconf of the same configuration re-keyed"
ping_ok a 10.78.0.2 || fail "ping after setconf"
echo "ok - showconf | setconf round-trip"

# A raw UAPI set with one bad line among good ones: errno=22 and nothing changes.
reply=$(python3 - "/var/run/wireguard/$IA.sock" "$(pub b)" <<'PY'
import base64, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
peer = base64.b64decode(sys.argv[2]).hex()
s.sendall(("set=1\nlisten_port=40000\npublic_key=%s\npersistent_keepalive_interval=9\n"
           "allowed_ip=10.99.0.0/16\npublic_key=%s\n\n" % (peer, "zz" * 32)).encode())
data = b""
while not data.endswith(b"\n\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
PY
)
[ "$reply" = "errno=22" ] || fail "bad set replied '$reply', expected errno=22"
ns_exec a wg showconf "$IA" >"$TEST_TMP/after-bad.conf"
diff -u "$TEST_TMP/before.conf" "$TEST_TMP/after-bad.conf" || fail "a rejected set changed the configuration"
ns_exec a wg set "$IA" peer "$(pub b)" allowed-ips 10.78.0.2/33 2>/dev/null && fail "wg accepted a /33"
echo "ok - bad set gets errno=22 and changes nothing"

stop_wg a "$IA"
stop_wg b "$IB"
[ ! -e "/var/run/wireguard/$IA.sock" ] || fail "socket file left behind"
echo "ok - clean shutdown"

# The fallback without offloads (what runs when the kernel refuses TUNSETOFFLOAD): a no-offload
# side against an offloading one, data and order both ways.
KILN_WG_NO_OFFLOAD=1 start_wg a "$IA" kiln
start_wg b "$IB" kiln
grep -q 'TUN offloads \[none\].*GSO off, GRO off' "$TEST_TMP/kiln-a-$IA.log" ||
        fail "a did not run without offloads: $(cat "$TEST_TMP/kiln-a-$IA.log")"
configure a "$IA" "$TEST_TMP/a.key" 51820 "$(pub b)" 192.168.78.2:51821 10.78.0.1 10.78.0.2
configure b "$IB" "$TEST_TMP/b.key" 51821 "$(pub a)" 192.168.78.1:51820 10.78.0.2 10.78.0.1
ping_ok a 10.78.0.2 || fail "ping a -> b without offloads on a"
iperf b 10.78.0.2 a tcp-a-to-b-no-offload
iperf b 10.78.0.2 a tcp-b-to-a-no-offload -R
udp_in_order b 10.78.0.2 a
udp_in_order a 10.78.0.1 b
echo "ok - without offloads on one side: ping, TCP both ways, UDP order both ways"
