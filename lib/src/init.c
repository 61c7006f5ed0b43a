// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * init.c - process-wide state: read the options (options.c), start the backend,
 * register the fork handlers, print stats at exit.
 *
 * Init is lazy (first allocation) so that a preloaded library works before
 * its constructor has run. The constructor registers the fork handlers
 * (not init: glibc's pthread_atfork may itself call malloc), makes the
 * heaps' pthread key before the program can have taken every key, and
 * inits.
 */
#include <time.h>

#include "alloc.h"
#include "backend.h"
#include "config.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "options.h"
#include "span.h"
#include "stats.h"
#include "types.h"

struct kr_global kr = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.purge_lock = PTHREAD_MUTEX_INITIALIZER,
	.purge_cond = PTHREAD_COND_INITIALIZER,
	.arena_mask = ~(uintptr_t)0,
};
int kr_debug;
struct kr_fast kr_fast = {
	.heap_slow_max = (uintptr_t)HEAP_DEAD,
	.free_check_mask = ALIGNMENT - 1,
};

/* Empty arenas that may wait for the purge: MAX_EMPTY_BYTES, >= keep. */
static void set_max_empty(void)
{
	size_t n = MAX_EMPTY_BYTES / kr.arena_size;

	kr.max_empty_arenas = n > kr.keep_arenas ? (unsigned)n :
						    kr.keep_arenas;
}

/*
 * Start glibc's allocator now, while the program has one thread. glibc
 * initializes it on the first __libc_malloc, and that is not thread-safe:
 * two threads whose first glibc allocation comes at the same moment both
 * take main_arena without counting each other, and the second one to exit
 * aborts ("a->attached_threads > 0" in __malloc_arena_thread_freeres).
 * With karena as malloc (or under ASan, which replaces malloc), nothing
 * else may call glibc's allocator before karena hands it a request over
 * 512 bytes, from whichever thread comes first.
 */
__attribute__((constructor)) static void kr_start_libc_malloc(void)
{
	__libc_free(__libc_malloc(1));
}

/*
 * A clock the tests set (test_hooks.c): 0 while the real one runs, else
 * KR_CLOCK_SET | the milliseconds kr_now_ms() returns.
 */
_Atomic uint64_t kr_test_clock;

/*
 * Coarse monotonic milliseconds (the vDSO's CLOCK_MONOTONIC_COARSE: no
 * system call, tick resolution). Read only when a pool or an arena enters
 * the empty state and by the purge, never on a malloc/free fast path.
 */
uint32_t kr_now_ms(void)
{
	uint64_t test_now = atomic_load_explicit(&kr_test_clock,
						 memory_order_relaxed);
	struct timespec ts;

	if (unlikely(test_now))
		return (uint32_t)test_now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Called by the first allocation of the process (any thread). */
void kr_init_slow(void)
{
	size_t asize = (size_t)1 << DEFAULT_ARENA_SHIFT;
	size_t hdr;

	pthread_mutex_lock(&kr.lock);
	if (atomic_load_explicit(&kr.initialized, memory_order_relaxed))
		goto out_unlock;

	options_read();
	kr_debug = (int)kr_opt.debug;
	if (kr_debug) {		/* before any heap exists */
		kr_fast.heap_slow_max = UINTPTR_MAX;
		kr_fast.free_check_mask = UINTPTR_MAX;
	}
	kr.show_stats = (int)kr_opt.show_stats;
	kr.keep_arenas = kr_opt.keep_arenas;
	kr.purge_ms = kr_opt.purge_ms;
	kr.purge_thread = kr_opt.purge_thread;

	kr.backend_ok = backend_start(&asize) == 0;
	if (!kr.backend_ok)
		asize = (size_t)1 << DEFAULT_ARENA_SHIFT;
	kr.arena_size = asize;
	options_print();
	kr.arena_mask = ~(uintptr_t)(asize - 1);
	if (!kr_debug)
		kr_fast.free_slot_mask = kr.arena_mask | (ALIGNMENT - 1);
	kr.npools = (unsigned)(asize >> POOL_SHIFT);
	/* the pool table: a header, with its live map, a pool (types.h) */
	hdr = (size_t)kr.npools << POOL_SLOT_SHIFT;
	kr.first_pool = (unsigned)((hdr + POOL_SIZE - 1) >> POOL_SHIFT);
	/*
	 * The table's colours: where in the pools it takes it may sit
	 * (arena.h, table_offset). hdr is asize / 64, a power of two, and so
	 * is first_pool * POOL_SIZE: the mask is the low bits of the arena's
	 * number, shifted right by 6, below that size.
	 */
	kr.colour_mask = ((uintptr_t)kr.first_pool << POOL_SHIFT) - hdr;
	kr.header_mask = (((asize - 1) & ~POOL_MASK) >>
			  (POOL_SHIFT - POOL_SLOT_SHIFT)) | kr.colour_mask;
	span_init_classes();
	set_max_empty();

	atomic_store_explicit(&kr.initialized, 1, memory_order_release);
out_unlock:
	pthread_mutex_unlock(&kr.lock);
}

__attribute__((constructor))
static void kr_constructor(void)
{
	pthread_atfork(heap_atfork_prepare, heap_atfork_parent,
		       heap_atfork_child);
	heap_key_init();
	kr_ensure_init();
}

__attribute__((destructor))
static void kr_destructor(void)
{
	if (atomic_load(&kr.initialized) && kr.show_stats)
		stats_at_exit();
}

/* KARENA_KEEP_ARENAS changed after init (test_hooks.c) */
void kr_set_keep_arenas(unsigned n)
{
	kr.keep_arenas = n;
	set_max_empty();
}
