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
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "debug.h"
#include "fastpath.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "lock.h"
#include "pool.h"
#include "purge.h"
#include "registry.h"
#include "span.h"
#include "spare.h"
#include "types.h"

/*
 * Bad frees, caught in every build (KARENA_DEBUG=1 adds the full checks of
 * debug.c). glibc catches a double free and a free of a pointer inside a
 * block; so must we, on the fast path, at a few instructions a pair.
 *
 * One check for both: each pool has a live map (pool_map(), in its
 * header: types.h), a bit per 16 bytes, set iff a block handed out starts
 * there. malloc sets its block's bit, free takes it (clears it, and sees
 * whether it was set) and branches once: a clear bit is a
 * pointer that is not a block start (inside a block, or between blocks),
 * a block already free (a double free), or one never handed out;
 * free_suspect says which and aborts. The map is at a fixed offset in the
 * header, whose address free computes from the pointer (a map_bias field
 * in the header, whose load the map's address waited for, was 2-3 %
 * slower in time at the same instruction count). Its first 40 bytes, the
 * bits of the blocks that start in the pool's first 5 KiB, share the line
 * of the count, the free list and the owner: with the map in a line of
 * its own, beside the header, a free from another thread read two lines
 * the owner keeps writing, and a producer/consumer pair took 1.1-1.2x
 * mimalloc's time (1.0x since). The map of a pool is rewritten only by
 * malloc and free of its owner; another thread's free only reads it
 * (heap_remote_free), and the owner takes the bit when it collects the
 * block.
 *
 * The check reads the map's line, dense and mostly cached, and never the
 * block: a check that reads the block (a "freed" key in its second word,
 * as glibc's tcache has it, and this library had until 2026-12-06) waits
 * for the block's line where free otherwise only writes it. Pinned to
 * one core of a 2 vCPU AMD EPYC, ns a step with that key / without a
 * check / mimalloc: a random batch of 100k blocks 25.2 / 13.8 /
 * 13.1, a churn of 100k live blocks 45.7 / 28.3 / 22.6. In another run,
 * key / map / mimalloc: 49.9 / 33.3 / 26.2 and 102 / 57.9 / 44.8 (1.9x
 * and 2.3x mimalloc's time, 1.3x with the map).
 *
 * Cost measured with callgrind against a build without the check
 * (2026-12-06): free 9 instructions (the word's offset in the map: a
 * copy, a shift and a mask of the address; the bit: a copy and a shift;
 * load, btr on the register, store; the branch), malloc 8 (the same, bts,
 * no branch): 18.7 a pair with the pool kept open (50.6 -> 69.3), 17.1 in
 * a random batch (45.7 -> 62.8) and in a churn (38.7 -> 55.7). The budget
 * was 4. It was 9 with bts and btr on memory, which take the bit's offset
 * whole, but those are microcoded, and in time the plain instructions
 * win (pool.h): pinned, interleaved, a hot pair 5.08 -> 4.35 ns, a churn
 * of 100k blocks 28.1 -> 25.0 ns (mimalloc 6.00 and 20.9; no check 21.6
 * in a quieter run where mimalloc took 20.7). The key cost 6, but, in
 * time, far more (above); a map with a bit per byte would need no shift
 * for the bit and take 12.5 % of the memory.
 * What is not caught in a normal build: a double free of a block whose
 * first free came from another thread and is not yet collected when the
 * owner frees it too, or whose pool has since gone back to its arena and
 * been purged; KARENA_DEBUG=1 catches those.
 */

/*
 * free_block's check failed: @b is not a block handed out. Says what it
 * is, and aborts.
 */
void free_suspect(void *b)
{
	struct kr_pool *p = pool_of(b);

	kr_check_block_start(b);	/* not a block start, or never used */
	kr_fatal(b, "double free (class %u, %u-byte blocks)", p->szidx,
		 p->size);
}

/*
 * Pool @p of @h is now empty (pool_give_slow). The class's only pool stays
 * open (heap->kept) if its owner emptied it, so that a malloc+free pair
 * does not take a pool from its arena and give it back every time; any
 * other empty pool is retired: to the spare pools, or to its arena
 * (spare.c). free's errno is kept: the arena's purge or release, on the
 * way, may set it.
 */
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p)
{
	int saved_errno = errno;

	if (h->usedpools[p->szidx] == p && !p->nextpool &&
	    h == kr_tls_heap)		/* an abandoned heap keeps nothing */
		heap_keep_pool(h, p);
	else
		spare_retire_pool(h, p);
	errno = saved_errno;
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
 * Not found by its registry slot: ours after all (the bitmap: an arena
 * whose slot another arena 4 GiB away holds, a misaligned pointer, or any
 * pointer under KARENA_DEBUG), a large block, or glibc's.
 */
void free_slot_miss(void *ptr)
{
	if (registry_contains(ptr)) {
		if (in_span_arena(ptr))
			span_free_checked(ptr);	/* misaligned, or debug */
		else
			free_ours(ptr, (uintptr_t)ptr & kr.arena_mask);
	} else if (ptr) {
		int saved_errno = errno;	/* large_free's munmap */

		if (!large_free(ptr))
			__libc_free(ptr);
		errno = saved_errno;
	}
}

/* weak: libkarena-malloc.so's is the shim's free itself (malloc_shim.c) */
__attribute__((weak)) void kr_free(void *ptr)
{
	free_fast(ptr);
}

KR_API void karena_free(void *ptr)
{
	free_fast(ptr);
}
