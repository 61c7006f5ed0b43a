// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_pool - one pool through its states: used -> full (lazily off
 * usedpools) -> used -> spare -> empty, its free list one page long when
 * it is fresh and as long as its last life reached when it restarts, LIFO;
 * then usedpools[] as pools fill and rejoin at its tail; the invariant
 * checker after every step. */
#include <sys/mman.h>

#include "tap.h"
#include "arena.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "spare.h"
#include "types.h"

/* Does this kernel fault pages in on request (MADV_POPULATE_WRITE)? */
static bool populate_supported(void)
{
	char *m = mmap(NULL, 2 * OS_PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool yes;

	if (m == MAP_FAILED)
		return false;
	yes = !madvise(m, 2 * OS_PAGE_SIZE, MADV_POPULATE_WRITE);
	munmap(m, 2 * OS_PAGE_SIZE);
	return yes;
}

/*
 * usedpools[] (pool.h): a full pool leaves when malloc finds it at the
 * head with no block, rejoins at the tail on its next free, and the
 * head's prevpool is the tail. Three pools of one class: fill them, put
 * them back, let the head run dry, then empty the tail and the head.
 */
static void test_list_surgery(void)
{
	const size_t req = 256;			/* 32 blocks a pool */
	const unsigned c = size_to_class(req);
	struct kr_heap *h = kr_tls_heap;
	struct kr_pool *pa, *pb, *pc;
	void *blk[3][POOL_SIZE / 256], *x, *y;
	unsigned cap = POOL_SIZE / 256, i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < cap; j++)
			blk[i][j] = karena_malloc(req);
	pa = pool_of(blk[0][0]);
	pb = pool_of(blk[1][0]);
	pc = pool_of(blk[2][0]);
	ok(pa != pb && pb != pc && pa != pc && pool_ref(pa) == cap &&
	   pool_ref(pb) == cap && pool_ref(pc) == cap &&
	   !pool_on_list(pa) && !pool_on_list(pb) &&
	   h->usedpools[c] == pc && !pc->nextpool &&
	   pool_of(blk[0][cap - 1]) == pa && pool_of(blk[2][cap - 1]) == pc,
	   "three full pools of class %u: A and B off usedpools, C heads it "
	   "until malloc next needs a block", c);

	karena_free(blk[0][0]);
	karena_free(blk[1][0]);
	karena_free(blk[2][0]);
	ok(h->usedpools[c] == pc && pc->nextpool == pa && pa->nextpool == pb &&
	   !pb->nextpool && pc->prevpool == pb && pb->prevpool == pa &&
	   pa->prevpool == pc,
	   "pools put back join at the tail: C, A, B; the head's prevpool "
	   "is the tail");
	ok(invariants(), "invariants: two pools put back");

	x = karena_malloc(req);
	y = karena_malloc(req);
	ok(x == blk[2][0] && y == blk[0][0] && h->usedpools[c] == pa &&
	   !pool_on_list(pc) && pa->prevpool == pb,
	   "the head runs dry and leaves; A heads, its prevpool the tail B");
	ok(invariants(), "invariants: a dry head gone");

	for (j = 1; j < cap; j++)
		karena_free(blk[1][j]);
	ok(h->usedpools[c] == pa && !pa->nextpool && pa->prevpool == pa &&
	   spare_holds(h, pb),
	   "B empties at the tail: A is the head and the tail");
	ok(invariants(), "invariants: tail unlinked");

	karena_free(x);
	ok(h->usedpools[c] == pa && pa->nextpool == pc && pa->prevpool == pc &&
	   pc->prevpool == pa && !pc->nextpool, "C rejoins behind A");
	karena_free(y);
	for (j = 1; j < cap; j++)
		karena_free(blk[0][j]);
	ok(h->usedpools[c] == pc && !pc->nextpool && pc->prevpool == pc &&
	   spare_holds(h, pa),
	   "A empties at the head: C is the class's only pool");
	ok(invariants(), "invariants: head unlinked");
	for (j = 1; j < cap; j++)
		karena_free(blk[2][j]);
	ok(invariants(), "invariants: every block of the class freed");
}

/*
 * The live map (free.c): a bit per block handed out, at its start; a
 * pool restarted after it emptied starts with none but its first block's.
 */
