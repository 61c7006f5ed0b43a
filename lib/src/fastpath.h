/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fastpath.h - the malloc and free fast paths, inline, for the files whose
 * entry points are nothing else: alloc.c and free.c (kr_malloc, kr_free,
 * karena_malloc, karena_free) and malloc_shim.c (malloc, free).
 *
 * Why a header: an entry point in another file than its fast path is a
 * jump to it. The shim's malloc and free were one jmp each, 2 of the 71
 * instructions of a malloc+free pair in the batch benchmark, and a taken
 * branch at the top of each. GCC cannot alias a symbol defined in another
 * file (mimalloc, whose override is in the same file as its fast path,
 * aliases its names); compiling the fast path into each entry point does
 * the same thing. Everything a fast path leaves by is out of line, in
 * alloc.c and free.c, and reached by a tail call.
 *
 * malloc: class = (size - 1) >> 4, the thread's usedpools (a TLS pointer
 * to its heap's, or to kr_no_pools when it has none), and a pop of the
 * first pool's free list: no stack frame, no call, and no test for "no
 * pool" (an empty class's head is POOL_NONE, with no free block) nor for
 * "now full" (a full pool leaves the list when malloc next finds its free
 * list empty). An empty free list leaves by kr_malloc_refill (more blocks
 * on it, the next pool, a new pool; or no heap yet, or KARENA_DEBUG);
 * sizes 0 and over 1 KiB by kr_malloc_big (medium: span_alloc, a span's
 * free list popped likewise; and large).
 *
 * free: the registry's slot, which also checks the block start's
 * alignment, the owner (pool->heap) against this thread's heap, the
 * bad-free check (the live map's bit of a block handed out, taken), then
 * a push on the pool's free list and a decrement of its count; no stack
 * frame, no call. The
 * exits: a count at 0 or below (pool_give_slow: the pool is now empty, or
 * was full and off usedpools), another thread's block (heap_remote_free),
 * a slot holding an arena of spans' tag (span_free: a medium block, run
 * the same way in span.c), and a slot miss (free_slot_miss: the bitmap,
 * then our block the long way, checked under KARENA_DEBUG or when
 * misaligned, or glibc's).
 */
#ifndef KARENA_FASTPATH_H
#define KARENA_FASTPATH_H

#include <stdint.h>

#include "alloc.h"
#include "config.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "registry.h"
#include "span.h"
#include "types.h"

static inline __attribute__((always_inline)) void *malloc_fast(size_t size)
{
	size_t c = (size - 1) >> ALIGNMENT_SHIFT;	/* 0 wraps: big */
	struct kr_pool *p;
	void *b;

	/* a test on @c, not on @size: no copy of the shifted value */
	__asm__("" : "+r"(c));
	if (unlikely(c >= NUM_CLASSES))
		return kr_malloc_big(size);	/* 0, or over 1 KiB */
	p = kr_tls_pools[c];
	b = p->freeblock;
	if (unlikely(!b))
		return kr_malloc_refill(size, p); /* or no heap, or debug */
	return pool_pop(p, b);
}

/*
 * @b is a block of our arena at @base: give it back. Another thread's
 * pool: to its owner (heap_remote_free, which checks @b without changing
 * the live map, the owner's). Ours: checked first (free.c), the bit of
 * the pool's live map at @b taken (map_take): clear, @b is not a block
 * handed out (free_suspect says what it is, and aborts).
 */
static inline __attribute__((always_inline)) void free_block(void *b,
							     uintptr_t base)
{
	struct kr_pool *p = pool_in(base, (uintptr_t)b);
	struct kr_heap *h = p->heap;	/* read once: the pool may go */

	if (unlikely(h != kr_tls_heap))
		heap_remote_free(h, p, b);
	else if (unlikely(!map_take(p, (uintptr_t)b)))
		free_suspect(b);
	else
		pool_give_block(h, p, b);
}

/*
 * The slot compare also checks the alignment (kr_fast.free_slot_mask keeps
 * the low 4 bits): a hit is a 16-aligned pointer into one of our arenas,
 * and under KARENA_DEBUG nothing hits. An arena of spans' tag (span.c) is
 * compared second, so that a medium free goes straight to span_free and a
 * small one pays nothing for it.
 */
static inline __attribute__((always_inline)) void free_fast(void *ptr)
{
	uintptr_t u = (uintptr_t)ptr, base = u & kr_fast.free_slot_mask;
	uintptr_t slot = registry_slot_of(u);

	if (likely(slot == base + REGISTRY_SLOT_TAG))
		free_block(ptr, base);
	else if (slot == base + REGISTRY_SPAN_TAG)
		span_free(ptr, base);	/* a medium block, 16-aligned */
	else
		free_slot_miss(ptr);
}

#endif /* KARENA_FASTPATH_H */
