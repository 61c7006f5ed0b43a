// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * registry.c - "is this pointer ours?" in O(1), without a lock.
 *
 * Like CPython 3.10's address_in_range radix tree, but with one bit per
 * arena: key = address >> arena_shift (< 2^32 for 48-bit addresses and
 * arenas of at least 64 KiB). The top 16 bits of the key index
 * registry_top, a static array of leaf pointers; a leaf is a bitmap of 2^16
 * arenas (8 KiB, mmapped once, never freed). A bit is set iff an arena is
 * granted at that base. The lookup, registry_contains(), is inline in
 * internal.h: free() does it for every pointer.
 *
 * Readers use acquire/relaxed atomics only: a leaf pointer never changes
 * once set, and a bit can only be stale for an arena being granted or
 * released concurrently, which no live pointer can be in.
 */
#include <sys/mman.h>

#include "internal.h"

#define LEAF_WORDS	((1u << REGISTRY_LEAF_BITS) / 64)
#define LEAF_MASK	(((uintptr_t)1 << REGISTRY_LEAF_BITS) - 1)

_Atomic(_Atomic uint64_t *) registry_top[1u << REGISTRY_TOP_BITS];
/* serializes leaf creation; taken under a heap's lock, so not kr.lock */
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

/* The top slot of arena base @p, or NULL outside 48-bit addresses. */
static _Atomic(_Atomic uint64_t *) *slot_of(const void *p, uintptr_t *key)
{
	uintptr_t a = (uintptr_t)p;

	if (a >> 48)
		return NULL;
	*key = a >> kr.arena_shift;
	return &registry_top[*key >> REGISTRY_LEAF_BITS];
}

/* A leaf, mmapped once and never freed; NULL if none could be had. */
static _Atomic uint64_t *leaf_create(_Atomic(_Atomic uint64_t *) *slot)
{
	_Atomic uint64_t *leaf;

	pthread_mutex_lock(&leaf_lock);
	leaf = atomic_load_explicit(slot, memory_order_relaxed);
	if (!leaf) {
		void *m = mmap(NULL, LEAF_WORDS * 8, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m != MAP_FAILED) {
			leaf = m;
			atomic_store_explicit(slot, leaf, memory_order_release);
		}
	}
	pthread_mutex_unlock(&leaf_lock);
	return leaf;
}

/* Set the bit of a freshly granted arena. 0, or -1 if no leaf could be had. */
int registry_add(const void *base)
{
	_Atomic(_Atomic uint64_t *) *slot;
	_Atomic uint64_t *leaf;
	uintptr_t key;

	slot = slot_of(base, &key);
	if (!slot)
		return -1;
	leaf = atomic_load_explicit(slot, memory_order_acquire);
	if (!leaf)
		leaf = leaf_create(slot);
	if (!leaf)
		return -1;
	key &= LEAF_MASK;
	atomic_fetch_or_explicit(&leaf[key >> 6], (uint64_t)1 << (key & 63),
				 memory_order_release);
	return 0;
}

/* Clear the bit of an arena about to be released. */
void registry_remove(const void *base)
{
	_Atomic(_Atomic uint64_t *) *slot;
	_Atomic uint64_t *leaf;
	uintptr_t key;

	slot = slot_of(base, &key);
	leaf = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
	if (!leaf)
		return;
	key &= LEAF_MASK;
	atomic_fetch_and_explicit(&leaf[key >> 6], ~((uint64_t)1 << (key & 63)),
				  memory_order_release);
}

/* fork child: a thread of the parent may have held leaf_lock */
void registry_atfork_child(void)
{
	pthread_mutex_init(&leaf_lock, NULL);
}

KR_API int karena__is_ours(const void *p)
{
	return registry_contains(p);
}
