// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * registry.c - "is this pointer ours?" in O(1), without a lock.
 *
 * Two looks. The first, registry_slot_hit() (registry.h), is the one free
 * makes: a direct-mapped table of 65536 slots, one per 64 KiB granule
 * modulo 4 GiB, each holding the base of the arena over that granule plus
 * a tag, or 0 (tagged so that an empty slot matches no address, NULL
 * included: see REGISTRY_SLOT_TAG).
 * It costs one load, and it cannot answer yes wrongly: the slot names the
 * arena the pointer is in. An arena whose slots another arena holds (one
 * a multiple of 4 GiB away) is simply not in the table; its pointers, and
 * everything not ours, fall to the second look, the bitmap below, which
 * holds every arena. The table is 512 KiB of BSS of which a process
 * touches only the lines of its arenas' slots.
 *
 * The second look, registry_contains():
 * Like CPython 3.10's address_in_range radix tree, as a bitmap: one bit per
 * 64 KiB granule of the 48-bit address space, set iff the granule is in an
 * arena we hold (an arena of 2^k granules sets 2^k bits, all in one 64-bit
 * word since it is aligned to its size and at most 4 MiB). Address bits
 * 32..47 index registry_top, a static array of leaf pointers; a leaf is
 * the bitmap of one 4 GiB range (8 KiB, mmapped once, never freed). The
 * lookup, registry_contains(), is inline in registry.h: free() does it for
 * every pointer, with constant shifts.
 *
 * Readers use acquire/relaxed atomics only: a leaf pointer never changes
 * once set, and a bit can only be stale for an arena being granted or
 * released concurrently, which no live pointer can be in.
 */
#include <sys/mman.h>

#include "config.h"
#include "init.h"
#include "registry.h"

_Atomic(_Atomic uint64_t *) registry_top[1u << REGISTRY_TOP_BITS];
_Atomic uintptr_t registry_slot[1u << REGISTRY_SLOT_BITS];
_Static_assert(REGISTRY_SLOT_TAG >= ALIGNMENT &&
	       REGISTRY_SLOT_TAG < (1u << MIN_ARENA_SHIFT),
	       "the slot tag lies in bits that both an arena base and a "
	       "pointer masked by free_slot_mask have clear");
/* serializes leaf creation; taken under a heap's lock, so not kr.lock */
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

/* The top slot of arena base @p, or NULL outside 48-bit addresses. */
static _Atomic(_Atomic uint64_t *) *slot_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	if (a >> 48)
		return NULL;
	return &registry_top[a >> REGISTRY_LEAF_SHIFT];
}

/* The word of @leaf holding arena @base's bits, and those bits. */
static _Atomic uint64_t *arena_bits(_Atomic uint64_t *leaf, const void *base,
				    uint64_t *mask)
{
	uintptr_t g = (uintptr_t)base >> REGISTRY_GRANULE_SHIFT;
	unsigned n = (unsigned)(kr.arena_size >> REGISTRY_GRANULE_SHIFT);

	*mask = (n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1) << (g & 63);
	return &leaf[(g >> 6) & (REGISTRY_LEAF_WORDS - 1)];
}

/* A leaf, mmapped once and never freed; NULL if none could be had. */
static _Atomic uint64_t *leaf_create(_Atomic(_Atomic uint64_t *) *slot)
{
	_Atomic uint64_t *leaf;

	pthread_mutex_lock(&leaf_lock);
	leaf = atomic_load_explicit(slot, memory_order_relaxed);
	if (!leaf) {
		void *m = mmap(NULL, REGISTRY_LEAF_WORDS * 8,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m != MAP_FAILED) {
			leaf = m;
			atomic_store_explicit(slot, leaf, memory_order_release);
		}
	}
	pthread_mutex_unlock(&leaf_lock);
	return leaf;
}

/*
 * The arena at @base takes its empty table slots (@take), or gives back
 * those it holds. Arenas of different heaps come and go concurrently.
 */
static void arena_slots(const void *base, uintptr_t tag, bool take)
{
	uintptr_t b = (uintptr_t)base, g;

	for (g = b; g < b + kr.arena_size; g += 1u << REGISTRY_GRANULE_SHIFT) {
		unsigned i = (g >> REGISTRY_GRANULE_SHIFT) &
			     ((1u << REGISTRY_SLOT_BITS) - 1);
		uintptr_t old = take ? 0 : atomic_load_explicit(
				&registry_slot[i], memory_order_relaxed);

		if (!take && (old & ~(uintptr_t)(REGISTRY_TAG_MAX - 1)) != b)
			continue;	/* another arena's */
		atomic_compare_exchange_strong_explicit(&registry_slot[i],
				&old, take ? b + tag : 0, memory_order_release,
				memory_order_relaxed);
	}
}

/*
 * Set the bits of a freshly granted arena and take its empty slots, with
 * @tag: REGISTRY_SLOT_TAG for an arena of pools (free's fast path matches
 * it), REGISTRY_SPAN_TAG for one of spans (free_slot_miss does). 0, or -1 if
 * no leaf could be had.
 */
int registry_add(const void *base, uintptr_t tag)
{
	_Atomic(_Atomic uint64_t *) *slot = slot_of(base);
	_Atomic uint64_t *leaf, *word;
	uint64_t mask;

	if (!slot)
		return -1;
	leaf = atomic_load_explicit(slot, memory_order_acquire);
	if (!leaf)
		leaf = leaf_create(slot);
	if (!leaf)
		return -1;
	word = arena_bits(leaf, base, &mask);
	atomic_fetch_or_explicit(word, mask, memory_order_release);
	arena_slots(base, tag, true);
	return 0;
}

/* Clear the bits of an arena about to be released. */
void registry_remove(const void *base)
{
	_Atomic(_Atomic uint64_t *) *slot = slot_of(base);
	_Atomic uint64_t *leaf, *word;
	uint64_t mask;

	leaf = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
	if (!leaf)
		return;
	arena_slots(base, 0, false);
	word = arena_bits(leaf, base, &mask);
	atomic_fetch_and_explicit(word, ~mask, memory_order_release);
}

/* fork child: a thread of the parent may have held leaf_lock */
void registry_atfork_child(void)
{
	pthread_mutex_init(&leaf_lock, NULL);
}
