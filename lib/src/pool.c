// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - a pool: 8 KiB (two pages) of blocks of one size class, and its
 * header in the arena's pool table (lib/README.md draws the layout).
 *
 * Pools serve every request up to 1 KiB, in 64 classes 16 bytes apart, so
 * that malloc and free take one path, with no branch on the kind of block,
 * for the sizes most programs allocate most (mimalloc serves its small
 * pages likewise up to 1 KiB). CPython stops at 512 bytes, in 16 KiB pools
 * (3.12 on 64-bit, with its radix tree; 4 KiB without); that is where
 * this design departs from it.
 * Why 8 KiB: a pool of N bytes wastes less than a block of its tail, and a
 * block costs N / (N / size) bytes: with 4 KiB pools a request of 817
 * bytes took a quarter of a pool (1024 bytes, 25 % more than asked); with
 * 8 KiB, at most 12.5 % more from 513 bytes to 1 KiB, as the medium
 * classes above, but for 897-910 bytes: 8 blocks of 912 fill the pool
 * (9 would need 910 bytes, not a multiple of 16), so 897 bytes take 1024,
 * 14.2 % more (test_classes checks every size). 16 KiB, as CPython's, would
 * waste less but cost a small program twice the memory per class in use
 * and a 64 KiB arena a quarter of its room for the pool table's pool.
 * When blocks up to 1 KiB came from spans (arenas of their own), larson's
 * sizes, uniform over 16-1000 bytes, made malloc's "over 512?" and free's
 * "pool or span?" each miss one time in two.
 *
 * Blocks are carved lazily: a fresh pool has an empty free list and
 * carve at its first byte; allocation pops the free list, else takes the
 * block at carve. A pool is on usedpools[szidx] iff 0 < ref < capacity
 * (see lib/README.md, "Invariants").
 */
#include "config.h"
#include "free.h"
#include "pool.h"
#include "types.h"

/* Blocks a pool of each class holds: POOL_SIZE / block size, no division. */
#define CAPACITY(c)	(POOL_SIZE / (((c) + 1) << ALIGNMENT_SHIFT))
#define CAPACITY4(c)	CAPACITY(c), CAPACITY(c + 1), CAPACITY(c + 2), \
			CAPACITY(c + 3)
static const uint16_t class_capacity[NUM_CLASSES] = {
	CAPACITY4(0), CAPACITY4(4), CAPACITY4(8), CAPACITY4(12),
	CAPACITY4(16), CAPACITY4(20), CAPACITY4(24), CAPACITY4(28),
	CAPACITY4(32), CAPACITY4(36), CAPACITY4(40), CAPACITY4(44),
	CAPACITY4(48), CAPACITY4(52), CAPACITY4(56), CAPACITY4(60),
};

/*
 * Pool @p of @h, empty and on no list, starts serving class @c, whose
 * usedpools list is empty: build its header, make it the list, and
 * return its first block (carved: a pool holds two blocks at least, so
 * it stays on the list). The pool is @h's: it came from @h's spare pools
 * or arenas.
 */
void *pool_start(struct kr_heap *h, struct kr_pool *p, unsigned c)
{
	unsigned size = (unsigned)class_to_size(c);
	char *b = pool_base(p);

	p->szidx = (uint8_t)c;
	p->size = (uint16_t)size;
	p->capacity = class_capacity[c];
	p->avail = (uint16_t)(class_capacity[c] - 1);
	p->kept = 0;
	p->freeblock = NULL;
	p->carve = b + size;
	p->nextpool = NULL;		/* the head's prevpool is never read */
	p->heap = h;
	p->start_bias = (uintptr_t)kr_block_starts[c] - ((uintptr_t)b >> 3);
	h->usedpools[c] = p;
	*block_key(b) = NULL;	/* a stale key: free would take it for freed */
	__builtin_prefetch(b + 256, 1);		/* as pool_pop does */
	return b;
}

_Static_assert(sizeof(struct kr_pool) == 1 << POOL_HEADER_SHIFT,
	       "a pool header is one cache line");
_Static_assert(sizeof(struct kr_arena) <= sizeof(struct kr_pool),
	       "the arena header fits the table's slot 0");
_Static_assert(MAX_POOLS <= 65535, "pool counts fit 16 bits");
_Static_assert(NUM_CLASSES == 64, "class_capacity[] lists 64 classes");
_Static_assert(NUM_CLASSES <= 256 && POOL_SIZE / ALIGNMENT <= 65535,
	       "szidx and capacity fit their fields");
_Static_assert(POOL_SIZE / SMALL_MAX >= 2,
	       "a pool holds two blocks at least: a free into a full pool "
	       "never empties it (free.c tests \"was full\" first), and a "
	       "pool that starts with one block taken is not full");
