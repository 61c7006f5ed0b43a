// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pool.c - a pool: 16 KiB (four pages) of blocks of one size class, and its
 * header in the arena's pool table (lib/README.md draws the layout).
 *
 * Pools serve every request up to 1 KiB, in 64 classes 16 bytes apart, so
 * that malloc and free take one path, with no branch on the kind of block,
 * for the sizes most programs allocate most (mimalloc serves its small
 * pages likewise up to 1 KiB). CPython stops at 512 bytes, in 16 KiB pools
 * (3.12 on 64-bit, with its radix tree; 4 KiB without); that is where
 * this design departs from it.
 * Why 16 KiB, as CPython's: a pool's blocks are what malloc hands out
 * before its slow path looks for another pool, and the room in which a
 * pool gathers frees before malloc comes back to it. 8 KiB pools held
 * 8 to 15 blocks of the classes above 512 bytes: a churn of 100k live
 * blocks refilled on 19 % of its mallocs and found a full pool on 19 %
 * of its frees, each a mispredicted branch (callgrind: 9 % each with 16
 * KiB, 4 % with 32 KiB); and larson, whose threads keep about 16 blocks
 * of a class live, filled and reopened its pools all the time: 195k
 * mispredicted branches in a one-thread run, 33k with 16 KiB pools
 * (mimalloc 83k; docs/benchmarks.md).
 * A block costs N / (N / size) bytes of a pool of N: at 16 KiB at most
 * 7.5 % more than asked from 513 bytes to 1 KiB (897 bytes: 17 blocks of
 * 912; 14.2 % at 8 KiB, 25 % at 4 KiB; test_classes checks every size).
 * The costs: a block that outlives its neighbours pins 16 KiB, not 8
 * (pin: 1 % of 256 MiB survives at random, RSS after the free 62 % ->
 * 84 % of the peak; glibc and mimalloc keep 100 %); a 64 KiB arena gives
 * a quarter of its room to the pool table's pool (the default 256 KiB, a
 * sixteenth, of which one page is touched). A class in use still costs
 * one page: a pool that has never been touched starts with one page of
 * blocks (pool_extend). 32 KiB pools make a churn of 100k blocks 9-10 %
 * faster (1.04x mimalloc's time, where 16 KiB take 1.14x) and pin more:
 * 50 MiB, not 30, when one block in 1000 survives, and a 256 KiB arena
 * carries 7 pools of blocks, not 15 (docs/benchmarks.md, "Tried and not
 * kept").
 * When blocks up to 1 KiB came from spans (arenas of their own), larson's
 * sizes, uniform over 16-1000 bytes, made malloc's "over 512?" and free's
 * "pool or span?" each miss one time in two.
 *
 * Blocks reach the free list from the pool's untouched end: when the
 * pool starts, as many as its last life reached (one page's for a fresh
 * pool), and malloc's slow path the rest when the list runs dry
 * (pool_extend); malloc itself only pops. A pool is on
 * usedpools[szidx] unless malloc found it full (see lib/README.md,
 * "Invariants").
 */
#include <string.h>

#include "backend.h"
#include "config.h"
#include "free.h"
#include "init.h"
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

const struct kr_pool kr_no_pool;	/* all zero: no free block */

#define NO_POOL4	POOL_NONE, POOL_NONE, POOL_NONE, POOL_NONE
#define NO_POOL16	NO_POOL4, NO_POOL4, NO_POOL4, NO_POOL4
struct kr_pool *const kr_no_pools[NUM_CLASSES] = {
	NO_POOL16, NO_POOL16, NO_POOL16, NO_POOL16,
};

/*
 * Put @p's next untouched blocks on its free list, which is empty: those
 * in the next @bytes (one block at least), or all that are left. Under
 * KARENA_DEBUG one at a time (its checks take a block on the free list
 * for one freed). Each gets its link only (a free of one never handed out
 * finds its live map bit clear, as a double free does). @p has untouched
 * blocks (carve is not NULL); carve is NULL once it has none left.
 * mimalloc extends its pages' free lists likewise, so that malloc's fast
 * path is a pop and nothing else.
 * How much: a pool that starts takes as many bytes as its last life
 * carved (pages still resident), one page at least (EXTEND_BYTES: what a
 * fresh or purged pool touches first); malloc's slow path, when that list
 * runs dry, takes the rest. A pool restarts each time a program's batch
 * empties and refills it, and each extension is a slow-path call whose
 * branches mispredict: with 2 KiB at a time, a batch of 100k blocks in
 * FIFO order mispredicted 176k branches in 1M operations (mimalloc 70k)
 * and took 1.2x mimalloc's time. Carving the whole pool at every restart
 * cost xmalloc, whose pools restart after a few blocks, 44 instructions
 * an object in links never used (docs/benchmarks.md).
 */
static void pool_extend(struct kr_pool *p, size_t bytes)
{
	char *b = p->carve, *end = pool_base(p) + p->capacity * p->size;
	char *last = end - p->size;

	if (kr_debug)
		last = b;
	else if (b + bytes < end)
		last = b + (bytes / p->size - 1) * p->size;
	for (; b < last; b += p->size)
		*(void **)b = b + p->size;
	*(void **)last = NULL;
	p->freeblock = p->carve;
	p->carve = last + p->size < end ? last + p->size : NULL;
}

/*
 * @p, on usedpools, has no free block but untouched ones: take one. The
 * rest of the pool goes on the free list, its links touching every page,
 * and those pages are fresh (beyond what the pool's last life reached, or
 * handed back since): faulted in with one call (backend_populate).
 */
void *pool_extend_pop(struct kr_pool *p)
{
	/* blocks of at most 1 KiB: the pool's last page holds one */
	_Static_assert(SMALL_MAX <= OS_PAGE_SIZE, "a block in the last page");
	if (!kr_debug)
		backend_populate(p->carve, pool_base(p) + POOL_SIZE);
	pool_extend(p, POOL_SIZE);
	return pool_pop(p, p->freeblock);
}

/*
 * Pool @p of @h, empty and on no list, starts serving class @c, whose
 * usedpools list is empty: build its header, make it the list, and
 * return its first block. The pool is @h's: it came from @h's spare pools
 * or arenas. Its @purged says whether its pages are gone (arena_take_pool)
 * and, if not, its @carve how far its last life reached (pool_extend).
 */
void *pool_start(struct kr_heap *h, struct kr_pool *p, unsigned c)
{
	unsigned size = (unsigned)class_to_size(c);
	char *b = pool_base(p);
	/* the bytes its last life carved: pages it touched, still resident */
	size_t reach = p->purged ? 0 : p->carve ? (size_t)(p->carve - b) :
			POOL_SIZE;

	p->szidx = (uint8_t)c;
	p->size = (uint16_t)size;
	p->capacity = class_capacity[c];
	p->used = 0;
	p->kept = 0;
	p->dropped = 0;
	p->freeblock = NULL;
	p->carve = b;
	p->nextpool = NULL;
	p->prevpool = p;		/* the head's: the tail */
	p->heap = h;
	memset(p->map, 0, sizeof(p->map));	/* nothing handed out */
	h->usedpools[c] = p;
	pool_extend(p, reach > EXTEND_BYTES ? reach : EXTEND_BYTES);
	p->purged = 0;
	return pool_pop(p, p->freeblock);
}

/* Mark in @pages the pages of @p's block at byte offset @start. */
static void pool_mark_pages(const struct kr_pool *p, size_t start, bool *pages)
{
	size_t k;

	for (k = start / OS_PAGE_SIZE; k <= (start + p->size - 1) / OS_PAGE_SIZE;
	     k++)
		pages[k] = true;
}

/*
 * karena_trim's part of @p, a pool of the caller's that still holds
 * blocks: its pages that hold free blocks and that no block handed out
 * overlaps (the live map says which) go back to the backend, as glibc's
 * trim gives back the free pages inside its chunks. Those free blocks
 * leave the free list first, since their links go with the pages, and
 * wait in @dropped until the pool empties and is built again; the blocks
 * never handed out stay past @carve, to be carved from zeroed pages. A
 * page handed back holds no free block after, so a second trim leaves it
 * alone. The pages handed back, or 0.
 */
size_t pool_trim(struct kr_pool *p)
{
	enum { NPAGES = POOL_SIZE / OS_PAGE_SIZE };
	bool live[NPAGES] = { false }, drop[NPAGES] = { false };
	char *base = pool_base(p);
	unsigned k, first, dropped = 0;
	size_t i, returned = 0;
	void **link, *b;

	for (i = 0; i < p->capacity; i++)
		if (map_live(p, (uintptr_t)(base + i * p->size)))
			pool_mark_pages(p, i * p->size, live);
	for (b = p->freeblock; b; b = *(void **)b)
		pool_mark_pages(p, (size_t)((char *)b - base), drop);
	for (k = 0; k < NPAGES; k++)
		drop[k] &= !live[k];
	for (link = &p->freeblock; (b = *link);) {
		size_t start = (size_t)((char *)b - base);

		if (drop[start / OS_PAGE_SIZE] ||
		    drop[(start + p->size - 1) / OS_PAGE_SIZE]) {
			*link = *(void **)b;
			dropped++;
		} else {
			link = (void **)b;
		}
	}
	p->dropped = (uint16_t)(p->dropped + dropped);
	for (k = 0; k < NPAGES; k++) {
		long r;

		if (!drop[k])
			continue;
		for (first = k; k + 1 < NPAGES && drop[k + 1]; k++)
			;
		r = kr.backend->return_pages(base + (size_t)first * OS_PAGE_SIZE,
					     (size_t)(k + 1 - first) *
					     OS_PAGE_SIZE);
		atomic_fetch_add(&kr.return_calls, 1);
		if (r > 0)
			returned += (size_t)r;
	}
	atomic_fetch_add(&kr.pages_returned, returned);
	return returned;
}

/*
 * pool_give_block's slow path: @p's count fell to 0 or below. It was off
 * usedpools (full, and malloc found it so): back on it, at the tail
 * (pool.h). Or it is now empty (never when it was full: a pool holds two
 * blocks at least).
 */
void pool_give_slow(struct kr_heap *h, struct kr_pool *p)
{
	if (p->used & POOL_OFF_LIST) {
		p->used &= (uint16_t)~POOL_OFF_LIST;
		pool_link_used(h, p);
		return;
	}
	kr_free_emptied(h, p);
}

_Static_assert(sizeof(struct kr_pool) == 1 << POOL_SLOT_SHIFT,
	       "a pool header is a table slot");
_Static_assert(offsetof(struct kr_pool, map) + 40 == 64,
	       "the map's first 40 bytes share the free list's line");
_Static_assert(sizeof(struct kr_arena) <= sizeof(struct kr_pool),
	       "the arena header fits the table's slot 0");
_Static_assert(MAX_POOLS <= 65535, "pool counts fit 16 bits");
_Static_assert(NUM_CLASSES == 64, "class_capacity[] lists 64 classes");
_Static_assert(NUM_CLASSES <= 256 && POOL_SIZE / ALIGNMENT <= 65535,
	       "szidx and capacity fit their fields");
_Static_assert(POOL_SIZE / SMALL_MAX >= 2,
	       "a pool holds two blocks at least: a free into a full pool "
	       "never empties it (pool_give_slow)");
_Static_assert(POOL_SIZE / ALIGNMENT + 1 < POOL_OFF_LIST,
	       "a pool's count and its kept block stay below POOL_OFF_LIST");
