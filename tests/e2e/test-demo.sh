#!/bin/bash
# The README's demo, headless, on this build tree: `build-aux/run-demo check` starts the portal,
# coturn, a gateway with a web page and a DNS name behind it, kilnd and the app on Xvfb, signs in
# through the portal's form in headless Chromium, then checks the page loads through the tunnel
# from the client namespace by name and by IP, and that the tray (over dbusmenu) says "Signed in
# as Demo User" with both resources; it tears everything down and exits 0 or 1.
# Usage: test-demo.sh BUILD_ROOT
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the demo needs root for its network namespaces; run the suite with sudo"
        exit 77
fi
if pid=$(cat /run/kiln-demo/run-demo.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
        echo "SKIP: a demo is running on this machine (pid $pid); its namespaces have the same names"
        exit 77
fi
exec "$root/build-aux/run-demo" check --no-deps --no-build --build-dir "${1:?BUILD_ROOT}"
