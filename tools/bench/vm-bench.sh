#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/vm-bench.sh: the in-VM part of `make bench`, run by
#   tools/vm/run --kernel 6.1 -- sh tools/bench/vm-bench.sh
# with karena.ko loaded (busybox sh; cwd /karena, the built tree).
#
# 1. grant_bench: grant + touch + release against anonymous mmap.
#    fork_bench: fork + exit time and the memory a reading child takes,
#    for a parent with 64, 256 and 1024 MiB of arenas, against the same in
#    anonymous memory (the limits are raised for it: the parent's and the
#    child's grant of 1 GiB each; run.sh gives the VM 3 GiB).
# 2. A few workloads, small enough for TCG, under libkarena-malloc.so with
#    KARENA_BACKEND=kernel and =mmap, and under glibc, in the same VM: the
#    difference between the first two is what the kernel backend costs or
#    saves. Every output line is a bench=... line with env=<what ran> added.
set -u
cd /karena || exit 1
b=tools/bench
lib=/karena/lib/libkarena-malloc.so
status=0

tag() { sed "s/^bench=/env=$1 bench=/"; }

$b/grant_bench secs=3 reps=9 | tag kernel || status=1

params=/sys/module/karena/parameters
if [ -w $params/max_arenas ]; then
	akb=$(($(cat /sys/class/misc/karena/arena_size) / 1024))
	echo 0 > $params/max_arenas_per_process
	echo 0 > $params/max_arenas_per_uid
	echo $((2 * 1024 * 1024 / akb + 64)) > $params/max_arenas ||
		echo "vm-bench: max_arenas not raised; the 1024 MiB fork may fail"
fi
$b/fork_bench mib=64,256,1024 reps=5 | tag kernel || status=1

[ -f "$lib" ] || { echo "vm-bench: no $lib; kernel backend not measured"; exit $status; }
for env in glibc karena-kernel karena-mmap; do
	case $env in
	glibc) pre= be= ;;
	karena-kernel) pre=$lib be=kernel ;;
	karena-mmap) pre=$lib be=mmap ;;
	esac
	for w in "hotpair size=16,64,256,512 iters=2e5" "churn live=20000 steps=2e5" \
		 "drain total=64m" "pin mode=random total=32m"; do
		# shellcheck disable=SC2086 # word splitting of $w is wanted
		env ${pre:+LD_PRELOAD=$pre} ${be:+KARENA_BACKEND=$be} $b/$w | tag $env ||
			{ echo "vm-bench: $w under $env failed"; status=1; }
	done
done
exit $status
