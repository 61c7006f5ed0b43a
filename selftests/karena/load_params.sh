#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load-time parameter validation of karena.ko: every bad value makes insmod
# fail with one clear "karena:" line in the kernel log; good values load.
# Unloads the module and loads it again with the parameters it had, so it
# needs root, the module file and nothing else using the module (SKIP
# otherwise). Prints TAP.
ko=${KARENA_KO:-}
for c in /karena/karena.ko kmod/karena.ko ../../kmod/karena.ko; do
	[ -z "$ko" ] && [ -f "$c" ] && ko=$c
done
P=/sys/module/karena/parameters

echo "TAP version 13"
if [ "$(id -u)" != 0 ] || [ -z "$ko" ] || [ ! -d $P ]; then
	echo "1..0 # SKIP needs root, a loaded karena and its .ko file"
	exit 0
fi
orig="arena_kb=$(cat $P/arena_kb) reserve_arenas=$(cat $P/reserve_arenas) max_arenas=$(cat $P/max_arenas) max_arenas_per_process=$(cat $P/max_arenas_per_process) max_arenas_per_uid=$(cat $P/max_arenas_per_uid)"
if ! rmmod karena 2>/dev/null; then
	echo "1..0 # SKIP karena is in use"
	exit 0
fi

bad="arena_kb=100 arena_kb=32 arena_kb=8192 arena_kb=0 arena_kb=abc
reserve_arenas=-1 reserve_arenas=99999999999 max_arenas=99999999999
max_arenas_per_process=abc max_arenas_per_uid=99999999999"
good="arena_kb=64 arena_kb=4096|reserve_arenas=0 max_arenas=1|max_arenas_per_process=3 max_arenas_per_uid=7"
n=$(( $(echo $bad | wc -w) + 3 ))
echo "1..$n"
i=0 fail=0
for arg in $bad; do
	i=$((i + 1))
	dmesg -c > /dev/null 2>&1
	if insmod "$ko" "$arg" 2>/dev/null; then
		echo "not ok $i - insmod $arg refused"
		fail=1
		rmmod karena
		continue
	fi
	lines=$(dmesg | grep -c 'karena')
	if [ -d /sys/module/karena ] || [ "$lines" -lt 1 ]; then
		echo "not ok $i - insmod $arg refused with a log line (got $lines)"
		fail=1
	else
		echo "ok $i - insmod $arg refused: $(dmesg | grep karena | tail -n1 | sed 's/^\[[^]]*\] //')"
	fi
done
IFS='|'
for args in $good; do
	i=$((i + 1))
	unset IFS
	# shellcheck disable=SC2086
	if insmod "$ko" $args && rmmod karena; then
		echo "ok $i - insmod $args"
	else
		echo "not ok $i - insmod $args"
		fail=1
	fi
	IFS='|'
done
unset IFS

# shellcheck disable=SC2086
insmod "$ko" $orig || { echo "# could not reload karena with $orig"; fail=1; }
exit $fail
