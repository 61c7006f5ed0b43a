#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# karenactl and the generic netlink family, inside the test VM (busybox sh,
# run from /karena as root with karena.ko loaded). TAP output.
#
# 1. tools/karenactl/nl_test: the family itself (GET vs sysfs, a 200-holder
#    dump, SET permissions and effect, monitor events, malformed requests).
# 2. karenactl's output: tables, --json (checked by nl_test --json,
#    compared with sysfs and the module parameters) and -p, a command by
#    its prefix, set's errors, monitor.
# 2b. In another network namespace, where the family is not: karenactl
#    says so, not that the module is missing.
# 3. The module unloaded: karenactl says so; installed for the kernel, the
#    module is loaded by karenactl's first request (the family's module
#    alias); then the module is loaded again with the same parameters.

cd "$(dirname "$0")/../.." || exit 1
K=tools/karenactl/karenactl
T=tools/karenactl/nl_test
DEMO=tools/demo/karena-demo
P=/sys/module/karena/parameters
S=/sys/class/misc/karena
tmp=/tmp/karenactl-test.$$
mkdir -p "$tmp"
n=0 failed=0

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# value KEY FILE: the value of KEY in nl_test --json's flattened output
value() { sed -n "s/^$1=//p" "$2"; }

if [ ! -x "$K" ] || [ ! -x "$T" ]; then
	echo "1..0 # SKIP karenactl is not built"
	exit 0
fi
if ! grep -q '^karena ' /proc/modules; then
	echo "1..0 # SKIP karena.ko is not loaded"
	exit 0
fi

# ---- 1. the netlink family ----
"$T" > "$tmp/nl_test.out" 2>&1
st=$?
cat "$tmp/nl_test.out"
n=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$tmp/nl_test.out")
n=${n:-0}
if [ $st != 0 ]; then
	failed=1
	grep -q '^not ok' "$tmp/nl_test.out" || ok 1 "nl_test exited with status $st"
fi

# ---- 2. karenactl's output ----
$K status --json > "$tmp/status.json"
ok $? "karenactl status --json succeeds"
$T --json "$tmp/status.json" > "$tmp/status.kv"
ok $? "karenactl status --json is valid JSON"
bad=0 seen=0
for f in arena_size arenas_reserved arenas_granted arenas_granted_peak grants \
	releases denials_quota denials_nomem fork_copies fork_copy_failures \
	pages_returned fault_failures orphaned_pages arenas_shared; do
	[ -r "$S/$f" ] || continue
	seen=$((seen + 1))
	if [ "$(value "$f" "$tmp/status.kv")" != "$(cat "$S/$f")" ]; then
		echo "# $f: json '$(value "$f" "$tmp/status.kv")' sysfs '$(cat "$S/$f")'"
		bad=1
	fi
done
[ $seen -ge 10 ] || bad=1
ok $bad "status --json agrees with $seen sysfs files"

$K status > "$tmp/status.txt"
bad=0
while read -r name val rest; do
	[ "$(value "$name" "$tmp/status.kv")" = "$val" ] || { echo "# table $name=$val"; bad=1; }
done < "$tmp/status.txt"
[ "$(wc -l < "$tmp/status.txt")" -ge 17 ] || bad=1
ok $bad "the status table shows the same values as --json"

# -p: the same JSON, one member per line, indented (values aside, which
# the zeroing worker may change between two reads).
$K -p status > "$tmp/status.pretty"
[ "$(tr -d ' \n0-9' < "$tmp/status.pretty")" = "$(tr -d '\n0-9' < "$tmp/status.json")" ] &&
	[ "$(wc -l < "$tmp/status.pretty")" = $(($(wc -l < "$tmp/status.kv") + 2)) ] &&
	[ "$(sed -n 2p "$tmp/status.pretty" | cut -c1-5)" = '    "' ]
ok $? "status -p: the JSON of --json, one member per line, indented by 4"
sed -n 1,3p "$tmp/status.pretty" | sed 's/^/# /'
$K lim > "$tmp/lim.txt" && $K limits > "$tmp/limits.txt" && cmp -s "$tmp/lim.txt" "$tmp/limits.txt" &&
	[ -s "$tmp/lim.txt" ]
ok $? "'karenactl lim' prints what 'karenactl limits' prints"

$K limits --json > "$tmp/limits.json" && $T --json "$tmp/limits.json" > "$tmp/limits.kv"
ok $? "karenactl limits --json is valid JSON"
bad=0
for f in max_arenas max_arenas_per_process max_arenas_per_uid reserve_arenas; do
	[ "$(value "$f" "$tmp/limits.kv")" = "$(cat "$P/$f")" ] || bad=1
	grep -q "^$f  *$(cat "$P/$f")" "$tmp/status.txt" || bad=1
