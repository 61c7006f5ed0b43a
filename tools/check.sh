#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the one test command.
#
#  1. install what is missing (tools/install-deps.sh, idempotent)
#  2. build the library, tools and selftests; the module for each kernel
#  3. run the library's tests natively (mmap backend), the Python
#     package's (make python; python/tests/test_karena.py), the benchmark
#     suite's own tests (tools/bench/test.sh: small runs, no timing),
#     karenactl's command line (tools/karenactl/tests/cli.sh), the
#     agreement of the netlink spec, the UAPI header and the counter table
#     (tools/spec-check.py) and the installation: make install, DKMS, man
#     pages (packaging/test.sh) and the Debian packages
#     (packaging/deb-test.sh)
#  4. boot each kernel of the matrix under QEMU and run, inside, the
#     kselftests, the library's and the Python package's tests against the
#     kernel backend and the tools' tests (tools/vm/suite.sh)
#  5. print every result and one last line "N passed, N failed[, N skipped]"
#
# Every suite speaks TAP ("ok N name", "not ok N name", "# SKIP why"). A
# suite that exits non-zero without a "not ok" line counts as one failure,
# and so does a VM whose kernel console shows a splat (tools/vm/run judges
# it), so a crash can never pass for green.
#
# KARENA_KERNELS overrides the kernel list ("6.1 6.12 debug" by default);
# KARENA_SOAK=1 (make soak) runs the fuzzers far longer.
set -uo pipefail
# Run as from a shell, also under `make check`: the top Makefile's
# exported variables (PREFIX, DESTDIR, VERSION) and make's own must not
# reach the builds and installs the tests do.
unset PREFIX DESTDIR VERSION MANDIR LIBDIR MAKEFLAGS MFLAGS MAKELEVEL
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=$top/build/check
rm -rf "$logs"; mkdir -p "$logs"
passed=0 failed=0 skipped=0
start=$(date +%s)

# Everything said is also kept in summary.log, for the recap at the end.
say() { printf '%s\n' "$*" | tee -a "$logs/summary.log"; }