static void test_live_map(void)
{
	const size_t req = 48;			/* POOL_SIZE / 48 blocks a pool */
	void *v[POOL_SIZE / 48], *y;
	struct kr_pool *p;
	unsigned i, cap;
	int good;

	v[0] = karena_malloc(req);
	p = pool_of(v[0]);
	cap = p->capacity;
	for (i = 1; i < cap; i++)
		v[i] = karena_malloc(req);
	good = map_count(p) == cap;
	for (i = 0; i < cap; i++)
		good &= map_live(p, (uintptr_t)v[i]) &&
			!map_live(p, (uintptr_t)v[i] + 16);
	ok(good, "a full pool's live map: one bit per block, at its start");
	/* the map's first 40 bytes share the count's line (types.h) */
	ok((char *)&pool_map(p)[map_bit((uintptr_t)v[0]) / 64] <
	   (char *)p + 64 &&
	   (char *)&pool_map(p)[map_bit((uintptr_t)v[cap - 1]) / 64] >=
	   (char *)p + 64, "the first block's bit is in the header's first "
	   "line, the last block's in a later one");
	for (i = 0; i < cap; i += 2)
		karena_free(v[i]);
	ok(map_count(p) == cap / 2 && !map_live(p, (uintptr_t)v[0]) &&
	   map_live(p, (uintptr_t)v[1]) && invariants(),
	   "freed blocks' bits are clear, the others' set");
	for (i = 1; i < cap; i += 2)
		karena_free(v[i]);
	karena__flush_kept();		/* the pool goes back to its arena */
	y = karena_malloc(req);
	p = pool_of(y);
	ok(y && map_count(p) == 1 && map_live(p, (uintptr_t)y) &&
	   invariants(), "a restarted pool's map holds its first block only "
	   "(%s pool)", y == v[0] ? "the same" : "another");
	karena_free(y);
}

/*
 * The arena header takes slot 0 and reads as a pool header with an empty
 * live map (types.h, no_map): the checker says so when a bit is set.
 */
static void test_arena_no_map(void)
{
	void *b = karena_malloc(16);
	struct kr_arena *a = arena_of(pool_of(b));
	bool caught;

	ok(b && !map_count((struct kr_pool *)a) && invariants(),
	   "the arena header's live map is empty");
	a->no_map[3] = 1;
	fprintf(stderr, "# a check failure follows, on purpose:\n");
	caught = !invariants();
	a->no_map[3] = 0;
	ok(caught && invariants(), "a bit set in it is caught by the checker");
	karena_free(b);
}

/*
 * The pool table sits at its arena's colour (arena.h, table_offset): a
 * multiple of its size, from the arena's number, inside the pools it
 * takes; its slot 0 is the arena header.
 */
static void test_table_colours(void)
{
	enum { N = 8 * 15 * 15 };	/* 1 KiB blocks: 8 arenas of 256 KiB */
	size_t table = (size_t)kr.npools << POOL_SLOT_SHIFT;
	size_t room = (size_t)kr.first_pool << POOL_SHIFT;
	size_t colours = room / table;
	unsigned shift = (unsigned)__builtin_ctzl(kr.arena_size);
	unsigned i, bad = 0, coloured = 0, arenas = 0, seen = 0;
	struct kr_arena *last = NULL;
	void **b = calloc(N, sizeof(*b));

	for (i = 0; b && i < N; i++) {
		struct kr_arena *a;
		uintptr_t off;
		struct kr_pool *p;
		char *base;

		b[i] = karena_malloc(1000);
		if (!b[i]) {
			bad++;
			break;
		}
		a = arena_of(b[i]);
		base = arena_base(a);
		off = (((uintptr_t)base >> shift) % colours) * table;
		p = pool_of(b[i]);
		if ((char *)a != base + off || a->magic != ARENA_MAGIC ||
		    p != pool_at(a, pool_index(a, p)) ||
		    (char *)p <= (char *)a || (char *)p >= (char *)a + table ||
		    off + table > room || p->heap != a->heap ||
		    map_count((struct kr_pool *)a))
			bad++;
		if (a != last) {
			arenas++;
			coloured += off != 0;
			seen |= 1u << (off / table % 32);
			last = a;
		}
	}
	ok(b && !bad, "%u blocks in %u arenas: each pool's header in its "
	   "arena's table, at the arena's colour (%zu colours of %zu bytes), "
	   "whose slot 0 is the arena header, with no block", i, arenas,
	   colours, table);
	/*
	 * Arenas granted in a row mostly sit side by side, and so take
	 * several colours; where each one lands is the kernel's choice.
	 */
	ok(colours == 1 ? !kr.colour_mask && !coloured :
	   kr.colour_mask == room - table && __builtin_popcount(seen) >= 2,
	   "%u of the %u arenas have a table away from their base (mask "
	   "%#zx, colours seen %#x)", coloured, arenas,
	   (size_t)kr.colour_mask, seen);
	for (i = 0; b && i < N; i++)
		karena_free(b[i]);
	free(b);
	ok(invariants(), "invariants after the coloured arenas");
}

