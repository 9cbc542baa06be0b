#!/bin/bash
# resolv.conf control inside a namespace: `ip netns exec` bind-mounts /etc/netns/NS/resolv.conf
# over /etc/resolv.conf, so the helper edits /etc/resolv.conf as kilnd would while the host's
# file stays untouched.  Covers activate/deactivate and recovery after SIGKILL.
. "$KILN_SOURCE_ROOT/tests/support/netns.sh"
require_root
require_cmd ip sha256sum
helper="$KILN_BUILD_ROOT/tests/backend/platform/platform-helper"

host_before=$(sha256sum /etc/resolv.conf 2>/dev/null || echo none)
ns_add c
ns=$(ns_name c)
nsfile=/etc/netns/$ns/resolv.conf
printf 'nameserver 192.0.2.53\nsearch lan.example\n' >"$nsfile"
original=$(cat "$nsfile")
# Make sure the bind mount is what the helper sees.
[ "$(ns_exec c cat /etc/resolv.conf)" = "$original" ] || fail "ip netns exec did not bind-mount $nsfile"

state=$TEST_TMP/state
backup=$TEST_TMP/resolv.conf.before-kiln
rc() { ns_exec c "$helper" resolvconf /etc/resolv.conf "$backup" "$state" "$@"; }

# kilnd's unit runs it with UMask=0077: resolv.conf must stay readable by every user anyway.
(umask 077 && rc activate --search corp.example 100.100.111.1 fd00:2021:1111:8000:100:100:111:1) ||
        fail "activate"
for f in "$nsfile" "$backup" "$state/resolvconf-active"; do
        [ "$(stat -c %a "$f")" = 644 ] || fail "$f has mode $(stat -c %a "$f"), not 644"
done
grep -q '^# BEGIN Kiln DNS configuration' "$nsfile" || fail "no header in $nsfile"
grep -q '^nameserver 100.100.111.1$' "$nsfile" || fail "no v4 sentinel"
grep -q '^nameserver fd00:2021:1111:8000:100:100:111:1$' "$nsfile" || fail "no v6 sentinel"
grep -q '^search corp.example$' "$nsfile" || fail "no search domain"
grep -q '^options ndots:1$' "$nsfile" || fail "no ndots"
[ "$(cat "$backup")" = "$original" ] || fail "backup differs from the original"
[ -e "$state/resolvconf-active" ] || fail "no crash state"
echo "ok: activated"

rc activate 100.100.111.2 || fail "re-activate"
[ "$(cat "$backup")" = "$original" ] || fail "re-activation backed up our own file"
rc deactivate || fail "deactivate"
[ "$(cat "$nsfile")" = "$original" ] || fail "not restored: $(cat "$nsfile")"
[ ! -e "$state/resolvconf-active" ] || fail "crash state left"
[ ! -e "$backup" ] || fail "backup left"
echo "ok: deactivated and restored"

# Crash: the process dies with SIGKILL while active; the next start restores.
bg_start c holder "$helper" resolvconf /etc/resolv.conf "$backup" "$state" activate --hold 100.100.111.1
holder=$BG_PID
wait_for 5 "grep -q '^active' $TEST_TMP/holder.log" || fail "holder did not activate"
kill -9 "$holder"
wait "$holder" 2>/dev/null
grep -q '^# BEGIN Kiln' "$nsfile" || fail "our file should still be in place after SIGKILL"
rc recover || fail "recover"
[ "$(cat "$nsfile")" = "$original" ] || fail "not restored after SIGKILL"
[ ! -e "$state/resolvconf-active" ] || fail "crash state left after recovery"
rc recover || fail "second recover"
[ "$(cat "$nsfile")" = "$original" ] || fail "recover when inactive changed the file"
echo "ok: restored after SIGKILL"

# A symlinked resolv.conf belongs to a resolver manager: refused, nothing changed.
ln -s "$TEST_TMP/elsewhere" "$TEST_TMP/link.conf"
echo "nameserver 192.0.2.1" >"$TEST_TMP/elsewhere"
"$helper" resolvconf "$TEST_TMP/link.conf" "$TEST_TMP/b2" "$state" activate 100.100.111.1 2>/dev/null &&
        fail "symlink accepted"
[ "$(cat "$TEST_TMP/elsewhere")" = "nameserver 192.0.2.1" ] || fail "symlink target changed"
echo "ok: symlinked resolv.conf refused"

[ "$(sha256sum /etc/resolv.conf 2>/dev/null || echo none)" = "$host_before" ] || fail "the host's /etc/resolv.conf changed"
echo "ok: host /etc/resolv.conf untouched"
