// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_pool - one pool through its states: used -> full -> used -> spare
 * -> empty, lazy carving, LIFO free list; then usedpools[] as pools fill
 * and reopen around a head whose prevpool is stale; the invariant checker
 * after every step. */
#include "tap.h"
#include "arena.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "spare.h"
#include "types.h"

/*
 * usedpools[] keeps no prevpool for its head (pool.h): a pool that
 * fills leaves the head with one store, and its successor's prevpool
 * still names it. Unlinking must never follow that stale link. Three
 * pools of one class: fill them, reopen them, let the head fill, then
 * empty the new head, whose prevpool names a full pool on no list.
 */
static void test_list_surgery(void)
{
	const size_t req = 256;			/* 32 blocks a pool */
	const unsigned c = size_to_class(req);
	struct kr_heap *h = kr_tls_heap;
	struct kr_pool *pa, *pb, *pc;
	void *blk[3][POOL_SIZE / 256], *x;
	unsigned cap = POOL_SIZE / 256, i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < cap; j++)
			blk[i][j] = karena_malloc(req);
	pa = pool_of(blk[0][0]);
	pb = pool_of(blk[1][0]);
	pc = pool_of(blk[2][0]);
	ok(pa != pb && pb != pc && pa != pc && pool_ref(pa) == cap &&
	   pool_ref(pb) == cap && pool_ref(pc) == cap && !h->usedpools[c] &&
	   pool_of(blk[0][cap - 1]) == pa && pool_of(blk[2][cap - 1]) == pc,
	   "three full pools of class %u, none on usedpools", c);

	karena_free(blk[0][0]);
	karena_free(blk[1][0]);
	karena_free(blk[2][0]);
	ok(h->usedpools[c] == pc && pc->nextpool == pb && pb->nextpool == pa &&
	   !pa->nextpool && pa->prevpool == pb && pb->prevpool == pc,
	   "reopened pools join at the head: C, B, A");
	ok(invariants(), "invariants: three reopened pools");

	x = karena_malloc(req);
	ok(x == blk[2][0] && h->usedpools[c] == pb && pb->prevpool == pc,
	   "the head fills and leaves; B heads, its prevpool still names C");
	ok(invariants(), "invariants: head with a stale prevpool");

	for (j = 1; j < cap; j++)
		karena_free(blk[1][j]);
	ok(h->usedpools[c] == pa && !pa->nextpool && pool_ref(pc) == cap &&
	   !spare_holds(h, pc) && spare_holds(h, pb),
	   "B empties at the head: A heads, C stays full and untouched");
	ok(invariants(), "invariants: head unlinked past its stale prevpool");

	karena_free(x);
	ok(h->usedpools[c] == pc && pc->nextpool == pa && pa->prevpool == pc,
	   "C reopens in front of A");
	for (j = 1; j < cap; j++)
		karena_free(blk[0][j]);
	ok(h->usedpools[c] == pc && !pc->nextpool && spare_holds(h, pa),
	   "A empties behind the head: C is the class's only pool");
	ok(invariants(), "invariants: tail unlinked through its prevpool");
	for (j = 1; j < cap; j++)
		karena_free(blk[2][j]);
	ok(invariants(), "invariants: every block of the class freed");
}

/*
 * A pool restarted after it emptied: the first block it hands out (its
 * first byte) no longer carries the "freed" key its last free wrote, so
 * that its next free is not taken for a possible double free (free.h).
 */
static void test_restart_key(void)
{
	const size_t req = 48;			/* 170 blocks a pool */
	void *v[POOL_SIZE / 48], *y;
	struct kr_pool *p;
	unsigned i, cap;

	v[0] = karena_malloc(req);
	p = pool_of(v[0]);
	cap = p->capacity;
	for (i = 1; i < cap; i++)
		v[i] = karena_malloc(req);
	for (i = 0; i < cap; i++)
		karena_free(v[i]);
	karena__flush_kept();		/* the pool goes back to its arena */
	y = karena_malloc(req);
	ok(y && *block_key(y) != (void *)pool_of(y) && invariants(),
	   "a restarted pool's first block carries no stale key (%s pool)",
	   y == v[0] ? "the same" : "another");
	karena_free(y);
}

