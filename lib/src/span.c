// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * span.c - medium blocks: requests over 1 KiB up to kr.medium_max
 * (128 KiB with arenas of 256 KiB or more), in spans of pools.
 *
 * CPython stops at 512 bytes and hands everything larger to the system
 * malloc; that is where this library departs from it: pools serve up to
 * 1 KiB (pool.c), and this file the rest up to 128 KiB, because a
 * program's 1-128 KiB objects are otherwise outside every grant, limit and
 * counter of the kernel, and glibc was the slowest part of programs that
 * use them. The shape is that of mimalloc's medium pages and jemalloc's
 * slabs: a span is a run of several 16 KiB pools of one arena, carrying
 * blocks of one class, sized so that the blocks fill it with little left
 * over.
 *
 *  Classes: 8 per power of two (1152, 1280, ..., 2048, 2304, ..., 128 KiB),
 *  so no block is more than 12.5 % larger than the request it serves
 *  (jemalloc's 4 per power of two waste up to 20 %).
 *
 *  A span holds at most 64 blocks and is run as a pool is: a free list
 *  threaded through its free blocks, blocks carved lazily past @carve, a
 *  count of the blocks not allocated (@avail). malloc pops or carves; free
 *  pushes. A free is checked as a small block's is (free.c): a bit string
 *  of block starts per class, one bt through the span header's start_bias
 *  (a pointer inside a block, or into a free pool, is not a start), and the
 *  "freed" key in the block's second word (the span header's address,
 *  cleared by malloc) confirmed on the span's free list. Pools per span: 8
 *  blocks for blocks up to 4 KiB, 4 up to 32 KiB, 1 above (a span of the
 *  block's own size), grown while the tail left over is more than an
 *  eighth of the span, at most 8 pools (128 KiB).
 *  Why a free list and not a bitmap of the blocks in use (what this file
 *  had first: the lowest clear bit on malloc; on free, the block index by
 *  a reciprocal multiply, then the bit): the bitmap cost a medium pair
 *  ~75 instructions more than a small one, half of larson's instructions.
 *
 *  Arenas of spans are the same arenas as those of pools (same size,
 *  alignment, registry), with SPAN_ARENA_MAGIC in their header and a table
 *  of struct kr_span slots; a heap keeps them apart from its arenas of
 *  pools (heap->span_arenas), so none of the small-block structures or
 *  invariants change. A span takes the first run of warm pools (free, and
 *  their pages resident: given back by a span, not purged since) among
 *  the heap's arenas of spans; if there is none, the cache's spans of
 *  other classes go back to their arenas first (below), so that their
 *  pages serve it; then the first run of free pools, or a new arena. A
 *  page never touched costs a fault (12 us each in a 2 vCPU virtual
 *  machine): python3 with PYTHONMALLOC=malloc, whose lists and dicts grow
 *  through the medium classes, took fresh pools for 179 of 201 when
 *  spans of other classes sat in the cache; with this order its timed
 *  part takes 3449 faults where it took 3508, and xmalloc 4750 where it
 *  took 7100, at 27 instructions an object more, in no more time
 *  (docs/benchmarks.md, "Fewer fresh pages").
 *
 *  How free gets here: arenas of spans take the registry's direct-mapped
 *  slots with a tag of their own (REGISTRY_SPAN_TAG), which free's fast
 *  path compares with the slot it loaded once the small blocks' tag has
 *  not matched, and sends the block here. So the small-block fast paths
 *  carry no test for medium blocks at all: malloc's exit for sizes over
 *  1 KiB (kr_malloc_big) and free's second compare are the whole cost.
 *  Medium blocks freed by other threads wait on a list of their own
 *  (heap->remote_spans), so collecting small blocks has no test either.
 *
 *  Threads: a span belongs to the heap owning its arena (@owner). Another
 *  thread's free is checked as the owner's is, keyed, and pushed on the
 *  owner's remote_spans list; the owner pushes it on its span when it
 *  collects, with no second check. An abandoned heap's block is freed
 *  under kr.lock.
 *
 *  Empty spans: one emptied by its owner while it is its class's only span
 *  stays open (heap->kept_spans, a ring of KEEP_SPANS), so that a
 *  malloc+free pair does not give a span back and take it again; others
 *  wait in the heap's cache, a stack per class, SPAN_CACHE_PAGES pools in
 *  all (4 MiB), for the class's next refills without a search; any other
 *  goes back to its arena at once, its pools free (SPAN_FREE). The cache
 *  is under the heap's lock, which a refill takes anyway: the purge gives
 *  back the spans that have waited there for KARENA_PURGE_MS, so that a
 *  cached span holds its pages no longer than a free pool, and a thread's
 *  exit empties it. Why 4 MiB: a producer that has 256 objects of up to
 *  128 KiB in flight (xmalloc) got about one span in four from the 1 MiB
 *  cache it had first, and took the rest from its arenas under the lock
 *  (~440 instructions a take, as many a give). Free pools have their pages
 *  handed back after KARENA_PURGE_MS and empty arenas of spans are
 *  released, by the same purge as pools (purge.c calls span_purge and
 *  span_release_old).
 */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "backend.h"
#include "config.h"
#include "debug.h"
#include "heap.h"
#include "init.h"
#include "lock.h"
#include "pool.h"
#include "purge.h"
#include "registry.h"
#include "span.h"
#include "types.h"

struct kr_mclass kr_medium[MEDIUM_CLASSES];

/*
 * The bit strings of block starts, one per class, one bit per 16 bytes of
 * its span (at most SPAN_MAX_POOLS pools: 1 KiB a class), clear for a
 * block start and set elsewhere; and a string of ones as long as one
 * pool's, the string of a free pool's slot.
 */
#define SPAN_STARTS_BYTES(npages)	((size_t)(npages) * POOL_SIZE / 128)
static uint8_t span_starts[MEDIUM_CLASSES * SPAN_STARTS_BYTES(SPAN_MAX_POOLS)];
static uint8_t span_no_starts[SPAN_STARTS_BYTES(1)];

_Static_assert(sizeof(struct kr_span) <= sizeof(struct kr_pool),
	       "a span slot is a pool table slot");

/* Build kr_medium[] and kr.medium_max for the arena size (init, kr.lock). */
void span_init_classes(void)
{
	unsigned usable = kr.npools - kr.first_pool, m, i;
	unsigned cap = usable < SPAN_MAX_POOLS ? usable : SPAN_MAX_POOLS;
	uint8_t *starts = span_starts;

	kr.medium_max = SMALL_MAX;
	memset(span_no_starts, 0xff, sizeof(span_no_starts));
	for (m = 0; m < MEDIUM_CLASSES; m++) {
		size_t size = medium_class_size(m), span;
		unsigned want = size <= 4096 ? 8 : size <= 32768 ? 4 : 1;
		unsigned n = (unsigned)((want * size + POOL_SIZE - 1) >>
					POOL_SHIFT);
		unsigned nmin = (unsigned)((size + POOL_SIZE - 1) >>
					   POOL_SHIFT);

		if (n > cap)
			n = cap;
		if (n < nmin)
			n = nmin;
		while (n < cap && ((size_t)n * POOL_SIZE) % size >
		       ((size_t)n * POOL_SIZE) / 8)
			n++;
		span = (size_t)n * POOL_SIZE;
		if (n > cap || span / size > 64)
			break;		/* this class and those above: large */
		kr_medium[m].size = (uint32_t)size;
		kr_medium[m].npages = (uint16_t)n;
		kr_medium[m].capacity = (uint16_t)(span / size);
		kr_medium[m].starts = starts;
		memset(starts, 0xff, SPAN_STARTS_BYTES(n));
		for (i = 0; i < span / size; i++) {
			size_t bit = i * size / ALIGNMENT;

			starts[bit / 8] &= (uint8_t)~(1u << (bit % 8));
		}
		starts += SPAN_STARTS_BYTES(n);
		kr.medium_max = size;
	}
}

static inline struct kr_span *span_at(struct kr_arena *a, unsigned i)
{
	return (struct kr_span *)pool_at(a, i);
}

static inline unsigned span_index(const struct kr_span *s)
{
	return pool_index(arena_of(s), (const struct kr_pool *)s);
}

/* Where the blocks of the span with header @s start. */
static inline char *span_base(const struct kr_span *s)
{
	return pool_base((const struct kr_pool *)s);
}

/* start_bias for a slot whose blocks start at @base: @starts - base / 128 */
static inline uintptr_t span_bias(const uint8_t *starts, const char *base)
{
	return (uintptr_t)starts - ((uintptr_t)base >> 7);
}

/* Slot @s is a free pool's (or becomes one): nothing in it is a block. */
static void span_slot_free(struct kr_span *s, unsigned i)
{
	s->state = SPAN_FREE;
	s->npages = 1;
	s->head = (uint16_t)i;
	s->start_bias = span_bias(span_no_starts, span_base(s));
}

/* The owner's class lists: a span with a free block is on spans[mclass]. */
static void span_link(struct kr_heap *h, struct kr_span *s)
{
	struct kr_span *head = h->spans[s->mclass];

	s->prev = NULL;
	s->next = head;
	if (head)
		head->prev = s;
	h->spans[s->mclass] = s;
}

static void span_unlink(struct kr_heap *h, struct kr_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->spans[s->mclass] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* ---------------------------------------------------------------------------
 * Arenas of spans: which pools are free, under h->lock
 */

/*
 * An arena of spans' free pools as a bit string, bit i for pool i, and
 * its warm pools, the free ones whose pages are resident (given back by a
 * span, not purged since), as another: in its header while it has at
 * most 128 pools (arenas up to 2 MiB), else in the pool table's slot 1,
 * which the table's own pools leave unused (a 4 MiB arena's table is 4
 * pools; the strings fit the first 512 bits of the slot, a struct
 * kr_span's size).
 */
_Static_assert(2 * MAX_POOLS <= 8 * sizeof(struct kr_span),
	       "an arena of spans' free and warm bits fit one table slot");
static uint64_t *free_bits(struct kr_arena *a)
{
	return kr.npools <= 128 ? a->span_free_bits : (uint64_t *)pool_at(a, 1);
}

static uint64_t *warm_bits(struct kr_arena *a)
{
	return kr.npools <= 128 ? a->span_warm_bits :
	       (uint64_t *)pool_at(a, 1) + MAX_POOLS / 64;
}

/* Set (@free) or clear bits [i, i + n), a word at a time. */
static void bits_set(uint64_t *bits, unsigned i, unsigned n, bool free)
{
	while (n) {
		unsigned k = 64 - (i & 63) < n ? 64 - (i & 63) : n;
		uint64_t m = (k == 64 ? ~(uint64_t)0 :
			      (((uint64_t)1 << k) - 1)) << (i & 63);

		if (free)
			bits[i >> 6] |= m;
		else
			bits[i >> 6] &= ~m;
		i += k;
		n -= k;
	}
}

/* The first bit at or after @i equal to @want, or kr.npools. */
static unsigned bits_next(const uint64_t *bits, unsigned i, bool want)
{
	unsigned w = i >> 6, nwords = (kr.npools + 63) >> 6;
	uint64_t m;

	if (i >= kr.npools)
		return kr.npools;
	m = (want ? bits[w] : ~bits[w]) & (~(uint64_t)0 << (i & 63));
	while (!m) {
		if (++w >= nwords)
			return kr.npools;
		m = want ? bits[w] : ~bits[w];
	}
	i = (w << 6) + (unsigned)__builtin_ctzll(m);
	return i < kr.npools ? i : kr.npools;
}

_Static_assert(offsetof(struct kr_span, owner) ==
	       offsetof(struct kr_arena, heap) &&
	       offsetof(struct kr_span, start_bias) >=
	       offsetof(struct kr_arena, no_map) &&
	       sizeof(struct kr_span) <= offsetof(struct kr_arena, no_map) +
	       sizeof(((struct kr_arena *)0)->no_map),
	       "slot 0 of an arena of spans reads as a free pool's");

/* A new arena of spans for @h, every pool free. NULL + ENOMEM if denied. */
static struct kr_arena *span_arena_new(struct kr_heap *h)
{
	struct kr_arena *a = arena_grant(REGISTRY_SPAN_TAG);
	unsigned i;

	if (!a)
		return NULL;
	a->magic = SPAN_ARENA_MAGIC;
	a->heap = h;
	/*
	 * Slot 0, the header, reads as a free pool's, so that free of a
	 * pointer into the table is caught (span_free_checked) instead of
	 * following the heap's address as a string of block starts: its
	 * fields fall in the header's heap (owner) and no_map, which an
	 * arena of spans leaves unused (types.h).
	 */
	span_slot_free(span_at(a, 0), 0);
	span_at(a, 0)->owner = h;
	a->ntotalpools = (uint16_t)(kr.npools - kr.first_pool);
	a->nfreepools = a->ntotalpools;
	a->empty_ms = kr_now_ms();
	bits_set(free_bits(a), kr.first_pool, kr.npools - kr.first_pool, true);
	for (i = kr.first_pool; i < kr.npools; i++) {
		struct kr_span *s = span_at(a, i);

		span_slot_free(s, i);
		s->purged = 1;		/* never touched: nothing to hand back */
		s->owner = h;
	}
	a->prevarena = NULL;
	a->nextarena = h->span_arenas;
	if (h->span_arenas)
		h->span_arenas->prevarena = a;
	h->span_arenas = a;
	h->nspan_arenas++;
	h->nempty_span_arenas++;
	return a;
}

/* Take an arena of spans with no span off @h. */
static void span_arena_detach(struct kr_heap *h, struct kr_arena *a)
{
	unsigned i;

	for (i = kr.first_pool; i < kr.npools; i++)
		if (!span_at(a, i)->purged)
			h->span_purgeable--;
	if (a->prevarena)
		a->prevarena->nextarena = a->nextarena;
	else
		h->span_arenas = a->nextarena;
	if (a->nextarena)
		a->nextarena->prevarena = a->prevarena;
	h->nspan_arenas--;
	h->nempty_span_arenas--;
}

static void span_arena_release(struct kr_heap *h, struct kr_arena *a)
{
	span_arena_detach(h, a);
	arena_ungrant(a);
}

/*
 * arena_take_empty for arenas of spans: one of @h's with no span and a
 * warm pool, beyond the keep_arenas it keeps, out of the heap for its
 * pages, still mapped. Its base, or NULL. h->lock held.
 */
char *span_take_empty(struct kr_heap *h)
{
	struct kr_arena *a;

	if (h->nempty_span_arenas <= kr.keep_arenas)
		return NULL;
	for (a = h->span_arenas; a; a = a->nextarena) {
		if (a->nfreepools != a->ntotalpools ||
		    bits_next(warm_bits(a), kr.first_pool, true) == kr.npools)
			continue;
		span_arena_detach(h, a);
		return arena_forget(a);
	}
	return NULL;
}

/*
 * The first run of @n free pools of @a, or 0 (pool 0 is the table's): a
 * walk over its runs of free pools, a word at a time.
 */
static unsigned arena_find_run(struct kr_arena *a, unsigned n, bool warm)
{
	const uint64_t *bits = warm ? warm_bits(a) : free_bits(a);
	unsigned i = kr.first_pool, j;

	if (a->nfreepools < n)
		return 0;
	while ((i = bits_next(bits, i, true)) < kr.npools) {
		j = bits_next(bits, i, false);
		if (j - i >= n)
			return i;
		i = j;
	}
	return 0;
}

/* The first of @h's arenas of spans with such a run, its start in @i. */
static struct kr_arena *span_find_run(struct kr_heap *h, unsigned n,
				      bool warm, unsigned *i)
{
	struct kr_arena *a;

	for (a = h->span_arenas; a; a = a->nextarena)
		if ((*i = arena_find_run(a, n, warm)))
			return a;
	return NULL;
}

static void span_give(struct kr_heap *h, struct kr_span *s, uint32_t now);

/* The newest of @h's cached spans of class @c, off the cache (h->lock). */
static struct kr_span *span_cache_pop(struct kr_heap *h, unsigned c)
{
	struct kr_span *s = h->span_cache[c];

	if (s) {
		h->span_cache[c] = s->next;
		h->span_cache_pages -= s->npages;
		s->next = NULL;
	}
	return s;
}

/*
 * No run of @n free pools with their pages is left for a span of class
 * @m: give back what the cache parks for the other classes, so that their
 * pages serve it, rather than fresh ones (a page fault each: 12 us in a
 * virtual machine). A span of @n pools or more if there is one, else all
 * of them. False if the cache had none.
 */
static bool span_cache_give_other(struct kr_heap *h, unsigned m, unsigned n)
{
	uint32_t now = kr.purge_ms ? kr_now_ms() : 0;
	struct kr_span *s;
	unsigned c;
	bool gave = false;

	for (c = 0; c < MEDIUM_CLASSES && h->span_cache_pages; c++) {
		s = h->span_cache[c];
		if (c == m || !s || s->npages < n)
			continue;
		span_give(h, span_cache_pop(h, c), now);
		return true;
	}
	for (c = 0; c < MEDIUM_CLASSES && h->span_cache_pages; c++) {
		while (c != m && (s = span_cache_pop(h, c))) {
			span_give(h, s, now);
			gave = true;
		}
	}
	return gave;
}

/*
 * Take a span of class @m for @h from its arenas (h->lock held): pools
 * whose pages are resident first (freed ones, or the cache's of other
 * classes), then the first run of free pools, then a new arena.
 */
static struct kr_span *span_take(struct kr_heap *h, unsigned m)
{
	const struct kr_mclass *k = &kr_medium[m];
	struct kr_arena *a;
	struct kr_span *s;
	unsigned i = 0, j;

	/* h->span_purgeable: the free pools whose pages are warm */
	a = h->span_purgeable >= k->npages ?
	    span_find_run(h, k->npages, true, &i) : NULL;
	if (!a && span_cache_give_other(h, m, k->npages) &&
	    h->span_purgeable >= k->npages)
		a = span_find_run(h, k->npages, true, &i);
	if (!a)
		a = span_find_run(h, k->npages, false, &i);
	if (!a) {
		a = span_arena_new(h);
		if (!a)
			return NULL;
		i = kr.first_pool;
	}
	if (a->nfreepools == a->ntotalpools)
		h->nempty_span_arenas--;
	a->nfreepools -= k->npages;
	bits_set(free_bits(a), i, k->npages, false);
	bits_set(warm_bits(a), i, k->npages, false);
	for (j = i; j < i + k->npages; j++) {
		s = span_at(a, j);
		if (!s->purged)
			h->span_purgeable--;
		s->state = SPAN_TAIL;
		s->head = (uint16_t)i;
		s->purged = 0;
	}
	s = span_at(a, i);
	s->state = SPAN_HEAD;
	s->npages = k->npages;
	s->mclass = (uint8_t)m;
	s->size = k->size;
	s->capacity = k->capacity;
	s->avail = k->capacity;
	s->freeblock = NULL;
	s->carve = 0;
	s->start_bias = span_bias(k->starts, span_base(s));
	s->kept = 0;
	return s;
}

/* Give span @s's pools back to its arena (h->lock held, @s on no list). */
static void span_give(struct kr_heap *h, struct kr_span *s, uint32_t now)
{
	struct kr_arena *a = arena_of(s);
	unsigned i = span_index(s), n = s->npages, j;
	uintptr_t bias = span_bias(span_no_starts, span_base(s));

	for (j = i; j < i + n; j++, bias -= POOL_SIZE >> 7) {
		struct kr_span *t = span_at(a, j);

		t->state = SPAN_FREE;		/* span_slot_free(), unrolled */
		t->npages = 1;
		t->head = (uint16_t)j;
		t->start_bias = bias;
		t->purged = 0;
		t->empty_ms = now;
	}
	h->span_purgeable += n;
	a->nfreepools += n;
	bits_set(free_bits(a), i, n, true);
	bits_set(warm_bits(a), i, n, true);
	if (a->prevarena) {	/* to the front: the next take looks there */
		a->prevarena->nextarena = a->nextarena;
		if (a->nextarena)
			a->nextarena->prevarena = a->prevarena;
		a->prevarena = NULL;
		a->nextarena = h->span_arenas;
		h->span_arenas->prevarena = a;
		h->span_arenas = a;
	}
	if (a->nfreepools == a->ntotalpools) {
		a->empty_ms = now;
		h->nempty_span_arenas++;
		if (h->nempty_span_arenas > purge_empty_arenas_kept(h))
			span_arena_release(h, a);
	}
}

/* Span @s of @h is empty and off its list: back to its arena. */
static void span_retire(struct kr_heap *h, struct kr_span *s)
{
	uint32_t now = kr.purge_ms ? kr_now_ms() : 0;

	kr_lock(&h->lock);
	span_give(h, s, now);
	purge_maybe_at(h, now);
	kr_unlock(&h->lock);
	if (h == kr_tls_heap)
		purge_kick();
}

/* ---------------------------------------------------------------------------
 * Blocks
 */

/*
 * Give back @h's cached spans empty for @min_age_ms at @now (0: all), the
 * oldest of each class's stack (h->lock held).
 */
static void span_cache_drop(struct kr_heap *h, uint32_t now,
			    uint32_t min_age_ms)
{
	unsigned m;

	for (m = 0; m < MEDIUM_CLASSES && h->span_cache_pages; m++) {
		struct kr_span **link = &h->span_cache[m], *s, *next;

		while ((s = *link) && (uint32_t)(now - s->empty_ms) <
				      min_age_ms)
			link = &s->next;	/* newer first */
		*link = NULL;
		for (; s; s = next) {
			next = s->next;
			s->next = NULL;
			h->span_cache_pages -= s->npages;
			span_give(h, s, now);
		}
	}
}

/*
 * Empty span @s of @h, on no list: into the owner's cache (a stack per
 * class, newest on top) if the page budget allows, else back to its arena.
 * The cache is under h->lock, so that the purge gives back what has waited
 * there for KARENA_PURGE_MS (span_release_old) as it does free pools.
 */
static void span_park(struct kr_heap *h, struct kr_span *s)
{
	uint32_t now;

	if (h != kr_tls_heap) {
		span_retire(h, s);
		return;
	}
	now = kr.purge_ms ? kr_now_ms() : 0;
	kr_lock(&h->lock);
	if (h->span_cache_pages + s->npages > SPAN_CACHE_PAGES) {
		span_give(h, s, now);
		purge_maybe_at(h, now);
	} else {
		s->empty_ms = now;
		s->next = h->span_cache[s->mclass];	/* the next refills' */
		h->span_cache[s->mclass] = s;
		h->span_cache_pages += s->npages;
	}
	kr_unlock(&h->lock);
	purge_kick();
}

/* Keep empty span @s open; the ring's oldest, if empty, is parked. */
static void span_keep(struct kr_heap *h, struct kr_span *s)
{
	struct kr_span *old = h->kept_spans[h->kept_spans_next];

	h->kept_spans[h->kept_spans_next] = s;
	h->kept_spans_next = (h->kept_spans_next + 1) % KEEP_SPANS;
	s->kept = 1;
	if (old) {
		old->kept = 0;
		if (old->avail == old->capacity) {
			span_unlink(h, old);
			span_park(h, old);
		}
	}
}

/*
 * Close every kept span of @h and empty its cache: the empty spans go back
 * to their arenas.
 */
void span_flush_kept(struct kr_heap *h)
{
	unsigned i;

	uint32_t now = kr.purge_ms ? kr_now_ms() : 0;

	kr_lock(&h->lock);
	span_cache_drop(h, now, 0);
	purge_maybe_at(h, now);
	kr_unlock(&h->lock);
	if (h == kr_tls_heap)
		purge_kick();
	for (i = 0; i < KEEP_SPANS; i++) {
		struct kr_span *s = h->kept_spans[i];

		h->kept_spans[i] = NULL;
		if (s) {
			s->kept = 0;
			if (s->avail == s->capacity) {
				span_unlink(h, s);
				span_retire(h, s);
			}
		}
	}
}

/* No span of class @m has room: remote frees first, else a new span. */
KR_NOINLINE static struct kr_span *span_refill(struct kr_heap *h, unsigned m)
{
	struct kr_span *s;

	if (atomic_load_explicit(&h->remote_free, memory_order_relaxed) ||
	    atomic_load_explicit(&h->remote_spans, memory_order_relaxed)) {
		heap_collect_remote(h);
		if (h->spans[m])
			return h->spans[m];
	}
	kr_lock(&h->lock);
	s = span_cache_pop(h, m);
	if (!s)
		s = span_take(h, m);
	kr_unlock(&h->lock);
	/* denied: give back the empty arenas every heap keeps, retry */
	if (!s && heap_release_all_empty()) {
		kr_lock(&h->lock);
		s = span_take(h, m);
		kr_unlock(&h->lock);
	}
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	span_link(h, s);
	return s;
}

/*
 * span_alloc's way when spans[m] is empty or its first span has no freed
 * block: collect, refill, or carve the span's next block.
 */
KR_NOINLINE static void *span_alloc_slow(struct kr_heap *h, unsigned m)
{
	struct kr_span *s = h->spans[m];
	void *b;

	if (!s) {
		s = span_refill(h, m);
		if (!s)
			return NULL;
	}
	b = s->freeblock;
	if (b) {
		s->freeblock = *(void **)b;	/* refilled from remote frees */
	} else {
		b = span_base(s) + s->carve;
		s->carve += s->size;
	}
	*block_key(b) = 0;		/* a stale key */
	if (!--s->avail)
		span_unlink(h, s);	/* full: off the list */
	return b;
}

/*
 * A block of medium class @m from @h, which the caller owns: the first
 * span's free list popped, as a pool's, with no stack frame.
 */
void *span_alloc(struct kr_heap *h, unsigned m)
{
	struct kr_span *s = h->spans[m], *next;
	void *b;

	if (unlikely(!s || !s->freeblock))
		return span_alloc_slow(h, m);
	b = s->freeblock;
	s->freeblock = *(void **)b;
	*block_key(b) = 0;		/* the freed key */
	if (unlikely(!--s->avail)) {	/* full: off the list (its head) */
		next = s->next;
		h->spans[m] = next;
		if (next)
			next->prev = NULL;
	}
	return b;
}

/* The header of the span holding address @u of the arena at @base. */
static inline struct kr_span *span_head_of(uintptr_t base, uintptr_t u)
{
	const struct kr_span *t = (struct kr_span *)pool_in(base, u);

	return (struct kr_span *)pool_at(arena_at(base), t->head);
}

/*
 * Span @s of @h is empty and not kept: kept open, parked or given back.
 * free's errno is kept: a purge or a release on the way may set it.
 */
KR_NOINLINE static void span_emptied(struct kr_heap *h, struct kr_span *s)
{
	int saved_errno = errno;

	if (h == kr_tls_heap && h->spans[s->mclass] == s && !s->next) {
		span_keep(h, s);	/* the class's only span: open */
	} else {
		span_unlink(h, s);
		span_park(h, s);
	}
	errno = saved_errno;
}

/* Push checked block @b on span @s of @h, as its owner (or kr.lock held). */
static inline void span_push(struct kr_heap *h, struct kr_span *s, void *b)
{
	uint16_t avail = (uint16_t)(s->avail + 1);

	*(void **)b = s->freeblock;
	s->freeblock = b;
	s->avail = avail;
	if (unlikely(avail == 1))
		span_link(h, s);	/* was full */
	if (unlikely(avail == s->capacity) && !s->kept)
		span_emptied(h, s);
}

/* Free checked block @b of span @s: by its owner, or to the owner's list. */
static inline void span_free_to(struct kr_span *s, void *b)
{
	struct kr_heap *h = s->owner;

	if (unlikely(h != kr_tls_heap)) {
		heap_remote_free_span(h, s, b);	/* keyed when pushed */
	} else {
		*block_key(b) = (uintptr_t)s;
		span_push(h, s, b);
	}
}

/*
 * free() of @b, checked in full: a block start (else reported: inside a
 * block, in a free pool, never handed out), not on its span's free list
 * (else a double free). Under KARENA_DEBUG every medium free comes here,
 * and the block is filled with DEAD_BYTE.
 */
void span_free_checked(void *b)
{
	uintptr_t u = (uintptr_t)b;
	struct kr_span *t = span_slot(b), *s;
	char *base;
	size_t off, i;
	unsigned n = 0;
	void *f;

	if (span_index(t) < kr.first_pool)
		kr_fatal(b, "free of a pointer into the pool table of an arena "
			 "of spans (a wild pointer)");
	if (t->state != SPAN_HEAD && t->state != SPAN_TAIL)
		kr_fatal(b, "free of a pointer into a free span (a double "
			 "free of a medium block whose span was emptied, or a "
			 "wild pointer)");
	s = span_head_of(u & kr.arena_mask, u);
	base = span_base(s);
	off = (size_t)((const char *)b - base);
	i = off / s->size;
	if (off % s->size || i >= s->capacity)
		kr_fatal(b, "free of a pointer inside a block: %zu bytes into "
			 "the %u-byte block at %p", off % s->size, s->size,
			 (const void *)(base + i * s->size));
	if (off >= s->carve)
		kr_fatal(b, "free of a medium block never allocated (%u-byte "
			 "blocks)", s->size);
	/* the owner's list; another thread's walk stays inside the span */
	for (f = s->freeblock; f && n <= s->capacity; f = *(void **)f, n++) {
		if (f == b)
			kr_fatal(b, "double free of a %u-byte block (medium "
				 "class %u)", s->size, s->mclass);
		if ((char *)f < base || (char *)f >= base + s->carve)
			break;
	}
	if (kr_debug)
		memset(b, DEAD_BYTE, s->size);
	span_free_to(s, b);
}

/* Give back block @b of @h, checked when it was pushed (heap.c). */
void span_free_local(struct kr_heap *h, void *b)
{
	uintptr_t u = (uintptr_t)b;

	span_push(h, span_head_of(u & kr.arena_mask, u), b);
}

/*
 * free() of @b, a 16-aligned pointer in the arena of spans at @base (free's
 * fast path, by the arena's registry slot):
 * not a block start, or carrying the "freed" key, it is looked at closely.
 */
void span_free(void *b, uintptr_t base)
{
	uintptr_t u = (uintptr_t)b;
	struct kr_span *s = span_head_of(base, u);

	if (unlikely(block_suspect((uintptr_t)s, b, s->start_bias, u >> 4)))
		span_free_checked(b);
	else
		span_free_to(s, b);
}

size_t span_usable_size(const void *b)
{
	struct kr_span *t = span_slot(b);

	return span_at(arena_of(b), t->head)->size;
}

/* ---------------------------------------------------------------------------
 * Handing back (purge.c, h->lock held)
 */

/*
 * Give back the cached spans empty for @min_age_ms, then release @h's
 * arenas of spans empty that long, keeping @keep.
 */
unsigned span_release_old(struct kr_heap *h, uint32_t now,
			  uint32_t min_age_ms, unsigned keep)
{
	struct kr_arena *a, *next;
	unsigned n = 0;

	span_cache_drop(h, now, min_age_ms);
	for (a = h->span_arenas; a && h->nempty_span_arenas > keep; a = next) {
		next = a->nextarena;
		if (a->nfreepools != a->ntotalpools ||
		    (uint32_t)(now - a->empty_ms) < min_age_ms)
			continue;
		span_arena_release(h, a);
		n++;
	}
	return n;
}

/* Hand back the pages of free pools free for @min_age_ms, a run a call. */
void span_purge(struct kr_heap *h, uint32_t now, uint32_t min_age_ms)
{
	struct kr_arena *a;

	for (a = h->span_arenas; a && h->span_purgeable; a = a->nextarena) {
		unsigned i = kr.first_pool;

		while (i < kr.npools) {
			unsigned j = i;
			long r;

			while (j < kr.npools) {
				struct kr_span *s = span_at(a, j);

				if (s->state != SPAN_FREE || s->purged ||
				    (uint32_t)(now - s->empty_ms) < min_age_ms)
					break;
				j++;
			}
			if (j == i) {
				struct kr_span *s = span_at(a, i);

				i += s->state == SPAN_HEAD ? s->npages : 1;
				continue;
			}
			r = kr.backend->return_pages(arena_base(a) +
					((size_t)i << POOL_SHIFT),
					(size_t)(j - i) << POOL_SHIFT);
			atomic_fetch_add(&kr.return_calls, 1);
			if (r >= 0) {
				atomic_fetch_add(&kr.pages_returned, (size_t)r);
				h->span_purgeable -= j - i;
				bits_set(warm_bits(a), i, j - i, false);
				for (; i < j; i++)
					span_at(a, i)->purged = 1;
			}
			i = j;
		}
	}
}

/* ---------------------------------------------------------------------------
 * Stats and checks
 */

/* Add @h's spans and medium blocks to @st (takes h->lock). */
void span_count(struct kr_heap *h, struct karena_stats *st)
{
	struct kr_arena *a;
	unsigned i;

	kr_lock(&h->lock);
	for (a = h->span_arenas; a; a = a->nextarena) {
		st->arenas_spans++;
		for (i = kr.first_pool; i < kr.npools; i++) {
			volatile struct kr_span *s = span_at(a, i);
			size_t n;

			if (s->state != SPAN_HEAD)
				continue;
			n = (size_t)(s->capacity - s->avail);
			st->medium_spans++;
			st->medium_blocks_in_use += n;
			st->medium_bytes_in_use += n * s->size;
		}
	}
	kr_unlock(&h->lock);
}

#define CHECK(cond, where, ...) \
	do { \
		if (!(cond)) { \
			fprintf(out, "karena: check: heap %p: %p: ", \
				(void *)h, (const void *)(where)); \
			fprintf(out, __VA_ARGS__); \
			fputc('\n', out); \
			bad = -1; \
		} \
	} while (0)

static bool span_cached(struct kr_heap *h, struct kr_span *s)
{
	struct kr_span *c;

	for (c = h->span_cache[s->mclass]; c; c = c->next)
		if (c == s)
			return true;
	return false;
}

/* span.c's invariants for @h (its owner, or kr.lock held): 0 or -1. */
int span_check_heap(struct kr_heap *h, FILE *out)
{
	struct kr_arena *a;
	struct kr_span *s;
	unsigned m, i, narenas = 0, nempty = 0, purgeable = 0, onlist = 0;
	unsigned open = 0;
	int bad = 0;

	for (m = 0; m < MEDIUM_CLASSES; m++)
		for (s = h->spans[m]; s; s = s->next) {
			CHECK(s->state == SPAN_HEAD && s->owner == h &&
			      s->mclass == m && s->avail &&
			      (!s->next || s->next->prev == s), s,
			      "bad span on spans[%u]", m);
			if (++onlist > 1u << 20)
				break;
		}
	kr_lock(&h->lock);
	for (a = h->span_arenas; a; a = a->nextarena) {
		unsigned nfree = 0;

		narenas++;
		CHECK(a->magic == SPAN_ARENA_MAGIC && a->heap == h &&
		      registry_contains(a), a, "bad arena of spans");
		for (i = kr.first_pool; i < kr.npools;) {
			s = span_at(a, i);
			CHECK(s->owner == h, s, "slot %u: bad owner", i);
			CHECK(((free_bits(a)[i >> 6] >> (i & 63)) & 1) ==
			      (s->state == SPAN_FREE), s,
			      "slot %u: free bit wrong (state %u)", i, s->state);
			CHECK(((warm_bits(a)[i >> 6] >> (i & 63)) & 1) ==
			      (s->state == SPAN_FREE && !s->purged), s,
			      "slot %u: warm bit wrong (state %u, purged %u)",
			      i, s->state, s->purged);
			if (s->state == SPAN_FREE) {
				nfree++;
				purgeable += !s->purged;
				i++;
				continue;
			}
			CHECK(s->state == SPAN_HEAD && s->npages ==
			      kr_medium[s->mclass].npages && s->size ==
			      kr_medium[s->mclass].size &&
			      s->capacity == kr_medium[s->mclass].capacity &&
			      s->avail <= s->capacity, s,
			      "slot %u: not a span head", i);
			if (s->state != SPAN_HEAD || !s->npages)
				break;
			if (s->avail && !span_cached(h, s))
				open++;
			CHECK(s->avail != s->capacity || s->kept ||
			      span_cached(h, s), s,
			      "empty span neither kept nor cached");
			for (m = i + 1; m < i + s->npages; m++)
				CHECK(span_at(a, m)->state == SPAN_TAIL &&
				      span_at(a, m)->head == i, s,
				      "slot %u: not a tail of span %u", m, i);
			i += s->npages;
		}
		CHECK(nfree == a->nfreepools, a, "nfreepools %u, found %u",
		      a->nfreepools, nfree);
		nempty += nfree == a->ntotalpools;
	}
	CHECK(narenas == h->nspan_arenas && nempty == h->nempty_span_arenas &&
	      purgeable == h->span_purgeable, h, "span arenas %u/%u, empty "
	      "%u/%u, purgeable %u/%u", narenas, h->nspan_arenas, nempty,
	      h->nempty_span_arenas, purgeable, h->span_purgeable);
	CHECK(open == onlist, h, "%u spans with room, %u on lists", open,
	      onlist);
	kr_unlock(&h->lock);
	return bad;
}
