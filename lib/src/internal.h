/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - libkarena: the design, every type and tunable, and the
 * prototypes of each file, grouped by the file that defines them.
 *
 * ==========================================================================
 * The design (read this first)
 * ==========================================================================
 *
 * libkarena is CPython's small-object allocator (Objects/obmalloc.c) with
 * three changes: the arenas come from a backend that may be the kernel
 * (/dev/karena); every thread has a heap of its own, as in mimalloc, so
 * that the fast paths take no lock; and it serves the whole heap, not only
 * requests up to 512 bytes (CPython's limit, where this design departs
 * from it: span.c says why), so that the kernel's grants, limits and
 * counters cover all of a program's memory.
 *
 *  Layers
 *
 *    karena_malloc/free, malloc shim         alloc.c free.c malloc_shim.c
 *                                            (fast paths: fastpath.h)
 *  ---------------------------------------------------------------------
 *    small (<= 512 B)         medium (<= 128 KiB)      large (above)
 *    pools, below             spans of pools: span.c   a grant each:
 *                                                      large.c
 *    [ foreign pointers: never made by karena ] --> glibc (__libc_free)
 *  ---------------------------------------------------------------------
 *    heap: one per thread; usedpools[],       heap.c  (TLS, adoption,
 *          usable_arenas, remote-free list             fork, remote free)
 *          and the heap lock                   lock.c
 *  ---------------------------------------------------------------------
 *    pool: 4 KiB, one size class, blocks      pool.c
 *  ---------------------------------------------------------------------
 *    arena: arena_size bytes, aligned to      arena.c registry.c purge.c
 *           arena_size, cut into pools
 *  ---------------------------------------------------------------------
 *    backend (the OS layer)                   backend.c backend_kernel.c
 *                                             backend_mmap.c
 *
 *  Size classes (ALIGNMENT 16, SMALL_MAX 512)
 *
 *    request in bytes     block size   class index
 *    ----------------     ----------   -----------
 *         0 ..  16             16           0
 *        17 ..  32             32           1
 *        33 ..  48             48           2
 *           ...                ...         ...
 *       497 .. 512            512          31
 *
 *    class = (size + 15) / 16 - 1 (a request of 0 is served as 1 byte).
 *    Every block is 16-byte aligned: arenas and pools are aligned, and a
 *    pool is blocks only (its header is in the arena's pool table).
 *
 *    Over 512 bytes: 64 medium classes, 8 per power of two (576, 640, ...
 *    1024, 1152, ... 131072; at most 12.5 % more than the request), in
 *    spans: runs of 1 to 32 pools of an arena of spans, whose table slots
 *    are struct kr_span (span.c). Over kr.medium_max (128 KiB with arenas
 *    of 256 KiB or more; less with smaller arenas, whose spans must fit):
 *    a large block, one grant of n arenas on the kernel backend or an
 *    aligned mapping on mmap, given back on free (large.c).
 *
 *  An arena
 *
 *    base (aligned to arena_size)
 *    +--------------------+--------+--------+-----   ---+--------+
 *    | pool table:        |  pool  |  pool  |   ...     |  pool  |
 *    | slot 0: arena hdr  |        |        |           |        |
 *    | slot i: pool i hdr |        |        |           |        |
 *    +--------------------+--------+--------+-----   ---+--------+
 *     pools 0..first_pool  first_pool                    npools-1
 *
 *    The first first_pool pools hold the pool table: one 64-byte slot
 *    per pool index, slot i the header of pool i (struct kr_pool). Slot 0
 *    belongs to a pool that is part of the table itself, so the arena's
 *    own header (struct kr_arena) takes it. pool_of(block) finds a header
 *    from the block's address: arena base + (offset in arena / 4096) * 64.
 *    A 256 KiB arena's table is exactly its first page.
 *    Why not at the start of each pool, as CPython has it: every header
 *    would then sit at the same page offset, so all of them compete for
 *    one L1 set (and 16 of L2's 1024), and a free's header load aliases
 *    the previous free's header store (same low 12 bits). A simulation
 *    of frees in random order over 3400 pools: 27 ns a free with the
 *    headers in the pages, 11 with a table; the random batch benchmark
 *    went from 30.7 to 26.0 ns a pair. In the table, headers are dense
 *    and spread over every set, as mimalloc's page records are; and a
 *    pool holds 4096 / size blocks.
 *    A header outlives its pool's pages being handed back (purge.c).
 *    Pools past `nextpool` have never been touched (carved lazily, as
 *    CPython's pool_address does).
 *
 *  A pool (POOL_SIZE bytes at pool_base(p))
 *
 *    +-------+-------+-------+-------+------------------------+-----+
 *    | block | block | block | block |  untouched ...         |slack|
 *    +-------+-------+-------+-------+------------------------+-----+
 *                                    ^ p->carve
 *
 *    A block is allocated (ref counts it), free (on the pool's free list,
 *    linked through its first word) or untouched (at or past carve: never
 *    handed out; carved one at a time when the free list is empty).
 *
 *  Pool states and transitions (ref = blocks allocated, cap = capacity)
 *
 *    untouched --first use--> used  (0 < ref < cap)
 *    used  --alloc makes ref == cap-->  full
 *    full  --a free-->                  used
 *    used  --free makes ref == 0-->     kept (stays on usedpools, ref 0)
 *                                       if the owner freed it and it is
 *                                       its class's only pool; else spare
 *    kept  --alloc-->                   used (nothing to rebuild)
 *    kept  --KEEP_POOLS newer kept-->   spare (heap->kept is a ring)
 *    spare --alloc of any class-->      used (header rebuilt for the class)
 *    spare --SPARE_POOLS newer spare--> empty (the oldest SPARE_BATCH go
 *                                       to their arenas under one lock)
 *    empty --alloc of any class-->      spare (SPARE_BATCH at a time), or
 *                                       used at once
 *    empty --KARENA_PURGE_MS-->         empty, pages handed back (purged)
 *
 *    A pool emptied in an abandoned heap goes straight to empty.
 *
 *  Invariants (checked by check.c after every step in the tests and, with
 *  KARENA_DEBUG=1, on the slow paths)
 *
 *    - A pool is on heap->usedpools[c] iff it is in use for class c and
 *      ref < cap; its ref is 0 only if it is kept. usedpools[c] is NULL
 *      iff there is no such pool.
 *    - A pool is kept (pool->kept) iff it is in heap->kept[] (at most
 *      KEEP_POOLS, 4): the class's last pool, emptied by its owner, left
 *      open so that a malloc+free pair does not give the pool to its arena
 *      and take it back every time (mimalloc keeps its pages likewise).
 *      A kept pool is never purged: the owner's fast path uses it without
 *      a lock. An abandoned heap keeps no pool.
 *    - A pool is spare iff it is in heap->spare[] (at most SPARE_POOLS,
 *      16): in use for its arena, ref 0, on no list, its class stale
 *      (spare.c). It is the owner's: never purged, and it holds its
 *      arena.
 *    - A pool is full iff it is in use and ref == cap; a full pool is on no
 *      list.
 *    - A pool is on its arena's free-pool list iff it is initialized
 *      (index < nextpool) and empty (no block allocated).
 *    - arena->nfreepools == (pools on its free list) + (untouched pools).
 *    - An arena is on heap->usable_arenas iff nfreepools > 0.
 *      usable_arenas is sorted by nfreepools, ascending: the fullest arena
 *      comes first, so allocation packs into busy arenas and quiet ones
 *      drain and can be released.
 *    - heap->nfp2lasta[n] is the last arena on usable_arenas with
 *      nfreepools == n, and NULL iff there is none: moving an arena that
 *      gained a free pool is O(1) (CPython's nfp2lasta).
 *    - An arena with every pool empty stays, last on usable_arenas, and
 *      is reused before any new arena is granted; once it has been empty
 *      for KARENA_PURGE_MS (arena->empty_ms) it is released to the backend,
 *      unless the heap holds no more than keep_arenas such arenas
 *      (KARENA_KEEP_ARENAS, default 1). It is released at once when the
 *      heap already has max_empty_arenas of them (64 MiB worth), when the
 *      heap is abandoned, or, with KARENA_PURGE_MS=0, beyond keep_arenas.
 *      heap->nempty_arenas counts them. So a program that frees and
 *      allocates in rounds reuses its arenas (no munmap/mmap/page faults
 *      per round), and one that frees everything gets its memory back
 *      after the delay.
 *    - A pointer p is ours iff registry_contains(p): a two-level bitmap
 *      with a bit per 64 KiB of address space, set for every granule of
 *      an arena we hold, written when an arena is granted or released,
 *      read without a lock (registry.c). free looks first in a
 *      direct-mapped table of arena bases (registry_slot_hit), whose hits
 *      are always right and whose misses ask the bitmap.
 *
 *  Who hands memory back, and when
 *
 *    Nothing is handed back on a malloc/free fast path, and the clock
 *    (CLOCK_MONOTONIC_COARSE, vDSO) is read only when a pool or an arena
 *    enters the empty state and by the purge. Pools empty for
 *    KARENA_PURGE_MS have their pages handed back, and arenas empty that
 *    long are released (purge.c), by:
 *      - the owner, on its slow paths and every 64th time a kept pool
 *        empties again (an active thread), at most once per PURGE_MS/2;
 *      - the purge thread, for an owner that has gone idle (a program that
 *        frees everything and sleeps never calls the allocator again, so
 *        "at the next call" would be never). It is started by the first
 *        pool queued for purge (not before: a program that never frees a
 *        pool stays single-threaded), runs a pass every PURGE_MS/2 while
 *        any heap has work pending, then waits on a condition variable
 *        until an owner queues again. It stays rather than exits: creating
 *        and ending a thread each time touched ~200 KiB of libc text and
 *        stack. But it ends, after a last pass that hands back everything
 *        pending, when no thread owns a heap (kr.nowned == 0): a process
 *        whose last thread leaves by pthread_exit (a fork child of a
 *        worker) would otherwise never end, since Linux has no daemon
 *        threads. It blocks every signal. KARENA_PURGE_THREAD=0 never starts
 *        it (for a program that must stay single-threaded): idle memory
 *        then waits for the owner's next slow path.
 *    A pass takes each heap's lock (heap->lock), which the owner takes
 *    only on its slow paths, around the arena-level state (arenas, their
 *    headers and free lists, usable_arenas, the purge counters); pools on
 *    usedpools, kept and spare pools are the owner's alone and never
 *    touched.
 *
 *  Threads
 *
 *    Each thread allocates from its own heap (a TLS pointer); arenas belong
 *    to one heap for life (arena->heap, copied into each pool's header,
 *    where free reads it). A free by the owning thread is a plain list
 *    push. A free by another thread pushes the block on the
 *    owner's atomic remote_free stack (one CAS; medium blocks on
 *    remote_spans); the owner takes the whole stack with one exchange on
 *    its slow paths and frees the blocks locally. When a thread exits, its heap is abandoned: the global lock
 *    then guards it, frees into it are done under that lock, and the next
 *    new thread adopts it instead of building a heap. Heaps are never
 *    destroyed, so a heap pointer stays valid forever.
 *
 *  Bad frees
 *
 *    Caught in every build, named and aborted on: for a small block, free
 *    tests that the pointer is a block start (a bit string of starts per
 *    class, one bt through the pool header's start_bias) and that the
 *    block does not carry the "freed" key (its pool header's address in
 *    its second word, which malloc clears); a key match is confirmed on
 *    the pool's free list. 7 instructions a pair in all (free.c). A
 *    medium block is checked exactly against its span's bitmap (span.c).
 *
 *  Fork
 *
 *    pthread_atfork: kr.purge_lock (no purge pass under way, no purge
 *    thread being created) and the global lock are held across fork();
 *    the child re-initializes them, every heap's lock and the registry's,
 *    and has no purge thread until it queues a pool itself. In the child,
 *    the forking thread keeps its heap, and a heap abandoned before the
 *    fork stays abandoned (kr.lock guarded it, so it is whole). Every other
 *    heap belonged to a thread that was running at the fork and may have
 *    been inside malloc or free: it is marked lost, and the child never
 *    touches it again. Frees into it are dropped and its arenas are kept:
 *    a leak bounded by what those threads held at the fork, never a
 *    corruption (jemalloc, tcmalloc and mimalloc leave other threads'
 *    caches or heaps to a child likewise). Kernel-backend arenas are
 *    copied privately for the child at the same addresses, so the state
 *    above stays valid.
 *    Why not tell a heap that was between operations from one that was
 *    not, and let the child adopt it: that needs a store on entry and one
 *    on exit of every malloc and free (a flag the child reads), and those
 *    two stores made the batch benchmarks 8-20 % slower; a run of frees
 *    into cold blocks is bound by stores.
 *
 * ==========================================================================
 */
#ifndef KARENA_INTERNAL_H
#define KARENA_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

#include "karena.h"

#define KR_API		__attribute__((visibility("default")))
/* on data the fast paths read: a direct RIP-relative load, no indirection */
#define KR_HIDDEN	__attribute__((visibility("hidden")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define KR_NOINLINE	__attribute__((noinline))
#define KR_COLD		__attribute__((noinline, cold))

/* -------------------------------------------------------------------------
 * Tunables
 */
#define ALIGNMENT_SHIFT		4
#define ALIGNMENT		(1u << ALIGNMENT_SHIFT)	/* 16 */
#define SMALL_MAX		KARENA_SMALL_MAX		/* 512 */
#define NUM_CLASSES		KARENA_NUM_CLASSES		/* 32 */
#define POOL_SHIFT		12
#define POOL_SIZE		(1u << POOL_SHIFT)		/* 4 KiB */
#define POOL_MASK		((uintptr_t)POOL_SIZE - 1)
#define POOL_HEADER_SHIFT	6	/* sizeof(struct kr_pool): 64 */
#define MIN_ARENA_SHIFT		16	/* 64 KiB */
#define MAX_ARENA_SHIFT		22	/* 4 MiB */
#define DEFAULT_ARENA_SHIFT	18	/* 256 KiB: the mmap backend */
#define MAX_POOLS		(1u << (MAX_ARENA_SHIFT - POOL_SHIFT))
#define DEFAULT_KEEP_ARENAS	1	/* empty arenas kept per heap */
#define MAX_EMPTY_BYTES		((size_t)64 << 20) /* empty arenas waiting */
#define KEEP_POOLS		4	/* empty pools kept open per heap */
#define SPARE_POOLS		16	/* empty pools a heap holds (spare.c) */
#define SPARE_BATCH		8	/* pools moved per lock (spare.c) */
#define DEFAULT_PURGE_MS	100	/* an empty pool's pages go back after */
#define ARENA_MAGIC		0x6b617261u	/* "kara" */
#define SPAN_ARENA_MAGIC	0x6b61726du	/* "karm": an arena of spans */
/* medium classes (span.c): 8 per power of two from 576 B to 128 KiB */
#define MEDIUM_CLASSES		64
#define MEDIUM_LIMIT		((size_t)128 << 10)
#define SPAN_MAX_POOLS		32	/* 128 KiB: a span's largest size */
#define KEEP_SPANS		4	/* empty spans kept open per heap */
#define SPAN_CACHE_PAGES	256	/* empty spans' pools a heap holds */

/* Debug fill bytes, as CPython's debug hooks use them. */
#define CLEAN_BYTE		0xCD	/* fresh block, never written */
#define DEAD_BYTE		0xDD	/* freed block */
#define FORBIDDEN_BYTE		0xFD	/* slack after the requested size */

static inline unsigned size_to_class(size_t size)
{
	return size ? (unsigned)((size - 1) >> ALIGNMENT_SHIFT) : 0;
}

static inline size_t class_to_size(unsigned c)
{
	return (size_t)(c + 1) << ALIGNMENT_SHIFT;
}

/* -------------------------------------------------------------------------
 * Types
 */

struct kr_heap;

enum kr_pool_state {
	POOL_UNTOUCHED = 0,	/* index >= arena->nextpool */
	POOL_EMPTY,		/* on the arena's free list */
	POOL_INUSE,		/* used or full */
};

/**
 * struct kr_pool - a pool's header, in its arena's pool table (one cache line)
 *
 * Used or full pools (the owner's, no lock):
 * @avail:	blocks not allocated (free or untouched). The blocks allocated,
 *		ref = capacity - avail (pool_ref()), count down in this form so
 *		that malloc's "now full?" is a decrement to zero;
 *		0 < ref < capacity iff on usedpools[szidx]
 * @capacity:	blocks the pool holds: POOL_SIZE / size
 * @size:	block size in bytes (class_to_size(szidx))
 * @szidx:	size class this pool serves
 * @kept:	1 iff the pool is in heap->kept[] (may be empty: ref == 0)
 * @freeblock:	singly linked free blocks (link in the first word), or NULL
 * @carve:	the first untouched block
 * @nextpool:	next on usedpools[szidx] (NULL-terminated), when used
 * @prevpool:	previous on usedpools[szidx], when used and not the head
 * @heap:	the heap owning the pool's arena (arena->heap), here so that
 *		free reads the line it needs anyway, not the arena's first
 * @start_bias:	kr_block_starts[szidx] - pool_base / 8: bit u of the bit
 *		string at @start_bias is set iff address u of the pool is a
 *		block start (free.c: the check of every free, one bt)
 *
 * Every pool, under heap->lock (the arena's bookkeeping):
 * @state:	enum kr_pool_state
 * @purged:	pages handed back since the pool last emptied (EMPTY only)
 * @nextfree:	index of the next pool on the arena's free list, 0 = end
 * @empty_ms:	when the pool became empty (coarse monotonic ms, EMPTY only)
 *
 * The two groups never change at once: a pool is the owner's while in use
 * and the arena's while empty.
 */
struct kr_pool {
	uint16_t avail;
	uint16_t capacity;
	uint16_t size;
	uint8_t szidx;
	uint8_t kept;
	uint8_t state;
	uint8_t purged;
	uint16_t nextfree;
	uint32_t empty_ms;
	void *freeblock;
	char *carve;
	struct kr_pool *nextpool;
	struct kr_pool *prevpool;
	struct kr_heap *heap;
	uintptr_t start_bias;
} __attribute__((aligned(1 << POOL_HEADER_SHIFT)));

/**
 * struct kr_arena - the header at the base of every arena, in the pool
 * table's slot 0 (pool 0 holds the table, so that slot is free)
 * @magic:	ARENA_MAGIC while granted (a cheap sanity check)
 * @heap:	owning heap, fixed for the arena's life
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
 * @npurged:	empty pools whose pages are handed back
 * @empty_ms:	when every pool last became empty (kr_now_ms; valid while
 *		nfreepools == ntotalpools)
 *
 * Pool counts and indexes fit 16 bits (MAX_POOLS is 1024), which keeps
 * the header within one table slot: a 256 KiB arena's table, 64 slots of
 * 64 bytes, is then exactly its first page.
 */
struct kr_arena {
	uint32_t magic;
	uint32_t empty_ms;
	uint16_t nfreepools;
	uint16_t ntotalpools;
	uint16_t nextpool;
	uint16_t freepools;
	uint16_t npurged;
	struct kr_heap *heap;
	struct kr_arena *nextarena;
	struct kr_arena *prevarena;
	union {
		struct {
			struct kr_arena *allnext;
			struct kr_arena *allprev;
		};
		uint64_t span_free_bits[2];	/* arenas of spans: span.c */
	};
};

/**
 * struct kr_span - a pool's slot in the table of an arena of spans (span.c)
 *
 * A span is a run of @npages pools of one such arena carrying blocks of
 * one medium class; the slot of its first pool is its header (@state
 * SPAN_HEAD), the slots of the others point to it (@state SPAN_TAIL,
 * @head). A free pool's slot has @state SPAN_FREE.
 * @used:	bit i set iff block i is allocated (a span holds <= 64)
 * @full:	the bits of every block: (1 << capacity) - 1
 * @size:	block size
 * @npages:	pools of the span (head), 1 for a free pool
 * @head:	index of the span's first pool (its own index when free)
 * @mclass:	medium class
 * @purged:	free pool whose page was handed back (or never touched)
 * @kept:	1 iff the span is in heap->kept_spans[]
 * @empty_ms:	when the free pool became free
 * @next, @prev: on heap->spans[mclass] iff a block is free (the owner's)
 * @owner:	the heap owning the arena
 * @base:	where the span's blocks start (head; the first pool's page)
 * Owner-only: @used, @next, @prev, @kept. Under heap->lock: the rest of a
 * free pool's slot, and which slots are free.
 */
struct kr_span {
	uint64_t used;
	uint64_t full;
	uint32_t size;
	uint16_t npages;
	uint16_t head;
	uint8_t mclass;
	uint8_t state;
	uint8_t purged;
	uint8_t kept;
	uint32_t empty_ms;
	struct kr_span *next;
	struct kr_span *prev;
	struct kr_heap *owner;
	char *base;
};

enum kr_span_state { SPAN_FREE = 1, SPAN_HEAD, SPAN_TAIL };

/**
 * struct kr_mclass - a medium class, from the table span.c builds at init
 * @size:	block size
 * @npages:	pools per span
 * @capacity:	blocks per span (<= 64)
 * @recip:	2^40 / size, rounded up: offset * recip >> 40 is the block
 *		index for every offset in a span (offset < 2^17, size < 2^18)
 */
struct kr_mclass {
	uint32_t size;
	uint16_t npages;
	uint16_t capacity;
	uint64_t recip;
};

/**
 * struct kr_lock - a heap's lock: 0 free, 1 held, 2 held and contended
 *
 * Not a pthread mutex: the owner takes it twice per pool it gives to or
 * takes from an arena, and pthread_mutex_lock + unlock cost ~80
 * instructions in calls around the same two atomic instructions that
 * kr_lock + kr_unlock are inline. The sleeping side is in lock.c.
 */
struct kr_lock {
	atomic_int state;
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
	unsigned purge_tick;			/* kept pools emptied, mod 64 */
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
	struct kr_span *span_cache[MEDIUM_CLASSES];	/* empty spans */
	unsigned span_cache_pages;		/* their pools, all classes */
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
};

/**
 * struct kr_backend - the OS layer, one per backend file
 *
 * The contract, stated once:
 * @name:	"kernel" or "mmap"
 * @init:	make the backend ready; set *arena_size (a power of two in
 *		[2^MIN_ARENA_SHIFT, 2^MAX_ARENA_SHIFT]); 0 or -errno. Called
 *		once, under kr.lock.
 * @arena_alloc: one arena of arena_size bytes, aligned to arena_size,
 *		reading as zero; NULL with errno ENOMEM when refused (a kernel
 *		denial, EDQUOT or ENOMEM, is reported as ENOMEM). Thread-safe.
 * @arena_free:	give a whole arena back. Thread-safe.
 * @return_pages: hand back the pages of [addr, addr+len) (page-aligned,
 *		inside one arena): the range stays usable and reads as zero on
 *		next touch. Returns the pages released (best effort count) or
 *		-1 with errno. Thread-safe.
 * @grant_alloc: one large block's memory (large.c): @len bytes (a multiple
 *		of the grant unit: arena_size on the kernel backend, where it
 *		is one grant of len / arena_size arenas; a page on mmap),
 *		aligned to @alignment (a power of two, at least a page; the
 *		kernel backend gives arena_size and no more), reading as zero;
 *		NULL with errno ENOMEM when refused. Thread-safe.
 * @grant_free:	give it back. Thread-safe.
 */
struct kr_backend {
	const char *name;
	int (*init)(size_t *arena_size);
	void *(*arena_alloc)(size_t arena_size);
	void (*arena_free)(void *base, size_t arena_size);
	long (*return_pages)(void *addr, size_t len);
	void *(*grant_alloc)(size_t len, size_t alignment);
	void (*grant_free)(void *base, size_t len);
};

/**
 * struct kr_global - process-wide state (one instance: kr)
 * @lock:	protects the heap lists, abandoned heaps and init; held
 *		across fork(). Order: purge_lock, then kr.lock, then a heap's
 *		lock, then the registry's leaf lock.
 * @initialized: 0 before init, 1 after (acquire/release)
 */
struct kr_global {
	pthread_mutex_t lock;
	atomic_int initialized;
	const struct kr_backend *backend;
	int backend_ok;			/* 0: allocations from arenas fail */
	size_t arena_size;
	uintptr_t arena_mask;		/* ~(arena_size - 1) */
	uintptr_t header_mask;		/* see pool_of() */
	unsigned npools;		/* arena_size / POOL_SIZE */
	unsigned first_pool;		/* pools taken by the pool table */
	/* from the environment, read once at init */
	int show_stats;			/* KARENA_SHOW_STATS=1 */
	unsigned keep_arenas;		/* KARENA_KEEP_ARENAS */
	unsigned purge_ms;		/* KARENA_PURGE_MS, 0 = never purge */
	unsigned purge_thread;		/* KARENA_PURGE_THREAD (1): may start */
	unsigned max_empty_arenas;	/* empty arenas waiting, per heap */
	size_t medium_max;		/* largest request spans serve */
	/* the purge thread (purge.c) */
	pthread_mutex_t purge_lock;	/* held by a purge pass; across fork */
	pthread_cond_t purge_cond;	/* an idle purge thread waits here */
	atomic_int purger_state;	/* PURGER_NONE, _ACTIVE or _IDLE */
	atomic_int purger_started;	/* the new thread is past start-up */
	atomic_size_t purge_passes;	/* passes the thread made */
	atomic_size_t purge_threads;	/* purge threads started */
	atomic_size_t return_calls;	/* backend->return_pages calls */
	/* heaps, under @lock */
	struct kr_heap *heaps;
	struct kr_heap *abandoned;
	size_t nheaps, nabandoned;
	atomic_size_t nowned;		/* heaps a live thread owns */
	/* arena accounting, atomics */
	atomic_size_t arenas_held, arenas_peak, arenas_allocated;
	atomic_size_t arenas_released, arenas_denied, pages_returned;
	/* large blocks (large.c), atomics */
	atomic_size_t large_blocks, large_bytes, large_requested;
};

extern struct kr_global kr KR_HIDDEN;
/* KARENA_DEBUG=1, read once at init */
extern int kr_debug KR_HIDDEN;

/*
 * What the fast paths compare with, so that KARENA_DEBUG and the
 * alignment check cost them no test of their own (set once at init):
 * kr_fast.heap_slow_max: a TLS heap pointer at or below it takes
 *	malloc's slow path: HEAP_DEAD (NULL, HEAP_BUSY, HEAP_DEAD), or every
 *	pointer under KARENA_DEBUG.
 * kr_fast.free_slot_mask: free's registry slot is compared with the
 *	pointer masked by it: arena_mask | 15, so that a pointer that is
 *	not 16-aligned misses its slot; 0 under KARENA_DEBUG (and before
 *	init), so that every pointer misses. A miss takes the full path.
 * kr_fast.free_check_mask: on that path, a pointer with one of these
 *	bits set is checked: not 16-aligned, or every pointer under
 *	KARENA_DEBUG.
 */
struct kr_fast {
	uintptr_t heap_slow_max;
	uintptr_t free_slot_mask;
	uintptr_t free_check_mask;
};
extern struct kr_fast kr_fast KR_HIDDEN;

static inline struct kr_arena *arena_of(const void *p)
{
	return (struct kr_arena *)((uintptr_t)p & kr.arena_mask);
}

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
 * The bad-free checks of a normal build (the design: free.c).
 * kr_block_starts[c]: bit o set iff byte offset o of a pool of class c is
 * the start of one of its blocks (built at init).
 */
extern uint8_t kr_block_starts[NUM_CLASSES][POOL_SIZE / 8] KR_HIDDEN;
void block_starts_init(void);

/* Is @u the start of a block of pool @p? One bt on x86-64. */
static inline bool pool_block_start(const struct kr_pool *p, uintptr_t u)
{
#if defined(__x86_64__)
	bool set;

	/* the table is written once, at init: no memory operand needed */
	__asm__("btq %2, (%1)" : "=@ccc"(set) : "r"(p->start_bias), "r"(u));
	return set;
#else
	const uint8_t *bits = (const uint8_t *)p->start_bias;

	return (bits[u >> 3] >> (u & 7)) & 1;
#endif
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

/* -------------------------------------------------------------------------
 * Prototypes, by file
 */

/* lock.c */
void kr_lock_wait(struct kr_lock *l, int seen);
void kr_lock_wake(struct kr_lock *l);

static inline void kr_lock(struct kr_lock *l)
{
	int seen = 0;

	if (unlikely(!atomic_compare_exchange_strong_explicit(&l->state,
				&seen, 1, memory_order_acquire,
				memory_order_relaxed)))
		kr_lock_wait(l, seen);
}

static inline void kr_unlock(struct kr_lock *l)
{
	if (unlikely(atomic_exchange_explicit(&l->state, 0,
					      memory_order_release) == 2))
		kr_lock_wake(l);
}

/* fork child: no thread holds or waits for it */
static inline void kr_lock_init(struct kr_lock *l)
{
	atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

/* init.c */
void kr_init_slow(void);
static inline void kr_ensure_init(void)
{
	if (unlikely(!atomic_load_explicit(&kr.initialized,
					   memory_order_acquire)))
		kr_init_slow();
}
uint32_t kr_now_ms(void);
void kr_set_keep_arenas(unsigned n);

/* options.c: the KARENA_* variables, read once at init */
enum { KR_BACKEND_AUTO, KR_BACKEND_KERNEL, KR_BACKEND_MMAP };
struct kr_options {
	unsigned backend;		/* KARENA_BACKEND: KR_BACKEND_* */
	unsigned arena_kb;		/* KARENA_ARENA_KB: mmap arenas */
	unsigned debug;			/* KARENA_DEBUG */
	unsigned show_stats;		/* KARENA_SHOW_STATS */
	unsigned keep_arenas;		/* KARENA_KEEP_ARENAS */
	unsigned purge_ms;		/* KARENA_PURGE_MS */
	unsigned purge_thread;		/* KARENA_PURGE_THREAD */
	unsigned verbose;		/* KARENA_VERBOSE */
};
extern struct kr_options kr_opt KR_HIDDEN;
void options_read(void);
void options_print(void);
void kr_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* backend.c: choose the backend and start it; 0 or -errno */
int backend_start(size_t *arena_size);
extern const struct kr_backend kr_backend_kernel;
/* backend_kernel.c: KARENA_DEVICE, or /dev/karena */
const char *kernel_device_path(void);
extern const struct kr_backend kr_backend_mmap;

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
 * never base + 32, so it misses, and free_slot_miss finds the arena by
 * this tag with one load instead of the bitmap.
 */
#define REGISTRY_SPAN_TAG	((uintptr_t)2 * ALIGNMENT)
#define REGISTRY_TAG_MAX	((uintptr_t)4 * ALIGNMENT)

extern _Atomic uintptr_t registry_slot[1u << REGISTRY_SLOT_BITS] KR_HIDDEN;

/* Is @u in an arena of spans, by its slot? (false: no, or not known) */
static inline bool registry_span_hit(uintptr_t u)
{
	unsigned i = (u >> REGISTRY_GRANULE_SHIFT) &
		     ((1u << REGISTRY_SLOT_BITS) - 1);

	return atomic_load_explicit(&registry_slot[i], memory_order_relaxed) ==
	       (u & kr.arena_mask) + REGISTRY_SPAN_TAG;
}

/* Is @u in the arena at @base (u & arena_mask), by its slot? */
static inline bool registry_slot_hit(uintptr_t u, uintptr_t base)
{
	unsigned i = (u >> REGISTRY_GRANULE_SHIFT) &
		     ((1u << REGISTRY_SLOT_BITS) - 1);

	return atomic_load_explicit(&registry_slot[i], memory_order_relaxed) ==
	       base + REGISTRY_SLOT_TAG;
}
int registry_add(const void *arena_base, uintptr_t tag);
void registry_remove(const void *arena_base);
void registry_atfork_child(void);

/* arena.c */
struct kr_arena *arena_grant(uintptr_t registry_tag);
void arena_ungrant(struct kr_arena *a);
struct kr_arena *arena_new(struct kr_heap *h);
void arena_release(struct kr_heap *h, struct kr_arena *a);
struct kr_pool *arena_take_pool(struct kr_heap *h);
void arena_give_pool(struct kr_heap *h, struct kr_arena *a, unsigned idx,
		     uint32_t now);
void arena_usable_unlink(struct kr_heap *h, struct kr_arena *a);
unsigned arena_release_old(struct kr_heap *h, uint32_t now,
			   uint32_t min_age_ms, unsigned keep);

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

/* heap.c */
extern __thread struct kr_heap *kr_tls_heap
	__attribute__((tls_model("initial-exec")));
#define HEAP_BUSY ((struct kr_heap *)1)	/* being built: use glibc */
#define HEAP_DEAD ((struct kr_heap *)2)	/* thread exiting: use glibc */

/* Is @h a heap, not NULL, HEAP_BUSY or HEAP_DEAD? */
static inline bool heap_is_real(const struct kr_heap *h)
{
	return (uintptr_t)h > (uintptr_t)HEAP_DEAD;
}

struct kr_heap *heap_get_slow(void);
static inline struct kr_heap *heap_get(void)
{
	struct kr_heap *h = kr_tls_heap;

	if (likely(heap_is_real(h)))
		return h;
	return heap_get_slow();
}
void heap_collect_remote(struct kr_heap *h);

void heap_remote_free(struct kr_heap *h, struct kr_pool *p, void *block);
void heap_remote_free_span(struct kr_heap *h, void *block);
unsigned heap_release_empty_arenas(struct kr_heap *h);
void heap_keep_pool(struct kr_heap *h, struct kr_pool *p);
void heap_flush_kept(struct kr_heap *h);

/* spare.c: pools between a heap's classes and its arenas */
void heap_retire_pool(struct kr_heap *h, struct kr_pool *p);
struct kr_pool *heap_take_pool(struct kr_heap *h);
void heap_flush_spare(struct kr_heap *h);
bool heap_is_spare(const struct kr_heap *h, const struct kr_pool *p);
struct kr_heap *heap_list_head(void);
unsigned heap_release_all_empty(void);
void heap_atfork_prepare(void);
void heap_atfork_parent(void);
void heap_atfork_child(void);

/* alloc.c: the entry points shared by the API and the malloc shim */
void *kr_malloc(size_t size);
void *kr_calloc(size_t nmemb, size_t size);
void *kr_realloc(void *ptr, size_t size);
void *kr_memalign(size_t alignment, size_t size);
size_t kr_usable_size(const void *ptr);
void *kr_alloc_slow(struct kr_heap *h, unsigned c);

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

/*
 * A block of class @c from @h, which the caller owns. @c is a size_t, as
 * malloc computes it, so that indexing with it needs no zero extension.
 */
static inline void *kr_small_alloc(struct kr_heap *h, size_t c)
{
	struct kr_pool *p = h->usedpools[c];

	if (unlikely(!p))
		return kr_alloc_slow(h, (unsigned)c);
	return pool_take_head(&h->usedpools[c], p);
}

/* free.c */
void kr_free(void *ptr);
KR_NOINLINE void free_suspect(void *b);
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p);

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

/* span.c: medium blocks (512 B < size <= kr.medium_max) */
extern struct kr_mclass kr_medium[MEDIUM_CLASSES] KR_HIDDEN;

/* The medium class of @size (512 < size <= MEDIUM_LIMIT). */
static inline unsigned medium_class(size_t size)
{
	size_t s = size - 1;
	unsigned k = 63 - (unsigned)__builtin_clzl(s);	/* >= 9 */

	return (k - 9) * 8 + (unsigned)(s >> (k - 3)) - 8;
}

static inline size_t medium_class_size(unsigned m)
{
	return (size_t)(m % 8 + 9) << (m / 8 + 6);
}

static inline struct kr_span *span_slot(const void *p)
{
	return (struct kr_span *)pool_of(p);
}

void span_init_classes(void);
void *span_alloc(struct kr_heap *h, unsigned m);
void span_free(void *b);
void span_free_local(struct kr_heap *h, void *b);
size_t span_usable_size(const void *b);
void span_flush_kept(struct kr_heap *h);
unsigned span_release_old(struct kr_heap *h, uint32_t now,
			  uint32_t min_age_ms, unsigned keep);
void span_purge(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
void span_count(struct kr_heap *h, struct karena_stats *st);
int span_check_heap(struct kr_heap *h, FILE *out);
/* is @p in an arena of spans? (@p in an arena we hold) */
static inline bool in_span_arena(const void *p)
{
	return arena_of(p)->magic == SPAN_ARENA_MAGIC;
}

/* large.c: blocks over kr.medium_max, each in a grant of its own */
void *large_alloc(size_t size, size_t alignment);
bool large_free(void *p);
size_t large_usable_size(const void *p);
void large_atfork_prepare(void);
void large_atfork_parent(void);
void large_atfork_child(void);

/* purge.c */
enum { PURGER_NONE, PURGER_ACTIVE, PURGER_IDLE };
void purge_maybe(struct kr_heap *h);
void purge_maybe_at(struct kr_heap *h, uint32_t now);
void purge_now(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
bool purge_heap(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
bool heap_has_pending(const struct kr_heap *h);
void purge_kick(void);
void purge_owner_left(void);
void purge_atfork_child(void);

/* debug.c (KARENA_DEBUG=1) */
size_t debug_max_request(void);
void debug_on_alloc(void *b, size_t request, size_t block_size);
void debug_on_free(void *b);
size_t debug_usable_size(const void *b);
KR_COLD void kr_fatal(const void *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void kr_check_block_start(const void *b);

/* check.c: 0 if every invariant holds, else -1 after printing to @out */
int kr_check_heap(struct kr_heap *h, FILE *out);

/* stats.c */
void stats_at_exit(void);

/* glibc's allocator: the home of large requests and foreign pointers */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
size_t kr_libc_usable_size(void *p);
void *kr_libc_memalign(size_t alignment, size_t size);

/*
 * test_hooks.c: linked into the test programs only (build/libkarena-test.a),
 * never into libkarena.so, libkarena-malloc.so or libkarena.a
 */
int karena__check(FILE *out);	/* the invariants of every heap it can read */
void karena__set_keep_arenas(unsigned n);
void karena__set_purge_ms(unsigned ms);
void karena__purge(unsigned min_age_ms);
void karena__flush_kept(void);
int karena__is_ours(const void *p);
void karena__set_clock(uint32_t now_ms);
void karena__advance_clock(uint32_t ms);
void karena__real_clock(void);
#define KR_CLOCK_SET	((uint64_t)1 << 32)
extern _Atomic uint64_t kr_test_clock KR_HIDDEN;	/* init.c */

#endif /* KARENA_INTERNAL_H */
