// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - a pool: one 4 KiB page of blocks of one size class, and its
 * header in the arena's pool table (lib/README.md draws the layout).
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
_Static_assert(NUM_CLASSES == 32, "class_capacity[] lists 32 classes");
_Static_assert(NUM_CLASSES <= 256 && POOL_SIZE / ALIGNMENT <= 65535,
	       "szidx and capacity fit their fields");
_Static_assert(POOL_SIZE / SMALL_MAX >= 2,
	       "a pool holds two blocks at least: a free into a full pool "
	       "never empties it (free.c tests \"was full\" first), and a "
	       "pool that starts with one block taken is not full");
