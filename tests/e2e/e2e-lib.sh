# shellcheck shell=bash
# The e2e topology (nat-lib.sh's backbone, WAN numbered 198.18/15), shared by test-e2e.sh and
# test-faults.sh:
#
#   client (kilnd --headless) 10.1.0.2 ─ natA ─┐                 ┌─ natB ─┬─ 10.2.0.2 gateway  (kiln-gateway gw-1)
#                                              wan (coturn W.1.1) ┤        ├─ 10.2.1.2 gateway2 (kiln-gateway gw-2)
#                                 portal 198.18.3.2 (kiln-test-portal)     └─ 10.3.0.80 res (HTTP :8080, dnsmasq)
#
# Source with the build root in $build: it sets up everything up to a running portal and both
# gateways, and a token for alice in $TEST_TMP/token; the caller starts kilnd with start_kilnd.
# Defines ok, write_config, start_gateway, routing, start_kilnd, fetch; sets $portal_pid,
# $gw1_pid, $gw2_pid, $url, $client_resolv, $resolv_before, $routes_before.
. "$(dirname "$0")/../support/netns.sh"
require_root
require_cmd ip iptables curl jq dnsmasq python3

kilnd=$build/backend/kilnd/kilnd
gateway=$build/backend/kiln-gateway/kiln-gateway
portal=$build/tests/portal/kiln-test-portal
checks=0
ok() {
        checks=$((checks + 1))
        echo "ok $checks - $*"
}

NAT_WAN=198.18
. "$(dirname "$0")/../interop/nat-lib.sh"
set_nat ""

# The rest of the topology around nat-lib's backbone.
ns_add gateway2
ns_add res
ns_add portal
veth_link gateway2 10.2.1.2/24 natB 10.2.1.1/24 g2-lan b-lan2
veth_link res 10.3.0.80/24 natB 10.3.0.1/24 r-lan b-res
veth_link portal 198.18.3.2/24 wan 198.18.3.1/24 p-wan w-p
ns_exec gateway2 ip route add default via 10.2.1.1
ns_exec res ip route add default via 10.3.0.1
ns_exec portal ip route add default via 198.18.3.1
# The site LAN is private: nothing from the WAN reaches it but through a gateway.
ns_exec natB iptables -A FORWARD -i b-wan -d 10.3.0.0/24 -j DROP

# Resource host: HTTP on 10.3.0.80:8080, a DNS server with the private name.
mkdir -p "$TEST_TMP/www"
echo "hello from the site" >"$TEST_TMP/www/index.html"
bg_start res http python3 -m http.server --bind 10.3.0.80 --directory "$TEST_TMP/www" 8080
bg_start res dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=10.3.0.80 \
        --bind-interfaces --address=/app.corp.test/10.3.0.80 --pid-file="$TEST_TMP/dnsmasq.pid"
wait_for 10 "ns_exec res curl -s http://10.3.0.80:8080/ | grep -q hello" || fail "the HTTP server did not start"
for g in gateway gateway2; do
        echo "nameserver 10.3.0.80" >"/etc/netns/$(ns_name $g)/resolv.conf"
done
wait_for 10 "ns_exec gateway getent hosts app.corp.test | grep -q 10.3.0.80" || fail "dnsmasq does not answer"

