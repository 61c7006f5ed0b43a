/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pool.h - pools: 16 KiB of one size class (up to 1 KiB), their header in
 * the arena's pool table.
 *
 * Finding a block's header (pool_of: two masks and a shift), taking a
 * block (pool_pop), giving one back (pool_push, pool_give_block) and
 * moving a pool on and off usedpools[] are inline: they are the malloc
 * and free fast paths' every step. pool.c builds a pool for a class
 * (pool_start), puts its untouched blocks on its free list (pool_extend_pop),
 * takes free's slow path (pool_give_slow) and hands back the free pages of
 * a pool in use (pool_trim, for karena_trim).
 */
#ifndef KARENA_POOL_H
#define KARENA_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "free.h"
#include "init.h"
#include "types.h"

/*
 * The header of pool @i of arena @a: slot i of its table, whose slot 0 is
 * @a itself (arena.h, table_offset).
 */
static inline struct kr_pool *pool_at(struct kr_arena *a, unsigned i)
{
	return (struct kr_pool *)((char *)a + ((size_t)i << POOL_SLOT_SHIFT));
}

static inline unsigned pool_index(const struct kr_arena *a,
				  const struct kr_pool *p)
{
	return (unsigned)(((const char *)p - (const char *)a) >>
			  POOL_SLOT_SHIFT);
}

/*
 * The header of the pool holding address @p: slot (offset >> POOL_SHIFT)
 * of its arena's table, computed as (u >> 6) & header_mask, header_mask
 * being (arena_size - 1) with the bits below POOL_SHIFT cleared, >> 6.
 */
static inline struct kr_pool *pool_in(uintptr_t base, uintptr_t u)
{
	return (struct kr_pool *)(base + ((u >> (POOL_SHIFT -
						 POOL_SLOT_SHIFT)) &
					  kr.header_mask));
}

static inline struct kr_pool *pool_of(const void *p)
{
	uintptr_t u = (uintptr_t)p;

	return pool_in(u & kr.arena_mask, u);
}

/* Where the blocks of the pool with header @p are. */
static inline char *pool_base(const struct kr_pool *p)
{
	struct kr_arena *a = arena_of(p);

	return arena_base(a) + ((size_t)pool_index(a, p) << POOL_SHIFT);
}

/* The first block of @p never on its free list, or the end of its blocks. */
static inline char *pool_untouched(const struct kr_pool *p)
{
	return p->carve ? p->carve : pool_base(p) + p->capacity * p->size;
}

/*
 * The live map of pool @p: a bit per 16 bytes of the pool, set iff a
 * block handed out (allocated, or freed by another thread and not yet
 * collected) starts there; in the header, after the free list and the
 * owner, so that its first 40 bytes share the line free touches anyway
 * (types.h).
 */
static inline uint64_t *pool_map(const struct kr_pool *p)
{
	return (uint64_t *)p->map;
}

/* The bit of the live map of address @u's pool for @u. */
static inline uintptr_t map_bit(uintptr_t u)
{
	return (u >> ALIGNMENT_SHIFT) & (POOL_SIZE / ALIGNMENT - 1);
}

/*
 * The byte offset in @u's pool's live map of the word holding map_bit(@u):
 * (bit / 64) * 8, from one shift and one mask of the address. The bit
 * within the word is map_bit(@u) % 64, which is what bt, bts and btr on a
 * register take of a full offset: the shifted address needs no mask.
 */
static inline uintptr_t map_word_offset(uintptr_t u)
{
	_Static_assert((POOL_MAP_WORDS & (POOL_MAP_WORDS - 1)) == 0,
		       "the mask needs a power of two of words");
	return (u >> (ALIGNMENT_SHIFT + 3)) & ((POOL_MAP_WORDS - 1) * 8);
}

/* The word of @p's live map that holds the bit of @u. */
static inline uint64_t *map_word(const struct kr_pool *p, uintptr_t u)
{
	return (uint64_t *)((char *)pool_map(p) + map_word_offset(u));
}

