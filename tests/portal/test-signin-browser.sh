#!/bin/bash
# Runs test-signin-browser.mjs under node's test runner (TAP).  Skips (exit 77) when Chromium or
# the npm packages are missing; build-aux/install-deps installs both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null; then
        echo "1..0 # SKIP needs /usr/bin/chromium and node (build-aux/install-deps)"
        exit 0
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
        echo "1..0 # SKIP needs playwright-core: run build-aux/install-deps (npm ci in tests/portal)"
        exit 0
fi
cd "$here"
exec node --test --test-reporter=tap test-signin-browser.mjs
