// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_hooks.c - what the test programs reach into the library with: the
 * invariant walker over every heap, knobs changed after init, an explicit
 * purge, and a clock the test controls, so that a test asserts what the
 * purge does at a given age, never how fast the host is.
 *
 * Linked into the test programs only (build/libkarena-test.a, and the
 * libFuzzer target), never into libkarena.so, libkarena-malloc.so or the
 * installed libkarena.a: none of these names is part of the API, and
 * tests/symbols.sh fails if one is shipped.
 */
#include "check.h"
#include "heap.h"
#include "init.h"
#include "lock.h"
#include "purge.h"
#include "registry.h"
#include "spare.h"
#include "test_hooks.h"
#include "types.h"

/*
 * Check the calling thread's heap and every abandoned one. Heaps of other
 * live threads cannot be read safely and are skipped. 0 iff all is well.
 */
int karena__check(FILE *out)
{
	struct kr_heap *h = kr_tls_heap;
	int bad = 0;

	if (!out)
		out = stderr;
	if (heap_is_real(h)) {
		heap_collect_remote(h);
		bad |= kr_check_heap(h, out);
	}
	pthread_mutex_lock(&kr.lock);
	for (h = kr.abandoned; h; h = h->next_abandoned) {
		heap_collect_remote(h);
		bad |= kr_check_heap(h, out);
	}
	pthread_mutex_unlock(&kr.lock);
	return bad;
}

void karena__set_keep_arenas(unsigned n)
{
	kr_ensure_init();
	kr_set_keep_arenas(n);
}

void karena__set_purge_ms(unsigned ms)
{
	kr_ensure_init();
	kr.purge_ms = ms;
}

/* Purge the calling thread's heap now: pools empty for @min_age_ms. */
void karena__purge(unsigned min_age_ms)
{
	struct kr_heap *h = heap_get();

	if (h) {
		kr_lock(&h->lock);
		purge_now(h, kr_now_ms(), min_age_ms);
		kr_unlock(&h->lock);
	}
}

/*
 * Close the calling thread's kept pools and give its spare pools back, so
 * that every empty pool is with its arena.
 */
void karena__flush_kept(void)
{
	struct kr_heap *h = kr_tls_heap;

	if (heap_is_real(h)) {
		heap_flush_kept(h);
		spare_flush(h);
	}
}

int karena__is_ours(const void *p)
{
	return registry_contains(p);
}

/*
 * The library's clock (kr_now_ms) stops at @now_ms and moves only when
 * the test moves it; karena__real_clock() lets it run again.
 */
void karena__set_clock(uint32_t now_ms)
{
	atomic_store(&kr_test_clock, KR_CLOCK_SET | now_ms);
}

void karena__advance_clock(uint32_t ms)
{
	uint64_t t = atomic_load(&kr_test_clock);

	karena__set_clock((uint32_t)t + ms);
}

void karena__real_clock(void)
{
	atomic_store(&kr_test_clock, 0);
}
