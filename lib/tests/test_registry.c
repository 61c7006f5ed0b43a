// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_registry - the "is this pointer ours?" bitmap for every arena size:
 * an arena's whole range and nothing next to it, set and cleared. */
#include "tap.h"

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

static void one_size(size_t size)
{
	size_t saved = kr.arena_size;
	uintptr_t a = FAR + 8 * size, b = a + size;

	kr.arena_size = size;	/* registry_add() marks kr.arena_size bytes */
	ok(registry_add((void *)a) == 0 && registry_add((void *)b) == 0,
	   "%zu KiB: two adjacent arenas registered", size >> 10);
	ok(range_is(a, 2 * size, 1), "%zu KiB: every page of both is ours",
	   size >> 10);
	ok(!registry_contains((void *)(a - 1)) &&
	   !registry_contains((void *)(b + size)),
	   "%zu KiB: the bytes just outside are not", size >> 10);
	registry_remove((void *)a);
	ok(range_is(a, size, 0) && range_is(b, size, 1),
	   "%zu KiB: removing one leaves its neighbour", size >> 10);
	registry_remove((void *)b);
	ok(range_is(b, size, 0), "%zu KiB: and then it goes too", size >> 10);
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
	   registry_contains((char *)arena_of(p) + kr.arena_size - 1),
	   "a real block and its arena's first and last byte are ours");
	ok(!registry_contains(NULL) &&
	   !registry_contains((void *)((uintptr_t)1 << 48)) &&
	   !registry_contains((void *)~(uintptr_t)0),
	   "NULL and addresses past 48 bits are not");
	ok(!registry_contains(&p), "a stack address is not");
	karena_free(p);
	return tap_done();
}
