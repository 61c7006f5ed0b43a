// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - a pool: one 4 KiB page of blocks of one size class, and its
 * header in the arena's pool table (internal.h has the layout).
 *
 * Blocks are carved lazily: a fresh pool has an empty free list and
 * carve at its first byte; allocation pops the free list, else takes the
 * block at carve. A pool is on usedpools[szidx] iff 0 < ref < capacity
 * (see internal.h).
 */
#include "internal.h"

/* Build the header of a pool taken from its arena for class @c. */
void pool_init(struct kr_pool *p, unsigned c)
{
	unsigned size = (unsigned)class_to_size(c);

	p->szidx = (uint8_t)c;
	p->size = (uint16_t)size;
	p->capacity = (uint16_t)(POOL_SIZE / size);
	p->avail = p->capacity;
	p->kept = 0;
	p->freeblock = NULL;
	p->carve = pool_base(p);
	p->nextpool = NULL;
	p->prevpool = NULL;
	p->heap = arena_of(p)->heap;
}

_Static_assert(sizeof(struct kr_pool) == 1 << POOL_HEADER_SHIFT,
	       "a pool header is one cache line");
_Static_assert(sizeof(struct kr_arena) <= sizeof(struct kr_pool),
	       "the arena header fits the table's slot 0");
_Static_assert(MAX_POOLS <= 65535, "pool counts fit 16 bits");
_Static_assert(NUM_CLASSES <= 256 && POOL_SIZE / ALIGNMENT <= 65535,
	       "szidx and capacity fit their fields");
_Static_assert(POOL_SIZE / SMALL_MAX >= 2,
	       "a pool holds two blocks at least: a free into a full pool "
	       "never empties it (free.c tests \"was full\" first)");
