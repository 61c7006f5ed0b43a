/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * init.h - the process-wide state (kr), its start-up and the clock.
 *
 * init.c builds kr once, on the first allocation (kr_ensure_init), from
 * the backend's arena size and the KARENA_* variables. kr_fast holds what
 * the fast paths compare with, so that KARENA_DEBUG costs them no test of
 * their own. kr_now_ms() is the purge's clock, which the tests may stop.
 */
#ifndef KARENA_INIT_H
#define KARENA_INIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "types.h"

struct kr_backend;

/**
 * struct kr_global - process-wide state (one instance: kr)
 * @lock:	protects the heap lists, abandoned heaps and init; held
 *		across fork(). Order: purge_lock, then kr.lock, then a heap's
 *		lock, then the registry's leaf lock.
 * @initialized: 0 before init, 1 after (acquire/release)
 */
struct kr_global {
	pthread_mutex_t lock;
	atomic_int initialized;
	const struct kr_backend *backend;
	int backend_ok;			/* 0: allocations from arenas fail */
	size_t arena_size;
	uintptr_t arena_mask;		/* ~(arena_size - 1) */
	uintptr_t header_mask;		/* see pool_of() */
	uintptr_t colour_mask;		/* arena.h, table_offset() */
	unsigned npools;		/* arena_size / POOL_SIZE */
	unsigned first_pool;		/* pools taken by the pool table */
	/* from the environment, read once at init */
	int show_stats;			/* KARENA_SHOW_STATS=1 */
	unsigned keep_arenas;		/* KARENA_KEEP_ARENAS */
	unsigned purge_ms;		/* KARENA_PURGE_MS, 0 = never purge */
	unsigned purge_thread;		/* KARENA_PURGE_THREAD (1): may start */
	unsigned max_empty_arenas;	/* empty arenas waiting, per heap */
	size_t medium_max;		/* largest request spans serve */
	/* the purge thread (purge.c) */
	pthread_mutex_t purge_lock;	/* held by a purge pass; across fork */
	pthread_cond_t purge_cond;	/* an idle purge thread waits here */
	atomic_int purger_state;	/* PURGER_NONE, _ACTIVE or _IDLE */
	atomic_int purger_started;	/* the new thread is past start-up */
	atomic_size_t purge_passes;	/* passes the thread made */
	atomic_size_t purge_threads;	/* purge threads started */
	atomic_size_t return_calls;	/* backend->return_pages calls */
	/* heaps, under @lock */
	struct kr_heap *heaps;
	struct kr_heap *abandoned;
	size_t nheaps, nabandoned;
	atomic_size_t nowned;		/* heaps a live thread owns */
	/* arena accounting, atomics */
	atomic_size_t arenas_held, arenas_peak, arenas_allocated;
	atomic_size_t arenas_released, arenas_denied, pages_returned;
	/* large blocks (large.c), atomics; kept: freed, grant kept */
	atomic_size_t large_blocks, large_bytes, large_requested;
	atomic_size_t large_kept, large_kept_bytes;
	/* kept grants given back unused (their wait ended, or a trim) */
	atomic_size_t large_returned;
	/* of arenas_released: those taken for a large block's pages */
	atomic_size_t arenas_recycled;
	/* pages faulted in ahead of a pool's links (backend_populate) */
	atomic_size_t pages_populated;
};

extern struct kr_global kr KR_HIDDEN;
/* KARENA_DEBUG=1, read once at init */
extern int kr_debug KR_HIDDEN;

/*
 * What the fast paths compare with, so that KARENA_DEBUG and the
 * alignment check cost them no test of their own (set once at init):
 * kr_fast.heap_slow_max: a TLS heap pointer at or below it takes the
 *	slow path of a medium malloc (kr_malloc_big; a small one reads
 *	kr_tls_pools): HEAP_DEAD (NULL, HEAP_BUSY, HEAP_DEAD), or every
 *	pointer under KARENA_DEBUG.
 * kr_fast.free_slot_mask: free's registry slot is compared with the
 *	pointer masked by it: arena_mask | 15, so that a pointer that is
 *	not 16-aligned misses its slot; 0 under KARENA_DEBUG (and before
 *	init), so that every pointer misses. A miss takes the full path.
 * kr_fast.free_check_mask: on that path, a pointer with one of these
 *	bits set is checked: not 16-aligned, or every pointer under
 *	KARENA_DEBUG.
 */
struct kr_fast {
	uintptr_t heap_slow_max;
	uintptr_t free_slot_mask;
	uintptr_t free_check_mask;
};
extern struct kr_fast kr_fast KR_HIDDEN;

/* init.c */
void kr_init_slow(void);
static inline void kr_ensure_init(void)
{
	if (unlikely(!atomic_load_explicit(&kr.initialized,
					   memory_order_acquire)))
		kr_init_slow();
}
uint32_t kr_now_ms(void);
void kr_set_keep_arenas(unsigned n);
/* the clock the tests set (test_hooks.c): KR_CLOCK_SET | ms, or 0 */
#define KR_CLOCK_SET	((uint64_t)1 << 32)
extern _Atomic uint64_t kr_test_clock KR_HIDDEN;

#endif /* KARENA_INIT_H */
