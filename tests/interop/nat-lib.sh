# Shared by the NAT suites (test-ice-nat.sh, test-node-nat.sh): two hosts behind iptables
# NATs with coturn on the "Internet" between them:
#   client 10.1.0.2 ─ natA 10.1.0.1|W.1.2 ─ W.1.1 wan (router + coturn) W.2.1 ─
#   W.2.2|10.2.0.1 natB ─ 10.2.0.2 gateway            (W = $NAT_WAN, default 100.64)
# Source after netns.sh and require_root.  Sets $turn_user / $turn_pass (coturn's
# use-auth-secret credentials, as Firezone's portal hands them out), $turn_secret and $wan
# (the WAN's first two octets).  Set NAT_WAN first to number the WAN elsewhere: the e2e suite
# uses 198.18, because Firezone's tunnel range 100.64.0.0/11 is routed into the tunnel there.
require_cmd turnserver python3 iptables
wan=${NAT_WAN:-100.64}

for n in client natA wan natB gateway; do ns_add $n; done
veth_link client 10.1.0.2/24 natA 10.1.0.1/24 c-lan a-lan
veth_link natA $wan.1.2/24 wan $wan.1.1/24 a-wan w-a
veth_link natB $wan.2.2/24 wan $wan.2.1/24 b-wan w-b
veth_link gateway 10.2.0.2/24 natB 10.2.0.1/24 g-lan b-lan
ns_exec client ip route add default via 10.1.0.1
ns_exec gateway ip route add default via 10.2.0.1
ns_exec natA ip route add default via $wan.1.1
ns_exec natB ip route add default via $wan.2.1
for n in natA natB wan; do ns_exec $n sysctl -qw net.ipv4.ip_forward=1; done

# set_nat "" → endpoint-independent mapping; set_nat "--random-fully" → symmetric.
set_nat() {
        local flags=$1
        local n
        for n in natA:a-wan natB:b-wan; do
                ns_exec "${n%%:*}" iptables -t nat -F POSTROUTING
                ns_exec "${n%%:*}" iptables -t nat -A POSTROUTING -o "${n##*:}" -j MASQUERADE $flags ||
                        fail "iptables MASQUERADE $flags"
                # Like any home router, drop unsolicited inbound datagrams: without this the
                # NAT keeps a conntrack entry for them, and the inside host's own later flow to
                # the same peer clashes with it and gets another port (no longer EIM).
                ns_exec "${n%%:*}" iptables -F INPUT
                ns_exec "${n%%:*}" iptables -A INPUT -i "${n##*:}" -m conntrack --ctstate NEW -j DROP
        done
}

# Drops everything between the two NATs (the direct path); the relay stays reachable.
cut_direct_path() {
        ns_exec wan iptables -A FORWARD -s $wan.1.2 -d $wan.2.2 -j DROP
        ns_exec wan iptables -A FORWARD -s $wan.2.2 -d $wan.1.2 -j DROP
}

turn_secret=kiln-nat-secret-$RANDOM
cat >"$TEST_TMP/turnserver.conf" <<CONF
listening-ip=$wan.1.1
listening-port=3478
relay-ip=$wan.1.1
min-port=49152
max-port=49352
use-auth-secret
static-auth-secret=$turn_secret
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
bg_start wan coturn turnserver -c "$TEST_TMP/turnserver.conf"
wait_for 10 "ns_exec wan ss -uln | grep -q '$wan.1.1:3478'" || fail "coturn did not start"
turn_user="$(($(date +%s) + 3600)):kiln-nat-salt"
turn_pass=$(python3 -c 'import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha1).digest()).decode())' "$turn_secret" "$turn_user")
