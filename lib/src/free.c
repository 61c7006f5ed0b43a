// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * free.c - freeing: route a pointer to its pool (ours, via the registry),
 * to its owning thread's remote list, or to glibc.
 */
#include "internal.h"

void kr_free(void *ptr)
{
	if (likely(ptr && registry_contains(ptr)))
		kr_free_ours(ptr);
	else if (ptr)
		__libc_free(ptr);
}

/* @b is inside one of our arenas. */
void kr_free_ours(void *b)
{
	struct kr_arena *a = arena_of(b);
	uintptr_t u = (uintptr_t)b;
	struct kr_heap *h;

	if (unlikely(kr.debug))
		debug_on_free(b);
	else if (unlikely((u & (ALIGNMENT - 1)) ||
			  (u & POOL_MASK) < POOL_OVERHEAD ||
			  (u & ~kr.arena_mask) <
				  ((uintptr_t)kr.first_pool << POOL_SHIFT)))
		kr_check_block_start(b);	/* reports and aborts */

	h = a->heap;		/* read once: the arena may go in the free */
	if (likely(h == kr_tls_heap)) {
		heap_enter(h);
		kr_small_free(h, b);
		heap_leave(h);
	} else {
		heap_remote_free(h, b);
	}
}

/*
 * kr_small_free's slow path: @p was full and is now used (back on
 * usedpools), or is now empty and not kept. An empty pool that is its
 * class's only pool stays open (heap->kept) if its owner frees it, so that a malloc+free pair
 * does not take a pool from its arena and give it back every time; any
 * other empty pool goes to its arena (which may move, or wait to go).
 */
void kr_free_slow(struct kr_heap *h, struct kr_pool *p)
{
	if (p->ref) {
		h->npools_full--;
		pool_link_used(h, p);
		return;
	}
	if (p->kept) {
		/*
		 * A kept pool emptied again: the owner is active. Every 64th
		 * time, do the purge that is due (an active owner does not
		 * depend on the purge thread).
		 */
		if (unlikely(!(++h->purge_tick & 63)) && heap_has_pending(h)) {
			pthread_mutex_lock(&h->lock);
			purge_maybe(h);
			pthread_mutex_unlock(&h->lock);
		}
		return;
	}
	if (h->usedpools[p->szidx] == p && !p->nextpool &&
	    h == kr_tls_heap) {		/* an abandoned heap keeps nothing */
		heap_keep_pool(h, p);
		return;
	}
	heap_pool_to_arena(h, p);
}

KR_API void karena_free(void *ptr)
{
	kr_free(ptr);
}
