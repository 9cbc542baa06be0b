#!/bin/bash
# Runs test-kilnd-bus (TAP) with a "kiln" group present: as root, creates the group when it is
# missing and removes it again on any exit, even when the test binary aborts.
set -uo pipefail
exe=$1
shift
created=0
if [ "$(id -u)" -eq 0 ] && ! getent group kiln >/dev/null; then
        groupadd --system kiln || { echo "Bail out! groupadd kiln failed"; exit 1; }
        created=1
fi
trap '[ $created -eq 1 ] && groupdel kiln' EXIT
"$exe" "$@"
