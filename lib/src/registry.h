/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * registry.h - which addresses are karena's: the question every free asks.
 *
 * Two looks, both inline and lock-free: registry_slot_hit(), a
 * direct-mapped table of arena bases whose hits are always right, and on
 * a miss registry_contains(), a two-level bitmap with a bit per 64 KiB of
 * address space. registry.c writes both when an arena is granted or
 * released.
 */
#ifndef KARENA_REGISTRY_H
#define KARENA_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "init.h"

/*
 * registry.c: the lookup is inline, it is on every free. One bit per
 * 64 KiB granule of the 48-bit address space (the smallest arena), so
 * that the shifts are constants; a leaf covers 4 GiB.
 */
#define REGISTRY_GRANULE_SHIFT	MIN_ARENA_SHIFT			/* 64 KiB */
#define REGISTRY_LEAF_SHIFT	(REGISTRY_GRANULE_SHIFT + 16)	/* 4 GiB */
#define REGISTRY_TOP_BITS	(48 - REGISTRY_LEAF_SHIFT)
#define REGISTRY_LEAF_WORDS	\
	(1u << (REGISTRY_LEAF_SHIFT - REGISTRY_GRANULE_SHIFT - 6))
extern _Atomic(_Atomic uint64_t *) registry_top[1u << REGISTRY_TOP_BITS]
	KR_HIDDEN;

/* Is @p inside an arena we hold? No lock; false for NULL. */
static inline bool registry_contains(const void *p)
{
	uintptr_t a = (uintptr_t)p, word;
	_Atomic uint64_t *leaf;

	if (unlikely(a >> 48))
		return false;	/* outside a 48-bit user address space */
	leaf = atomic_load_explicit(&registry_top[a >> REGISTRY_LEAF_SHIFT],
				    memory_order_acquire);
	if (!leaf)
		return false;
	word = atomic_load_explicit(&leaf[(a >> (REGISTRY_GRANULE_SHIFT + 6)) &
					  (REGISTRY_LEAF_WORDS - 1)],
				    memory_order_relaxed);
	return (word >> ((a >> REGISTRY_GRANULE_SHIFT) & 63)) & 1;
}
/*
 * The first look, for free: registry_slot[] maps a 64 KiB granule, by
 * address bits 16..31, to the base of the arena holding it plus
 * REGISTRY_SLOT_TAG, or 0. A hit names the arena, so it is never wrong; a
 * miss (not ours, or an arena whose slots an arena 4 GiB away holds) asks
 * the bitmap above.
 * The tag: a pointer masked with arena_mask | 15 (or with 0) has bits
 * 4..15 clear, as has an arena base, so base + 16 never wraps to 0 (an
 * empty slot) and equals a masked pointer's + 16 only if the two are the
 * same arena base. It costs free one lea where a complement cost a mov and
 * a not.
 */
#define REGISTRY_SLOT_BITS	16
#define REGISTRY_SLOT_TAG	((uintptr_t)ALIGNMENT)
/*
 * An arena of spans (span.c) takes its slots with this tag: free's fast
 * path compares with base + 16..31 (a masked pointer's low 4 bits + 16),
 * never base + 32, so it misses, and compares the same slot with
 * base + 32 next: a medium block (span_free).
 */
#define REGISTRY_SPAN_TAG	((uintptr_t)2 * ALIGNMENT)
#define REGISTRY_TAG_MAX	((uintptr_t)4 * ALIGNMENT)

extern _Atomic uintptr_t registry_slot[1u << REGISTRY_SLOT_BITS] KR_HIDDEN;

/* The slot of address @u: an arena base + its tag, or 0. */
static inline uintptr_t registry_slot_of(uintptr_t u)
{
	unsigned i = (u >> REGISTRY_GRANULE_SHIFT) &
		     ((1u << REGISTRY_SLOT_BITS) - 1);

	return atomic_load_explicit(&registry_slot[i], memory_order_relaxed);
}

/* Is @u in the arena at @base (u & arena_mask), by its slot? */
static inline bool registry_slot_hit(uintptr_t u, uintptr_t base)
{
	return registry_slot_of(u) == base + REGISTRY_SLOT_TAG;
}
int registry_add(const void *arena_base, uintptr_t tag);
void registry_remove(const void *arena_base);
void registry_atfork_child(void);

#endif /* KARENA_REGISTRY_H */
