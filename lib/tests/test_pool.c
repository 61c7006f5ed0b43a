// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_pool - one pool through its states: used -> full -> used -> spare
 * -> empty, lazy carving, LIFO free list; the invariant checker after every
 * step. */
#include "tap.h"

int main(void)
{
	const size_t req = 100;			/* class 6, 112-byte blocks */
	const unsigned c = size_to_class(req);
	struct kr_heap *h;
	struct kr_pool *p;
	struct kr_arena *a;
	void *b[64], *x;
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
	ok(cap == 4096 / 112, "class %u: %u blocks of %u bytes", c, cap,
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
	return tap_done();
}
