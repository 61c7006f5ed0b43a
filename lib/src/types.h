/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * types.h - the data of the allocator: a pool's header, an arena's header,
 * a span's slot, a medium class and a thread's heap.
 *
 * One header, as mimalloc's types.h, because each of these structures
 * points to the others: a pool's header names its heap, a heap lists its
 * pools and arenas. Their layout (the pool table in an arena's pool 0, the
 * pool states and the list invariants) is drawn in lib/README.md; each
 * field's comment says who may write it and under which lock.
 */
#ifndef KARENA_TYPES_H
#define KARENA_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "lock.h"

struct kr_heap;

enum kr_pool_state {
	POOL_UNTOUCHED = 0,	/* index >= arena->nextpool */
	POOL_EMPTY,		/* on the arena's free list */
	POOL_INUSE,		/* used or full */
};

/**
 * struct kr_pool - a pool's header, its slot in its arena's pool table
 *
 * Four cache lines. The first holds what malloc and free touch: the
 * count, the free list, the owner and the first 40 bytes of the live map
 * (the blocks that start in the pool's first 5 KiB); the next ones the
 * rest of the map and what the slow paths use. So a free from another
 * thread, which reads the owner and the bit, reads one line that the
 * owner keeps writing for a third of the blocks, and two, of which the
 * second has only map bits, for the others; not two for every block, as
 * when the map had a line of its own (docs/benchmarks.md: with 8 KiB
 * pools, producer/consumer went from 1.1-1.2x mimalloc's time to 1.0x).
 *
 * Used or full pools (the owner's, no lock):
 * @used:	blocks handed out, plus 1 while @kept (so that a kept pool
 *		never empties on free's fast path), plus POOL_OFF_LIST while
 *		the pool is full and off usedpools: free decrements it and
 *		takes its slow path when it is then 0 or below (as int16_t),
 *		with one test for "now empty" and "was off the list"
 *		(pool_give_block). pool_ref() is the blocks handed out
 * @capacity:	blocks the pool holds: POOL_SIZE / size
 * @size:	block size in bytes (class_to_size(szidx))
 * @szidx:	size class this pool serves
 * @kept:	1 iff the pool is in heap->kept[] (may be empty: ref == 0)
 * @freeblock:	singly linked free blocks (link in the first word), or NULL
 * @heap:	the heap owning the pool's arena (arena->heap), here so that
 *		free reads the line it needs anyway, not the arena's first
 *		(arena headers, all at the same offset of an alignment,
 *		compete for one cache set)
 * @map:	the live map: a bit per 16 bytes of the pool, set iff a block
 *		handed out (allocated, or freed by another thread and not yet
 *		collected) starts there (pool.h, map_take)
 * @carve:	the first block never put on the free list (pool_extend), or
 *		NULL when there is none left
 * @nextpool:	next on usedpools[szidx] (NULL-terminated), when on it
 * @prevpool:	previous on usedpools[szidx], when on it; the head's is the
 *		list's tail
 * @dropped:	free blocks off the free list, their pages handed back by
 *		karena_trim (pool_trim); they come back when the pool empties
 *		and is built again
 *
 * Every pool, under heap->lock (the arena's bookkeeping):
 * @state:	enum kr_pool_state
 * @purged:	its pages are not resident: handed back since the pool last
 *		emptied, or never touched (EMPTY; INUSE from arena_take_pool
 *		until pool_start reads it)
 * @nextfree:	index of the next pool on the arena's free list, 0 = end
 * @empty_ms:	when the pool became empty (coarse monotonic ms, EMPTY only)
 *
 * The two groups never change at once: a pool is the owner's while in use
 * and the arena's while empty.
 */
struct kr_pool {
	uint16_t used;
	uint16_t capacity;
	uint16_t size;
	uint8_t szidx;
	uint8_t kept;
	void *freeblock;
	struct kr_heap *heap;
	uint64_t map[POOL_MAP_WORDS];
	char *carve;
	struct kr_pool *nextpool;
	struct kr_pool *prevpool;
	uint8_t state;
	uint8_t purged;
	uint16_t nextfree;
	uint32_t empty_ms;
	uint16_t dropped;
} __attribute__((aligned(1 << POOL_SLOT_SHIFT)));

