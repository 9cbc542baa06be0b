#!/bin/bash
# `systemd-analyze verify` on kilnd.service (the copy whose ExecStart= is the built kilnd):
# fails on any error and on any warning it prints (unknown keys are only warnings).
set -uo pipefail
unit=$1
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not found (install-deps installs systemd)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify names the unit after its file name.
cp "$unit" "$tmp/kilnd.service"
out=$(systemd-analyze verify --man=no "$tmp/kilnd.service" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: systemd-analyze verify exited $rc" >&2; exit 1; }
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify printed warnings" >&2; exit 1; }
grep -q '^Type=notify$' "$tmp/kilnd.service" || { echo "FAIL: not Type=notify" >&2; exit 1; }
grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN$' "$tmp/kilnd.service" || { echo "FAIL: capabilities" >&2; exit 1; }
echo "kilnd.service verified"
