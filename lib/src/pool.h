/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pool.h - pools: 8 KiB of one size class (up to 1 KiB), their header in
 * the arena's pool table.
 *
 * Finding a block's header (pool_of: two masks and a shift), taking a
 * block (pool_pop, pool_take_head), giving one back (pool_push,
 * pool_give_block) and moving a pool on and off usedpools[] are inline:
 * they are the malloc and free fast paths' every step. pool.c builds a
 * pool for a class (pool_start).
 */
#ifndef KARENA_POOL_H
#define KARENA_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "init.h"
#include "types.h"

/* The header of pool @i of arena @a: slot i of the table at its base. */
static inline struct kr_pool *pool_at(struct kr_arena *a, unsigned i)
{
	return (struct kr_pool *)a + i;
}

static inline unsigned pool_index(const struct kr_arena *a,
				  const struct kr_pool *p)
{
	return (unsigned)(p - (const struct kr_pool *)a);
}

/*
 * The header of the pool holding address @p: slot (offset >> POOL_SHIFT)
 * of its arena's table, computed as (u >> 6) & header_mask, header_mask
 * being (arena_size - 1) with the bits below POOL_SHIFT cleared, >> 6.
 */
static inline struct kr_pool *pool_in(uintptr_t base, uintptr_t u)
{
	return (struct kr_pool *)(base + ((u >> (POOL_SHIFT -
						 POOL_HEADER_SHIFT)) &
					  kr.header_mask));
}

static inline struct kr_pool *pool_of(const void *p)
{
	uintptr_t u = (uintptr_t)p;

	return pool_in(u & kr.arena_mask, u);
}

/* Blocks of @p allocated: 0 for a pool never built (capacity 0). */
static inline unsigned pool_ref(const struct kr_pool *p)
{
	return (unsigned)p->capacity - p->avail;
}

/* Where the blocks of the pool with header @p are. */
static inline char *pool_base(const struct kr_pool *p)
{
	struct kr_arena *a = arena_of(p);

	return (char *)a + ((size_t)pool_index(a, p) << POOL_SHIFT);
}

/*
 * The word a freed block holds after its link: its pool header's address,
 * which free compares before it frees (equal: maybe a double free) and
 * malloc clears when it hands the block out (free.c).
 */
static inline void **block_key(void *b)
{
	return (void **)b + 1;
}

/*
 * Is @b not a block start of the pool or span whose header is @hdr, whose
 * string of non-starts (kr_block_starts, span.c's) is at @bias (bit @bit),
 * or is it keyed "freed" (its second word holds @hdr)? On x86-64: cmp, bt
 * and one branch on "below or equal" (CF: not a start; ZF: the key),
 * which the caller takes.
 */
static inline bool block_suspect(const void *hdr, void *b, uintptr_t bias,
				 uintptr_t bit)
{
#if defined(__x86_64__)
	bool bad;

	/* the strings are written once, at init: no memory operand needed */
	__asm__("cmpq %2, %1\n\tbtq %4, (%3)" : "=@ccbe"(bad)
		: "m"(*block_key(b)), "r"(hdr), "r"(bias), "r"(bit));
	return bad;
#else
	const uint8_t *bits = (const uint8_t *)bias;

	return ((bits[bit >> 3] >> (bit & 7)) & 1) || *block_key(b) == hdr;
#endif
}

/* Is @u the start of a block of pool @p? */
static inline bool pool_block_start(const struct kr_pool *p, uintptr_t u)
{
	const uint8_t *bits = (const uint8_t *)p->start_bias;

	return !((bits[u >> 3] >> (u & 7)) & 1);
}

/* pool.c */
void *pool_start(struct kr_heap *h, struct kr_pool *p, unsigned c);

/*
 * usedpools[] is a doubly linked list per class; a pool moves on and off
 * it on the fast path's exits (full, emptied), so these are inline.
 * The head's prevpool means nothing and is never read, so that a pool
 * that fills leaves the head with one store (pool_take_head) and a pool
 * that has room again joins it with three. The links of a pool on no list
 * are stale.
 */
