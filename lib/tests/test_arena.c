// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_arena - usable_arenas order (fullest first, nfp2lasta) after every
 * free, release exactly when an arena's last pool comes back (purge off),
 * the class's last pool kept open, keep_arenas, and the purge of pools
 * that stay empty. */
#include "tap.h"
#include "arena.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "lock.h"
#include "pool.h"
#include "purge.h"
#include "types.h"

#define REQ 512		/* class 31 */
#define PER_POOL (POOL_SIZE / REQ)	/* 32 blocks a pool */

static int sorted(struct kr_heap *h)
{
	struct kr_arena *a;

	for (a = h->usable_arenas; a && a->nextarena; a = a->nextarena)
		if (a->nfreepools > a->nextarena->nfreepools)
			return 0;
	return 1;
}

static unsigned long long rng = 12345;
static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng >> 33) % n);
}

/* What the owner does on a slow path: purge if it is due. */
static void owner_purge_check(struct kr_heap *h)
{
	kr_lock(&h->lock);
	purge_maybe(h);
	kr_unlock(&h->lock);
}

/* @a holds an empty pool kept open on usedpools, or a spare pool */
static int holds_empty_pool(struct kr_heap *h, struct kr_arena *a)
{
	unsigned i;

	for (i = 0; i < KEEP_POOLS; i++)
		if (h->kept[i] && arena_of(h->kept[i]) == a &&
		    !pool_ref(h->kept[i]))
			return 1;
	for (i = 0; i < h->nspare; i++)
		if (arena_of(h->spare[i]) == a)
			return 1;
	return 0;
}

/*
 * Every arena of @arenas is held iff it has a block or a kept or spare
 * pool; the number gone is what stats count as released since @before.
 */
static int released_exactly(struct kr_heap *h, struct kr_arena **arenas,
			    const unsigned *live, unsigned na, size_t before)
{
	struct karena_stats st;
	size_t ngone = 0;
	unsigned k;
	int good = 1;

	karena_stats(&st);
	for (k = 0; k < na; k++) {
		int want = live[k] == 0 && !holds_empty_pool(h, arenas[k]);
		int gone = !karena__is_ours(arenas[k]);

		good &= want == gone;
		ngone += gone;
	}
	return good && st.arenas_released == before + ngone;
}

