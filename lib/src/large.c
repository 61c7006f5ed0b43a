// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * large.c - large blocks: requests over kr.medium_max (128 KiB with the
 * default arenas), and alignments over a page, each in a grant of its own
 * that goes back to the backend when the block is freed.
 *
 * On the kernel backend the grant is one mmap of n * arena_size of the
 * device: n arenas in one grant, under the module's limits and counters
 * like any other arena. On the mmap backend it is an anonymous mapping,
 * aligned as asked (over-mapped and trimmed). mimalloc and jemalloc do the
 * same above their largest class (huge pages / huge extents): a block this
 * size is rare next to the cost of touching it, and a mapping of its own
 * gives it back whole on free.
 *
 * Kept grants: a freed block's grant is not given back at once. Up to
 * LARGE_KEEP_BLOCKS of them (LARGE_KEEP_BYTES in all, the newest kept)
 * wait for a request that fits (at least the bytes it needs, at most a
 * quarter more; alignment up to a page), and go back once they have
 * waited KARENA_PURGE_MS: at the next large request or free, or in the
 * purge's pass (purge.c), so an idle program still gives them back. A
 * program that builds and drops blocks of a few hundred KiB in turn (a
 * Python list or dict rebuilt, a string joined) then reuses pages already
 * resident, where a fresh mapping faulted each one in again: about 500
 * of the python workload's 5000 page faults (docs/benchmarks.md).
 * mimalloc and jemalloc keep freed huge blocks for a delay too, glibc
 * raises its mmap threshold. A refusal (the module's limits) first gives
 * every kept grant back and tries again (large_keep_drop, here and in
 * arena_grant), so the limits see only the blocks in use.
 * KARENA_PURGE_MS=0 and KARENA_DEBUG keep nothing.
 *
 * On the mmap backend a kept grant is also split: any run of an anonymous
 * mapping's pages can be used and given back alone (a grant of the module
 * is one mmap of the device, and goes back whole). A request that no kept
 * grant fits within a quarter takes the front of the smallest one that
 * holds it, whose rest stays kept, as old as it was; a block that grows
 * (large_resize) takes the kept grant that starts where its own ends, or
 * is copied to the front of one that holds it, before it asks mremap for
 * pages. sqlite grows a buffer by doubling from 132 KiB to 4 MiB, frees
 * it and grows another: the second and later now reuse the first's pages,
 * where each faulted in 1000 fresh ones (docs/benchmarks.md).
 *
 * On the mmap backend a new grant may also be an empty arena of the
 * calling thread (grant_recycled): a program that drops many small
 * objects and then builds a large one (a Python script's records freed,
 * then a string joined or a list grown) had that memory sit idle in
 * arenas only small and medium blocks use, waiting for the purge, while
 * each page of the large block was a fresh fault. An arena with a page
 * resident, beyond KARENA_KEEP_ARENAS, leaves the heap as a release does,
 * and mremap makes its mapping the block's: shrunk, or grown (moved if
 * need be, page tables and all) with fresh pages after its own, so that
 * what it had resident needs no fault, no copy and no zeroing (calloc
 * clears it). One arena, not several moved side by side: a block must
 * stay one mapping, which mremap grows as one, and moving a range onto
 * another with MREMAP_FIXED first unmaps the destination, so that a move
 * refused (a source of two mappings, EFAULT) leaves a hole another
 * thread's mmap may take before it is filled. mimalloc gets the same
 * reuse from carving large objects out of the segments small ones use.
 * The module's grants are the module's: on the kernel backend nothing
 * moves.
 *
 * Finding one again: a large block is in no arena's registry bits (its
 * memory may be far from any arena and of any size), so free reaches it
 * on the slot-miss path, after the bitmap has said "not an arena". A hash
 * table (open addressing, linear probing, backward-shift deletion), keyed
 * by the block's address, under large_lock (as the kept grants), holds
 * each block's grant; it is looked at only by frees that are not arena
 * blocks (large blocks and pointers karena never made), and not even that
 * until a large block has existed. Held across fork, so a child finds it
 * whole.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "backend.h"
#include "config.h"
#include "debug.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "lock.h"
#include "purge.h"
#include "span.h"

#define LARGE_KEEP_BLOCKS	8
#define LARGE_KEEP_BYTES	((size_t)32 << 20)

struct large_entry {
	uintptr_t block;	/* 0: empty */
	void *base;		/* the grant */
	size_t len;
};

