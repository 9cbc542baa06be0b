#!/bin/bash
# Conformance: feeds every frame under frames/ to kiln-portal-decode and compares, exactly,
# its stdout with NAME.expected (accepted) or its stderr with NAME.rejected (exit status 2).
# The frames are the control-plane spec's §3.5 vectors and examples (see gen-frames.py).
# With --gateway: the portal → gateway frames of spec §4 under frames/gateway/.
set -u
decode=$1
role=${2:-}
dir=$(dirname "$0")/frames
[ "$role" = --gateway ] && dir=$dir/gateway
frames=("$dir"/*.json)
echo "1..${#frames[@]}"
n=0
failed=0
for frame in "${frames[@]}"; do
        n=$((n + 1))
        name=$(basename "$frame" .json)
        out=$("$decode" $role < "$frame" 2>/tmp/kiln-decode-$$.err)
        rc=$?
        err=$(cat /tmp/kiln-decode-$$.err)
        if [ -f "$dir/$name.expected" ]; then
                if [ $rc -eq 0 ] && [ "$out" == "$(cat "$dir/$name.expected")" ]; then
                        echo "ok $n - $name accepted"
                else
                        echo "not ok $n - $name: expected acceptance, got exit $rc: $err"
                        diff <(echo "$out") "$dir/$name.expected" | sed 's/^/# /'
                        failed=1
                fi
        elif [ -f "$dir/$name.rejected" ]; then
                if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$err" == "$(cat "$dir/$name.rejected")" ]; then
                        echo "ok $n - $name rejected"
                else
                        echo "not ok $n - $name: expected rejection \"$(cat "$dir/$name.rejected")\", got exit $rc: $err"
                        failed=1
                fi
        else
                echo "not ok $n - $name has neither .expected nor .rejected"
                failed=1
        fi
done
rm -f /tmp/kiln-decode-$$.err
exit $failed
