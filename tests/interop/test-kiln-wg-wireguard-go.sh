#!/bin/bash
# kiln-wg against wireguard-go, both configured with wg(8), in two namespaces joined by veth:
# either side initiates, ping and iperf3 both ways, wg show agrees on both ends, and a peer
# that comes back with a new key is reachable again after reconfiguration.
. "$(dirname "$0")/../support/netns.sh"
. "$(dirname "$0")/wg-lib.sh"
require_root
# UAPI sockets live in one directory for all namespaces: names unique to this run.
IK=${NS_PREFIX}k
IG=${NS_PREFIX}g
require_cmd wg wireguard-go iperf3 python3 ss

ns_add k
ns_add g
veth_link k 192.168.77.1/24 g 192.168.77.2/24
genkey kiln
genkey go
genkey go2

up_pair() {
        start_wg k "$IK" kiln
        start_wg g "$IG" go
        configure k "$IK" "$TEST_TMP/kiln.key" 51820 "$(pub "$1")" 192.168.77.2:51821 10.77.0.1 10.77.0.2
        configure g "$IG" "$TEST_TMP/$1.key" 51821 "$(pub kiln)" 192.168.77.1:51820 10.77.0.2 10.77.0.1
}

down_pair() {
        stop_wg k "$IK"
        stop_wg g "$IG"
}

echo "# kiln-wg initiates"
up_pair go
ping_ok k 10.77.0.2 || fail "ping kiln-wg -> wireguard-go"
ping_ok g 10.77.0.1 || fail "ping wireguard-go -> kiln-wg"
down_pair
echo "ok - kiln-wg initiated, ping both ways"

echo "# wireguard-go initiates"
up_pair go
ping_ok g 10.77.0.1 || fail "ping wireguard-go -> kiln-wg (wireguard-go initiating)"
ping_ok k 10.77.0.2 || fail "ping kiln-wg -> wireguard-go"
echo "ok - wireguard-go initiated, ping both ways"

iperf g 10.77.0.2 k tcp-kiln-to-go
iperf g 10.77.0.2 k tcp-go-to-kiln -R
iperf g 10.77.0.2 k udp-kiln-to-go -u -b 300M
iperf g 10.77.0.2 k udp-go-to-kiln -u -b 300M -R
echo "ok - iperf3 TCP and UDP both ways"
# Paced for wireguard-go (~300 Mbit/s), which drops what it cannot take.
udp_in_order g 10.77.0.2 k 5
udp_in_order k 10.77.0.1 g 5
echo "ok - interleaved UDP flows keep their order both ways"

# Byte counters must agree across a phase without loss: UDP floods lose packets in socket
# buffers after the sender counted them, so compare what a ping phase adds on each side.
sleep 1
read -r rx_k0 tx_k0 < <(transfer k "$IK")
read -r rx_g0 tx_g0 < <(transfer g "$IG")
ns_exec k ping -c 40 -i 0.02 -s 1200 -q 10.77.0.2 >/dev/null || fail "ping phase"
ns_exec g ping -c 40 -i 0.02 -s 600 -q 10.77.0.1 >/dev/null || fail "ping phase"
sleep 0.5
read -r rx_k tx_k < <(transfer k "$IK")
read -r rx_g tx_g < <(transfer g "$IG")
echo "# totals: kiln-wg rx $rx_k tx $tx_k; wireguard-go rx $rx_g tx $tx_g"
d_rx_k=$((rx_k - rx_k0)) d_tx_k=$((tx_k - tx_k0)) d_rx_g=$((rx_g - rx_g0)) d_tx_g=$((tx_g - tx_g0))
echo "# ping phase: kiln-wg rx +$d_rx_k tx +$d_tx_k; wireguard-go rx +$d_rx_g tx +$d_tx_g"
[ "$d_rx_k" -gt 70000 ] && [ "$d_tx_k" -gt 70000 ] || fail "transfer counters did not grow with the pings"
close_enough "$d_rx_k" "$d_tx_g" || fail "kiln-wg rx +$d_rx_k vs wireguard-go tx +$d_tx_g"
close_enough "$d_tx_k" "$d_rx_g" || fail "kiln-wg tx +$d_tx_k vs wireguard-go rx +$d_rx_g"
hk=$(latest_handshake k "$IK")
hg=$(latest_handshake g "$IG")
now=$(date +%s)
[ "$hk" -gt $((now - 60)) ] && [ "$hk" -le $((now + 1)) ] || fail "kiln-wg latest handshake $hk (now $now)"
[ "$hg" -gt $((now - 60)) ] || fail "wireguard-go latest handshake $hg"
echo "ok - wg show agrees: handshakes at $hk/$hg, bytes match"

echo "# wireguard-go restarts with a new key"
stop_wg g "$IG"
start_wg g "$IG" go
configure g "$IG" "$TEST_TMP/go2.key" 51821 "$(pub kiln)" 192.168.77.1:51820 10.77.0.2 10.77.0.1
ns_exec k wg set "$IK" peer "$(pub go)" remove peer "$(pub go2)" allowed-ips 10.77.0.2/32 \
        endpoint 192.168.77.2:51821 || fail "reconfiguring kiln-wg"
ping_ok k 10.77.0.2 || fail "ping after the peer's key changed"
ns_exec k wg show "$IK" peers | grep -qx "$(pub go2)" || fail "kiln-wg does not list the new peer"
[ "$(ns_exec k wg show "$IK" peers | wc -l)" -eq 1 ] || fail "the old peer was not removed"
echo "ok - session re-established with the new key"

echo "# roaming: wireguard-go moves to a new port (as behind a rebinding NAT)"
ns_exec g wg set "$IG" listen-port 51899 || fail "changing wireguard-go's port"
ping_ok g 10.77.0.1 || fail "ping from wireguard-go's new port"
ns_exec k wg show "$IK" endpoints | grep -q '192.168.77.2:51899' || fail "kiln-wg did not follow the endpoint"
ping_ok k 10.77.0.2 || fail "ping back to the roamed peer"
echo "ok - endpoint roaming"
down_pair
echo "ok - clean shutdown"
