// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * spare.c - a heap's spare pools: empty pools its owner holds between its
 * size classes and its arenas, without the heap's lock.
 *
 * A pool that empties goes on top of heap->spare instead of back to its
 * arena; a class that needs a pool takes the top one (the most recently
 * emptied: its page and header are still in cache) and rebuilds it for
 * itself. To its arena a spare pool is in use. The heap's lock is taken
 * once per SPARE_BATCH pools rather than once per pool:
 *
 *	spare full (SPARE_POOLS)   the oldest SPARE_BATCH go to their arenas
 *	spare empty, pool needed   up to SPARE_BATCH come from the arenas,
 *				   fullest arena first as always; only the
 *				   first may need a new grant
 *
 * Why: a program that frees a batch empties pool after pool, and its next
 * batch takes them back. Giving and taking each pool under the lock (two
 * locked instructions, a clock read, the arena list re-sort) was a fifth
 * of the batch benchmark's time in a profile; a locked instruction also
 * waits for every store before it, which a run of frees leaves pending.
 *
 * The cost: up to SPARE_POOLS pools (128 KiB) per heap stay out of their
 * arenas: neither purged nor counted free until the owner next gives
 * pools back, or exits. The purge thread never touches them (they are
 * the owner's, like kept pools). Only the owner uses its spare pools: a
 * free into an abandoned heap gives an emptied pool straight to its arena,
 * and a thread's exit returns them all. A heap abandoned by fork keeps
 * them for the thread that adopts it.
 */
#include "arena.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "lock.h"
#include "pool.h"
#include "purge.h"
#include "spare.h"
#include "types.h"

/*
 * Give the @n empty pools at @pools to their arenas, under one lock, with
 * one clock read. The owner then makes sure the purge thread runs; since
 * starting it may malloc (pthread_create), which re-enters this heap, the
 * caller has already taken @pools out of the spare.
 */
static void pools_to_arenas(struct kr_heap *h, struct kr_pool *const *pools,
			    unsigned n)
{
	uint32_t now = kr.purge_ms ? kr_now_ms() : 0;
	unsigned i;

	kr_lock(&h->lock);
	for (i = 0; i < n; i++) {
		struct kr_arena *a = arena_of(pools[i]);

		arena_give_pool(h, a, pool_index(a, pools[i]), now);
	}
	purge_maybe_at(h, now);
	kr_unlock(&h->lock);
	if (h == kr_tls_heap)
		purge_kick();
}

/* Take the oldest @n spare pools out into @out. */
static void spare_take_oldest(struct kr_heap *h, struct kr_pool **out,
			      unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		out[i] = h->spare[i];
	h->nspare -= n;
	for (i = 0; i < h->nspare; i++)
		h->spare[i] = h->spare[i + n];
}

/*
 * spare_retire_pool's way for @p when the spare is no place for it: @h is
 * abandoned (kr.lock held), so @p goes to its arena; or the spare is full,
 * so its oldest SPARE_BATCH go to their arenas and @p joins the rest.
 */
KR_NOINLINE static void spare_overflow(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool *give[SPARE_BATCH];

	if (h != kr_tls_heap) {
		pools_to_arenas(h, &p, 1);
		return;
	}
	spare_take_oldest(h, give, SPARE_BATCH);
	h->spare[h->nspare++] = p;
	pools_to_arenas(h, give, SPARE_BATCH);
}

/*
 * Pool @p of @h is empty, on usedpools and not kept: off usedpools, and
 * to the spare pools if its owner is the caller, else (an abandoned heap,
 * under kr.lock) to its arena. The common way, a push on the spare, needs
 * no stack frame: the others are out of line.
 */
void spare_retire_pool(struct kr_heap *h, struct kr_pool *p)
{
	pool_unlink_used(h, p);
	h->npools[p->szidx]--;
	if (likely(h == kr_tls_heap && h->nspare < SPARE_POOLS))
		h->spare[h->nspare++] = p;
	else
		spare_overflow(h, p);
}

/*
 * The spare pools are gone: take one pool from the arenas for the caller
 * and up to SPARE_BATCH - 1 more for the spare, from arenas already held
 * (a new grant is asked for the first only). The spare is filled so that
 * its top is the next pool in the order the arenas handed them out.
 */
KR_NOINLINE static struct kr_pool *spare_refill(struct kr_heap *h)
{
	struct kr_pool *p, *more[SPARE_BATCH - 1];
	unsigned n = 0;

	kr_lock(&h->lock);
	purge_maybe(h);
	p = arena_take_pool(h);
	while (p && n < SPARE_BATCH - 1 && h->usable_arenas)
		more[n++] = arena_take_pool(h);
	kr_unlock(&h->lock);
	while (n)
		h->spare[h->nspare++] = more[--n];
	return p;
}

/*
 * An empty pool for the owner of @h to build for a class: the spare on
 * top, else from the arenas (out of line, so that taking the top needs
 * no stack frame). NULL if the backend denied a new arena.
 */
struct kr_pool *spare_take_pool(struct kr_heap *h)
{
	if (h->nspare)
		return h->spare[--h->nspare];
	return spare_refill(h);
}

/* Give every spare pool of @h back to its arena. */
void spare_flush(struct kr_heap *h)
{
	struct kr_pool *give[SPARE_POOLS];
	unsigned n = h->nspare;

	if (n) {
		spare_take_oldest(h, give, n);
		pools_to_arenas(h, give, n);
	}
}

/* Is @p one of @h's spare pools? (check.c, test_spare) */
bool spare_holds(const struct kr_heap *h, const struct kr_pool *p)
{
	unsigned i;

	for (i = 0; i < h->nspare; i++)
		if (h->spare[i] == p)
			return true;
	return false;
}
