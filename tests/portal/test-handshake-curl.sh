#!/bin/bash
# The WebSocket upgrade checks of kiln-test-portal seen from a plain HTTP client (curl -i with
# Upgrade headers): 401 + problem+json for missing, bad and expired tokens, 400 for a bad
# User-Agent or connect parameters, 409 for a second socket of one gateway, 101 for a good token.
# The good client token comes from the HTTP sign-in flow driven with curl.  TAP output.
set -uo pipefail

portal=${KILN_BUILD_ROOT:?}/tests/portal/kiln-test-portal
src=${KILN_SOURCE_ROOT:?}/tests/portal
tmp=$(mktemp -d)
pids=()
cleanup() {
        for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # description, command...
        local what=$1
        shift
        if "$@"; then ok "$what"; else not_ok "$what"; fi
}

"$portal" --config "$src/demo.json" --listen 127.0.0.1 --port 0 >"$tmp/out" 2>"$tmp/log" &
pids+=($!)
for _ in $(seq 100); do
        grep -q '^listening on ' "$tmp/out" 2>/dev/null && break
        sleep 0.05
done
base=$(sed -n 's/^listening on //p' "$tmp/out")
[ -n "$base" ] || { echo "Bail out! the portal did not start: $(cat "$tmp/log")"; exit 1; }

pk='S6REkbStSNMfn8hpLkVxibjR%2Bzz3RO%2FGq40TprHJE2U%3D'
ua='Debian/12 gui-client/1.5.17 (x86_64; 6.1.0)'

# upgrade NAME PATH [curl args...]: the response head and body in $tmp/NAME
upgrade() {
        local name=$1 path=$2
        shift 2
        curl -si --max-time 1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
                -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$@" "$base$path" >"$tmp/$name" 2>/dev/null
        return 0
}
status_is() { head -n1 "$tmp/$1" | grep -q "^HTTP/1.1 $2 "; }
problem_is() { # name status code detail
        status_is "$1" "$2" &&
                grep -qi '^Content-Type: application/problem+json' "$tmp/$1" &&
                tail -n1 "$tmp/$1" | grep -qF "\"status\":$2,\"detail\":\"$4\",\"code\":\"$3\"" &&
                tail -n1 "$tmp/$1" | grep -qF '"type":"about:blank"'
}

# --- a client token through the sign-in pages -----------------------------------------------
nonce=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
state=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
curl -s -o "$tmp/form" -w '%{http_code}' "$base/demo?as=gui-client&nonce=$nonce&state=$state" >"$tmp/form.code"
check "sign-in form is served" grep -q 200 "$tmp/form.code"
check "sign-in form carries the nonce" grep -qF "value=\"$nonce\"" "$tmp/form"
curl -s -o "$tmp/wrong" -w '%{http_code}' --data-urlencode "email=alice@example.com" \
        --data-urlencode "password=not-it" --data-urlencode "as=gui-client" --data-urlencode "nonce=$nonce" \
        --data-urlencode "state=$state" "$base/demo" >"$tmp/wrong.code"
check "wrong password is refused with the error shown" \
        bash -c "grep -q 401 '$tmp/wrong.code' && grep -q 'Invalid email or password.' '$tmp/wrong'"
curl -s -o /dev/null -c "$tmp/jar" --data-urlencode "email=alice@example.com" --data-urlencode "password=wonderland" \
        --data-urlencode "as=gui-client" --data-urlencode "nonce=$nonce" --data-urlencode "state=$state" "$base/demo"
curl -s -D "$tmp/redirect" -o /dev/null -b "$tmp/jar" "$base/demo/sign_in/client_redirect"
location=$(sed -n 's/^Location: //p' "$tmp/redirect" | tr -d '\r')
check "client_redirect answers 302 to the deep link" \
        bash -c "head -n1 '$tmp/redirect' | grep -q ' 302 ' && [[ '$location' == firezone-fd0020211111://handle_client_sign_in_callback\\?* ]]"
fragment=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["fragment"][0])' "$location")
check "state comes back unchanged" \
        python3 -c 'import sys, urllib.parse as u; sys.exit(u.parse_qs(u.urlsplit(sys.argv[1]).query)["state"] != [sys.argv[2]])' "$location" "$state"
token="$nonce$fragment"

curl -s -o "$tmp/root" "$base/?as=gui-client&nonce=$nonce&state=$state"
check "without a slug the accounts are listed, keeping the query" \
        grep -qF "href=\"/demo?as=gui-client&amp;nonce=$nonce&amp;state=$state\"" "$tmp/root"
curl -s -o /dev/null -w '%{http_code}' "$base/demo/sign_in/client_redirect" >"$tmp/nocookie.code"
check "client_redirect without the sign-in cookie: 400" grep -q 400 "$tmp/nocookie.code"
curl -s -o /dev/null -w '%{http_code}' "$base/nope?as=gui-client&nonce=a&state=b" >"$tmp/noacct.code"
check "unknown account: 404" grep -q 404 "$tmp/noacct.code"

