// SPDX-License-Identifier: GPL-2.0
/*
 * Arenas: allocation, the reserve of zeroed arenas, and the
 * worker that zeroes released ones off the grant path.
 *
 *   karena_arena_take()  --grant-->  (mapped)  --last close-->
 *   karena_arena_release()  -->  dirty list  --worker zeroes-->
 *   free list (while fewer than reserve_arenas are free) or freed
 *
 * An arena is an array of order-0 pages, so it can always be had while
 * there is free memory at all, however fragmented. Its pages are zero
 * before the arena is granted for the first time (__GFP_ZERO) and again
 * before any later grant (the worker). A page that still has a reference
 * besides the arena's own when the worker gets to it (a GUP pin, a pipe
 * from vmsplice, a racing fault) is never reused: the worker drops it and
 * puts a fresh zeroed page in its slot, so data can never reach another
 * process through such a reference.
 *
 * The worker also keeps reserve_arenas zeroed arenas free: it refills the
 * free list after grants drain it, and frees the surplus after the
 * parameter is lowered.
 *
 * Memory pressure: no arena allocation wakes the OOM killer
 * (__GFP_RETRY_MAYFAIL), and none is even tried when it would leave less
 * than 1/32 of RAM available (MemAvailable, si_mem_available()): a grant
 * that needs a new arena fails with ENOMEM, the worker stops growing the
 * reserve short of reserve_arenas (it tries again at its next kick), and
 * loading with a reserve_arenas that the available memory cannot hold
 * fails with ENOMEM rather than being clamped, so the administrator learns
 * that the reserve asked for is not there.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "karena_internal.h"

/* Never wake the OOM killer for an arena: a refusal must be immediate. */
#define KARENA_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)
/* ... nor leave less than RAM / KARENA_HEADROOM_DIV available. */
#define KARENA_HEADROOM_DIV	32

/*
 * May @pages more pages be allocated for arenas? Only if MemAvailable stays
 * above 1/32 of RAM afterwards, so that arenas never push others into
 * reclaim storms or the OOM killer.
 */
static bool karena_mem_allows(u64 pages)
{
	long avail = si_mem_available();

	return avail > 0 &&
	       (u64)avail >= pages + totalram_pages() / KARENA_HEADROOM_DIV;
}

static void karena_arena_free(struct karena_arena *arena)
{
	unsigned int i;

	for (i = 0; i < karena.arena_pages; i++)
		if (arena->pages[i])
			put_page(arena->pages[i]);
	mutex_destroy(&arena->lock);
	kvfree(arena);
}

/* A new arena of zeroed pages, or NULL. May sleep. */
static struct karena_arena *karena_arena_alloc(void)
{
	struct karena_arena *arena;
	unsigned int i;

	arena = kvzalloc(struct_size(arena, pages, karena.arena_pages),
			 GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
	if (!arena)
		return NULL;
	mutex_init(&arena->lock);
	for (i = 0; i < karena.arena_pages; i++) {
		arena->pages[i] = alloc_page(KARENA_GFP);
		if (!arena->pages[i]) {
			karena_arena_free(arena);
			return NULL;
		}
	}
	return arena;
}

/*
 * Make a released arena zero again. Returns false if a page could not be
 * replaced (the caller frees the arena).
 */
static bool karena_arena_scrub(struct karena_arena *arena)
{
	unsigned int i;

	for (i = 0; i < karena.arena_pages; i++) {
		struct page *page = arena->pages[i];

		if (page && page_ref_count(page) == 1) {
			clear_highpage(page);
		} else {
			if (page)
				put_page(page);
			arena->pages[i] = alloc_page(KARENA_GFP);
			if (!arena->pages[i])
				return false;
		}
		if (!(i & 63))
			cond_resched();
	}
	return true;
}

/**
 * karena_arena_take() - a zeroed arena for a grant
 *
 * From the free list if it has one, else newly allocated (the only case in
 * which a grant waits for zeroing), unless that would leave too little
 * memory available. If memory is short, waits for the worker once and
 * tries again: it may have just zeroed or freed an arena.
 * Counts the arena in arenas_reserved; the caller does the charging.
 *
 * Return: the arena, or NULL when memory cannot be had.
 */
struct karena_arena *karena_arena_take(void)
{
	struct karena_arena *arena;
	bool kick, flushed = false;

again:
	spin_lock(&karena.lock);
	arena = list_first_entry_or_null(&karena.free, struct karena_arena,
					 node);
	if (arena) {
		list_del_init(&arena->node);
		karena.nr_free--;
	}
	kick = karena.nr_free < karena.reserve_arenas;
	spin_unlock(&karena.lock);
	if (kick)
		karena_reserve_kick();
	if (arena)
		return arena;

