// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_registry - "is this pointer ours?" for every arena size: the bitmap
 * and the slot table, an arena's whole range and nothing next to it, set
 * and cleared; two arenas 4 GiB apart, whose slots collide, and a free
 * that must then find its block through the bitmap. */
#include "tap.h"
#include "arena.h"
#include "init.h"
#include "pool.h"
#include "registry.h"
#include "types.h"

/* Far from any real mapping (1 TiB up), aligned to every arena size. */
#define FAR	((uintptr_t)1 << 40)

static int range_is(uintptr_t base, size_t size, int want)
{
	size_t off;

	for (off = 0; off < size; off += 4096)
		if (registry_contains((void *)(base + off)) != want)
			return 0;
	return registry_contains((void *)(base + size - 1)) == want;
}

/* Every page of the arena at @base of @size is (@want) found by its slot. */
static int slots_are(uintptr_t base, size_t size, int want)
{
	size_t off;

	for (off = 0; off < size; off += 4096)
		if (registry_slot_hit(base + off, base) != want)
			return 0;
	return registry_slot_hit(base + size - 1, base) == want;
}

/* 4 GiB: arenas this far apart share their slots */
#define SLOT_SPAN	((uintptr_t)1 << (REGISTRY_GRANULE_SHIFT + \
					  REGISTRY_SLOT_BITS))

/*
 * Are the slots of [@u, @u + @len) free? The test's arenas must not share
 * theirs with an arena of the process, 4 GiB away modulo the table: a
 * real arena there would make "only its own" fail at random, as the
 * layout of the address space falls.
 */
static int slots_free(uintptr_t u, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += (size_t)1 << REGISTRY_GRANULE_SHIFT)
		if (registry_slot_of(u + off))
			return 0;
	return 1;
}

static void one_size(size_t size)
{
	size_t saved = kr.arena_size;
	uintptr_t a = FAR + 8 * size, b;

	while (!slots_free(a, 2 * size))
		a += 2 * size;
	b = a + size;

	kr.arena_size = size;	/* registry_add() marks kr.arena_size bytes */
	ok(registry_add((void *)a, REGISTRY_SLOT_TAG) == 0 &&
	   registry_add((void *)b, REGISTRY_SLOT_TAG) == 0,
	   "%zu KiB: two adjacent arenas registered", size >> 10);
	ok(range_is(a, 2 * size, 1), "%zu KiB: every page of both is ours",
	   size >> 10);
	ok(slots_are(a, size, 1) && slots_are(b, size, 1) &&
	   !registry_slot_hit(a + size, a) && !registry_slot_hit(b, a),
	   "%zu KiB: each found by its own slots, and only its own",
	   size >> 10);
	ok(!registry_contains((void *)(a - 1)) &&
	   !registry_contains((void *)(b + size)),
	   "%zu KiB: the bytes just outside are not", size >> 10);
	registry_remove((void *)a);
	ok(range_is(a, size, 0) && range_is(b, size, 1) &&
	   slots_are(a, size, 0) && slots_are(b, size, 1),
	   "%zu KiB: removing one leaves its neighbour", size >> 10);
	registry_remove((void *)b);
	ok(range_is(b, size, 0) && slots_are(b, size, 0),
	   "%zu KiB: and then it goes too", size >> 10);
	kr.arena_size = saved;
}

int main(void)
{
	void *p;

	karena_free(karena_malloc(1));		/* init: kr.arena_size set */
	one_size((size_t)64 << 10);
	one_size((size_t)256 << 10);
	one_size((size_t)1 << 20);
	one_size((size_t)4 << 20);

	p = karena_malloc(64);
	ok(registry_contains(p) && registry_contains(arena_of(p)) &&
	   registry_contains(arena_base(arena_of(p)) + kr.arena_size - 1),
	   "a real block and its arena's first and last byte are ours");
	ok(!registry_contains(NULL) &&
	   !registry_contains((void *)((uintptr_t)1 << 48)) &&
	   !registry_contains((void *)~(uintptr_t)0),
	   "NULL and addresses past 48 bits are not");
	ok(!registry_contains(&p), "a stack address is not");
	ok(registry_slot_hit((uintptr_t)p, (uintptr_t)p & kr.arena_mask) &&
	   !registry_slot_hit(0, 0) &&
	   !registry_slot_hit((uintptr_t)&p, (uintptr_t)&p & kr.arena_mask),
	   "the slot finds the real block, and not NULL nor a stack address");
	karena_free(p);

	/*
	 * A collision: the arena of q gives up its slots to a (pretend)
	 * arena 4 GiB away that registers first. q's arena is then found
	 * only by the bitmap: the free must still come back to its pool.
	 */
	{
		void *q = karena_malloc(64), *r;
		char *a = arena_base(arena_of(q));
		uintptr_t twin = (uintptr_t)a + SLOT_SPAN;
		unsigned ref = pool_ref(pool_of(q));

		registry_remove(a);
		ok(registry_add((void *)twin, REGISTRY_SLOT_TAG) == 0 &&
		   registry_add(a, REGISTRY_SLOT_TAG) == 0,
		   "an arena 4 GiB away takes the slots first");
		ok(registry_slot_hit(twin + 64, twin) &&
		   !registry_slot_hit((uintptr_t)q, (uintptr_t)a) &&
		   registry_contains(q) && karena__is_ours(q),
		   "the block is not in the slot table, but ours by the bitmap");
		karena_free(q);
		ok(pool_ref(pool_of(q)) == ref - 1 && invariants(),
		   "its free goes to its pool through the bitmap");
		r = karena_malloc(64);
		ok(r == q, "and the block is handed out again");
		registry_remove((void *)twin);
		ok(!registry_slot_hit(twin + 64, twin) &&
		   !registry_contains((void *)twin) && registry_contains(q),
		   "removing the twin leaves the arena ours");
		karena_free(r);
		ok(invariants(), "invariants at the end");
	}
	return tap_done();
}