# --- client socket -------------------------------------------------------------------------
q="?external_id=curl-device&name=curl&public_key=$pk"
upgrade missing "/client/v2/websocket$q" -A "$ua"
check "no token: 401 missing_token" problem_is missing 401 missing_token "Missing token"
upgrade bad "/client/v2/websocket$q" -A "$ua" -H "X-Authorization: Bearer $nonce.SFMyNTY.e30.AAAA"
check "forged token: 401 invalid_token" problem_is bad 401 invalid_token "Invalid token"
upgrade othernonce "/client/v2/websocket$q" -A "$ua" -H "X-Authorization: Bearer 00$fragment"
check "fragment with another nonce: 401 invalid_token" problem_is othernonce 401 invalid_token "Invalid token"
expired=$("$portal" --config "$src/demo.json" --issue-token alice@example.com --account demo --expires-in -5)
upgrade expired "/client/v2/websocket$q" -A "$ua" -H "X-Authorization: Bearer $expired"
check "expired token: 401 invalid_token" problem_is expired 401 invalid_token "Invalid token"
upgrade gwtoken "/client/v2/websocket$q" -A "$ua" -H "X-Authorization: Bearer demo-gateway-token-hq-1"
check "gateway token on the client path: 401" problem_is gwtoken 401 invalid_token "Invalid token"
upgrade noua "/client/v2/websocket$q" -A "curl/8" -H "X-Authorization: Bearer $token"
check "User-Agent without gui-client/x.y.z: 400" problem_is noua 400 invalid_connect_params "user_agent is invalid"
upgrade badver "/client/v2/websocket$q" -A "Debian/12 gui-client/1.5" -H "X-Authorization: Bearer $token"
check "non-semver version: 400" problem_is badver 400 invalid_connect_params "user_agent is invalid"
upgrade noid "/client/v2/websocket?public_key=$pk" -A "$ua" -H "X-Authorization: Bearer $token"
check "no external_id: 400" problem_is noid 400 invalid_connect_params "external_id can't be blank"
upgrade nokey "/client/v2/websocket?external_id=curl-device" -A "$ua" -H "X-Authorization: Bearer $token"
check "no public_key: 400" problem_is nokey 400 invalid_connect_params "public_key can't be blank"
upgrade rawplus "/client/v2/websocket?external_id=curl-device&public_key=S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=" \
        -A "$ua" -H "X-Authorization: Bearer $token"
check "public_key not form-encoded: 400" problem_is rawplus 400 invalid_connect_params "public_key is invalid"
upgrade good "/client/v2/websocket$q" -A "$ua" -H "X-Authorization: Bearer $token"
check "signed-in token: 101" status_is good 101
upgrade legacy "/client/v2/websocket$q&token=$token" -A "headless-client/1.5.12"
check "legacy ?token= when the header is absent: 101" status_is legacy 101

# The headless flow shows the bare fragment, which is itself the token.
curl -s -o "$tmp/headless" --data-urlencode "email=bob@example.com" --data-urlencode "password=builder" \
        --data-urlencode "as=headless-client" "$base/demo"
headless=$(sed -n 's/.*<code id="token">\([^<]*\)<\/code>.*/\1/p' "$tmp/headless")
check "headless sign-in shows a fragment" bash -c "[[ '$headless' == .SFMyNTY.* ]]"
upgrade headless "/client/v2/websocket$q" -A "Debian/12 headless-client/1.5.12" -H "X-Authorization: Bearer $headless"
check "the headless token: 101" status_is headless 101

# --- gateway socket ------------------------------------------------------------------------
gq="?external_id=gw-1&name=hq&public_key=$pk"
gua='Debian/12 gateway/1.6.0'
upgrade gwbad "/gateway/v2/websocket$gq" -A "$gua" -H "X-Authorization: Bearer nope"
check "unknown gateway token: 401 invalid_token" problem_is gwbad 401 invalid_token "Invalid token"
upgrade gwua "/gateway/v2/websocket$gq" -A "$ua" -H "X-Authorization: Bearer demo-gateway-token-hq-1"
check "client User-Agent on the gateway path: 400" problem_is gwua 400 invalid_connect_params "user_agent is invalid"
# Hold one gateway socket open in the background; a second one is a conflict.
curl -s --max-time 5 -o /dev/null -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
        -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -A "$gua" -H "X-Authorization: Bearer demo-gateway-token-hq-1" \
        "$base/gateway/v2/websocket$gq" &
pids+=($!)
for _ in $(seq 100); do
        grep -q 'gateway .* connected' "$tmp/log" && break
        sleep 0.05
done
upgrade gwdup "/gateway/v2/websocket$gq" -A "$gua" -H "X-Authorization: Bearer demo-gateway-token-hq-1"
check "second socket for a connected gateway: 409" \
        problem_is gwdup 409 gateway_already_connected "Gateway already connected"

echo "1..$n"
[ "$failed" -eq 0 ]
