#!/bin/bash
# Soak (a script, not a CI test; root): the e2e topology (tests/e2e/e2e-lib.sh), iperf3 through
# one client ↔ gateway tunnel for N minutes while the portal's resources churn (the DNS resource
# removed / added back + SIGHUP every 30 s).  Samples RSS and PSS of kilnd and the serving
# kiln-gateway every 10 s and prints the samples, the growth after warm-up and whether it stays
# within the bound.
#   soak.sh [--minutes N] [--bound-kb KB] [BUILD_ROOT]     (defaults: 10 minutes, 4096 KB, _build/dev)
# Growth = the mean of the last three samples minus the first sample after warm-up (the first
# third of the run, at most 60 s): buffers and caches grow to their working size first.
minutes=10
bound_kb=4096
while [ $# -gt 0 ]; do
        case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --bound-kb) bound_kb=$2; shift 2 ;;
        *) break ;;
        esac
done
build=${1:-_build/dev}
. "$(dirname "$0")/../e2e/e2e-lib.sh"
require_cmd iperf3
total=$((minutes * 60))

start_kilnd kilnd
out=$(fetch http://10.3.0.80:8080/ 30) && grep -q hello "$TEST_TMP/body" || fail "no access through the tunnel: $out"
serving=$(grep -l '"message":"client connected"' "$TEST_TMP"/gw1/kiln-gateway.log "$TEST_TMP"/gw2/kiln-gateway.log | head -1)
[ "$serving" = "$TEST_TMP/gw1/kiln-gateway.log" ] && gw_pid=$gw1_pid || gw_pid=$gw2_pid

# iperf3 on a second address of the resource host, port 8080 (the only TCP port the filters allow).
ns_exec res ip addr add 10.3.0.81/24 dev r-lan
bg_start res iperf3-server iperf3 -s -B 10.3.0.81 -p 8080
wait_for 5 "ns_exec res ss -tln | grep -q '10.3.0.81:8080'" || fail "iperf3 -s did not start"
bg_start client iperf3 iperf3 -c 10.3.0.81 -p 8080 -t "$total" -i 30 --forceflush
iperf_pid=$BG_PID

mem() { # $1: pid → "RSS_KB PSS_KB"
        awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r, p }' "/proc/$1/smaps_rollup"
}
warmup=$((total / 3 < 60 ? total / 3 : 60))
printf '# %6s  %10s %10s  %10s %10s\n' "t(s)" "kilnd RSS" "PSS" "gw RSS" "PSS"
samples=()
t0=$SECONDS
app=app
next_churn=30
churns=0
while [ $((SECONDS - t0)) -lt "$total" ]; do
        t=$((SECONDS - t0))
        if [ $t -ge $next_churn ]; then
                next_churn=$((next_churn + 30))
                [ $app = app ] && app=noapp || app=app
                write_config $app
                kill -HUP "$portal_pid"
                churns=$((churns + 1))
        fi
        read -r kr kp <<<"$(mem "$kilnd_pid")" || fail "kilnd is gone"
        read -r gr gp <<<"$(mem "$gw_pid")" || fail "the gateway is gone"
        printf '# %6d  %10s %10s  %10s %10s\n' "$t" "$kr" "$kp" "$gr" "$gp"
        [ $t -ge "$warmup" ] && samples+=("$kr $kp $gr $gp")
        sleep 10
done
wait "$iperf_pid" || echo "# iperf3 exited $?"
grep -E 'sender|receiver' "$TEST_TMP/iperf3.log" | sed 's/^/# iperf3: /'
echo "# churn: $churns portal edits + SIGHUP, $(grep -c '^resources ' "$TEST_TMP/kilnd.log") resource lists seen by kilnd"
kill -0 "$kilnd_pid" && kill -0 "$gw_pid" || fail "kilnd or the gateway died during the soak"
out=$(fetch http://10.3.0.80:8080/ 10) && grep -q hello "$TEST_TMP/body" || fail "no access after the soak: $out"
n=${#samples[@]}
[ "$n" -ge 4 ] || fail "too few samples after warm-up ($n)"
printf '%s\n' "${samples[@]}" | awk -v bound="$bound_kb" -v n="$n" '
        NR == 1 { for (i = 1; i <= 4; i++) first[i] = $i }
        NR > n - 3 { for (i = 1; i <= 4; i++) last[i] += $i / 3 }
        END {
                split("kilnd RSS,kilnd PSS,gateway RSS,gateway PSS", name, ",")
                bad = 0
                for (i = 1; i <= 4; i++) {
                        g = last[i] - first[i]
                        printf "# growth after warm-up, %s: %+d KB (%d → %d KB)\n", name[i], g, first[i], last[i]
                        if (g > bound) bad = 1
                }
                printf "# bound %d KB: %s\n", bound, bad ? "EXCEEDED" : "within"
                exit bad
        }' || fail "memory grew beyond $bound_kb KB"
echo "ok - soak of $minutes min: no growth beyond $bound_kb KB"
