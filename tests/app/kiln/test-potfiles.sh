#!/bin/bash
# Every source with user-visible strings must be in po/POTFILES.in, and de.po must translate
# every message, or `LANGUAGE=de kiln` shows English in places.
set -euo pipefail
cd "${KILN_SOURCE_ROOT:?}"
echo "1..2"
listed=$(grep -v '^#' po/POTFILES.in | sort)
found=$( (grep -l -E '\b(N?_|ngettext)\("' app/kiln/*.c || true; grep -l 'translatable="yes"' resources/ui/*.ui || true;
        ls resources/*.desktop.in resources/*.metainfo.xml.in) | sort -u)
missing=$(comm -13 <(echo "$listed") <(echo "$found"))
if [ -n "$missing" ]; then
        echo "not ok 1 - files with translatable strings missing from po/POTFILES.in: $missing"
        exit 1
fi
echo "ok 1 - po/POTFILES.in lists every file with translatable strings"
pot=$(mktemp)
trap 'rm -f "$pot"' EXIT
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=ngettext:1,2 --add-comments=Translators \
        -f <(grep -v '^#' po/POTFILES.in) -o "$pot" 2>/dev/null
stats=$(msgmerge --quiet -o - po/de.po "$pot" | msgfmt --statistics -o /dev/null - 2>&1)
case "$stats" in
*untranslated* | *fuzzy*)
        echo "not ok 2 - de.po is incomplete: $stats (update it from po/kiln.pot: meson compile kiln-pot)"
        exit 1
        ;;
esac
echo "ok 2 - de.po translates every message ($stats)"
