#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run TAP programs, echo their output, end with "N passed, N failed".
pass=0; fail=0; skip=0
for t in "$@"; do
	echo "# $t"
	# A hang is a failure, never a stalled run (KARENA_TEST_TIMEOUT seconds).
	out=$( ( timeout -k 10 "${KARENA_TEST_TIMEOUT:-600}" "$t" 2>&1; echo "exit-status $?" ) )
	echo "$out" | grep -v '^exit-status'
	st=$(echo "$out" | sed -n 's/^exit-status //p')
	p=$(echo "$out" | grep -c '^ok ')
	s=$(echo "$out" | grep -c '^ok .*# SKIP')
	f=$(echo "$out" | grep -c '^not ok ')
	pass=$((pass + p - s)); skip=$((skip + s)); fail=$((fail + f))
	if [ "$st" != 0 ] && [ "$f" = 0 ]; then
		echo "not ok - $t exited with status $st"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
