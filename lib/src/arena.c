// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * arena.c - arenas: grant and release through the backend, hand out and
 * take back pools, and keep heap->usable_arenas sorted (fullest first)
 * with O(1) moves through heap->nfp2lasta.
 *
 * Pools are always taken from the head of usable_arenas, the arena with
 * the fewest free pools; its count only drops, so it stays the head. A
 * new arena is granted only when usable_arenas is empty.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "backend.h"
#include "config.h"
#include "free.h"
#include "init.h"
#include "large.h"
#include "pool.h"
#include "purge.h"
#include "registry.h"
#include "types.h"

static void usable_insert_after(struct kr_heap *h, struct kr_arena *a,
				struct kr_arena *prev)
{
	a->prevarena = prev;
	a->nextarena = prev ? prev->nextarena : h->usable_arenas;
	if (a->nextarena)
		a->nextarena->prevarena = a;
	if (prev)
		prev->nextarena = a;
	else
		h->usable_arenas = a;
}

/* Take @a off usable_arenas, keeping nfp2lasta right. */
void arena_usable_unlink(struct kr_heap *h, struct kr_arena *a)
{
	unsigned n = a->nfreepools;

	if (h->nfp2lasta[n] == a)
		h->nfp2lasta[n] = a->prevarena &&
			a->prevarena->nfreepools == n ? a->prevarena : NULL;
	if (a->prevarena)
		a->prevarena->nextarena = a->nextarena;
	else
		h->usable_arenas = a->nextarena;
	if (a->nextarena)
		a->nextarena->prevarena = a->prevarena;
	a->nextarena = NULL;
	a->prevarena = NULL;
}

/*
 * One arena from the backend, in the registry (its slots tagged
 * @registry_tag) and counted; its header (arena.h, arena_at) is the
 * caller's to write (arenas of pools here, of spans in span.c). NULL
 * with errno ENOMEM when the backend refuses.
 */
struct kr_arena *arena_grant(uintptr_t registry_tag)
{
	void *base;
	size_t held, peak;

	base = kr.backend_ok ? kr.backend->arena_alloc(kr.arena_size) : NULL;
	if (!base && large_keep_drop())	/* the limits see blocks in use */
		base = kr.backend->arena_alloc(kr.arena_size);
	if (!base) {
		atomic_fetch_add(&kr.arenas_denied, 1);
		errno = ENOMEM;
		return NULL;
	}
	if (registry_add(base, registry_tag) < 0) {
		kr.backend->arena_free(base, kr.arena_size);
		atomic_fetch_add(&kr.arenas_denied, 1);
		errno = ENOMEM;
		return NULL;
	}
	held = atomic_fetch_add(&kr.arenas_held, 1) + 1;
	atomic_fetch_add(&kr.arenas_allocated, 1);
	peak = atomic_load(&kr.arenas_peak);
	while (held > peak &&
	       !atomic_compare_exchange_weak(&kr.arenas_peak, &peak, held))
		;
	return arena_at((uintptr_t)base);
}

/*
 * Out of the registry and counted released; its pages stay mapped, and
 * are the caller's. Returns its base.
 */
char *arena_forget(struct kr_arena *a)
{
	char *base = arena_base(a);

	a->magic = 0;
	registry_remove(base);
	atomic_fetch_sub(&kr.arenas_held, 1);
	atomic_fetch_add(&kr.arenas_released, 1);
	return base;
}

/* Out of the registry and back to the backend. */
void arena_ungrant(struct kr_arena *a)
{
	kr.backend->arena_free(arena_forget(a), kr.arena_size);
}

/*
 * Grant a new arena to @h and put it on usable_arenas, which must be empty.
 * NULL with errno ENOMEM when the backend refuses.
 */
struct kr_arena *arena_new(struct kr_heap *h)
{
	struct kr_arena *a = arena_grant(REGISTRY_SLOT_TAG);
	unsigned i;

	if (!a)
		return NULL;
	/*
	 * The backend gives zeroed memory: every slot is POOL_UNTOUCHED, and
	 * every live map empty. Every slot, the arena header's (slot 0) too
	 * (types.h), names the heap, so that free of a wild pointer into a
	 * pool that carries no block, or into the pool table, goes the
	 * owner's way and finds no bit set in the slot's map (free_suspect)
	 * instead of following a NULL heap.
	 */
	for (i = 0; i < kr.npools; i++)
		pool_at(a, i)->heap = h;
	_Static_assert(offsetof(struct kr_pool, heap) ==
		       offsetof(struct kr_arena, heap) &&
		       offsetof(struct kr_pool, map) ==
		       offsetof(struct kr_arena, no_map),
		       "slot 0 reads as a pool with no block to free");
	a->magic = ARENA_MAGIC;
	a->ntotalpools = kr.npools - kr.first_pool;
	a->nfreepools = a->ntotalpools;
	a->nextpool = kr.first_pool;
	a->freepools = 0;
	a->npurged = 0;
	a->empty_ms = kr_now_ms();

	a->allprev = NULL;
	a->allnext = h->arenas;
	if (h->arenas)
		h->arenas->allprev = a;
	h->arenas = a;
	h->narenas++;
	h->nempty_arenas++;

	usable_insert_after(h, a, NULL);
	h->nfp2lasta[a->nfreepools] = a;
	return a;
}

