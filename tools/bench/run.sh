#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/run.sh (`make bench`): karena against glibc, jemalloc, tcmalloc
# and mimalloc, on the workloads of tools/bench/, plus the kernel's grant
# path against anonymous mmap inside the test VM.
#
#   1. installs the bench dependencies and builds lib/ and tools/bench/;
#   2. runs every workload under every allocator, KARENA_BENCH_RUNS times
#      (default 5), the allocators interleaved within each round and their
#      order rotated from round to round, so that a noisy neighbour hits all
#      of them alike; each run goes through /usr/bin/time for wall time and
#      peak RSS, and each program prints its own metrics (bench=... line);
#   3. counts instructions per malloc+free pair with callgrind (deterministic,
#      unlike time on a shared machine);
#   4. builds the module and, in the VM, runs tools/bench/vm-bench.sh
#      (grant_bench, and a few workloads on KARENA_BACKEND=kernel);
#   5. tools/bench/summarize.py turns build/bench/raw.txt into
#      build/bench/results.md and build/bench/bench.png.
#
# Preloads: Debian's libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0
# (paths from dpkg -L), and lib/libkarena-malloc.so with KARENA_BACKEND=mmap.
# glibc runs with no preload.
#
# Environment:
#   KARENA_BENCH_RUNS=N        runs per workload and allocator (5)
#   KARENA_BENCH_RSS_RUNS=N    runs of drain and pin, which measure RSS (few
#                              seconds each, little noise): min(3, RUNS)
#   KARENA_BENCH_ALLOCS="..."  subset of: glibc jemalloc tcmalloc mimalloc karena
#   KARENA_BENCH_ONLY="..."    subset of workloads (hotpair batch churn prodcons
#                              larson xmalloc mstress drain pin python sqlite
#                              callgrind vm)
#
# python: workload.py with pymalloc (CPython's own mmap arenas), with
# pymalloc's arenas from karena (the karena package, make python) and with
# PYTHONMALLOC=malloc; python_rss.py (RSS after the program frees nine
# tenths of its objects) with CPython's arenas and with karena's. In the
# VM, python_rss.py with karena on the kernel backend, as `karenactl
# holders` counts it.
#   KARENA_BENCH_DRAIN=SIZE    bytes the drain workload allocates (256m: page
#                              faults on this shared host cost ~40 us, so
#                              1g takes 15 s a run; KARENA_BENCH_DRAIN=1g)
#   KARENA_BENCH_KERNELS="..." kernels for the VM part (6.1 6.12; "" skips it)
#   KARENA_BENCH_OUT=DIR       output directory (build/bench)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/tools/bench
out=${KARENA_BENCH_OUT:-$top/build/bench}
runs=${KARENA_BENCH_RUNS:-5}
rss_runs=${KARENA_BENCH_RSS_RUNS:-$((runs < 3 ? runs : 3))}
only=${KARENA_BENCH_ONLY:-hotpair batch churn prodcons larson xmalloc mstress drain pin python sqlite callgrind vm}
drain_total=${KARENA_BENCH_DRAIN:-256m}
kernels=${KARENA_BENCH_KERNELS-6.1 6.12}
raw=$out/raw.txt

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
want() { [[ " $only " == *" $1 "* ]]; }

# --- 1. dependencies and build -----------------------------------------------
if [ "$(id -u)" = 0 ]; then
	bash "$top/tools/install-deps.sh" bench || say "install-deps failed; going on with what is installed"
fi
for cmd in /usr/bin/time gnuplot python3 valgrind sqlite3; do
	command -v "$cmd" >/dev/null || { say "missing $cmd (run: tools/install-deps.sh bench)"; exit 1; }
done
make -s -C "$top/lib" >/dev/null 2>&1 || say "lib/ does not build; karena is left out"
make -s -C "$bench" || exit 1
have_pykarena=1
make -s -C "$top" python >/dev/null 2>&1 ||
	{ say "the karena Python package does not build (make python); python-karena left out"; have_pykarena=0; }

# --- the allocators ----------------------------------------------------------
declare -A preload=([glibc]=)
so_of() { dpkg -L "$1" 2>/dev/null | grep -E "/$2\$" | head -n1; }
preload[jemalloc]=$(so_of libjemalloc2 libjemalloc.so.2)
preload[tcmalloc]=$(so_of libtcmalloc-minimal4 libtcmalloc_minimal.so.4)
preload[mimalloc]=$(so_of libmimalloc2.0 libmimalloc.so.2)
preload[karena]=$top/lib/libkarena-malloc.so
allocs=()
for a in ${KARENA_BENCH_ALLOCS:-glibc jemalloc tcmalloc mimalloc karena}; do
	if [ "$a" != glibc ] && [ ! -f "${preload[$a]:-}" ]; then
		say "no shared object for $a; left out"
		continue
	fi
	allocs+=("$a")
