#!/bin/bash
# Runs test-kilnd-bus (TAP) with a "kiln" group present and, as root, a network namespace for
# the portal tests (kilnd and kiln-test-portal run inside it, so tun-kiln never touches the
# host): creates the group when it is missing and removes it again on any exit, even when the
# test binary aborts; the namespace goes with tests/support/netns.sh's cleanup.
set -uo pipefail
exe=$1
shift
if [ "$(id -u)" -eq 0 ]; then
        # shellcheck source=../../support/netns.sh
        . "$(dirname "$0")/../../support/netns.sh"
        if ! getent group kiln >/dev/null; then
                groupadd --system kiln || { echo "Bail out! groupadd kiln failed"; exit 1; }
                on_exit 'groupdel kiln'
        fi
        ns_add kilnd
        export KILN_TEST_NETNS
        KILN_TEST_NETNS=$(ns_name kilnd)
fi
"$exe" "$@"