/**
 * struct kr_arena - every arena's header: slot 0 of its pool table, where
 * the table's colour puts it (arena.h, table_offset; pool 0 holds the
 * table, so that slot is free)
 * @magic:	ARENA_MAGIC while granted (a cheap sanity check)
 * @heap:	owning heap, fixed for the arena's life; at a pool header's
 *		@heap offset: what free reads for a pointer into the
 *		arena's first pool (the pool table)
 * @no_map:	zero, where a pool header has its live map: a free into
 *		the pool table finds no block handed out (an arena of spans
 *		uses it for slot 0's start_bias: span.c)
 * @nfreepools:	empty pools on @freepools + untouched pools
 * @ntotalpools: pools that can carry blocks (npools - first_pool)
 * @nextpool:	index of the first untouched pool
 * @freepools:	index of the first pool on the free list, 0 = none
 * @nextarena:	next on heap->usable_arenas (iff nfreepools > 0)
 * @prevarena:	previous on usable_arenas, NULL at the head
 * @allnext:	next arena of the heap (every arena, any state)
 * @allprev:	previous arena of the heap
 * @span_free_bits: an arena of spans' free pools, bit i for pool i, when
 *		it has at most 128 pools (span.c; more: in the table's slot 1)
 * @span_warm_bits: likewise, its warm pools: free, and their pages
 *		resident (given back by a span, not purged since)
 * @npurged:	empty pools whose pages are handed back
 * @empty_ms:	when every pool last became empty (kr_now_ms; valid while
 *		nfreepools == ntotalpools)
 *
 * Pool counts and indexes fit 16 bits (MAX_POOLS is 256), which keeps
 * the header within one table slot.
 */
struct kr_arena {
	uint16_t magic;
	uint16_t npurged;
	uint32_t empty_ms;
	uint16_t nfreepools;
	uint16_t ntotalpools;
	uint16_t nextpool;
	uint16_t freepools;
	struct kr_heap *heap;
	uint64_t no_map[POOL_MAP_WORDS];
	struct kr_arena *nextarena;
	struct kr_arena *prevarena;
	union {
		struct {
			struct kr_arena *allnext;
			struct kr_arena *allprev;
		};
		uint64_t span_free_bits[2];	/* arenas of spans: span.c */
	};
	uint64_t span_warm_bits[2];
};

/**
 * struct kr_span - a pool's slot in the table of an arena of spans (span.c)
 *
 * A span is a run of @npages pools of one such arena carrying blocks of
 * one medium class; the slot of its first pool is its header (@state
 * SPAN_HEAD), the slots of the others point to it (@state SPAN_TAIL,
 * @head). A free pool's slot has @state SPAN_FREE. The first five fields
 * are what malloc and free touch, as a pool header's are.
 * @avail:	blocks not allocated (free or untouched); 0 iff full
 * @capacity:	blocks the span holds (<= 64)
 * @size:	block size
 * @freeblock:	singly linked free blocks (link in the first word), or NULL
 * @owner:	the heap owning the arena; where the arena header has its
 *		heap, and @start_bias where it has its (unused) no_map: slot
 *		0 of an arena of spans reads as a free pool's (span.c)
 * @start_bias:	the class's bit string of block starts (kr_mclass.starts)
 *		minus base / 128: bit u / 16 of the string at @start_bias is
 *		set iff address u is a block start of the span (free's check,
 *		one bt, as a pool's). In a free pool's and a tail's slot, a
 *		string of ones: nothing there is a block start
 * @next, @prev: on heap->spans[mclass] iff a block is free (the owner's)
 * @carve:	byte offset of the first block never handed out
 * @empty_ms:	when the free pool became free
 * @npages:	pools of the span (head), 1 for a free pool
 * @head:	index of the span's first pool (its own index when free)
 * @mclass:	medium class
 * @purged:	free pool whose page was handed back (or never touched)
 * @kept:	1 iff the span is in heap->kept_spans[]
 * Owner-only: @avail, @freeblock, @carve, @next, @prev, @kept. Under
 * heap->lock: the rest of a free pool's slot, and which slots are free.
 * @kept is not in the 4 bytes of @head, @state and @purged: GCC reads
 * @state and @purged, which the purge tests under the lock, as one word,
 * and the owner writes @kept without it (a race to ThreadSanitizer, though
 * not in C, where they are different objects).
 */
struct kr_span {
	uint16_t avail;
	uint16_t capacity;
	uint32_t size;
	void *freeblock;
	struct kr_heap *owner;
	uintptr_t start_bias;
	struct kr_span *next;
	struct kr_span *prev;
	uint32_t carve;
	uint32_t empty_ms;
	uint16_t npages;
	uint8_t mclass;
	uint8_t kept;
	uint16_t head;
	uint8_t state;
	uint8_t purged;
};

enum kr_span_state { SPAN_FREE = 1, SPAN_HEAD, SPAN_TAIL };