done

mkdir -p "$out"
: > "$raw"
# What was measured on: kept with the results.
{
	echo "machine nproc=$(nproc) cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1 | tr ' ' '_')"
	echo "machine date=$(date -u +%Y-%m-%dT%H:%MZ) kernel=$(uname -r) runs=$runs rss_runs=$rss_runs load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
	for p in libc6 libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 python3 sqlite3 valgrind; do
		echo "package $p=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
	done
	libgit=$(git -C "$top" log -1 --format=%h -- lib 2>/dev/null)
	[ -z "$(git -C "$top" status --porcelain -- lib 2>/dev/null)" ] || libgit=$libgit+dirty
	echo "package karena=$(cat "$top/VERSION") git=$(git -C "$top" rev-parse --short HEAD 2>/dev/null) lib=$libgit"
} > "$out/machine.txt"

# run_one WORKLOAD ALLOC RUN CMD...: one timed run; one raw line per bench=
# line the program prints (or one bench=WORKLOAD line if it prints none).
run_one() {
	local wl=$1 alloc=$2 run=$3 rc=0 t lines
	shift 3
	timeout 300 /usr/bin/time -f 'wall_s=%e maxrss_kb=%M' -o "$out/.time" \
		env ${preload[$alloc]:+LD_PRELOAD=${preload[$alloc]}} \
		KARENA_BACKEND=mmap "$@" > "$out/.stdout" 2> "$out/.stderr" || rc=$?
	t=$(tail -n1 "$out/.time")
	[ "$rc" = 0 ] || { say "$wl under $alloc failed (exit $rc):"; tail -n3 "$out/.stderr" >&2; t=; }
	lines=$(grep '^bench=' "$out/.stdout")
	[ -n "$lines" ] || lines="bench=$wl"
	while IFS= read -r l; do
		echo "wl=$wl alloc=$alloc run=$run rc=$rc $t $l"
	done <<< "$lines" >> "$raw"
}

# The workloads: name and command (run from tools/bench/).
hot_sizes=$(seq -s, 16 16 512),1024,4096,16384
declare -A cmd=(
	[hotpair]="./hotpair size=$hot_sizes iters=1e6"
	[batch-lifo]="./batch order=lifo n=100000 rounds=20"
	[batch-fifo]="./batch order=fifo n=100000 rounds=20"
	[batch-random]="./batch order=random n=100000 rounds=20"
	[churn]="./churn live=100000 steps=4e6"
	[prodcons]="./prodcons n=2e6"
	[larson]="./larson threads=2 steps=1e5 rounds=20"
	[xmalloc]="./xmalloc threads=2 n=1e6"
	[mstress]="./mstress threads=8 steps=2e5 retire=5e4"
	[drain]="./drain total=$drain_total"
	[pin-random]="./pin mode=random total=128m"
	[pin-interleaved]="./pin mode=interleaved total=128m"
	[pin-random-trim]="./pin mode=random total=128m trim=1"
	[pin-interleaved-trim]="./pin mode=interleaved total=128m trim=1"
	[python-pymalloc]="/usr/bin/python3 workload.py 0.2"
	[python-karena]="env PYTHONPATH=$top/build/python /usr/bin/python3 workload.py --karena 0.2"
	[python-rss-mmap]="/usr/bin/python3 python_rss.py total=64"
	[python-rss-karena]="env PYTHONPATH=$top/build/python /usr/bin/python3 python_rss.py --karena total=64"
	[python-malloc]="env PYTHONMALLOC=malloc /usr/bin/python3 workload.py 0.2"
	[sqlite]="/usr/bin/sqlite3 :memory: .read\\ workload.sql"
)
order=(hotpair batch-lifo batch-fifo batch-random churn prodcons larson xmalloc mstress drain
       pin-random pin-interleaved pin-random-trim pin-interleaved-trim python-pymalloc python-karena python-malloc
       python-rss-mmap python-rss-karena sqlite)

