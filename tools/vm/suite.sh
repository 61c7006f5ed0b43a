#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (busybox sh, in /karena, karena.ko loaded): every
# kselftest binary of selftests/karena, the library's tests (and python3
# and its C helpers under the preload) and the Python package's tests
# against the kernel backend, and the tools' tests. Each program prints
# TAP; a program that exits non-zero without printing "not ok" gets a
# "not ok" line here, so a crash is never silent. Exit status: 0 iff
# everything passed.
#
# KARENA_SUITE_ONLY=pattern runs only the programs whose path matches.

rc=0
out=/tmp/suite.out

run() {
	case "$*" in *${KARENA_SUITE_ONLY:-}*) ;; *) return 0 ;; esac
	echo "# == $*"
	"$@" > "$out" 2>&1
	st=$?
	cat "$out"
	if [ $st != 0 ]; then
		rc=1
		grep -q '^not ok' "$out" || echo "not ok - $* exited with status $st"
	fi
}

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | tail -c 3)" = ELF ]; }

for t in selftests/karena/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	case "$t" in
	*.sh) run sh "$t"; continue ;;
	# Needs a small VM of its own: tools/check.sh boots one for it.
	*/karena_pressure) [ -n "${KARENA_SUITE_ONLY:-}" ] || continue ;;
	esac
	is_elf "$t" && run "$t"
done

export KARENA_BACKEND=kernel
for t in $(cat .vm-lib-tests 2>/dev/null); do
	t=lib/${t#lib/}
	[ -x "$t" ] && run "$t"
done
# Large blocks made of empty arenas are the mmap backend's alone, and
# their moves are the kernel's: once more on it, on each kernel.
t=lib/tests/test_large_reuse
[ -x "$t" ] && run sh -c "KARENA_BACKEND=mmap exec $t"

# Real programs under LD_PRELOAD=libkarena-malloc.so on the kernel backend:
# python3, sqlite3, bash and cc1 (in the initramfs with --python), python3 forking
# from every kind of thread too, and the library's C helpers.
for t in lib/tests/preload.sh lib/tests/fork.sh; do
	[ -f "$t" ] && run sh "$t"
done

# The Python package (tools/vm/run --python puts python3 and build/python
# in the initramfs); KARENA_BACKEND=kernel from above.
if [ -d build/python ]; then
	run python3 python/tests/test_karena.py
fi

for t in tools/tests/*.sh; do
	[ -f "$t" ] && run sh "$t"
done
exit $rc
