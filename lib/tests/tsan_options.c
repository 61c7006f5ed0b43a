// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tsan_options.c - linked into the ThreadSanitizer build of the tests
 * (make -C lib tsan): TSan's options and suppressions, compiled in so
 * that a test program runs the same by hand as in make check. Every race
 * is reported, and a program that had a report exits 66, which the runner
 * counts a failure (TSan's defaults).
 *
 * Options: the longest history of accesses a thread keeps (4M), so that
 * the earlier access of a race has its stack: a suppression matches the
 * function names of both stacks, and a lost one would let a race that is
 * suppressed on purpose through.
 *
 * Suppressions: the reads the code says are racy on purpose, each by the
 * one function that makes it, so that a race anywhere else is reported:
 *  - stats_snapshot (stats.c), with count_blocks and span_count under
 *    it: karena_stats reads a running heap's counts, and its pools' and
 *    spans', without stopping it; the snapshot is approximate.
 *  - karena__set_purge_ms (test_hooks.c): a test changes the purge delay
 *    while the purge thread runs.
 */
#include "config.h"

KR_API const char *__tsan_default_options(void);
KR_API const char *__tsan_default_suppressions(void);

KR_API const char *__tsan_default_options(void)
{
	return "history_size=7";
}

KR_API const char *__tsan_default_suppressions(void)
{
	return "race:stats_snapshot\n"
	       "race:karena__set_purge_ms\n";
}