int main(void)
{
	const size_t req = 100;			/* class 6, 112-byte blocks */
	const unsigned c = size_to_class(req);
	struct kr_heap *h;
	struct kr_pool *p;
	struct kr_arena *a;
	void *b[POOL_SIZE / 112], *x;
	unsigned cap, i, idx;
	int good;
	struct karena_stats st;

	karena__set_keep_arenas(1);
	b[0] = karena_malloc(req);
	h = kr_tls_heap;
	p = pool_of(b[0]);
	a = arena_of(b[0]);
	idx = pool_index(a, p);
	cap = p->capacity;
	ok(cap == POOL_SIZE / 112, "class %u: %u blocks of %u bytes", c, cap,
	   p->size);
	ok(p == pool_at(a, idx) && idx >= kr.first_pool &&
	   (char *)p < (char *)a + ((size_t)kr.first_pool << POOL_SHIFT) &&
	   ((uintptr_t)p & 63) == 0,
	   "the header is a cache line of the arena's pool table");
	ok(b[0] == pool_base(p) && ((uintptr_t)b[0] & POOL_MASK) == 0 &&
	   pool_base(p) == (char *)a + ((size_t)idx << POOL_SHIFT) &&
	   p->carve == (char *)b[0] + p->size && !p->freeblock,
	   "first block is carved lazily from the pool's first byte");
	ok(pool_ref(p) == 1 && h->usedpools[c] == p && p->state == POOL_INUSE,
	   "pool is used and heads usedpools[%u]", c);
	ok(invariants(), "invariants: used");

	for (i = 1; i < cap - 1; i++)
		b[i] = karena_malloc(req);
	ok(pool_ref(p) == cap - 1 && h->usedpools[c] == p, "one block left: still used");
	b[cap - 1] = karena_malloc(req);
	ok(pool_of(b[cap - 1]) == p && pool_ref(p) == cap && h->usedpools[c] != p,
	   "last block: pool is full and off usedpools");
	karena_stats(&st);
	ok(st.pools_full == 1 && st.classes[c].blocks_in_use == cap,
	   "stats: one full pool, %u blocks in use", cap);
	ok(invariants(), "invariants: full");
	x = karena_malloc(req);
	ok(pool_of(x) != p && h->usedpools[c] == pool_of(x),
	   "next allocation opens a new pool");
	karena_free(x);
	ok(invariants(), "invariants: second pool emptied");

	karena_free(b[3]);
	ok(pool_ref(p) == cap - 1 && h->usedpools[c] == p && p->freeblock == b[3],
	   "a free turns full into used, at the head of usedpools");
	ok(invariants(), "invariants: full -> used");
	x = karena_malloc(req);
	ok(x == b[3], "the free list is LIFO");
	karena_free(b[5]);
	karena_free(b[7]);
	ok(karena_malloc(req) == b[7] && karena_malloc(req) == b[5],
	   "freed blocks come back last-in first-out");

	good = 1;
	for (i = 0; i < cap; i++) {
		karena_free(b[i]);
		if (i + 1 < cap)
			good &= pool_ref(p) == cap - 1 - i && h->usedpools[c] == p;
		if (i % 8 == 0)
			good &= invariants();
	}
	ok(good, "the pool stays used while blocks remain");
	ok(pool_ref(p) == 0 && h->usedpools[c] != p && p->state == POOL_INUSE &&
	   h->nspare && h->spare[h->nspare - 1] == p,
	   "last free: pool is empty, off usedpools, on top of the spare pools");
	ok(invariants(), "invariants: spare");
	karena__flush_kept();
	ok(!h->nspare && (a->magic != ARENA_MAGIC || p->state == POOL_EMPTY) &&
	   (a->freepools == idx || a->nfreepools == a->ntotalpools ||
	    a->magic != ARENA_MAGIC),
	   "spare pools flushed: pool is empty and on its arena's free list");
	ok(invariants(), "invariants: empty");

	/* an empty pool can take any class */
	x = karena_malloc(500);
	ok(x && karena__is_ours(x), "another class reuses an empty pool");
	ok(invariants(), "invariants after reuse");
	karena_free(x);
	ok(invariants(), "invariants at the end");

	test_list_surgery();
	test_restart_key();
	return tap_done();
}