static pthread_mutex_t large_lock = PTHREAD_MUTEX_INITIALIZER;
static struct large_entry *table;
static size_t table_size;	/* a power of two, or 0 */
static size_t table_used;
static atomic_bool table_exists;	/* a large block ever existed */

struct large_kept {
	void *base;
	size_t len;
	uint32_t freed_ms;	/* kr_now_ms() at the free */
};

static struct large_kept kept[LARGE_KEEP_BLOCKS];	/* oldest first */
static unsigned nkept;

static size_t slot_of(uintptr_t block, size_t size)
{
	return (size_t)(((block >> OS_PAGE_SHIFT) * 0x9E3779B97F4A7C15ull) >>
			(64 - __builtin_ctzl(size)));
}

static void table_put(struct large_entry *t, size_t size,
		      const struct large_entry *e)
{
	size_t i = slot_of(e->block, size);

	while (t[i].block)
		i = (i + 1) & (size - 1);
	t[i] = *e;
}

/* Room for one more (large_lock held): 0, or -1 if none could be had. */
static int table_reserve(void)
{
	size_t size = table_size ? 2 * table_size : 1024, i;
	struct large_entry *t;

	if (table_size && 2 * (table_used + 1) <= table_size)
		return 0;
	t = mmap(NULL, size * sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return -1;
	for (i = 0; i < table_size; i++)
		if (table[i].block)
			table_put(t, size, &table[i]);
	if (table)
		munmap(table, table_size * sizeof(*t));
	table = t;
	table_size = size;
	atomic_store_explicit(&table_exists, true, memory_order_release);
	return 0;
}

/* The slot of @block, or table_size (large_lock held). */
static size_t table_find(uintptr_t block)
{
	size_t i;

	if (!table_size)
		return 0;
	for (i = slot_of(block, table_size); table[i].block;
	     i = (i + 1) & (table_size - 1))
		if (table[i].block == block)
			return i;
	return table_size;
}

/* Empty slot @i, moving later entries of its run back (large_lock held). */
static void table_remove(size_t i)
{
	size_t j = i, mask = table_size - 1;

	for (;;) {
		size_t home;

		table[i].block = 0;
		do {
			j = (j + 1) & mask;
			if (!table[j].block)
				return;
			home = slot_of(table[j].block, table_size);
		} while (i <= j ? i < home && home <= j : i < home || home <= j);
		table[i] = table[j];
		i = j;
	}
}

/* Kept grant @i out of the list (large_lock held); it is the caller's. */
static struct large_kept keep_remove(unsigned i)
{
	struct large_kept k = kept[i];

	memmove(&kept[i], &kept[i + 1], (nkept - i - 1) * sizeof(kept[0]));
	nkept--;
	atomic_fetch_sub(&kr.large_kept, 1);
	atomic_fetch_sub(&kr.large_kept_bytes, k.len);
	return k;
}

/*
 * The first @len bytes of kept grant @i, which holds more: its rest stays
 * kept, as old as it was (large_lock held; the mmap backend only).
 */
static struct large_kept keep_split(unsigned i, size_t len)
{
	struct large_kept k = { kept[i].base, len, kept[i].freed_ms };

	kept[i].base = (char *)kept[i].base + len;
	kept[i].len -= len;
	atomic_fetch_sub(&kr.large_kept_bytes, len);
	return k;
}

/*
 * Take @len bytes from the front of a kept grant that starts at @at: true
 * if there is one that holds them (large_lock held; the mmap backend only).
 */
static bool keep_extend(void *at, size_t len)
{
	unsigned i;

	for (i = 0; i < nkept; i++) {
		if (kept[i].base != at || kept[i].len < len)
			continue;
		if (kept[i].len == len)
			keep_remove(i);
		else
			keep_split(i, len);
		return true;
	}
	return false;
}

/* Give the grants taken off the list back to the backend, no lock held. */
static void keep_give_back(const struct large_kept *k, unsigned n)
{
	atomic_fetch_add(&kr.large_returned, n);
	while (n--)
		kr.backend->grant_free(k[n].base, k[n].len);
}

/*
 * Take the kept grants that have waited @min_age_ms at time @now off the
 * list into @out (large_lock held); how many.
 */
static unsigned keep_expire(uint32_t now, uint32_t min_age_ms,
			    struct large_kept *out)
{
	unsigned n = 0;

	while (nkept && (uint32_t)(now - kept[0].freed_ms) >= min_age_ms)
		out[n++] = keep_remove(0);
	return n;
}

/*
 * Give back the kept grants that have waited @min_age_ms at time @now.
 * True iff some are still kept (the purge thread comes back for them).
 */
bool large_keep_release(uint32_t now, uint32_t min_age_ms)
{
	struct large_kept out[LARGE_KEEP_BLOCKS];
	unsigned n;
	bool left;

	if (!atomic_load_explicit(&kr.large_kept, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&large_lock);
	n = keep_expire(now, min_age_ms, out);
	left = nkept;
	pthread_mutex_unlock(&large_lock);
	keep_give_back(out, n);
	return left;
}

/* Give every kept grant back: the backend refused one (its limits). */
bool large_keep_drop(void)
{
	if (!atomic_load_explicit(&kr.large_kept, memory_order_relaxed))
		return false;
	large_keep_release(0, 0);
	return true;
}

/*
 * Keep the grant of a freed block (@base, @len) for a later request,
 * giving back first those that have waited KARENA_PURGE_MS, then the
 * oldest to make room; false if it is not to be kept.
 */
static bool keep_put(void *base, size_t len)
{
	struct large_kept out[LARGE_KEEP_BLOCKS];
	bool keep = len <= LARGE_KEEP_BYTES;
	uint32_t now;
	unsigned n;

	if (!kr.purge_ms || kr_debug)
		return false;
	now = kr_now_ms();
	pthread_mutex_lock(&large_lock);
	n = keep_expire(now, kr.purge_ms, out);
	while (keep && nkept && (nkept == LARGE_KEEP_BLOCKS ||
				 atomic_load(&kr.large_kept_bytes) + len >
				 LARGE_KEEP_BYTES))
		out[n++] = keep_remove(0);
	if (keep) {
		kept[nkept++] = (struct large_kept){ base, len, now };
		atomic_fetch_add(&kr.large_kept, 1);
		atomic_fetch_add(&kr.large_kept_bytes, len);
	}
	pthread_mutex_unlock(&large_lock);
	keep_give_back(out, n);
	return keep;
}

/* Can a grant be used and given back in parts? (the file's comment) */
static bool grants_split(void)
{
	return kr.backend == &kr_backend_mmap;
}

/*
 * A kept grant for a request of @len bytes aligned to @alignment: the
 * smallest that holds @len, taken off the list whole if it holds at most
 * a quarter more, else split (the mmap backend) or not taken (@len is set
 * to what the caller gets); NULL if none, or if the alignment is over a
 * page. Those that have waited KARENA_PURGE_MS go back first.
 */
static void *keep_take(size_t *len, size_t alignment)
{
	unsigned i, n, best = LARGE_KEEP_BLOCKS;
	struct large_kept out[LARGE_KEEP_BLOCKS], k = { NULL, 0, 0 };
	bool split = grants_split();
	uint32_t now;

	if (!atomic_load_explicit(&kr.large_kept, memory_order_relaxed))
		return NULL;
	now = kr_now_ms();
	pthread_mutex_lock(&large_lock);
	n = keep_expire(now, kr.purge_ms, out);
	for (i = 0; alignment == OS_PAGE_SIZE && i < nkept; i++)
		if (kept[i].len >= *len &&
		    (split || kept[i].len - *len <= *len / 4) &&
		    (best == LARGE_KEEP_BLOCKS || kept[i].len < kept[best].len))
			best = i;
	if (best != LARGE_KEEP_BLOCKS && kept[best].len - *len > *len / 4)
		k = keep_split(best, *len);
	else if (best != LARGE_KEEP_BLOCKS)
		k = keep_remove(best);
	pthread_mutex_unlock(&large_lock);
	keep_give_back(out, n);
	if (k.base)
		*len = k.len;
	return k.base;
}

/*
 * A new grant of @len bytes (page-aligned) made of one of the calling
 * thread's empty arenas (the file's comment); *@moved: how many bytes from
 * the start were the arena's, which read as what it held. NULL on the
 * kernel backend, under KARENA_DEBUG, for an alignment over a page, for a
 * block under half an arena, or when the heap has no such arena.
 */
static void *grant_recycled(size_t len, size_t alignment, size_t *moved)
{
	struct kr_heap *h = kr_tls_heap;
	char *arena;
	void *q;

	*moved = 0;
	if (!grants_split() || kr_debug || !heap_is_real(h) ||
	    alignment > OS_PAGE_SIZE || len < kr.arena_size / 2)
		return NULL;
	kr_lock(&h->lock);
	arena = arena_take_empty(h);
	if (!arena)
		arena = span_take_empty(h);
	kr_unlock(&h->lock);
	if (!arena)
		return NULL;
	q = mremap(arena, kr.arena_size, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {		/* not one mapping: let it go */
		munmap(arena, kr.arena_size);
		return NULL;
	}
	atomic_fetch_add(&kr.arenas_recycled, 1);
	*moved = len < kr.arena_size ? len : kr.arena_size;
	return q;
}

/* A new grant of @len bytes; the kept ones go back first if refused. */
static void *grant(size_t len, size_t alignment)
{
	void *base;

	if (!kr.backend_ok)
		return NULL;
	base = kr.backend->grant_alloc(len, alignment);
	if (!base && large_keep_drop())
		base = kr.backend->grant_alloc(len, alignment);
	return base;
}

/*
 * A block of @size bytes aligned to @alignment (a power of two; 0 or
 * anything up to a page: a page), its first @size bytes reading as zero
 * if @zero. NULL + ENOMEM.
 */
void *large_alloc(size_t size, size_t alignment, bool zero)
{
	bool kernel = kr.backend == &kr_backend_kernel;
	size_t unit = kernel ? kr.arena_size : OS_PAGE_SIZE, slack = 0, len;
	struct large_entry e;
	uintptr_t block;
	void *base;

	kr_ensure_init();
	if (alignment < OS_PAGE_SIZE)
		alignment = OS_PAGE_SIZE;
	if (kernel && alignment > kr.arena_size)
		slack = alignment - kr.arena_size;	/* grants align less */
	if (size > SIZE_MAX / 2 - slack - unit)
		goto nomem;
	len = (size + slack + unit - 1) & ~(unit - 1);
	base = keep_take(&len, alignment);
	if (base && zero)
		memset(base, 0, size);		/* a fresh grant reads as zero */
	if (!base) {
		size_t moved;

		base = grant_recycled(len, alignment, &moved);
		if (base && zero)
			memset(base, 0, moved < size ? moved : size);
	}
	if (!base)
		base = grant(len, alignment);
	if (!base)
		goto nomem;
	block = ((uintptr_t)base + alignment - 1) & ~(uintptr_t)(alignment - 1);
	e = (struct large_entry){ block, base, len };
	pthread_mutex_lock(&large_lock);
	if (table_reserve() < 0) {
		pthread_mutex_unlock(&large_lock);
		kr.backend->grant_free(base, len);
		goto nomem;
	}
	table_put(table, table_size, &e);
	table_used++;
	pthread_mutex_unlock(&large_lock);
	atomic_fetch_add(&kr.large_blocks, 1);
	atomic_fetch_add(&kr.large_bytes, len);
	return (void *)block;
nomem:
	errno = ENOMEM;
	return NULL;
}

/* Is @p inside a kept grant? (large_lock held) */
static bool in_kept(const void *p)
{
	unsigned i;

	for (i = 0; i < nkept; i++)
		if ((const char *)p >= (const char *)kept[i].base &&
		    (const char *)p < (const char *)kept[i].base + kept[i].len)
			return true;
	return false;
}

/*
 * @p is no large block in use: if it is inside a kept grant, it was one
 * (or inside one), and the program frees or resizes it again: reported
 * as @what, and the program aborts (glibc would read a header that is not
 * there).
 */
void large_check_not_freed(const void *p, const char *what)
{
	bool kept_grant;

	if (!atomic_load_explicit(&kr.large_kept, memory_order_relaxed))
		return;
	pthread_mutex_lock(&large_lock);
	kept_grant = in_kept(p);
	pthread_mutex_unlock(&large_lock);
	if (kept_grant)
		kr_fatal(p, "%s of a large block (or inside one): its grant "
			 "is kept for reuse", what);
}

/*
 * If @p is a large block, keep its grant or give it back, and say so; a
 * pointer into a kept grant aborts (large_check_not_freed).
 */
bool large_free(void *p)
{
	struct large_entry e;
	size_t i;

	if (!atomic_load_explicit(&table_exists, memory_order_acquire) || !p)
		return false;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i == table_size) {
		pthread_mutex_unlock(&large_lock);
		large_check_not_freed(p, "double free");
		return false;
	}
	e = table[i];
	table_remove(i);
	table_used--;
	pthread_mutex_unlock(&large_lock);
	if (kr_debug)
		memset(p, DEAD_BYTE, (uintptr_t)e.base + e.len - e.block);
	atomic_fetch_sub(&kr.large_blocks, 1);
	atomic_fetch_sub(&kr.large_bytes, e.len);
	if (keep_put(e.base, e.len))
		purge_kick();		/* it gives the grant back if idle */
	else
		kr.backend->grant_free(e.base, e.len);
	return true;
}

/*
 * Large block @p grown into a kept grant (the file's comment): the one
 * that starts where its grant ends, in place, or one that holds @len
 * bytes, copied; the old grant is then kept as a freed block's. NULL if
 * no kept grant serves.
 */
static void *resize_into_kept(void *p, size_t len)
{
	struct large_entry e;
	size_t i, got = len;
	void *q;

	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	e = table[i];
	if (keep_extend((char *)e.base + e.len, len - e.len)) {
		table[i].len = len;
		pthread_mutex_unlock(&large_lock);
		atomic_fetch_add(&kr.large_bytes, len - e.len);
		return p;
	}
	pthread_mutex_unlock(&large_lock);
	q = keep_take(&got, OS_PAGE_SIZE);
	if (!q)
		return NULL;
	memcpy(q, p, e.len);
	pthread_mutex_lock(&large_lock);
	table_remove(table_find((uintptr_t)p));
	table_put(table, table_size, &(struct large_entry){
		(uintptr_t)q, q, got });
	pthread_mutex_unlock(&large_lock);
	atomic_fetch_add(&kr.large_bytes, got - e.len);
	if (keep_put(e.base, e.len))
		purge_kick();
	else
		kr.backend->grant_free(e.base, e.len);
	return q;
}

/*
 * Large block @p, resized to hold @size bytes (over kr.medium_max): grown
 * into a kept grant if one serves, else its mapping moved (mremap): no
 * copy, and the pages it had stay resident, where a new block would fault
 * in every page again (a growing Python list reallocates at each 1/8 of
 * growth). The mmap backend only, and a block at its mapping's start
 * (alignment up to a page: realloc promises no more). NULL if it cannot
 * be done: the caller copies.
 */
void *large_resize(void *p, size_t size)
{
	size_t i, len = (size + OS_PAGE_SIZE - 1) & ~(size_t)(OS_PAGE_SIZE - 1);
	struct large_entry e;
	void *q;

	if (kr.backend != &kr_backend_mmap ||
	    !atomic_load_explicit(&table_exists, memory_order_acquire))
		return NULL;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i == table_size || table[i].base != p) {
		pthread_mutex_unlock(&large_lock);
		return NULL;
	}
	e = table[i];
	pthread_mutex_unlock(&large_lock);
	if (len > e.len && atomic_load_explicit(&kr.large_kept,
						memory_order_relaxed)) {
		q = resize_into_kept(p, len);
		if (q)
			return q;
	}
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	q = mremap(e.base, e.len, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		pthread_mutex_unlock(&large_lock);
		return NULL;
	}
	table_remove(i);
	table_put(table, table_size, &(struct large_entry){
		(uintptr_t)q, q, len });
	pthread_mutex_unlock(&large_lock);
	if (len > e.len)
		atomic_fetch_add(&kr.large_bytes, len - e.len);
	else
		atomic_fetch_sub(&kr.large_bytes, e.len - len);
	return q;
}

/* The bytes from large block @p to its grant's end; 0 if not one. */
size_t large_usable_size(const void *p)
{
	size_t i, n = 0;

	if (!atomic_load_explicit(&table_exists, memory_order_acquire) || !p)
		return 0;
	pthread_mutex_lock(&large_lock);
	i = table_find((uintptr_t)p);
	if (i != table_size)
		n = (uintptr_t)table[i].base + table[i].len - table[i].block;
	pthread_mutex_unlock(&large_lock);
	return n;
}

void large_atfork_prepare(void)
{
	pthread_mutex_lock(&large_lock);
}

void large_atfork_parent(void)
{
	pthread_mutex_unlock(&large_lock);
}

void large_atfork_child(void)
{
	pthread_mutex_init(&large_lock, NULL);
}
