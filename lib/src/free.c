// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * free.c - freeing: route a pointer to its pool (ours, via the registry),
 * to its owning thread's remote list, or to glibc.
 *
 * Fast path (kr_free): the registry's slot, which also checks the block
 * start's alignment, the owner (pool->heap) against this thread's heap,
 * then a push on the pool's free list, and back on usedpools if the pool
 * was full; no stack frame, no call. The exits are tail calls: a pool
 * that is now empty (free_emptied_leave), another thread's block
 * (heap_remote_free), and a slot miss (free_slot_miss: the bitmap, then
 * our block the long way, checked under KARENA_DEBUG or when misaligned,
 * or glibc's).
 */
#include "internal.h"

/*
 * pool_give_block's slow path for a pool that is now empty: kept (the 64th
 * time), or not kept. An empty pool that is its class's only pool stays
 * open (heap->kept) if its owner frees it, so that a malloc+free pair does
 * not take a pool from its arena and give it back every time; any other
 * empty pool is retired: to the spare pools, or to its arena (spare.c).
 */
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p)
{
	if (p->kept) {
		/*
		 * A kept pool emptied for the 64th time: the owner is active,
		 * so it does the purge that is due rather than wait for the
		 * purge thread.
		 */
		if (heap_has_pending(h)) {
			kr_lock(&h->lock);
			purge_maybe(h);
			kr_unlock(&h->lock);
		}
		return;
	}
	if (h->usedpools[p->szidx] == p && !p->nextpool &&
	    h == kr_tls_heap) {		/* an abandoned heap keeps nothing */
		heap_keep_pool(h, p);
		return;
	}
	heap_retire_pool(h, p);
}

/* kr_free_emptied for the owner, which then leaves its heap. */
KR_NOINLINE static void free_emptied_leave(struct kr_heap *h,
					   struct kr_pool *p)
{
	kr_free_emptied(h, p);
	heap_leave(h);
}

/* @b is a block of our arena at @base: give it back. */
static inline void free_block(void *b, uintptr_t base)
{
	struct kr_pool *p = pool_in(base, (uintptr_t)b);
	struct kr_heap *h = p->heap;	/* read once: the pool may go */

	if (unlikely(h != kr_tls_heap)) {
		heap_remote_free(h, b);
		return;
	}
	heap_enter(h);
	if (pool_give_block(h, p, b)) {
		free_emptied_leave(h, p);
		return;
	}
	heap_leave(h);
}

/*
 * KARENA_DEBUG checks every block; a release build checks only what costs
 * nothing on the fast path (alignment). Aborts on a bad pointer.
 */
KR_NOINLINE static void free_block_checked(void *b)
{
	if (kr_debug)
		debug_on_free(b);
	else
		kr_check_block_start(b);	/* reports and aborts */
	free_block(b, (uintptr_t)b & kr.arena_mask);
}

/* @b is inside our arena at @base. Not 16-aligned, or debug: checked. */
static inline void free_ours(void *b, uintptr_t base)
{
	if (unlikely((uintptr_t)b & kr_fast.free_check_mask)) {
		free_block_checked(b);
		return;
	}
	free_block(b, base);
}

/* Not found by its registry slot: ours after all (the bitmap), or glibc's. */
KR_NOINLINE static void free_slot_miss(void *ptr)
{
	if (registry_contains(ptr))
		free_ours(ptr, (uintptr_t)ptr & kr.arena_mask);
	else if (ptr)
		__libc_free(ptr);
}

/*
 * The slot compare also checks the alignment (kr_fast.free_slot_mask keeps
 * the low 4 bits): a hit is a 16-aligned pointer into one of our arenas,
 * and under KARENA_DEBUG nothing hits.
 */
void kr_free(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr, base = u & kr_fast.free_slot_mask;

	if (likely(registry_slot_hit(u, base)))
		free_block(ptr, base);
	else
		free_slot_miss(ptr);
}

void kr_free_ours(void *b)
{
	free_ours(b, (uintptr_t)b & kr.arena_mask);
}

KR_API void karena_free(void *ptr)
{
	kr_free(ptr);
}
