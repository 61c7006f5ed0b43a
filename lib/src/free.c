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
 * block; so must we, on the fast path, at a few instructions a pair:
 *
 *  - A free of a pointer that is not a block start: kr_block_starts[c] is
 *    a bit string per class, bit o clear iff byte offset o of a pool is a
 *    block start; each pool header holds start_bias, that string's address
 *    minus pool_base / 8, so that bit u of the string at start_bias is the
 *    bit of address u. free tests it with one bt (no division, no shift:
 *    the address itself is the bit offset) after a load. The bits for
 *    offsets that are not multiples of 16 are set, so this also catches a
 *    misaligned pointer.
 *  - A double free: a freed block holds its pool's key, start_bias, in
 *    its second word (block_key; written by free once the checks pass,
 *    and cleared by malloc when it hands the block out: a pool restarted
 *    for the same class has the same key, and stale keys). free compares
 *    it with a memory operand, and stores it. Equal: the
 *    block is looked for on its pool's free list (free_suspect); found, it
 *    is a double free; not found, the program's own data happened to hold
 *    that value (it never learns it: a false alarm costs one walk) and the
 *    free goes on.
 *  - One branch for both: bt sets CF (not a start: the string is clear at
 *    the starts for this reason) and leaves ZF, which the compare set
 *    (keyed), and free branches once on "below or equal" (block_suspect,
 *    pool.h). span.c checks medium blocks the same way.
 *
 * Cost measured with callgrind against a build without the checks
 * (2026-12-06): 5 instructions on free (the load of start_bias, compare,
 * bt, branch, the key's store) and 1 on malloc (the clear): 6.6 a pair
 * with the pool kept open (50.6 -> 57.2), 6.0 in a random batch (51.0 ->
 * 57.0) and in a churn (41.0 -> 47.0); a medium pair 8.8 (the bit offset
 * is the address / 16: a shift, and a copy). The budget was 4. The
 * double-free check alone is 3 and the branch it shares (the key cannot
 * be left uncleared: a block whose program never writes its second word,
 * as a string of up to 8 bytes, would then send every free of it down the
 * slow walk), the start check 2 (the string's address must come from the
 * header: its bias holds the pool's address, and a string at a fixed
 * place would need a bit per byte of every pool, 12 % of the memory).
 * Writing link and key with one 16-byte copy of the header's free-list
 * head and key (adjacent there) saved one instruction and cost 3 ns a
 * pair: that load spans malloc's 8-byte store of the head, which the CPU
 * cannot forward. The start check is the cheapest found: a division costs
 * ~25 cycles, a reciprocal multiply-and-compare 5 instructions, a bitmap
 * of blocks in use (one bts + one btr, which would also catch a double
 * free) 5 with 512 bytes a pool (12 % of the memory) and a cache line more
 * per operation, or 7 with 32 bytes a pool (the address shifted on both
 * sides).
 * In time, the double-free check costs most where free takes a block
 * nobody touched for a while: it reads the block, and waits for the
 * line, where a free that only writes it does not (mimalloc's). Pinned
 * to one core of a 2 vCPU AMD EPYC, ns a step with the checks / without /
 * mimalloc: a random batch of 100k blocks 25.2 / 13.8 / 13.1, a churn of
 * 100k live blocks 45.7 / 28.3 / 22.6; a malloc+free pair of one pool
 * 3.80 / 3.78 / 4.13. A bitmap of blocks in use beside the pool header
 * would read a line of the table instead (denser, and mostly cached), at
 * 3 instructions more a pair; not built.
 * What is not caught in a normal build: a double free of a block whose
 * first free came from another thread and is not yet collected, or whose
 * pool has since gone back to its arena and been purged; KARENA_DEBUG=1
 * catches those.
 */
uint8_t kr_block_starts[NUM_CLASSES][POOL_SIZE / 8];
uint8_t kr_no_block_starts[POOL_SIZE / 8];

/* Build kr_block_starts[] (init, before any pool starts). */
void block_starts_init(void)
{
	unsigned c, o;

	memset(kr_block_starts, 0xff, sizeof(kr_block_starts));
	memset(kr_no_block_starts, 0xff, sizeof(kr_no_block_starts));
	for (c = 0; c < NUM_CLASSES; c++) {
		unsigned size = (unsigned)class_to_size(c);

		for (o = 0; o + size <= POOL_SIZE; o += size)
			kr_block_starts[c][o >> 3] &= (uint8_t)~(1u << (o & 7));
	}
}

/*
 * free_block's checks failed or need a second look: @b is not a block
 * start, or it holds the "freed" key. Reports and aborts, or frees @b.
 */
void free_suspect(void *b)
{
	struct kr_pool *p = pool_of(b);
	unsigned n = 0;
	void *f;

	if (!pool_block_start(p, (uintptr_t)b)) {
		kr_check_block_start(b);	/* says what @b is, aborts */
		kr_fatal(b, "free of a pointer that is not a block start "
			 "(class %u, %u-byte blocks)", p->szidx, p->size);
	}
	for (f = p->freeblock; f && n <= p->capacity; f = *(void **)f, n++)
		if (f == b)
			kr_fatal(b, "double free (class %u, %u-byte blocks)",
				 p->szidx, p->size);
	free_to_pool(p, p->heap, b);	/* a false alarm: the program's data */
}

/*
 * Pool @p of @h is now empty (pool_give_slow). The class's only pool stays
 * open (heap->kept) if its owner emptied it, so that a malloc+free pair
 * does not take a pool from its arena and give it back every time; any
 * other empty pool is retired: to the spare pools, or to its arena
 * (spare.c).
 */
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p)
{
	if (h->usedpools[p->szidx] == p && !p->nextpool &&
	    h == kr_tls_heap) {		/* an abandoned heap keeps nothing */
		heap_keep_pool(h, p);
		return;
	}
	spare_retire_pool(h, p);
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
