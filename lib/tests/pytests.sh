#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# pytests.sh - a part of CPython's own test suite (Debian's python3 and
# its libpython3.X-testsuite) under LD_PRELOAD=libkarena-malloc.so: the
# interpreter's threads, fork (and multiprocessing's pools and queues over
# it), subprocesses, signals, mmap, ctypes, the garbage collector and the
# containers, tracemalloc's hooks, pty, decimal, the codecs, archives,
# XML and email, two test processes at a time, each inheriting the
# preload. A test module that fails under the preload
# is run again under it and once without it: it is our failure if it
# fails both times under the preload and passes without (a test that
# fails without the preload too is the machine's, and is said so).
# test_socket is not run: its VSOCK tests wait for ever where the host has
# a vsock device but no peer, with or without the preload. Skipped, by
# name, when python3 or its test suite is not installed. TAP; the backend
# comes from the environment like the other tests.
here=$(cd "$(dirname "$0")" && pwd)
lib=${KARENA_PRELOAD:-$here/../libkarena-malloc.so}
. "$here/tap.sh"

[ -f "$lib" ] || { echo "1..0 # SKIP $lib not built"; exit 0; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "1..0 # SKIP $py is not installed"; exit 0; }
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$py" -c 'import test.test_threading' 2> /dev/null ||
	{ echo "1..0 # SKIP libpython$ver-testsuite is not installed"; exit 0; }

modules="test_multiprocessing_fork test_threading test_thread test_fork1
	test_os test_subprocess test_signal test_mmap test_ctypes test_gc
	test_weakref test_dict test_list test_set test_bytes test_unicode
	test_re test_json test_pickle test_struct test_array test_memoryview
	test_io test_tempfile test_shutil test_itertools test_collections
	test_queue test_select test_zlib test_lzma test_bz2 test_hashlib
	test_tracemalloc test_posix test_pty test_sys test_decimal
	test_threading_local test_atexit test_datetime test_zipfile
	test_tarfile test_xml_etree test_codecs test_email"

# regrtest NAME MODULES...: run them, two at a time; the names of those
# that failed in $tmp/NAME.failed, the log in $tmp/NAME.log.
regrtest() {
	log=$tmp/$1.log
	shift
	(cd "$tmp" && "$py" -m test -j2 --tempdir "$tmp/regrtest" "$@") > "$log" 2>&1
	sed -n 's/^.*\] \(test_[a-z0-9_]*\) \(failed\|crashed\).*/\1/p;
		s/^.*\] \(test_[a-z0-9_]*\) timed out.*/\1/p' "$log" |
		sort -u > "${log%.log}.failed"
	grep -q '^Tests result: SUCCESS' "$log"
}

if LD_PRELOAD=$lib regrtest karena $modules; then
	ok "CPython's tests pass under LD_PRELOAD: $(echo $modules | wc -w) modules"
	tap_done
fi
grep -q '^Tests result:' "$tmp/karena.log" ||
	{ notok "regrtest did not finish under LD_PRELOAD"; tail -5 "$tmp/karena.log" | sed 's/^/# /'; tap_done; }
for m in $(cat "$tmp/karena.failed"); do
	if LD_PRELOAD=$lib regrtest again "$m"; then
		ok "$m: failed once under LD_PRELOAD, passed when run again"
	elif ! regrtest plain "$m"; then
		skip "$m under LD_PRELOAD" "it fails without the preload too"
	else
		notok "$m: fails under LD_PRELOAD, twice, and passes without it"
		grep -v '^0:' "$tmp/again.log" | head -20 | sed 's/^/# /'
	fi
done
[ -s "$tmp/karena.failed" ] ||
	{ notok "regrtest failed under LD_PRELOAD, no module named"; tail -5 "$tmp/karena.log" | sed 's/^/# /'; }
tap_done
