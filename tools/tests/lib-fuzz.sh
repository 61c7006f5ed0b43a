#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run the libFuzzer target tools/fuzz/lib_fuzz (libkarena under ASan+UBSan)
# for a bounded time and print TAP.
#
#   natively (tools/check.sh):  builds it (make -C tools/fuzz lib-fuzz) and
#       runs it on the mmap backend, then once more with KARENA_DEBUG=1
#   in the test VM (KARENA_IN_VM=1, tools/vm/suite.sh): runs the binary
#       built natively, on the kernel backend; SKIP if it was not built
#
#   KARENA_LIB_FUZZ_TIME   seconds per run (30 native, 15 in the VM;
#                          KARENA_SOAK=1: 600)
#   KARENA_LIB_FUZZ_SEED   libFuzzer -seed (default: a new one, printed)
#
# A crash leaves its input in build/lib-fuzz/ (native) or /tmp (VM); replay
# it with: tools/fuzz/lib_fuzz CRASH_FILE
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/tools/fuzz/lib_fuzz
seed=${KARENA_LIB_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

if [ "${KARENA_IN_VM:-0}" = 1 ]; then
	[ -x "$bin" ] || { echo "1..0 # SKIP lib_fuzz not built natively"; exit 0; }
	[ -e /dev/karena ] || { echo "1..0 # SKIP no /dev/karena"; exit 0; }
	# libFuzzer's runtime uses POPCNT, which QEMU's default CPU lacks
	grep -qw popcnt /proc/cpuinfo ||
		{ echo "1..0 # SKIP the VM's CPU has no popcnt (libFuzzer needs it; QEMU -cpu max)"; exit 0; }
	time=${KARENA_LIB_FUZZ_TIME:-15}
	work=/tmp/lib-fuzz
	runs="kernel:0"
else
	time=${KARENA_LIB_FUZZ_TIME:-30}
	[ "${KARENA_SOAK:-0}" = 1 ] && time=${KARENA_LIB_FUZZ_TIME:-600}
	work=$top/build/lib-fuzz
	mkdir -p "$work"
	if ! command -v clang >/dev/null; then
		echo "1..0 # SKIP no clang (tools/install-deps.sh)"
		exit 0
	fi
	if ! make -s -C "$top/tools/fuzz" lib-fuzz > "$work/build.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - lib_fuzz builds (log: build/lib-fuzz/build.log)"
		sed 's/^/# /' "$work/build.log" | tail -n 20
		exit 1
	fi
	runs="mmap:0 mmap:1"
fi
mkdir -p "$work/corpus"

n=0
set -- $runs
echo "1..$#"
rc=0
for r in "$@"; do
	n=$((n + 1))
	backend=${r%:*} debug=${r#*:}
	name="lib_fuzz backend=$backend debug=$debug seed=$seed ${time}s"
	log=$work/run-$n.log
	KARENA_BACKEND=$backend KARENA_DEBUG=$debug \
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" -max_total_time="$time" -seed="$seed" -max_len=4096 \
		-timeout=20 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/corpus" > "$log" 2>&1
	st=$?
	runs_done=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $st = 0 ]; then
		echo "ok $n - $name runs=${runs_done:-?}"
	else
		rc=1
		echo "not ok $n - $name: exit $st (log: $log)"
		{ grep -E 'ERROR|lib_fuzz:|SUMMARY|Test unit written|runtime error' "$log" ||
			tail -n 5 "$log"; } | head -n 10 | sed 's/^/# /'
	fi
done
exit $rc