/* Push @p at the head of usedpools[p->szidx]. */
static inline void pool_link_used(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool *head = h->usedpools[p->szidx];

	p->nextpool = head;
	if (head)
		head->prevpool = p;
	h->usedpools[p->szidx] = p;
}

/* Take @p off usedpools[p->szidx]. */
static inline void pool_unlink_used(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool *next = p->nextpool;

	if (h->usedpools[p->szidx] == p)
		h->usedpools[p->szidx] = next;
	else
		p->prevpool->nextpool = next;
	if (next)
		next->prevpool = p->prevpool;	/* stale if next is the head */
}

/*
 * Take a block from @p, which is on usedpools: pop its free list, else
 * carve the next untouched block (avail > 0, so one of the two has
 * one). The caller unlinks @p when it is now full.
 *
 * A carved block is memory nothing has touched for a while (a new pool,
 * or one emptied a batch ago), so the caller's first store to it misses;
 * a prefetch 256 bytes ahead starts the next blocks' fetch early (batch
 * benchmarks 8-12% faster). It asks for the line for writing, which GCC
 * emits as prefetchw where -march has it and as prefetcht0 on baseline
 * x86-64. Past the pool's end it may touch the next pool or nothing at
 * all: a prefetch never faults.
 */
static inline void *pool_pop(struct kr_pool *p)
{
	void *b = p->freeblock;

	if (b) {
		p->freeblock = *(void **)b;
		*block_key(b) = NULL;
	} else {
		b = p->carve;
		*block_key(b) = NULL;	/* a restarted pool's stale key */
		p->carve += p->size;
		__builtin_prefetch(b + 256, 1);
	}
	p->avail--;
	return b;
}

/*
 * A block from @p, the pool at *@head (usedpools[c]); if it was the last,
 * @p leaves the list (full pools are on no list, and malloc takes blocks
 * from the head only). No branch on "now full?": the head stays, or the
 * next pool takes its place (a conditional move). When most pools of a
 * class are full, as in a long-running program, a pool fills on most
 * mallocs (73% of churn steps at 20k live blocks), and a branch on it
 * missed a quarter of the time: churn ran 9-14% faster without it.
 */
static inline void *pool_take_head(struct kr_pool **head, struct kr_pool *p)
{
	struct kr_pool *next = p->nextpool;
	void *b = pool_pop(p);

	*head = p->avail ? p : next;
	return b;
}

/* Push @b on @p's free list; returns the pool's new avail (1: was full). */
static inline uint16_t pool_push(struct kr_pool *p, void *b)
{
	uint16_t avail = (uint16_t)(p->avail + 1);

	*(void **)b = p->freeblock;
	p->freeblock = b;
	p->avail = avail;
	return avail;
}

/*
 * Is @p of @h, whose avail is now @avail, empty with work for
 * kr_free_emptied()? A kept pool has work only every 64th time it empties
 * (the owner's purge check); until then it simply stays open.
 */
static inline bool pool_emptied(struct kr_heap *h, struct kr_pool *p,
				uint16_t avail)
{
	return avail == p->capacity &&
	       !(p->kept && likely(++h->purge_tick & 63));
}

/*
 * Give block @b back to its pool @p; @h owns it (or kr.lock is held). A
 * pool that was full goes back on usedpools here, inline: a heap of nearly
 * full pools does it on most frees. Returns true when @p is now empty with
 * work for kr_free_emptied(): not kept open, or a kept pool emptying for
 * the 64th time (the owner's purge check).
 */
static inline bool pool_give_block(struct kr_heap *h, struct kr_pool *p,
				   void *b)
{
	uint16_t avail = pool_push(p, b);

	if (unlikely(avail == 1)) {
		pool_link_used(h, p);
		return false;
	}
	return unlikely(pool_emptied(h, p, avail));
}

#endif /* KARENA_POOL_H */
