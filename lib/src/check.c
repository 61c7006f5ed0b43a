// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * check.c - the invariants of lib/README.md, executable.
 *
 * kr_check_heap() walks every list of a heap and recounts every counter;
 * the tests call it after each step (karena__check, test_hooks.c) and
 * KARENA_DEBUG=1 runs it every 256th pool change. It must run on the
 * heap's owner (or with kr.lock held for an abandoned heap).
 */
#include <stdarg.h>
#include <string.h>

#include "arena.h"
#include "check.h"
#include "config.h"
#include "debug.h"
#include "init.h"
#include "lock.h"
#include "pool.h"
#include "registry.h"
#include "span.h"
#include "spare.h"
#include "types.h"

struct ctx {
	FILE *out;
	struct kr_heap *h;
	int bad;
};

__attribute__((format(printf, 3, 4)))
static void fail(struct ctx *x, const void *where, const char *fmt, ...)
{
	va_list ap;

	if (x->bad++ >= 20)
		return;		/* the first ones say enough */
	fprintf(x->out, "karena: check: heap %p: %p: ", (void *)x->h, where);
	va_start(ap, fmt);
	vfprintf(x->out, fmt, ap);
	va_end(ap);
	fputc('\n', x->out);
}

#define CHECK(x, cond, where, ...) \
	do { if (!(cond)) fail(x, where, __VA_ARGS__); } while (0)

/*
 * One pool in use: its free list, its counts, its live map, its list
 * membership.
 */
static void check_pool(struct ctx *x, struct kr_pool *p, size_t *nfree_out)
{
	size_t n = 0, untouched, limit = p->capacity + 1;
	char *base = pool_base(p), *end = base + POOL_SIZE, *b, *carve;

	CHECK(x, p->szidx < NUM_CLASSES, p, "bad class %u", p->szidx);
	if (p->szidx >= NUM_CLASSES)
		return;
	CHECK(x, p->size == class_to_size(p->szidx) &&
		 p->capacity == POOL_SIZE / p->size,
	      p, "size %u / capacity %u do not match class %u", p->size,
	      p->capacity, p->szidx);
	CHECK(x, p->heap == arena_of(p)->heap, p, "pool's heap %p is not its "
	      "arena's %p", (void *)p->heap, (void *)arena_of(p)->heap);
	CHECK(x, p->kept <= 1 && (p->used & ~POOL_OFF_LIST) >= p->kept &&
		 pool_ref(p) <= p->capacity &&
		 (pool_ref(p) > 0 || p->kept), p,
	      "ref %u (used %#x) out of (0, %u] (kept %u)", pool_ref(p),
	      p->used, p->capacity, p->kept);
	CHECK(x, pool_on_list(p) || pool_ref(p) + p->dropped == p->capacity,
	      p, "off usedpools, but not full: ref %u + dropped %u of %u",
	      pool_ref(p), p->dropped, p->capacity);
	carve = pool_untouched(p);
	CHECK(x, carve >= base && carve <= end &&
		 (size_t)(carve - base) % p->size == 0, p,
	      "bad carve %p (pool at %p)", (void *)carve, (void *)base);
	if (carve < base || carve > end)
		return;
	for (b = p->freeblock; b && n < limit; b = *(char **)b, n++) {
		if (b < base || b >= carve ||
		    (size_t)(b - base) % p->size) {
			fail(x, b, "free-list block outside pool %p", (void *)p);
			return;
		}
		CHECK(x, !map_live(p, (uintptr_t)b), b,
		      "free block marked live (class %u)", p->szidx);
		if (kr_debug && !debug_block_poisoned(b, p->size))
			fail(x, b, "freed block written after free "
			     "(class %u)", p->szidx);
	}
	CHECK(x, map_count(p) == pool_ref(p), p,
	      "%u bits in the live map, %u blocks handed out", map_count(p),
	      pool_ref(p));
	untouched = (size_t)(end - carve) / p->size;
	CHECK(x, n + untouched + pool_ref(p) + p->dropped == p->capacity, p,
	      "free %zu + untouched %zu + ref %u + dropped %u != capacity %u",
	      n, untouched, pool_ref(p), p->dropped, p->capacity);
	*nfree_out = n;
}