	if (karena_mem_allows(karena.arena_pages))
		arena = karena_arena_alloc();
	if (!arena && !flushed) {
		flush_work(&karena.work);
		flushed = true;
		goto again;
	}
	if (arena) {
		spin_lock(&karena.lock);
		karena.nr_total++;
		spin_unlock(&karena.lock);
	}
	return arena;
}

/**
 * karena_arena_release() - queue an arena that nobody maps any more for
 * zeroing
 * @arena: no VMA maps it and no PTE points into it
 */
void karena_arena_release(struct karena_arena *arena)
{
	spin_lock(&karena.lock);
	list_add_tail(&arena->node, &karena.dirty);
	karena.nr_dirty++;
	spin_unlock(&karena.lock);
	karena_reserve_kick();
}

/**
 * karena_reserve_kick() - let the worker run (zero, refill, shrink)
 */
void karena_reserve_kick(void)
{
	spin_lock(&karena.lock);
	if (karena.ready)
		queue_work(system_unbound_wq, &karena.work);
	spin_unlock(&karena.lock);
}

/* Zero one dirty arena; false when there was none. */
static bool karena_reserve_scrub_one(void)
{
	struct karena_arena *arena;
	bool keep;

	spin_lock(&karena.lock);
	arena = list_first_entry_or_null(&karena.dirty, struct karena_arena,
					 node);
	if (arena) {
		list_del_init(&arena->node);
		karena.nr_dirty--;
	}
	spin_unlock(&karena.lock);
	if (!arena)
		return false;

	keep = karena_arena_scrub(arena);
	spin_lock(&karena.lock);
	keep = keep && karena.nr_free < karena.reserve_arenas;
	if (keep) {
		list_add_tail(&arena->node, &karena.free);
		karena.nr_free++;
	} else {
		karena.nr_total--;
	}
	spin_unlock(&karena.lock);
	if (!keep)
		karena_arena_free(arena);
	return true;
}

/* Add one zeroed arena if the free list is short; false when it is not. */
static bool karena_reserve_grow_one(void)
{
	struct karena_arena *arena;
	bool need;

	spin_lock(&karena.lock);
	need = karena.nr_free < karena.reserve_arenas;
	spin_unlock(&karena.lock);
	if (!need || !karena_mem_allows(karena.arena_pages))
		return false;

	arena = karena_arena_alloc();
	if (!arena)
		return false;
	spin_lock(&karena.lock);
	list_add_tail(&arena->node, &karena.free);
	karena.nr_free++;
	karena.nr_total++;
	spin_unlock(&karena.lock);
	return true;
}

/* Free one arena if the free list is too long; false when it is not. */
static bool karena_reserve_shrink_one(void)
{
	struct karena_arena *arena = NULL;

	spin_lock(&karena.lock);
	if (karena.nr_free > karena.reserve_arenas) {
		arena = list_first_entry(&karena.free, struct karena_arena,
					 node);
		list_del_init(&arena->node);
		karena.nr_free--;
		karena.nr_total--;
	}
	spin_unlock(&karena.lock);
	if (!arena)
		return false;
	karena_arena_free(arena);
	return true;
}

static void karena_reserve_work(struct work_struct *work)
{
	while (karena_reserve_scrub_one())
		cond_resched();
	while (karena_reserve_grow_one())
		cond_resched();
	while (karena_reserve_shrink_one())
		cond_resched();
}

/**
 * karena_reserve_init() - allocate reserve_arenas zeroed arenas
 *
 * Refuses, rather than clamps, a reserve that the available memory cannot
 * hold with the headroom of karena_mem_allows() left over.
 *
 * Return: 0 or -ENOMEM (after one pr_err).
 */
int karena_reserve_init(void)
{
	u64 pages = (u64)karena.reserve_arenas * karena.arena_pages;

	INIT_WORK(&karena.work, karena_reserve_work);
	if (pages && !karena_mem_allows(pages)) {
		pr_err("reserve_arenas=%lu needs %llu MiB; %ld MiB available, less 1/%u of RAM kept free\n",
		       karena.reserve_arenas, pages >> (20 - PAGE_SHIFT),
		       si_mem_available() >> (20 - PAGE_SHIFT),
		       KARENA_HEADROOM_DIV);
		return -ENOMEM;
	}
	while (karena.nr_free < karena.reserve_arenas) {
		if (!karena_reserve_grow_one()) {
			pr_err("cannot allocate reserve_arenas=%lu arenas of %lu KiB\n",
			       karena.reserve_arenas, karena.arena_size / SZ_1K);
			karena_reserve_exit();
			return -ENOMEM;
		}
		cond_resched();
	}
	return 0;
}

/**
 * karena_reserve_exit() - stop the worker and free every arena
 *
 * Called when nothing is granted (no file is open, so no VMA exists).
 */
void karena_reserve_exit(void)
{
	struct karena_arena *arena, *tmp;
	LIST_HEAD(all);

	spin_lock(&karena.lock);
	karena.ready = false;
	spin_unlock(&karena.lock);
	cancel_work_sync(&karena.work);

	spin_lock(&karena.lock);
	list_splice_init(&karena.free, &all);
	list_splice_init(&karena.dirty, &all);
	karena.nr_total -= karena.nr_free + karena.nr_dirty;
	karena.nr_free = 0;
	karena.nr_dirty = 0;
	spin_unlock(&karena.lock);
	WARN_ON(karena.nr_total);

	list_for_each_entry_safe(arena, tmp, &all, node)
		karena_arena_free(arena);
}