/* Take an arena with no pool in use, already off usable_arenas, off @h. */
static void arena_detach(struct kr_heap *h, struct kr_arena *a)
{
	struct kr_pool *p;
	unsigned i;

	for (i = a->freepools; i; i = p->nextfree) {
		p = pool_at(a, i);
		if (!p->purged)
			h->npurgeable--;
	}
	h->npools_empty -= a->nextpool - kr.first_pool;
	h->nempty_arenas--;
	if (a->allprev)
		a->allprev->allnext = a->allnext;
	else
		h->arenas = a->allnext;
	if (a->allnext)
		a->allnext->allprev = a->allprev;
	h->narenas--;
}

/* Give an arena with no pool in use, already off usable_arenas, back. */
void arena_release(struct kr_heap *h, struct kr_arena *a)
{
	arena_detach(h, a);
	arena_ungrant(a);
}

/*
 * Take one of @h's arenas with no pool in use and some page resident,
 * beyond the keep_arenas it keeps for small blocks, out of the heap for
 * its pages (large.c makes it a large block's mapping): off its lists,
 * out of the registry, counted released, still mapped. Its base, or NULL.
 * h->lock held.
 */
char *arena_take_empty(struct kr_heap *h)
{
	struct kr_arena *a;

	if (h->nempty_arenas <= kr.keep_arenas)
		return NULL;
	for (a = h->arenas; a; a = a->allnext) {
		if (a->nfreepools != a->ntotalpools ||
		    a->nextpool - kr.first_pool <= a->npurged)
			continue;
		arena_usable_unlink(h, a);
		arena_detach(h, a);
		return arena_forget(a);
	}
	return NULL;
}

/*
 * A pool for a new class: from the head arena (fullest first), its free
 * list first, else its next untouched pool. NULL + ENOMEM on a denial.
 * The caller builds the pool header.
 */
struct kr_pool *arena_take_pool(struct kr_heap *h)
{
	struct kr_arena *a = h->usable_arenas;
	struct kr_pool *p;
	unsigned old;

	if (!a) {
		a = arena_new(h);
		if (!a)
			return NULL;
	}
	old = a->nfreepools;
	if (old == a->ntotalpools)
		h->nempty_arenas--;
	if (a->freepools) {
		p = pool_at(a, a->freepools);
		a->freepools = p->nextfree;
		h->npools_empty--;
		if (p->purged)
			a->npurged--;
		else
			h->npurgeable--;
	} else {
		p = pool_at(a, a->nextpool++);
		p->purged = 1;		/* never touched */
	}
	p->state = POOL_INUSE;	/* @purged kept: pool_start reads it */
	p->nextfree = 0;

	/* a is the head, so nothing has fewer free pools: it stays first. */
	if (h->nfp2lasta[old] == a)
		h->nfp2lasta[old] = NULL;
	a->nfreepools = old - 1;
	if (a->nfreepools)
		h->nfp2lasta[a->nfreepools] = a;
	else
		arena_usable_unlink(h, a);	/* full: off the list */
	return p;
}

/*
 * Pool @idx of @a has just become empty (already off usedpools): put it on
 * the arena's free list and move the arena to its new place, O(1):
 * right after the last arena that has as many free pools as @a had.
 * An arena left with no pool in use stays (to be reused, or released by
 * the purge once it has been empty for purge_ms); it is released at once
 * only beyond max_empty_arenas (beyond keep_arenas when purge_ms is 0).
 * @now: kr_now_ms(), or 0 when purge_ms is 0. Called with h->lock held.
 */
void arena_give_pool(struct kr_heap *h, struct kr_arena *a, unsigned idx,
		     uint32_t now)
{
	unsigned old = a->nfreepools, new = old + 1;
	struct kr_arena *lastold = h->nfp2lasta[old];
	struct kr_pool *m = pool_at(a, idx);

	m->state = POOL_EMPTY;
	m->purged = 0;
	m->empty_ms = now;
	m->nextfree = (uint16_t)a->freepools;
	a->freepools = idx;
	h->npools_empty++;
	h->npurgeable++;

	if (old == 0) {
		/* was full, off the list: it now has the fewest free pools */
		a->nfreepools = new;
		usable_insert_after(h, a, NULL);
	} else {
		if (lastold == a)
			h->nfp2lasta[old] = a->prevarena &&
				a->prevarena->nfreepools == old ?
				a->prevarena : NULL;
		a->nfreepools = new;
		if (lastold != a) {
			/* unlink, then re-insert after lastold */
			if (a->prevarena)
				a->prevarena->nextarena = a->nextarena;
			else
				h->usable_arenas = a->nextarena;
			if (a->nextarena)
				a->nextarena->prevarena = a->prevarena;
			usable_insert_after(h, a, lastold);
		}
	}
	/* Arenas that already had @new free pools stay after @a. */
	if (!h->nfp2lasta[new])
		h->nfp2lasta[new] = a;

	if (new == a->ntotalpools) {
		h->nempty_arenas++;	/* arena_release counts it out */
		a->empty_ms = now;
		if (h->nempty_arenas > purge_empty_arenas_kept(h)) {
			arena_usable_unlink(h, a);
			arena_release(h, a);
		}
	}
}

/*
 * Release the arenas of @h that have had no pool in use for at least
 * @min_age_ms, keeping @keep empty arenas. h->lock held. Returns how many
 * went.
 */
unsigned arena_release_old(struct kr_heap *h, uint32_t now,
			   uint32_t min_age_ms, unsigned keep)
{
	struct kr_arena *a, *next;
	unsigned n = 0;

	for (a = h->arenas; a && h->nempty_arenas > keep; a = next) {
		next = a->allnext;
		if (a->nfreepools != a->ntotalpools ||
		    (uint32_t)(now - a->empty_ms) < min_age_ms)
			continue;
		arena_usable_unlink(h, a);
		arena_release(h, a);
		n++;
	}
	return n;
}
