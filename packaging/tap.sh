# SPDX-License-Identifier: GPL-2.0
#
# TAP for the native test scripts of installing (packaging/test.sh,
# packaging/deb-test.sh, tools/karenactl/tests/cli.sh); POSIX sh, sourced.
#
#   tap_begin NAME     a scratch directory in $tmp, removed at exit
#   ok STATUS TEXT     "ok N - TEXT" if STATUS is 0, else "not ok N - TEXT"
#   show FILE...       the last lines of FILE... as TAP comments
#   tap_end            the plan line; exits 0 iff every test passed
n=0
failed=0

tap_begin() {
	tmp=$(mktemp -d "/tmp/karena-$1.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
}

ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

show() { sed 's/^/# /' "$@" | tail -n 25; }

tap_end() {
	echo "1..$n"
	exit $failed
}