/**
 * struct kr_mclass - a medium class, from the table span.c builds at init
 * @size:	block size
 * @npages:	pools per span
 * @capacity:	blocks per span (<= 64)
 * @starts:	bit i set iff byte offset 16 * i of a span is a block start
 */
struct kr_mclass {
	uint32_t size;
	uint16_t npages;
	uint16_t capacity;
	const uint8_t *starts;
};

/**
 * struct kr_remote_batch - small blocks of another heap, freed by the
 * owner of the heap that holds this batch and not yet pushed (remote.c)
 * @heap:	the heap they belong to, or NULL when the slot is unused
 * @head:	the last block freed; each links to the one freed before it
 * @tail:	the first block freed, whose link the push sets
 * @n:		blocks in the chain
 */
struct kr_remote_batch {
	struct kr_heap *heap;
	void *head;
	void *tail;
	unsigned n;
};

#define REMOTE_SLOT_BITS 5
#define REMOTE_SLOTS	(1u << REMOTE_SLOT_BITS) /* heaps batched for */
#define REMOTE_BATCH	16	/* blocks pushed with one CAS */

/**
 * struct kr_freeonly - the batches of a thread with no heap, a holder
 * (freeonly.c)
 * @batches:	as a heap's (remote.c)
 * @tid:	its thread's id, 0 while it is free
 * @next:	the next holder (the list only grows)
 */
struct kr_freeonly {
	struct kr_remote_batch batches[REMOTE_SLOTS];
	int tid;
	struct kr_freeonly *next;
};

/**
 * struct kr_heap - one thread's allocator state
 *
 * Owned by one thread, which touches the pools (usedpools, kept, the
 * per-class pool counts) without a lock; or, abandoned, guarded by kr.lock.
 * Everything below @lock (arenas, their headers, the arena lists and
 * counters) changes only under @lock, taken by the owner on its slow paths
 * and by the purge thread. Only @remote_free is written by other threads
 * without a lock. The counters are read racily by stats.
 */
struct kr_heap {
	struct kr_pool *usedpools[NUM_CLASSES];	/* see the invariants */
	struct kr_pool *kept[KEEP_POOLS];	/* empty pools kept open */
	unsigned kept_next;			/* next slot of @kept to reuse */
	struct kr_pool *spare[SPARE_POOLS];	/* empty pools, newest last */
	unsigned nspare;			/* length of @spare */
	struct kr_lock lock;			/* guards what follows */
	struct kr_arena *usable_arenas;		/* sorted, fullest first */
	struct kr_arena *arenas;		/* every arena of this heap */
	unsigned narenas;			/* length of @arenas */
	unsigned nempty_arenas;			/* arenas with no pool in use */
	unsigned npools_empty;			/* initialized empty pools */
	unsigned npurgeable;			/* empty pools not purged */
	uint32_t last_purge_ms;			/* when purge.c last looked */
	unsigned debug_tick;			/* KARENA_DEBUG check pacing */
	size_t npools[NUM_CLASSES];		/* used + full pools per class */
	/* medium blocks (span.c): the owner's lists, then under @lock */
	struct kr_span *spans[MEDIUM_CLASSES];	/* spans with a free block */
	struct kr_span *kept_spans[KEEP_SPANS];	/* empty spans kept open */
	unsigned kept_spans_next;		/* next slot to reuse */
	struct kr_span *span_cache[MEDIUM_CLASSES];	/* empty (@lock) */
	unsigned span_cache_pages;		/* their pools (@lock) */
	struct kr_arena *span_arenas;		/* arenas of spans (@lock) */
	unsigned nspan_arenas;			/* length of @span_arenas */
	unsigned nempty_span_arenas;		/* of those, with no span */
	unsigned span_purgeable;		/* free pools not purged */
	bool lost;				/* fork child: never touched */
	struct kr_heap *next_all;		/* kr.heaps, under kr.lock */
	struct kr_heap *next_abandoned;		/* kr.abandoned, under kr.lock */
	/*
	 * What other threads read and write, on a line of its own: blocks
	 * they freed, linked through their first word, and whether anyone
	 * owns the heap (read by every remote free: kept off the lines the
	 * owner writes, which made each remote free miss).
	 */
	_Alignas(64) _Atomic(void *) remote_free;
	_Atomic(void *) remote_spans;		/* medium blocks, likewise */
	atomic_bool abandoned;			/* no thread owns it */
	_Alignas(64) struct kr_arena *nfp2lasta[MAX_POOLS + 1];
	/* the owner's: other heaps' blocks it freed, in batches (remote.c) */
	struct kr_remote_batch batches[REMOTE_SLOTS];
};

#endif /* KARENA_TYPES_H */