int main(void)
{
	struct karena_stats st;
	struct kr_heap *h;
	struct kr_arena *arenas[8], *head, *a;
	size_t nb, i, j, released, held, released0;
	unsigned P, live[8] = {0}, na = 0, minfree, ne, part;
	void **b, *x;
	int good_order = 1, good_release = 1, good_inv = 1;

	karena__set_keep_arenas(0);
	karena__set_purge_ms(0);
	x = karena_malloc(REQ);
	h = kr_tls_heap;
	karena_free(x);
	P = kr.npools - kr.first_pool;
	part = P > 5 ? 5 : P - 1;	/* a 64 KiB arena has 3 pools */
	nb = (size_t)(2 * P + part) * PER_POOL;	/* two full arenas, and more */
	b = malloc(nb * sizeof(*b));
	for (i = 0; i < nb; i++) {
		b[i] = karena_malloc(REQ);
		a = arena_of(b[i]);
		for (j = 0; j < na && arenas[j] != a; j++)
			;
		if (j == na && na < 8)
			arenas[na++] = a;
		live[j]++;
	}
	ok(na == 3, "%zu blocks of %d bytes fill 2 arenas and part of a 3rd (%u)",
	   nb, REQ, na);
	ok(!h->usable_arenas || h->usable_arenas->nextarena == NULL,
	   "full arenas are off usable_arenas");
	ok(invariants(), "invariants after filling");

	/* shuffle, then free one block at a time */
	for (i = nb - 1; i > 0; i--) {
		j = rnd((unsigned)i + 1);
		x = b[i]; b[i] = b[j]; b[j] = x;
	}
	karena_stats(&st);
	released0 = st.arenas_released;
	for (i = 0; i < nb; i++) {
		a = arena_of(b[i]);
		for (j = 0; j < na && arenas[j] != a; j++)
			;
		karena_free(b[i]);
		live[j]--;
		/* a kept or spare pool holds its arena */
		good_release &= released_exactly(h, arenas, live, na,
						  released0);
		good_order &= sorted(h);
		if (i % 7 == 0 || live[j] == 0)
			good_inv &= invariants();
		if (i == nb / 2) {
			/*
			 * fullest first: a new pool comes from the head. The
			 * emptied pools go back to their arenas first: in
			 * small arenas the spare can hold every one of them.
			 */
			karena__flush_kept();
			head = h->usable_arenas;
			minfree = head ? head->nfreepools : 0;
			for (a = head; a; a = a->nextarena)
				if (a->nfreepools < minfree)
					minfree = 0;
			ok(head && minfree == head->nfreepools,
			   "the head of usable_arenas has the fewest free pools");
			x = karena_malloc(16);
			ok(head && arena_of(x) == head,
			   "a new pool is taken from the fullest usable arena");
			karena_free(x);
		}
	}
	ok(good_order, "usable_arenas sorted by free pools after every free");
	ok(good_release, "an arena is released exactly when it holds no block "
	   "and no kept or spare pool (keep 0)");
	ok(good_inv, "invariants after the frees");
	x = h->usedpools[REQ / 16 - 1];
	ok(x && pool_ref(x) == 0,
	   "the class's last pool stays open, empty, on usedpools");
	karena__flush_kept();
	karena_stats(&st);
	ok(h->narenas == 0 && st.blocks_in_use == 0,
	   "no arena left once every block is freed (keep 0)");

	/* keep_arenas = 1: the first arena to empty stays */
	karena__set_keep_arenas(1);
	nb = (size_t)2 * P * PER_POOL;
	for (i = 0; i < nb; i++)
		b[i] = karena_malloc(REQ);
	karena_stats(&st);
	released = st.arenas_released;
	held = st.arenas_held;
	for (i = 0; i < nb / 2; i++)
		karena_free(b[i]);
	karena__flush_kept();
	karena_stats(&st);
	ok(st.arenas_released == released && st.arenas_held == held &&
	   h->nempty_arenas == 1, "keep 1: the first empty arena is kept");
	for (; i < nb; i++)
		karena_free(b[i]);
	karena__flush_kept();
	karena_stats(&st);
	ok(st.arenas_released == released + 1 && h->nempty_arenas == 1,
	   "keep 1: the second empty arena is released");
	ok(invariants(), "invariants with a kept arena");

	/*
	 * purge: empty pools of an arena in use hand their pages back (NE
	 * pools of an arena: 10, fewer in an arena of fewer pools)
	 */
	ne = P > 10 ? 10 : P - 1;
	nb = (size_t)P * PER_POOL + PER_POOL;
	for (i = 0; i < nb; i++) {
		b[i] = karena_malloc(REQ);
		memset(b[i], 0x5a, REQ);
	}
	for (i = 0; i < ne * PER_POOL; i++)
		karena_free(b[i]);		/* ne pools empty */
	karena__flush_kept();			/* the first was kept open */
	karena_stats(&st);
	released = st.pages_returned;
	karena__purge(0);
	karena_stats(&st);
	ok(st.pages_returned >= released + ne * (POOL_SIZE / OS_PAGE_SIZE),
	   "purge hands back the pages of empty pools (%zu -> %zu)",
	   released, st.pages_returned);
	ok(invariants(), "invariants after the purge");
	held = st.pages_returned;
	karena__purge(0);
	karena_stats(&st);
	ok(st.pages_returned == held, "a second purge finds nothing new");
	for (i = 0; i < ne * PER_POOL; i++) {
		b[i] = karena_malloc(REQ);
		memset(b[i], 0x33, REQ);
	}
	ok(invariants(), "purged pools are reused");

	/*
	 * the timed purge: KARENA_PURGE_MS, on a clock this test moves (the
	 * purge thread, if it runs, reads the same clock); the owner's check
	 * on its slow paths is called directly
	 */
	karena__set_purge_ms(40);
	karena__set_clock(kr_now_ms());
	for (i = 0; i < ne * PER_POOL; i++)
		karena_free(b[i]);
	karena__flush_kept();			/* ne pools to their arena */
	karena_stats(&st);
	released = st.pages_returned;
	karena__advance_clock(20);
	owner_purge_check(h);
	karena_stats(&st);
	ok(st.pages_returned == released,
	   "pools empty for 20 ms of KARENA_PURGE_MS=40 stay (%zu -> %zu)",
	   released, st.pages_returned);
	karena__advance_clock(20);
	owner_purge_check(h);
	karena_stats(&st);
	ok(st.pages_returned >= released + ne * (POOL_SIZE / OS_PAGE_SIZE),
	   "pools empty for KARENA_PURGE_MS are purged (%zu -> %zu)",
	   released, st.pages_returned);
	karena__real_clock();
	for (; i < nb; i++)
		karena_free(b[i]);
	ok(invariants(), "invariants at the end");
	free(b);
	return tap_done();
}
