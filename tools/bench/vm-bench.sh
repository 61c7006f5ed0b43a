#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tools/bench/vm-bench.sh: the in-VM part of `make bench`, run by
#   tools/vm/run --kernel 6.1 -- sh tools/bench/vm-bench.sh
# with karena.ko loaded (busybox sh; cwd /karena, the built tree).
#
# 1. grant_bench: grant + touch + release, and a fault on a page handed
#    back, against anonymous mmap; again from a memory cgroup other than
#    the root, where karena's grants and refills are charged to it (env
#    kernel-memcg), as anonymous memory is.
#    fork_bench: fork + exit time and the memory a reading child takes,
#    for a parent with 64, 256 and 1024 MiB of arenas, against the same in
#    anonymous memory (the limits are raised for it: the parent's and the
#    child's grant of 1 GiB each; run.sh gives the VM 3 GiB).
# 2. A few workloads, small enough for TCG, under libkarena-malloc.so with
#    KARENA_BACKEND=kernel and =mmap, and under glibc, in the same VM: the
#    difference between the first two is what the kernel backend costs or
#    saves. Every output line is a bench=... line with env=<what ran> added.
# 3. A Python program that frees most of its objects (python_rss.py), with
#    CPython's own arenas and with karena's from the kernel, and the
#    process's arenas as `karenactl holders` shows them (tools/vm/run
#    --python puts python3 and build/python in the VM).
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
$b/fork_bench mib=${KARENA_FORK_MIB:-64,256,1024} reps=5 | tag kernel || status=1

# A memory cgroup of its own (cgroup2 mounted if it is not already).
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$cg" ]; then
	cg=/sys/fs/cgroup
	mkdir -p $cg && mount -t cgroup2 cgroup2 $cg 2>/dev/null || cg=
fi
if [ -n "$cg" ] && echo +memory > $cg/cgroup.subtree_control 2>/dev/null &&
   mkdir -p $cg/karena-bench; then
	sh -c "echo \$\$ > $cg/karena-bench/cgroup.procs && exec $b/grant_bench secs=3 reps=9" |
		tag kernel-memcg || status=1
	rmdir $cg/karena-bench
else
	echo "vm-bench: no memory cgroup (cgroup2 with the memory controller); charged grants not measured"
fi

if [ -d build/python ] && command -v python3 > /dev/null; then
	for arenas in mmap karena; do
		PYTHONPATH=/karena/build/python python3 $b/python_rss.py \
			$([ $arenas = karena ] && echo --karena) \
			--holders tools/karenactl/karenactl total=32 | tag python-$arenas ||
			{ echo "vm-bench: python_rss.py with $arenas arenas failed"; status=1; }
	done
else
	echo "vm-bench: no python3 or build/python (tools/vm/run --python); Python not measured"
fi

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