/*
 * The live map's bit operations load the word, change it in a register
 * and store it: bts, btr and bt with a register offset into memory are
 * microcoded (about ten micro-ops on AMD Zen and Intel cores alike), and
 * one of them on each side of a malloc+free pair cost more time than the
 * plain instructions that replace it, four more a side (docs/benchmarks.md:
 * a hot pair 5.08 -> 4.35 ns, a churn of 100k blocks 28.1 -> 25.0 ns).
 *
 * Was a block handed out starting at @u, of pool @p? Clears the bit:
 * free's bad-free check, whose caller branches once on the bit's old
 * value (CF after btr). Clear: @u is not a block start, or its block is
 * free already (a double free), or was never handed out.
 */
static inline bool map_take(const struct kr_pool *p, uintptr_t u)
{
#if defined(__x86_64__)
	uint64_t w;
	bool live;

	__asm__("movq %c[map](%[p],%[off]), %[w]\n\t"
		"btrq %[bit], %[w]\n\t"
		"movq %[w], %c[map](%[p],%[off])"
		: [w] "=&r"(w), "=@ccc"(live),
		  "+m"(*(uint64_t (*)[POOL_MAP_WORDS])pool_map(p))
		: [p] "r"(p), [off] "r"(map_word_offset(u)),
		  [bit] "r"(u >> ALIGNMENT_SHIFT),
		  [map] "i"(offsetof(struct kr_pool, map)));
	return live;
#else
	uint64_t *w = map_word(p, u), m = 1ull << map_bit(u) % 64;
	bool live = *w & m;

	*w &= ~m;
	return live;
#endif
}

/* Mark the block at @u of pool @p handed out (bts on the loaded word). */
static inline void map_give(const struct kr_pool *p, uintptr_t u)
{
#if defined(__x86_64__)
	uint64_t w;

	__asm__("movq %c[map](%[p],%[off]), %[w]\n\t"
		"btsq %[bit], %[w]\n\t"
		"movq %[w], %c[map](%[p],%[off])"
		: [w] "=&r"(w),
		  "+m"(*(uint64_t (*)[POOL_MAP_WORDS])pool_map(p))
		: [p] "r"(p), [off] "r"(map_word_offset(u)),
		  [bit] "r"(u >> ALIGNMENT_SHIFT),
		  [map] "i"(offsetof(struct kr_pool, map)));
#else
	*map_word(p, u) |= 1ull << map_bit(u) % 64;
#endif
}

/* Blocks handed out by @p's live map: its bits set (check.c, tests). */
static inline unsigned map_count(const struct kr_pool *p)
{
	unsigned i, n = 0;

	for (i = 0; i < POOL_MAP_WORDS; i++)
		n += (unsigned)__builtin_popcountll(pool_map(p)[i]);
	return n;
}

/* Is the block at @u of pool @p handed out? */
static inline bool map_live(const struct kr_pool *p, uintptr_t u)
{
	return *map_word(p, u) >> map_bit(u) % 64 & 1;
}

/*
 * usedpools[c] of a heap with no pool of class c, and every entry of
 * kr_no_pools, the usedpools the malloc fast path reads in a thread with
 * no heap (or under KARENA_DEBUG): a pool with no free block, so that the
 * fast path needs no test for "no pool" (mimalloc's empty page). It is
 * read only: a write to it faults.
 */
extern const struct kr_pool kr_no_pool KR_HIDDEN;
#define POOL_NONE	((struct kr_pool *)&kr_no_pool)
extern struct kr_pool *const kr_no_pools[NUM_CLASSES] KR_HIDDEN;

/* pool.c */
void *pool_start(struct kr_heap *h, struct kr_pool *p, unsigned c);
KR_NOINLINE void *pool_extend_pop(struct kr_pool *p);
KR_NOINLINE void pool_give_slow(struct kr_heap *h, struct kr_pool *p);
size_t pool_trim(struct kr_pool *p);

