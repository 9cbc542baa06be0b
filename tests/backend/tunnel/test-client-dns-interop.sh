#!/bin/bash
# The client's DNS path against real peers: dig (the application, through the namespace's
# resolv.conf that Kiln rewrote) → TUN → kiln_client's stub → dnsmasq as the upstream over
# UDP, and over TCP when the UDP answer is truncated.  Resource names get proxy IPs locally.
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd ip dig dnsmasq
harness="$KILN_BUILD_ROOT/tests/backend/tunnel/client-dns-harness"

ns_add c
ns_add dns
veth_link c 192.168.61.2/24 dns 192.168.61.1/24
ns_exec c ip tuntap add dev tun-kiln mode tun
ns_exec c ip addr add 100.64.0.5/32 dev tun-kiln
ns_exec c ip link set tun-kiln up mtu 1280

# Upstream: a name, and a TXT record too big for one UDP answer.
long=$(printf 'x%.0s' $(seq 250))
txt_args=()
for i in 1 2 3 4 5 6 7; do txt_args+=(--txt-record="big.upstream.test,$i$long"); done
bg_start dns dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=192.168.61.1 \
        --address=/www.upstream.test/192.0.2.10 "${txt_args[@]}" --log-queries
wait_for 5 "ns_exec dns dig +short +time=1 @192.168.61.1 www.upstream.test | grep -q 192.0.2.10" ||
        fail "dnsmasq did not start"

mkdir -p "$TEST_TMP/state"
original=$(cat "/etc/netns/$(ns_name c)/resolv.conf")
bg_start c harness "$harness" tun-kiln 100.64.0.5 192.168.61.1 '*.corp.example' "$TEST_TMP/state"
harness_pid=$BG_PID
wait_for 5 "grep -q ready $TEST_TMP/harness.log" || fail "harness did not start"
grep -q '^nameserver 100.100.111.1' "/etc/netns/$(ns_name c)/resolv.conf" || fail "resolv.conf not pointed at the sentinel"
ns_exec c ip route show table $(printf '%d' 0x2021fd00) | grep -q '100.100.111.0/24 dev tun-kiln' || fail "no sentinel route"

d() { ns_exec c dig +time=2 +tries=1 "$@"; }

a=$(d +short app.corp.example)
[ "$(echo "$a" | grep -c '^100\.\(9[6-9]\|1[01][0-9]\|12[0-7]\)\.')" -eq 4 ] || fail "A of a resource: '$a'"
[ "$(d +short app.corp.example)" = "$a" ] || fail "proxy IPs not stable"
ttl=$(d +noall +answer app.corp.example | awk '{print $2}' | sort -u)
[ "$ttl" = 1 ] || fail "TTL '$ttl' != 1"
aaaa=$(d +short AAAA app.corp.example)
[ "$(echo "$aaaa" | grep -c '^fd00:2021:1111:8000:')" -eq 4 ] || fail "AAAA of a resource: '$aaaa'"
echo "ok: resource A/AAAA answered with 4+4 stable proxy IPs, TTL 1"

first=$(echo "$a" | head -1)
[ "$(d +short -x "$first")" = "app.corp.example." ] || fail "PTR of $first"
https=$(d -t TYPE65 app.corp.example)
echo "$https" | grep -q 'status: NOERROR' || fail "HTTPS status"
echo "$https" | grep -q 'ANSWER: 0' || fail "HTTPS not empty"
echo "ok: PTR of a proxy IP and empty HTTPS"

[ "$(d +short www.upstream.test)" = 192.0.2.10 ] || fail "forwarded query"
grep -q 'query\[A\] www.upstream.test from 192.168.61.2' "$TEST_TMP/dnsmasq.log" || fail "dnsmasq did not see the marked query"
echo "ok: other names forwarded to the upstream (dnsmasq)"

big=$(d +short TXT big.upstream.test)
[ "$(echo "$big" | wc -l)" -eq 7 ] || fail "TXT over TCP: got $(echo "$big" | wc -l) records"
grep -q 'dns over tcp' "$TEST_TMP/harness.log" || fail "no TCP retry"
echo "ok: truncated UDP answer retried over TCP"

nx=$(d use-application-dns.net)
echo "$nx" | grep -q 'status: NXDOMAIN' || fail "Firefox canary not NXDOMAIN"
echo "ok: use-application-dns.net NXDOMAIN"

kill -TERM "$harness_pid"
wait_for 5 "grep -q stopped $TEST_TMP/harness.log" || fail "harness did not stop"
[ "$(cat "/etc/netns/$(ns_name c)/resolv.conf")" = "$original" ] || fail "resolv.conf not restored"
[ -z "$(ns_exec c ip rule show | grep fwmark)" ] || fail "rules left"
echo "ok: resolv.conf, routes and rules restored on exit"