# The portal: two gateways of one site; lan (CIDR, tcp/8080 + icmp), app (DNS, tcp/8080),
# hidden (CIDR, no policy).  The relay is coturn with nat-lib's secret.
secret=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
write_config() { # $1: "app" to keep the DNS resource
        local app_res="" app_pol=""
        if [ "$1" = app ]; then
                app_res='{"type":"dns","name":"app","address":"app.corp.test","sites":["HQ"],"ip_stack":"ipv4_only",
                  "filters":[{"protocol":"tcp","port_range_start":8080,"port_range_end":8080}]},'
                app_pol=',"app"'
        fi
        cat >"$TEST_TMP/portal.json" <<JSON
{"secret":"$secret","listen":{"address":"198.18.3.2","port":8080},
 "accounts":[{"slug":"acme","name":"Acme",
  "users":[{"email":"alice@acme.test","password":"a","name":"Alice"}],
  "sites":[{"name":"HQ"}],
  "gateways":[{"name":"gw-1","site":"HQ","token":"e2e-gateway-token-1"},
              {"name":"gw-2","site":"HQ","token":"e2e-gateway-token-2"}],
  "resources":[$app_res
   {"type":"cidr","name":"lan","address":"10.3.0.0/24","sites":["HQ"],
    "filters":[{"protocol":"tcp","port_range_start":8080,"port_range_end":8080},{"protocol":"icmp"}]},
   {"type":"cidr","name":"hidden","address":"10.4.0.0/24","sites":["HQ"]}],
  "policies":[{"users":["*"],"resources":["lan"$app_pol]}]}],
 "relays":[{"addresses":["$wan.1.1:3478"],"secret":"$turn_secret","realm":"firezone"}]}
JSON
}
write_config app
bg_start portal portal "$portal" --config "$TEST_TMP/portal.json"
portal_pid=$BG_PID
wait_for 10 "grep -q '^listening on ' '$TEST_TMP/portal.log'" || fail "the portal did not start"
url=ws://198.18.3.2:8080

start_gateway() { # $1: ns, $2: 1 or 2; the log in $TEST_TMP/gw$2/kiln-gateway.log (a restart starts it anew)
        rm -f "$TEST_TMP/gw$2/kiln-gateway.log"
        KILN_GATEWAY_TOKEN=e2e-gateway-token-$2 bg_start "$1" "gw$2" "$gateway" --api-url "$url" \
                --log-dir "$TEST_TMP/gw$2" --state-dir "$TEST_TMP/gw$2" --name "gw-$2" --log-level debug
        eval "gw$2_pid=$BG_PID"
        wait_for 15 "grep -q '\"message\":\"init\"' '$TEST_TMP/gw$2/kiln-gateway.log'" ||
                fail "gateway gw-$2 got no init"
}
start_gateway gateway 1
start_gateway gateway2 2

# The client: kilnd headless with a token from the portal.
"$portal" --config "$TEST_TMP/portal.json" --issue-token alice@acme.test --account acme >"$TEST_TMP/token" 2>/dev/null ||
        fail "cannot issue a token"
chmod 600 "$TEST_TMP/token"
client_resolv=/etc/netns/$(ns_name client)/resolv.conf
echo "nameserver 10.1.0.1" >"$client_resolv"
resolv_before=$(cat "$client_resolv")
routing() { # routes (both families, every table but local) and policy rules of the client
        { ns_exec client ip -4 route show table all; ns_exec client ip -6 route show table all; } |
                grep -v 'table local' | sort
        ns_exec client ip -4 rule show
        ns_exec client ip -6 rule show
}
routes_before=$(routing)
start_kilnd() { # $1: log name
        bg_start client "$1" "$kilnd" --headless --api-url "$url" --token-file "$TEST_TMP/token" \
                --log-dir "$TEST_TMP/$1-logs" --state-dir "$TEST_TMP/kilnd-state" --log-level debug
        kilnd_pid=$BG_PID
        wait_for 15 "grep -q '^state connected' '$TEST_TMP/$1.log'" || fail "kilnd did not reach connected"
        [ "$(routing)" != "$routes_before" ] || fail "kilnd connected but installed no routes"
}

# curl in the client namespace; prints "HTTPCODE TIME_STARTTRANSFER" and leaves the body in $TEST_TMP/body.
fetch() { # $1: URL, $2: max time
        ns_exec client curl -s -o "$TEST_TMP/body" -w '%{http_code} %{time_starttransfer}' --max-time "${2:-20}" "$1"
}

