#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# karenactl's command line, natively (no module needed): -V, help, unique
# prefixes of commands, and the exit status and message of every usage
# error that karenactl(8) lists, each judged before any request is sent.
# The requests themselves, -p included, are tested inside the VM
# (tools/tests/karenactl.sh). TAP output.
cd "$(dirname "$0")/../../.." || exit 1
K=tools/karenactl/karenactl
. packaging/tap.sh
tap_begin karenactl-cli
# run ARGS...: karenactl's stdout in $tmp/out, stderr in $tmp/err, status in $st
run() {
	"$K" "$@" > "$tmp/out" 2> "$tmp/err"
	st=$?
}
# usage_error WHAT PATTERN ARGS...: exit 2, PATTERN on stderr, nothing on stdout
usage_error() {
	what=$1 pat=$2
	shift 2
	run "$@"
	[ $st = 2 ] && grep -q -- "$pat" "$tmp/err" && [ ! -s "$tmp/out" ]
	ok $? "$what: exit 2, '$pat'"
	[ $st = 2 ] || show "$tmp/err"
}

[ -x "$K" ] || { echo "1..0 # SKIP karenactl is not built (make -C tools/karenactl)"; exit 0; }

run -V
[ $st = 0 ] && [ "$(cat "$tmp/out")" = "karenactl $(cat VERSION)" ]
ok $? "-V prints 'karenactl $(cat VERSION)' (the VERSION file)"
run --version
[ $st = 0 ] && [ "$(cat "$tmp/out")" = "karenactl $(cat VERSION)" ]
ok $? "--version likewise"

run help
bad=$st
for c in status holders limits set monitor help; do
	grep -q "^  $c " "$tmp/out" || bad=1
done
for o in -j -p -n -V -h; do
	grep -q "^  $o, " "$tmp/out" || bad=1
done
ok $bad "help: exit 0, every command and option on stdout"
cp "$tmp/out" "$tmp/help"
run --help
[ $st = 0 ] && cmp -s "$tmp/out" "$tmp/help"
ok $? "--help prints the same"
run hel
[ $st = 0 ] && cmp -s "$tmp/out" "$tmp/help"
ok $? "'hel' is help (a unique prefix)"

# A unique prefix names its command: the error for a stray argument names
# the command in full (judged before any request, so no module is needed).
for p in st:status stat:status lim:limits l:limits hold:holders mon:monitor; do
	usage_error "'${p%%:*}' is ${p#*:}" "^karenactl: ${p#*:} takes no arguments" "${p%%:*}" extra
done

usage_error "no command" "usage: karenactl"
usage_error "unknown command" "unknown command 'frobnicate'" frobnicate
usage_error "ambiguous prefix" "ambiguous command 'h': it could be holders help" h
usage_error "ambiguous prefix 's'" "ambiguous command 's': it could be status set" s
usage_error "unknown option" "unknown option '--bogus'" --bogus status
usage_error "arguments to status" "status takes no arguments" status now
usage_error "-n without monitor" "-n only applies to monitor" -n 3 status
usage_error "-n 0" "bad count '0'" monitor -n 0
usage_error "-n without a number" "-n needs a number of events" monitor -n
usage_error "set without a value" "usage: karenactl set NAME VALUE" set max_arenas
usage_error "set of an unknown limit" "unknown limit 'max_arena'" set max_arena 4
usage_error "set max_arenas 0" "bad value '0': max_arenas must be at least 1" set max_arenas 0
usage_error "set a non-number" "bad value 'lots': not a number" set max_arenas lots
usage_error "set an empty value" "bad value '': not a number" set max_arenas ''
usage_error "set a negative value" "bad value '-3': a limit cannot be negative" set max_arenas_per_uid -3
usage_error "set trailing characters" "bad value '12k': trailing characters" set reserve_arenas 12k
usage_error "set beyond 2^32-1" "bad value '4294967296': too large (at most 4294967295)" set max_arenas_per_process 4294967296
usage_error "set beyond 2^64" "bad value '99999999999999999999': too large" set max_arenas 99999999999999999999
# the unknown-limit message lists the valid ones
run set nope 1
bad=0
for l in max_arenas max_arenas_per_process max_arenas_per_uid reserve_arenas; do
	grep -q "^  $l " "$tmp/err" || bad=1
done
ok $bad "an unknown limit's message lists the four valid ones"

# karenactl(8) states each of these: its EXIT STATUS section and set's
# usage errors must not drift from what the program does.
man8=tools/karenactl/karenactl.8
grep -q 'is 0 for' "$man8" && grep -q '^2 for a usage error' "$man8" &&
	grep -q 'ambiguous' "$man8" && grep -q '\\-V' "$man8" && grep -q '\\-\\-pretty' "$man8"
ok $? "karenactl(8) documents -V, -p, help's ambiguity rule and exit status 2 for max_arenas 0"

tap_end