done
[ "$(wc -l < "$tmp/limits.kv")" = 4 ] || bad=1
ok $bad "limits (table and --json) agree with /sys/module/karena/parameters"

if [ -x "$DEMO" ]; then
	# It holds its 3 arenas until killed; its "holds" line says they are
	# granted (a slow guest only makes the wait longer, 120 s at most).
	$DEMO 3 600 > "$tmp/demo.out" &
	demo=$!
	i=0
	while ! grep -q 'this process holds' "$tmp/demo.out" && [ $i -lt 120 ]; do
		sleep 1
		i=$((i + 1))
	done
	$K holders --json > "$tmp/holders.json" && $T --json "$tmp/holders.json" > "$tmp/holders.kv"
	ok $? "karenactl holders --json is valid JSON"
	i=$(sed -n "s/^\([0-9]*\)\.pid=$demo\$/\1/p" "$tmp/holders.kv")
	[ -n "$i" ] && [ "$(value "$i.arenas" "$tmp/holders.kv")" = 3 ] &&
		[ "$(value "$i.comm" "$tmp/holders.kv")" = '"karena-demo"' ]
	ok $? "holders --json lists karena-demo (pid $demo) with 3 arenas"
	$K holders > "$tmp/holders.txt"
	head -n 1 "$tmp/holders.txt" | grep -q 'PID.*COMM.*UID.*ARENAS' &&
		grep -Eq "^ *$demo +karena-demo +0 +3 " "$tmp/holders.txt"
	ok $? "the holders table lists it too"
	kill $demo
	wait $demo 2>/dev/null
else
	skip "karenactl holders" "no karena-demo"
fi

old=$(cat $P/max_arenas_per_process)
$K set max_arenas_per_process 4 && [ "$(cat $P/max_arenas_per_process)" = 4 ] &&
	$K limits | grep -q "^max_arenas_per_process  *4 (arenas of $(($(cat $S/arena_size) / 1024)) KiB)\$"
ok $? "karenactl set max_arenas_per_process 4 takes effect (the table says the unit)"
$K set max_arenas_per_process "$old"
ok $? "and is set back to $old"

$T --as-nobody $K set max_arenas_per_process 1 > "$tmp/out" 2>&1
st=$?
[ $st = 1 ] && grep -q 'permission denied: changing limits needs CAP_SYS_ADMIN' "$tmp/out" &&
	[ "$(cat $P/max_arenas_per_process)" = "$old" ]
ok $? "set as uid 65534: 'permission denied: ... CAP_SYS_ADMIN', exit 1, nothing changed"
$T --as-nobody $K status > /dev/null 2>&1
ok $? "status as uid 65534 works (reading needs no privilege)"

$K set max_arena 4 > "$tmp/out" 2>&1
st=$?
[ $st = 2 ] && grep -q "unknown limit 'max_arena'" "$tmp/out" &&
	grep -q max_arenas_per_uid "$tmp/out" && grep -q reserve_arenas "$tmp/out"
ok $? "set with an unknown limit name lists the valid ones"
$K set max_arenas lots > "$tmp/out" 2>&1
[ $? = 2 ] && grep -q "bad value 'lots': not a number" "$tmp/out"
ok $? "set with a non-number says so"
$K set max_arenas -3 > "$tmp/out" 2>&1
[ $? = 2 ] && grep -q "cannot be negative" "$tmp/out"
ok $? "set with a negative value says so"
$K set max_arenas 4000000000 > "$tmp/out" 2>&1
[ $? = 1 ] && grep -q "cannot set max_arenas to 4000000000: max_arenas must be" "$tmp/out"
ok $? "set beyond RAM: the kernel's reason is shown"
cat "$tmp/out" | sed 's/^/# /'

