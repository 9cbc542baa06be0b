#!/bin/bash
# The gui suite's "browser", registered as the default http handler: signs in on the test
# portal's page in headless Chromium (tests/portal/signin-driver.mjs) and hands the deep link the
# portal redirects to over to the app, as a desktop's URL handler would.
#
#   sign-in-browser.sh SIGN_IN_URL KILN
#
# Environment: KILN_SOURCE_ROOT; SIGN_IN_EMAIL, SIGN_IN_PASSWORD; SIGN_IN_NETNS (Chromium runs
# there, where the portal listens); SIGN_IN_FORGE_FIRST=1 (optional: first hand KILN a copy of
# the deep link with another state, as a forged callback would be); SIGN_IN_SAVE (optional:
# file that receives the deep link, for replaying it).
set -euo pipefail
url=$1
kiln=$2
run=()
[ -n "${SIGN_IN_NETNS:-}" ] && run=(ip netns exec "$SIGN_IN_NETNS")
link=$("${run[@]}" node "${KILN_SOURCE_ROOT:?}/tests/portal/signin-driver.mjs" "$url" \
        "${SIGN_IN_EMAIL:?}" "${SIGN_IN_PASSWORD:?}")
echo "sign-in-browser: the portal redirected to ${link%%\?*}"
[ -n "${SIGN_IN_SAVE:-}" ] && printf '%s\n' "$link" >"$SIGN_IN_SAVE"
if [ "${SIGN_IN_FORGE_FIRST:-0}" = 1 ]; then
        forged=$(sed -E 's/([?&]state=)[0-9a-fA-F]{64}/\1'"$(printf '0%.0s' {1..64})"'/' <<<"$link")
        [ "$forged" != "$link" ] || { echo "sign-in-browser: no state in the deep link" >&2; exit 1; }
        "$kiln" "$forged"
fi
exec "$kiln" "$link"
