// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * free.c - freeing: route a pointer to its pool (ours, via the registry),
 * to its owning thread's remote list, or to glibc.
 *
 * The fast path is inline in fastpath.h, so that the shim's free is it
 * rather than a jump to kr_free; here are its exits, each reached by a
 * tail call: a pool that is now empty, and a registry slot miss (large
 * blocks, glibc's, and medium blocks: their arenas take no registry slot,
 * so that the fast path needs no test for them).
 */
#include "fastpath.h"

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

/*
 * Not found by its registry slot: ours after all (the bitmap: a medium
 * block, whose arenas take no slot, or a small one), a large block, or
 * glibc's.
 */
void free_slot_miss(void *ptr)
{
	if (registry_contains(ptr)) {
		if (in_span_arena(ptr))
			span_free(ptr);		/* always checked */
		else
			free_ours(ptr, (uintptr_t)ptr & kr.arena_mask);
	} else if (ptr && !large_free(ptr)) {
		__libc_free(ptr);
	}
}

void kr_free(void *ptr)
{
	free_fast(ptr);
}

KR_API void karena_free(void *ptr)
{
	free_fast(ptr);
}
