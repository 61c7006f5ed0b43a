// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - a pool: one 4 KiB page serving one size class.
 *
 * Blocks are carved lazily: a fresh pool has an empty free list and
 * nextoffset at the first block; allocation pops the free list, else takes
 * the block at nextoffset. A pool is on usedpools[szidx] iff
 * 0 < ref < capacity (see internal.h).
 */
#include "internal.h"

/* Build the header of a pool taken from its arena for class @c. */
void pool_init(struct kr_pool *p, unsigned c)
{
	unsigned size = (unsigned)class_to_size(c);

	p->ref = 0;
	p->szidx = (uint16_t)c;
	p->size = (uint16_t)size;
	p->capacity = (uint16_t)((POOL_SIZE - POOL_OVERHEAD) / size);
	p->nextoffset = POOL_OVERHEAD;
	p->maxnextoffset = (uint16_t)(POOL_SIZE - size);
	p->kept = 0;
	p->freeblock = NULL;
	p->nextpool = NULL;
	p->prevpool = NULL;
	p->heap = arena_of(p)->heap;
}

_Static_assert(sizeof(struct kr_pool) <= POOL_OVERHEAD,
	       "pool header must fit in POOL_OVERHEAD");
_Static_assert(POOL_OVERHEAD % ALIGNMENT == 0,
	       "blocks must stay 16-byte aligned");