/* @used's flag: the pool is full and off usedpools (struct kr_pool) */
#define POOL_OFF_LIST	0x8000u

/* Blocks of @p handed out: 0 for a pool never built. */
static inline unsigned pool_ref(const struct kr_pool *p)
{
	return (p->used & ~POOL_OFF_LIST) - p->kept;
}

/* Is @p on usedpools (or a spare or an empty pool: never off by mistake)? */
static inline bool pool_on_list(const struct kr_pool *p)
{
	return !(p->used & POOL_OFF_LIST);
}

/*
 * usedpools[] is a doubly linked list per class, NULL-terminated, whose
 * head is POOL_NONE when it is empty and whose head's prevpool is its
 * tail. A pool joins it when it starts (the list is then empty) and when
 * a free finds it off it, at the tail: by the time malloc reaches it, it
 * has gathered the frees of a while, where at the head it would fill
 * again on the next malloc (in a heap of nearly full pools, malloc
 * would take a pool off and put it back every step). A pool leaves when
 * malloc finds it at the head with no block left (lazily: a pool that
 * fills stays until malloc next needs a block, as mimalloc's pages do) and
 * when it empties. The links of a pool on no list are stale.
 */
/* Append @p to usedpools[p->szidx]. */
static inline void pool_link_used(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool *head = h->usedpools[p->szidx];

	p->nextpool = NULL;
	if (head == POOL_NONE) {
		p->prevpool = p;
		h->usedpools[p->szidx] = p;
	} else {
		p->prevpool = head->prevpool;
		head->prevpool->nextpool = p;
		head->prevpool = p;
	}
}

/* Take @p off usedpools[p->szidx]. */
static inline void pool_unlink_used(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool **head = &h->usedpools[p->szidx];
	struct kr_pool *next = p->nextpool;

	if (*head == p)
		*head = next ? next : POOL_NONE;
	else
		p->prevpool->nextpool = next;
	if (next)
		next->prevpool = p->prevpool;
	else if (*head != POOL_NONE)
		(*head)->prevpool = p->prevpool;	/* the new tail */
}

/*
 * Hand out @b, the first block on @p's free list. No test for "now
 * full": a pool whose free list is empty stays at the head of usedpools
 * until the next malloc finds it so (kr_pool_refill), and a pop of an
 * empty free list is a NULL test malloc makes anyway.
 */
static inline void *pool_pop(struct kr_pool *p, void *b)
{
	p->freeblock = *(void **)b;
	map_give(p, (uintptr_t)b);
	p->used++;
	return b;
}

/* Push @b on @p's free list. */
static inline void pool_push(struct kr_pool *p, void *b)
{
	*(void **)b = p->freeblock;
	p->freeblock = b;
}

/*
 * Give block @b back to its pool @p; @h owns it (or kr.lock is held). A
 * pool whose count is then 0 (empty) or below (it was off usedpools, full)
 * takes pool_give_slow. One decrement and one branch for both.
 */
static inline void pool_give_block(struct kr_heap *h, struct kr_pool *p,
				   void *b)
{
	bool slow;

	pool_push(p, b);
#if defined(__x86_64__)
	/* GCC loads, subtracts, stores and tests a 16-bit field: 5, not 2 */
	__asm__("subw $1, %0" : "+m"(p->used), "=@ccle"(slow));
#else
	slow = (int16_t)--p->used <= 0;
#endif
	if (unlikely(slow))
		pool_give_slow(h, p);
}

/*
 * Give block @b, freed by another thread, back to its pool @p, whose
 * owner (or kr.lock's holder) is the caller: its live map bit taken first,
 * as free takes it (a second free of it aborts here).
 */
static inline void pool_give_checked(struct kr_heap *h, struct kr_pool *p,
				     void *b)
{
	if (unlikely(!map_take(p, (uintptr_t)b)))
		free_suspect(b);
	pool_give_block(h, p, b);
}

#endif /* KARENA_POOL_H */
