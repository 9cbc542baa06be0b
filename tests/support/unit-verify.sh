#!/bin/bash
# unit-verify.sh UNIT NAME TYPE CAPABILITIES: `systemd-analyze verify` on a systemd unit (the
# copy whose ExecStart= is the built program), saved as NAME.service; fails on any error and on
# any warning it prints (unknown keys are only warnings), and unless the unit has Type=TYPE and
# CapabilityBoundingSet=CAPABILITIES.
set -uo pipefail
unit=$1 name=$2 type=$3 caps=$4
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not found (install-deps installs systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify names the unit after its file name.
cp "$unit" "$tmp/$name.service"
out=$(systemd-analyze verify --man=no "$tmp/$name.service" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: systemd-analyze verify exited $rc" >&2; exit 1; }
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify printed warnings" >&2; exit 1; }
grep -qx "Type=$type" "$tmp/$name.service" || { echo "FAIL: not Type=$type" >&2; exit 1; }
grep -qx "CapabilityBoundingSet=$caps" "$tmp/$name.service" || { echo "FAIL: capabilities" >&2; exit 1; }
echo "$name.service verified"
