#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# symbols.sh - what the installed libraries export: libkarena.so and
# libkarena.a exactly the functions declared in include/karena.h;
# libkarena-malloc.so those and the C allocator's names of
# src/malloc_shim.c; no test hook (karena__*) anywhere in them, not even
# as a local symbol. An unexpected name fails, and so does a missing one.
# TAP.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/tap.sh"

for f in libkarena.so libkarena.a libkarena-malloc.so; do
	[ -f "$here/$f" ] || { echo "1..0 # SKIP $f not built (make -C lib)"; exit 0; }
done
command -v nm >/dev/null || { echo "not ok 1 - nm not installed (binutils)"; exit 1; }

# The API: every function the public header declares.
sed -n 's/^[a-z].*[ *]\(karena_[a-z0-9_]*\)(.*/\1/p' "$here/include/karena.h" |
	sort -u > "$tmp/api"
[ -s "$tmp/api" ] || { echo "not ok 1 - no function found in include/karena.h"; exit 1; }
# The shim: every function malloc_shim.c defines with SHIM.
sed -n 's/^SHIM .*[ *]\([a-z_0-9]*\)(.*/\1/p' "$here/src/malloc_shim.c" |
	sort -u > "$tmp/shim"
sort -u "$tmp/api" "$tmp/shim" > "$tmp/api+shim"

# compare WHAT GOT WANT: ok if the exported names are the wanted ones
compare() {
	if cmp -s "$2" "$3"; then
		ok "$1 exports the $(wc -l < "$3") names it should, and no other"
	else
		notok "$1 exports other names than it should"
		comm -23 "$2" "$3" | head -10 | sed 's/^/# unexpected: /'
		comm -13 "$2" "$3" | head -10 | sed 's/^/# missing: /'
	fi
}

# Defined, global, in the dynamic symbol table: code and data.
nm -D --defined-only "$here/libkarena.so" | awk '$2 ~ /^[TDBVWRi]$/ { print $3 }' |
	sed 's/@.*//' | sort -u > "$tmp/so"
compare libkarena.so "$tmp/so" "$tmp/api"

nm -D --defined-only "$here/libkarena-malloc.so" | awk '$2 ~ /^[TDBVWRi]$/ { print $3 }' |
	sed 's/@.*//' | sort -u > "$tmp/malloc"
compare libkarena-malloc.so "$tmp/malloc" "$tmp/api+shim"

# A static archive has no export list: its global definitions are what a
# program linking it may bind to (or collide with).
nm -g --defined-only "$here/libkarena.a" | awk 'NF == 3 { print $3 }' |
	sort -u > "$tmp/a"
compare libkarena.a "$tmp/a" "$tmp/api"

hooks=$(for f in libkarena.so libkarena.a libkarena-malloc.so; do
	nm "$here/$f" 2>/dev/null | awk -v f="$f" '$NF ~ /^karena__/ { print f ": " $NF }'
done)
if [ -z "$hooks" ]; then
	ok "no test hook (karena__*) is in a shipped library, even as a local name"
else
	notok "test hooks in a shipped library"
	echo "$hooks" | head -10 | sed 's/^/# /'
fi

tap_done
