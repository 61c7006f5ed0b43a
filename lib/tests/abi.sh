#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# abi.sh - libkarena.so.0 keeps the programs built against 0.1.0 working:
# one is made as 0.1.0 made them (linked against a libkarena.so.0 without
# symbol versions, so its reference to karena_stats carries none) and run
# against today's library; and a program built now binds to the current
# layout (karena_stats@KARENA_0.2). TAP.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/tap.sh"
cc=${CC:-cc}

[ -f "$here/libkarena.so.0" ] || { echo "1..0 # SKIP libkarena.so.0 not built (make -C lib)"; exit 0; }

# The 0.1.0 program: its link-time library is a stub with the same soname
# and no version script; at run time it gets ours.
mkdir "$tmp/old"
printf 'void karena_stats(void *s) { (void)s; }\nvoid *karena_malloc(unsigned long n) { (void)n; return 0; }\nvoid karena_free(void *p) { (void)p; }\n' > "$tmp/stub.c"
if $cc -shared -fPIC -Wl,-soname,libkarena.so.0 -o "$tmp/old/libkarena.so.0" "$tmp/stub.c" &&
	$cc -O2 -o "$tmp/abi_0_1" "$here/tests/abi_0_1.c" "$tmp/old/libkarena.so.0"; then
	ok "a program built as against 0.1.0 links"
else
	notok "a program built as against 0.1.0 links"
	tap_done
fi
if readelf -V "$tmp/abi_0_1" | grep -q KARENA_; then
	notok "the 0.1.0 program's references carry no version"
else
	ok "the 0.1.0 program's references carry no version"
fi
out=$(KARENA_BACKEND=mmap LD_LIBRARY_PATH="$here" "$tmp/abi_0_1" 2>&1)
status=$?
echo "$out" | sed 's/^/# /'
if [ $status -eq 0 ] && echo "$out" | grep -q '^1\.\.5$'; then
	ok "karena_stats fills 0.1.0's layout for it (5 checks)"
else
	notok "karena_stats fills 0.1.0's layout for it (exit $status)"
fi

# A program built now references the current version (and, with the
# default arenas, gets the default medium_max: KARENA_ARENA_KB=64 lowers it).
printf '#include <karena.h>\nint main(void) { struct karena_stats st; karena_stats(&st);\n return !(st.classes[KARENA_NUM_CLASSES - 1].size == KARENA_SMALL_MAX && st.medium_max == KARENA_MEDIUM_MAX); }\n' > "$tmp/new.c"
if $cc -I"$here/include" -o "$tmp/new" "$tmp/new.c" -L"$here" -lkarena &&
	readelf -V "$tmp/new" | grep -q 'Name: KARENA_0.2' &&
	env -u KARENA_ARENA_KB KARENA_BACKEND=mmap LD_LIBRARY_PATH="$here" \
		"$tmp/new"; then
	ok "a program built now binds karena_stats@KARENA_0.2 and gets the current layout"
else
	notok "a program built now binds karena_stats@KARENA_0.2 and gets the current layout"
fi
tap_done