int kr_check_heap(struct kr_heap *h, FILE *out)
{
	struct ctx x = { .out = out, .h = h };
	size_t npools[NUM_CLASSES] = {0};
	size_t nused = 0, nempty = 0, npurgeable = 0;
	size_t narenas = 0, nempty_arenas = 0, nusable_expected = 0;
	size_t onlist = 0, nfree;
	struct kr_arena *a, *prev;
	struct kr_pool *p, *pp;
	unsigned c, i, n, nkept = 0, nkeptflag = 0;
	int bad;

	kr_lock(&h->lock);	/* the purge thread stays out */
	/* 0. kept: distinct pools in use, flagged, the flag nowhere else */
	for (i = 0; i < KEEP_POOLS; i++) {
		p = h->kept[i];
		if (!p)
			continue;
		nkept++;
		a = arena_of(p);
		CHECK(&x, registry_contains(p) && a->heap == h &&
		      p->state == POOL_INUSE && p->kept, p,
		      "kept[%u] is not a kept pool in use", i);
		for (n = 0; n < i; n++)
			CHECK(&x, h->kept[n] != p, p, "kept twice");
	}

	/* 0b. spare: distinct empty pools in use, on no list (spare.c) */
	CHECK(&x, h->nspare <= SPARE_POOLS, h, "nspare %u", h->nspare);
	for (i = 0; i < h->nspare && i < SPARE_POOLS; i++) {
		p = h->spare[i];
		a = arena_of(p);
		CHECK(&x, registry_contains(p) && a->heap == h &&
		      p->state == POOL_INUSE && !pool_ref(p) && !p->kept &&
		      h->usedpools[p->szidx] != p, p,
		      "spare[%u] is not an empty pool of this heap off lists",
		      i);
		CHECK(&x, !map_count(p), p, "spare[%u]'s live map is not empty",
		      i);
		for (n = 0; n < i; n++)
			CHECK(&x, h->spare[n] != p, p, "spare twice");
	}

	/* 1. usedpools: every pool on it is used and of its class */
	for (c = 0; c < NUM_CLASSES; c++) {
		pp = NULL;
		CHECK(&x, h->usedpools[c] != NULL, h,
		      "usedpools[%u] is NULL, not POOL_NONE", c);
		if (!h->usedpools[c])
			continue;
		for (p = h->usedpools[c]; p != POOL_NONE && p;
		     pp = p, p = p->nextpool) {
			a = arena_of(p);
			CHECK(&x, !pp || p->prevpool == pp, p, "bad prevpool");
			CHECK(&x, registry_contains(p) && a->heap == h, p,
			      "pool on usedpools[%u] not in this heap", c);
			CHECK(&x, p->szidx == c, p, "class %u on usedpools[%u]",
			      p->szidx, c);
			CHECK(&x, p->state == POOL_INUSE, p,
			      "pool on usedpools is not in use");
			CHECK(&x, pool_on_list(p), p,
			      "pool on usedpools[%u] marked off it", c);
			if (++onlist > (size_t)h->narenas * kr.npools) {
				fail(&x, p, "usedpools[%u] has a cycle", c);
				break;
			}
		}
	}

	/* 2. every arena, every pool */
	for (a = h->arenas, prev = NULL; a; prev = a, a = a->allnext) {
		unsigned nfl = 0, nemptyp = 0, npurged = 0;

		if (++narenas > h->narenas) {
			fail(&x, a, "more arenas than narenas %u", h->narenas);
			break;
		}
		CHECK(&x, a->allprev == prev, a, "bad allprev");
		CHECK(&x, a->magic == ARENA_MAGIC && a->heap == h, a,
		      "bad magic or owner");
		CHECK(&x, registry_contains(a), a, "arena not in registry");
		CHECK(&x, a == arena_of(a), a,
		      "the arena header is not at its table's colour");
		CHECK(&x, !map_count((struct kr_pool *)a), a,
		      "the arena header's live map (no_map) is not empty");
		CHECK(&x, a->ntotalpools == kr.npools - kr.first_pool, a,
		      "bad ntotalpools");
		/* slot 0 is the arena header; the other pools that
		 * hold the table are never used */
		for (i = 1; i < kr.npools; i++) {
			struct kr_pool *m = pool_at(a, i);

			if (i < kr.first_pool || i >= a->nextpool) {
				CHECK(&x, m->state == POOL_UNTOUCHED, a,
				      "pool %u: state %u, expected untouched",
				      i, m->state);
				continue;
			}
			if (m->state == POOL_EMPTY) {
				nemptyp++;
				npurged += m->purged;
				continue;
			}
			CHECK(&x, m->state == POOL_INUSE, a,
			      "pool %u: bad state %u", i, m->state);
			p = m;
			if (spare_holds(h, p))
				continue;	/* checked in 0b */
			nfree = 0;
			check_pool(&x, p, &nfree);
			if (p->szidx >= NUM_CLASSES)
				continue;
			npools[p->szidx]++;
			nkeptflag += p->kept;
			nused += pool_on_list(p);
		}
		for (i = a->freepools; i && nfl <= kr.npools;
		     i = pool_at(a, i)->nextfree, nfl++)
			CHECK(&x, i >= kr.first_pool && i < a->nextpool &&
			      pool_at(a, i)->state == POOL_EMPTY, a,
			      "pool %u on the free list is not empty", i);
		CHECK(&x, nfl == nemptyp, a,
		      "%u pools on the free list, %u empty", nfl, nemptyp);
		CHECK(&x, a->nfreepools == nemptyp + (kr.npools - a->nextpool),
		      a, "nfreepools %u != empty %u + untouched %u",
		      a->nfreepools, nemptyp, kr.npools - a->nextpool);
		CHECK(&x, a->npurged == npurged, a, "npurged %u != %u",
		      a->npurged, npurged);
		nempty += nemptyp;
		npurgeable += nemptyp - npurged;
		if (a->nfreepools)
			nusable_expected++;
		if (a->nfreepools == a->ntotalpools)
			nempty_arenas++;
	}
	CHECK(&x, narenas == h->narenas, h, "narenas %u, found %zu",
	      h->narenas, narenas);
	CHECK(&x, nused == onlist, h, "%zu used pools, %zu on usedpools",
	      nused, onlist);

	/* 3. usable_arenas: sorted, exactly the arenas with a free pool */
	n = 0;
	for (a = h->usable_arenas, prev = NULL; a;
	     prev = a, a = a->nextarena) {
		if (++n > h->narenas) {
			fail(&x, a, "usable_arenas has a cycle");
			break;
		}
		CHECK(&x, a->prevarena == prev, a, "bad prevarena");
		CHECK(&x, a->nfreepools > 0, a, "no free pool, but usable");
		CHECK(&x, !prev || prev->nfreepools <= a->nfreepools, a,
		      "usable_arenas not sorted: %u after %u", a->nfreepools,
		      prev ? prev->nfreepools : 0);
		if (!a->nextarena || a->nextarena->nfreepools != a->nfreepools)
			CHECK(&x, h->nfp2lasta[a->nfreepools] == a, a,
			      "nfp2lasta[%u] is not the last such arena",
			      a->nfreepools);
	}
	CHECK(&x, n == nusable_expected, h,
	      "%u arenas on usable_arenas, %zu have a free pool", n,
	      nusable_expected);
	for (i = 0; i <= MAX_POOLS; i++)
		if (h->nfp2lasta[i])
			CHECK(&x, h->nfp2lasta[i]->nfreepools == i &&
			      h->nfp2lasta[i]->magic == ARENA_MAGIC, h,
			      "nfp2lasta[%u] points to an arena with %u", i,
			      h->nfp2lasta[i]->nfreepools);

	/* 4. the counters */
	for (c = 0; c < NUM_CLASSES; c++)
		CHECK(&x, npools[c] == h->npools[c], h,
		      "class %u: pools %zu/%zu", c, npools[c], h->npools[c]);
	CHECK(&x, nempty == h->npools_empty, h, "empty %zu != %u", nempty,
	      h->npools_empty);
	CHECK(&x, npurgeable == h->npurgeable, h, "purgeable %zu != %u",
	      npurgeable, h->npurgeable);
	CHECK(&x, nempty_arenas == h->nempty_arenas, h,
	      "empty arenas %zu != %u", nempty_arenas, h->nempty_arenas);
	CHECK(&x, nkept == nkeptflag, h, "%u pools in kept[], %u flagged",
	      nkept, nkeptflag);
	bad = x.bad;
	kr_unlock(&h->lock);
	if (span_check_heap(h, out))
		bad = 1;
	return bad ? -1 : 0;
}