if [ -x "$DEMO" ]; then
	# The monitor has joined its group once it reports an event: until it
	# does, a one-arena demo makes some (a slow guest only waits longer).
	$K monitor --json > "$tmp/monitor.json" 2>&1 &
	mon=$!
	i=0
	while ! grep -q '"event"' "$tmp/monitor.json" && [ $i -lt 120 ]; do
		$DEMO 1 > /dev/null
		sleep 1
		i=$((i + 1))
	done
	$DEMO 2 > /dev/null &
	demo=$!
	wait $demo
	i=0
	while [ "$(grep -c "\"pid\":$demo," "$tmp/monitor.json")" -lt 5 ] && [ $i -lt 120 ]; do
		sleep 1
		i=$((i + 1))
	done
	kill $mon 2>/dev/null
	wait $mon
	$T --json "$tmp/monitor.json" > "$tmp/monitor.kv"
	ok $? "monitor --json: one valid JSON object per line"
	grep "\"pid\":$demo," "$tmp/monitor.json" > "$tmp/demo.json"
	$T --json "$tmp/demo.json" > "$tmp/demo.kv"
	[ "$(sed -n 's/^[0-9]*\.event=//p' "$tmp/demo.kv" | tr '\n' ' ')" = \
		'"grant" "grant" "deny" "release" "release" ' ]
	ok $? "monitor saw karena-demo's 2 grants, its denial and 2 releases, in order"
	sed 's/^/# /' "$tmp/demo.json"
	# -n 1: the monitor stops by itself after one event
	$K monitor --json -n 1 > "$tmp/monitor1.json" 2>&1 &
	mon=$!
	i=0
	while kill -0 $mon 2>/dev/null && [ $i -lt 120 ]; do
		$DEMO 1 > /dev/null
		sleep 1
		i=$((i + 1))
	done
	! kill -0 $mon 2>/dev/null && [ "$(wc -l < "$tmp/monitor1.json")" = 1 ]
	ok $? "monitor -n 1 stops by itself after one event"
	kill $mon 2>/dev/null
	wait $mon
fi

# ---- 2b. another network namespace: the family is not there ----
if unshare -n true 2>/dev/null; then
	unshare -n $K status > "$tmp/out" 2>&1
	st=$?
	[ $st = 1 ] &&
		grep -q 'serves the initial network namespace only' "$tmp/out"
	ok $? "in a new network namespace: 'serves the initial network namespace only', exit 1"
	sed 's/^/# /' "$tmp/out"
else
	skip "karenactl in a new network namespace" \
		"unshare -n failed: this kernel has no network namespaces"
fi

# ---- 3. the module unloaded ----
if [ -f /karena/karena.ko ] && [ -r $P/arena_kb ]; then
	arena_kb=$(cat $P/arena_kb)
	limits=
	for f in reserve_arenas max_arenas max_arenas_per_process max_arenas_per_uid; do
		limits="$limits $f=$(cat $P/$f)"
	done
	if rmmod karena; then
		$K status > "$tmp/out" 2>&1
		st=$?
		[ $st = 1 ] && grep -q 'karena module is not loaded: modprobe karena' "$tmp/out"
		ok $? "without the module: 'karena module is not loaded: modprobe karena', exit 1"
		$T | grep -q '^1\.\.0 # SKIP'
		ok $? "without the module nl_test skips"
		# The family's module alias: with karena.ko installed for this
		# kernel, the first request loads it (busybox modprobe and depmod).
		mods=/lib/modules/$(uname -r)
		modprobe=$(which modprobe)
		if [ -w /proc/sys/kernel/modprobe ] && [ -x "$modprobe" ] &&
			command -v depmod > /dev/null; then
			mkdir -p "$mods/updates" && cp /karena/karena.ko "$mods/updates/" &&
				depmod && echo "$modprobe" > /proc/sys/kernel/modprobe
			$K status > "$tmp/out" 2>&1
			st=$?
			[ $st = 0 ] && grep -q '^karena ' /proc/modules &&
				grep -q '^arena_size ' "$tmp/out"
			ok $? "with the module installed, 'karenactl status' loads it (alias net-pf-16-proto-16-family-karena)"
			[ $st = 0 ] || sed 's/^/# /' "$tmp/out"
			rm -rf "$mods/updates"
			grep -q '^karena ' /proc/modules && rmmod karena
		else
			skip "karenactl loads the module" "no busybox depmod/modprobe or /proc/sys/kernel/modprobe"
		fi
		insmod /karena/karena.ko arena_kb="$arena_kb"
		ok $? "the module loads again (arena_kb=$arena_kb)"
		# The limits as they were, set back through karenactl.
		bad=0
		for l in $limits; do
			$K set "${l%%=*}" "${l#*=}" || bad=1
			[ "$(cat "$P/${l%%=*}")" = "${l#*=}" ] || bad=1
		done
		ok $bad "karenactl works after the reload and restores$limits"
	else
		skip "karenactl without the module" "rmmod failed"
	fi
else
	skip "karenactl without the module" "no /karena/karena.ko"
fi

rm -rf "$tmp"
echo "1..$n"
exit $failed
