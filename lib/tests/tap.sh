# SPDX-License-Identifier: LGPL-2.1-or-later
# tap.sh - what the shell tests share (sourced): a scratch directory $tmp
# removed at exit, and ok/notok/skip, which number TAP lines; tap_done
# prints the plan and exits non-zero if a case failed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
tap_done() { echo "1..$n"; exit $failed; }