# --- 2. the workloads, interleaved -------------------------------------------
cd "$bench" || exit 1
t_start=$(date +%s)
for ((r = 1; r <= runs; r++)); do
	say "round $r of $runs"
	for wl in "${order[@]}"; do
		want "${wl%%-*}" || continue
		case $wl in drain|pin-*|python-rss-*) [ "$r" -le "$rss_runs" ] || continue ;; esac
		case $wl in *-karena) [ "$have_pykarena" = 1 ] || continue ;; esac
		n=${#allocs[@]}
		for ((i = 0; i < n; i++)); do
			a=${allocs[$(((i + r - 1) % n))]}
			eval "run_one $wl $a $r ${cmd[$wl]}"
		done
	done
done
say "workloads took $(($(date +%s) - t_start)) s"

# --- 3. instructions per pair (callgrind) --------------------------------------
# callgrind_ops WL ALLOC OPS CMD...: instructions inside malloc + free per op
# of CMD run under ALLOC, as a wl=callgrind-WL record.
callgrind_ops() {
	local wl=$1 a=$2 ops=$3 f=$out/callgrind.$2.$1 ir
	shift 3
	env ${preload[$a]:+LD_PRELOAD=${preload[$a]}} KARENA_BACKEND=mmap \
		valgrind --tool=callgrind --callgrind-out-file="$f" "$@" \
		> /dev/null 2>&1 && ir=$(python3 alloc_ir.py "$f") ||
		{ say "callgrind $a $wl failed"; return 0; }
	echo "wl=callgrind-$wl alloc=$a run=1 rc=0 bench=callgrind ir_per_op=$(echo "$ir" | awk -v n="$ops" '{printf "%.1f", $1 / n}')" >> "$raw"
}

if want callgrind; then
	say "callgrind: instructions per malloc+free pair"
	# hold=0: the pair empties its pool every time (what hotpair times);
	# hold=1: one more live block keeps the pool open: the pure fast path.
	for a in "${allocs[@]}"; do
		for hs in 0:16 0:64 0:256 0:512 1:64; do
			h=${hs%%:*} s=${hs#*:}
			f=$out/callgrind.$a.$s.hold$h
			env ${preload[$a]:+LD_PRELOAD=${preload[$a]}} KARENA_BACKEND=mmap \
				valgrind --tool=callgrind --toggle-collect=hot_loop \
				--callgrind-out-file="$f" ./hotpair size=$s hold=$h \
				iters=100000 > /dev/null 2>&1 ||
				{ say "callgrind $a $s failed"; continue; }
			ir=$(sed -n 's/^summary: *//p' "$f")
			echo "wl=callgrind alloc=$a run=1 rc=0 bench=callgrind size=$s hold=$h ir_per_op=$(echo "$ir" | awk '{printf "%.1f", $1 / 100000}')" >> "$raw"
		done
		# What malloc and free execute, away from the host's noise: per
		# random batch pair (6 rounds of 20000), per churn step (the
		# live set's 20000 first mallocs count as steps: 5 % of them)
		# and per object handed over by two threads (whose wall time on
		# a shared 2-core host swings 2-10x).
		callgrind_ops batch "$a" 120000 ./batch order=random n=20000 rounds=5
		callgrind_ops churn "$a" 400000 ./churn live=20000 steps=380000
		callgrind_ops prodcons "$a" 200000 ./prodcons n=200000
		# the thread workloads: per step / object, all threads
		callgrind_ops larson "$a" 400000 ./larson threads=2 steps=2e4 rounds=10
		callgrind_ops xmalloc "$a" 200000 ./xmalloc threads=2 n=1e5
		callgrind_ops mstress "$a" 400000 ./mstress threads=8 steps=5e4 retire=25000
	done
fi

# --- 4. the kernel side, in the VM ---------------------------------------------
if want vm && [ -n "$kernels" ]; then
	for k in $kernels; do
		if ! bash "$top/tools/build-module.sh" "$k" > "$out/module-$k.log" 2>&1; then
			say "the module does not build for $k (see $out/module-$k.log); VM part skipped"
			continue
		fi
		say "VM $k: grant_bench and the kernel backend"
		"$top/tools/vm/run" --kernel "$k" --mem 3G --timeout 1800 --python -- \
			sh tools/bench/vm-bench.sh > "$out/vm-$k.log" 2>&1 ||
			say "VM run on $k failed (exit $?; see $out/vm-$k.log)"
		grep '^env=.* bench=' "$out/vm-$k.log" | sed "s/^/wl=vm alloc=vm-$k run=1 rc=0 /" >> "$raw"
	done
fi

# --- 5. tables and plot -----------------------------------------------------------
python3 "$bench/summarize.py" "$out" || exit 1
say "results: $out/results.md, plot: $out/bench.png"