int main(void)
{
	const size_t req = 100;			/* class 6, 112-byte blocks */
	const unsigned c = size_to_class(req);
	struct kr_heap *h;
	struct kr_pool *p, *k;
	struct kr_arena *a;
	void *b[POOL_SIZE / 112], *x;
	unsigned cap, i, idx;
	size_t populated;
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
	   (char *)p < arena_base(a) + ((size_t)kr.first_pool << POOL_SHIFT) &&
	   ((uintptr_t)p & 63) == 0,
	   "the header is a cache line of the arena's pool table");
	ok(b[0] == pool_base(p) && ((uintptr_t)b[0] & POOL_MASK) == 0 &&
	   pool_base(p) == arena_base(a) + ((size_t)idx << POOL_SHIFT) &&
	   p->freeblock == (char *)b[0] + p->size &&
	   p->carve == (char *)b[0] + EXTEND_BYTES / p->size * p->size,
	   "the first block is the pool's first byte; the next ones of its "
	   "first %u bytes are on the free list", EXTEND_BYTES);
	ok(pool_ref(p) == 1 && h->usedpools[c] == p && p->state == POOL_INUSE,
	   "pool is used and heads usedpools[%u]", c);
	ok(invariants(), "invariants: used");

	populated = kr.pages_populated;
	for (i = 1; i < cap - 1; i++)
		b[i] = karena_malloc(req);
	ok(pool_ref(p) == cap - 1 && h->usedpools[c] == p,
	   "one block left: still used");
	populated = kr.pages_populated - populated;
	if (populate_supported())
		ok(populated == POOL_SIZE / OS_PAGE_SIZE - 1,
		   "the rest of the fresh pool went on the free list with its "
		   "%zu pages faulted in by one call", populated);
	else
		ok(!populated, "no MADV_POPULATE_WRITE here: the pool's pages "
		   "fault one by one (%zu populated)", populated);
	karena_free(b[5]);
	karena_free(b[7]);
	ok(karena_malloc(req) == b[7] && karena_malloc(req) == b[5],
	   "freed blocks come back last-in first-out");
	b[cap - 1] = karena_malloc(req);
	ok(pool_of(b[cap - 1]) == p && pool_ref(p) == cap &&
	   h->usedpools[c] == p && pool_on_list(p) && !p->freeblock &&
	   !p->carve,
	   "last block: the pool is full and heads usedpools until malloc "
	   "next needs a block");
	karena_stats(&st);
	ok(st.pools_full == 1 && st.classes[c].blocks_in_use == cap,
	   "stats: one full pool, %u blocks in use", cap);
	ok(invariants(), "invariants: full");
	x = karena_malloc(req);
	k = pool_of(x);
	ok(k != p && h->usedpools[c] == k && !pool_on_list(p),
	   "the next malloc finds it so: it leaves usedpools, a new pool "
	   "opens");
	karena_free(x);
	ok(h->usedpools[c] == k && k->kept && !pool_ref(k),
	   "the new pool empties: the class's only pool, it stays open");
	ok(invariants(), "invariants: second pool emptied");

	karena_free(b[3]);
	ok(pool_ref(p) == cap - 1 && pool_on_list(p) && h->usedpools[c] == k &&
	   k->nextpool == p && k->prevpool == p && p->freeblock == b[3],
	   "a free puts the full pool back on usedpools, at the tail");
	ok(invariants(), "invariants: full -> used");
	x = karena_malloc(req);
	ok(pool_of(x) == k, "malloc takes the head's blocks first");
	karena_free(x);

	good = 1;
	for (i = 0; i < cap; i++) {
		if (i == 3)
			continue;
		karena_free(b[i]);
		if (i + 1 < cap)
			good &= pool_ref(p) == cap - 2 - i + (i > 3) &&
				h->usedpools[c] == k && k->nextpool == p;
		if (i % 8 == 0)
			good &= invariants();
	}
	ok(good, "the pool stays used while blocks remain");
	ok(pool_ref(p) == 0 && h->usedpools[c] == k && !k->nextpool &&
	   p->state == POOL_INUSE && h->nspare &&
	   h->spare[h->nspare - 1] == p,
	   "last free: pool is empty, off usedpools, on top of the spare pools");
	ok(invariants(), "invariants: spare");

	/* a spare pool whose last life carved it all starts with all free */
	populated = kr.pages_populated;
	x = karena_malloc(600);
	k = pool_of(x);
	ok(k == p && x == pool_base(p) && !p->carve &&
	   p->freeblock == (char *)x + p->size && p->capacity == POOL_SIZE / 608,
	   "a new class takes the spare pool and puts all %u of its blocks "
	   "on the free list at once", p->capacity);
	ok(kr.pages_populated == populated,
	   "... its pages resident from its last life: none populated");
	karena_free(x);
	ok(invariants(), "invariants: the spare pool served a class");
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
	test_live_map();
	test_arena_no_map();
	test_table_colours();
	return tap_done();
}
