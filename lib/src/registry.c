// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * registry.c - "is this pointer ours?" in O(1), without a lock.
 *
 * Like CPython 3.10's address_in_range radix tree, but with one bit per
 * arena: key = address >> arena_shift (< 2^32 for 48-bit addresses and
 * arenas of at least 64 KiB). The top 16 bits of the key index `top`, a
 * static array of leaf pointers; a leaf is a bitmap of 2^16 arenas (8 KiB,
 * mmapped once, never freed). A bit is set iff an arena is granted at that
 * base.
 *
 * Readers use acquire/relaxed atomics only: a leaf pointer never changes
 * once set, and a bit can only be stale for an arena being granted or
 * released concurrently, which no live pointer can be in.
 */
#include <sys/mman.h>

#include "internal.h"

#define KEY_BITS	32
#define LEAF_BITS	16
#define TOP_BITS	(KEY_BITS - LEAF_BITS)
#define LEAF_WORDS	((1u << LEAF_BITS) / 64)

static _Atomic(_Atomic uint64_t *) top[1u << TOP_BITS];
/* serializes leaf creation; taken under a heap's lock, so not kr.lock */
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

static inline bool key_of(const void *p, uintptr_t *key)
{
	uintptr_t a = (uintptr_t)p;

	if (a >> 48)
		return false;	/* outside a 48-bit user address space */
	*key = a >> kr.arena_shift;
	return true;
}

bool registry_contains(const void *p)
{
	_Atomic uint64_t *leaf;
	uintptr_t key;

	if (!key_of(p, &key))
		return false;
	leaf = atomic_load_explicit(&top[key >> LEAF_BITS],
				    memory_order_acquire);
	if (!leaf)
		return false;
	key &= (1u << LEAF_BITS) - 1;
	return (atomic_load_explicit(&leaf[key >> 6], memory_order_relaxed) >>
		(key & 63)) & 1;
}

/* Set the bit of a freshly granted arena. 0, or -1 if no leaf could be had. */
int registry_add(const void *base)
{
	_Atomic uint64_t *leaf;
	uintptr_t key;

	if (!key_of(base, &key))
		return -1;
	leaf = atomic_load_explicit(&top[key >> LEAF_BITS],
				    memory_order_acquire);
	if (!leaf) {
		pthread_mutex_lock(&leaf_lock);
		leaf = atomic_load_explicit(&top[key >> LEAF_BITS],
					    memory_order_relaxed);
		if (!leaf) {
			void *m = mmap(NULL, LEAF_WORDS * 8,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m != MAP_FAILED) {
				leaf = m;
				atomic_store_explicit(&top[key >> LEAF_BITS],
						      leaf,
						      memory_order_release);
			}
		}
		pthread_mutex_unlock(&leaf_lock);
		if (!leaf)
			return -1;
	}
	key &= (1u << LEAF_BITS) - 1;
	atomic_fetch_or_explicit(&leaf[key >> 6], (uint64_t)1 << (key & 63),
				 memory_order_release);
	return 0;
}

/* Clear the bit of an arena about to be released. */
void registry_remove(const void *base)
{
	_Atomic uint64_t *leaf;
	uintptr_t key;

	if (!key_of(base, &key))
		return;
	leaf = atomic_load_explicit(&top[key >> LEAF_BITS],
				    memory_order_acquire);
	if (!leaf)
		return;
	key &= (1u << LEAF_BITS) - 1;
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