# count_tap NAME LOG STATUS: print and count the TAP results of one suite.
count_tap() {
	local name=$1 log=$2 status=$3 p f s
	grep -E '^(not )?ok ' "$log" | sed "s/^/[$name] /" | tee -a "$logs/summary.log"
	p=$(grep -E '^ok ' "$log" | grep -vc '# SKIP' || true)
	s=$(grep -E '^ok ' "$log" | grep -c '# SKIP' || true)
	f=$(grep -cE '^not ok ' "$log" || true)
	if [ "$status" != 0 ] && [ "$f" = 0 ]; then
		say "[$name] not ok - suite exited with status $status (log: $log)"
		tail -n 25 "$log" | sed "s/^/[$name]   /"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# step NAME CMD...: a build or setup step; its failure is one failed test.
step() {
	local name=$1; shift
	if "$@" > "$logs/$name.log" 2>&1; then
		return 0
	fi
	say "[build] not ok - $name (log: $logs/$name.log)"
	tail -n 30 "$logs/$name.log" | sed 's/^/[build]   /'
	failed=$((failed + 1))
	return 1
}

finish() {
	local line="$passed passed, $failed failed"
	[ "$skipped" != 0 ] && line="$line, $skipped skipped"
	# The failures again, last, where a CI log's tail shows them.
	if [ "$failed" != 0 ]; then
		say "== failures"
		grep -E '^\[[^]]*\] +not ok' "$logs/summary.log"
		for f in "$logs"/*.log; do
			[ "$f" = "$logs/summary.log" ] && continue
			grep -q '^not ok' "$f" || continue
			say "-- ${f#"$logs"/}:"
			grep -B3 -A10 '^not ok' "$f" | head -n 60
		done
	fi
	say "make check: $(( $(date +%s) - start ))s, logs in $logs"
	say "$line"
	[ "$failed" = 0 ]
	exit $?
}

say "== dependencies"
step deps bash tools/install-deps.sh || finish
say "== build"
step build-lib make -C lib || finish
step build-tools make -C tools
step build-selftests make -C selftests/karena

say "== library tests (native, mmap backend)"
KARENA_BACKEND=mmap make -s -C lib check > "$logs/lib-native.log" 2>&1
count_tap lib-native "$logs/lib-native.log" $?

say "== library fuzzing (native, libFuzzer + ASan/UBSan)"
sh tools/tests/lib-fuzz.sh > "$logs/lib-fuzz.log" 2>&1
count_tap lib-fuzz "$logs/lib-fuzz.log" $?

# Debian's python3, as make python builds for it.
python=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
say "== python package (native, mmap backend)"
vm_python=()
if step build-python make python PYTHON="$python"; then
	vm_python=(--python)
	KARENA_BACKEND=mmap "$python" python/tests/test_karena.py > "$logs/python-native.log" 2>&1
	count_tap python-native "$logs/python-native.log" $?
fi

say "== benchmark suite (native: the programs, alloc_ir.py, summarize.py, run.sh)"
bash tools/bench/test.sh > "$logs/bench.log" 2>&1
count_tap bench "$logs/bench.log" $?

say "== karenactl's command line (native)"
sh tools/karenactl/tests/cli.sh > "$logs/karenactl-cli.log" 2>&1
count_tap karenactl-cli "$logs/karenactl-cli.log" $?

say "== netlink spec, UAPI header and counter table (native, the kernel's ynl-gen-c.py)"
"$python" tools/spec-check.py > "$logs/spec.log" 2>&1
count_tap spec "$logs/spec.log" $?

say "== installing (native: make install/uninstall, man pages, DKMS for 6.1 and 6.12)"
bash packaging/test.sh > "$logs/packaging.log" 2>&1
count_tap packaging "$logs/packaging.log" $?

say "== Debian packages (native: dpkg-buildpackage, lintian, dpkg -x)"
bash packaging/deb-test.sh > "$logs/deb.log" 2>&1
count_tap deb "$logs/deb.log" $?

# The library's test programs that tools/vm/suite.sh runs in the VM.
make -s -C lib print-tests > .vm-lib-tests 2>/dev/null || : > .vm-lib-tests

kernels=${KARENA_KERNELS:-"6.1 6.12 debug"}
for k in $kernels; do
	if [ "$k" = debug ]; then
		say "== debug kernel (build or reuse)"
		step debug-kernel bash tools/debug-kernel/build.sh || continue
	fi
	say "== kernel $k (QEMU)"
	step "module-$k" bash tools/build-module.sh "$k" || continue
	extra=(--timeout 1800)
	[ "$k" = debug ] && extra=(--kmemleak --timeout "$([ "${KARENA_SOAK:-0}" = 1 ] && echo 3600 || echo 2700)")
	tools/vm/run --kernel "$k" "${extra[@]}" "${vm_python[@]}" --keep "$logs/vm-$k" \
		-- sh tools/vm/suite.sh > "$logs/vm-$k.log" 2>&1
	st=$?
	# 97..99: the VM itself failed; counted once below, not per suite.
	count_tap "$k" "$logs/vm-$k.log" "$([ "$st" -ge 97 ] && echo 0 || echo "$st")"
	# Memory pressure needs a small VM: a boot of its own.
	tools/vm/run --kernel "$k" --mem 256M "${extra[@]}" --keep "$logs/vm-$k-pressure" \
		-- selftests/karena/karena_pressure > "$logs/vm-$k-pressure.log" 2>&1
	pst=$?
	count_tap "$k-256M" "$logs/vm-$k-pressure.log" "$([ "$pst" -ge 97 ] && echo 0 || echo "$pst")"
	[ "$pst" -ge 97 ] && [ "$st" -lt 97 ] && st=$pst
	# The kernel console is judged on its own: one result per boot.
	if [ "$st" -ge 97 ]; then
		say "[$k] not ok - kernel console clean and VM ended normally"
		grep -A40 '^vm/run:' "$logs/vm-$k.log" | head -n 60 | sed "s/^/[$k]   /"
		failed=$((failed + 1))
	else
		say "[$k] ok - kernel console clean and VM ended normally"
		passed=$((passed + 1))
	fi
done
finish
