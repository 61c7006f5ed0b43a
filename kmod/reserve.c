// SPDX-License-Identifier: GPL-2.0
/*
 * Arenas: allocation, the reserve of zeroed arenas, and the
 * worker that zeroes released ones off the grant path.
 *
 *   karena_arena_take_locked()  --grant-->  (mapped)  --last close or
 *   last outside reference of an orphan (orphan.c)-->
 *   karena_arenas_release()  -->  dirty list  --worker zeroes-->
 *   free list (while fewer than reserve_arenas are free) or freed;
 *   a grant that finds the free list empty zeroes a dirty arena itself
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
 * Only pages that may have been written are cleared: arena->touched has a
 * bit for every page that was ever mapped into a user PTE or written by
 * the kernel since the arena was last zeroed. Why a clear bit means "still
 * zero": the pages are not in any page cache, swap or LRU, and the VMA is
 * neither PFNMAP nor MIXEDMAP, has no ->map_pages (no fault-around) and
 * cannot be registered with userfaultfd, so the only ways to a page are
 *  - a user PTE, which only karena_vm_fault() installs, and it sets the
 *    bit (under arena->lock) before returning the page;
 *  - GUP in every form (O_DIRECT, vmsplice, process_vm_writev, ptrace and
 *    /proc/PID/mem, RDMA pins): it finds the page through that PTE or
 *    faults it in through the same handler, so the bit is set before any
 *    reference escapes; a pin that outlives the mapping is a reference the
 *    scrub sees and refuses (above);
 *  - a grant that makes an arena shared since a fork its own, which puts
 *    the shared arena's page in its new slot and sets its bit
 *    (karena_arena_unshare_locked() in share.c), and a copy on
 *    write, the one kernel write, into a page it puts in a slot whose bit
 *    is set already;
 *  - KARENA_IOC_RETURN_PAGES, which empties the slot and clears its bit
 *    together under arena->lock; an empty slot is refilled with a fresh
 *    zeroed page, by the next fault (which sets the bit) or by the scrub.
 * Zapping PTEs (munmap, MADV_DONTNEED, the fork zap) leaves bits set. The
 * copy of a shared arena relies on the same rule: it holds only the
 * touched pages of the shared arena, the others being zero in both. A read
 * fault on a shared arena sets the bit of the page it maps, so that the
 * copies hold every page a PTE maps. No released arena holds a page that
 * another arena holds too, and none is released while another grant holds
 * it: the release lets go of those first (karena_grant_pinned()), so the
 * worker never zeroes a page under another arena's user.
 *
 * The worker also keeps reserve_arenas zeroed arenas free: it refills the
 * free list after grants drain it, and frees the surplus after the
 * parameter is lowered. It is kicked rarely, so that grants and releases
 * stay cheap and the zeroing is batched: a release that makes the dirty
 * list non-empty schedules it KARENA_SCRUB_DELAY later (the releases in
 * between join the batch), and a grant that leaves fewer than half of
 * reserve_arenas free runs it at once (once per refill). Dirty arenas go
 * before growing: one costs its touched pages, a new one a whole arena of
 * zeroed pages.
 *
 * Memory cgroups: a granted page is charged to the memory cgroup of the
 * process that holds it, for as long as it is granted. What 6.1 and 6.12
 * export decides how: neither exports a way to charge a page that exists
 * already (__memcg_kmem_charge_page(), obj_cgroup_charge() are internal),
 * only get_mem_cgroup_from_mm(), set_active_memcg() (int_active_memcg) and
 * the charge that the page allocator itself makes for __GFP_ACCOUNT. So a
 * page is charged when it is allocated, or never, and the reserve, made
 * before anyone asks, is charged to nobody. The trade-off chosen:
 *  - a grantee in a cgroup that can be charged (not the root cgroup, kernel
 *    memory accounting on) gets fresh pages, allocated with __GFP_ACCOUNT
 *    under set_active_memcg() of its cgroup (karena_arena_alloc_charged(),
 *    as BPF arena does), never the reserve's: it pays for zeroing the
 *    arena in its grant, as anonymous memory pays at its faults, and the
 *    grant fails with ENOMEM when the cgroup is at memory.max;
 *  - its arena is freed at release, not zeroed for reuse, so that the
 *    cgroup's memory.current drops with the release;
 *  - the reserve and the worker serve the root cgroup and kernels without
 *    memory accounting, exactly as before.
 * The alternative, a reserve of pages charged to each cgroup, would keep
 * memory charged to a cgroup after its arenas are gone, or need a charge
 * API that modules do not have.
 *
 * Memory pressure: no arena allocation wakes the OOM killer
 * (__GFP_RETRY_MAYFAIL), and none is even tried when it would leave less
 * than 1/32 of RAM available (MemAvailable, si_mem_available()): a grant
 * that needs a new arena fails with ENOMEM, a fault on a page handed back
 * with KARENA_IOC_RETURN_PAGES gets SIGBUS (karena_page_refill(), counted
 * in fault_failures by grant.c), the worker stops growing the
 * reserve short of reserve_arenas (it tries again at its next kick), and
 * loading with a reserve_arenas that the available memory cannot hold
 * fails with ENOMEM rather than being clamped, so the administrator learns
 * that the reserve asked for is not there.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "compat.h"
#include "karena_internal.h"

/* Never wake the OOM killer for an arena: a refusal must be immediate. */
#define KARENA_GFP	(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)
/* ... nor leave less than RAM / KARENA_HEADROOM_DIV available. */
#define KARENA_HEADROOM_DIV	32
/* How long released arenas wait for the worker, to be zeroed together. */
#define KARENA_SCRUB_DELAY	msecs_to_jiffies(10)

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

/**
 * karena_arena_put() - let go of a reference to an arena's structure
 * @arena: its @users reference is dropped; the last frees it, after an
 *	   RCU grace period (see struct karena_arena)
 */
void karena_arena_put(struct karena_arena *arena)
{
	if (!refcount_dec_and_test(&arena->users))
		return;
	mutex_destroy(&arena->lock);
	kvfree_rcu(arena, rcu);
}

/**
 * karena_arena_free() - drop an arena's pages and free it
 * @arena: no longer counted anywhere; may be NULL
 *
 * A page still referenced elsewhere lives on with that reference (and its
 * memory cgroup charge, which the page allocator drops when it is freed).
 * The structure goes with its last reference (karena_arena_put()): a
 * fault of a grant that held the arena once may still lock it, find
 * that its grant holds another, and let go.
 */
static void karena_arena_free(struct karena_arena *arena)
{
	unsigned int i;

	if (!arena)
		return;
	for (i = 0; i < karena.arena_pages; i++) {
		if (arena->pages[i])
			put_page(arena->pages[i]);
		WRITE_ONCE(arena->pages[i], NULL);
	}
	mem_cgroup_put(arena->memcg);
	karena_arena_put(arena);
}

/*
 * A new arena whose slots are all empty (they read as zero), or NULL.
 * @gfp_extra: __GFP_ACCOUNT, under set_active_memcg(), for an arena of a
 * memory cgroup: its slot array is charged there with its pages, as the
 * kernel charges a process's page tables with the pages they map.
 */
static struct karena_arena *karena_arena_alloc_slots(gfp_t gfp_extra)
{
	struct karena_arena *arena;
	size_t size = size_add(struct_size(arena, pages, karena.arena_pages),
			       BITS_TO_LONGS(karena.arena_pages) *
			       sizeof(unsigned long));

	arena = kvzalloc(size, GFP_KERNEL | __GFP_NOWARN |
			 __GFP_RETRY_MAYFAIL | gfp_extra);
	if (!arena)
		return NULL;
	mutex_init(&arena->lock);
	refcount_set(&arena->refs, 1);
	refcount_set(&arena->users, 1);
	arena->touched = (unsigned long *)&arena->pages[karena.arena_pages];
	return arena;
}

/*
 * A new arena of zeroed pages, or NULL. @gfp_extra: __GFP_ACCOUNT for an
 * arena charged to the active memory cgroup. May sleep.
 */
static struct karena_arena *karena_arena_alloc(gfp_t gfp_extra)
{
	struct karena_arena *arena;
	unsigned int i;

	arena = karena_arena_alloc_slots(gfp_extra);
	if (!arena)
		return NULL;
	for (i = 0; i < karena.arena_pages; i++) {
		arena->pages[i] = alloc_page(KARENA_GFP | gfp_extra);
		if (!arena->pages[i]) {
			karena_arena_free(arena);
			return NULL;
		}
	}
	return arena;
}

/* Mark @arena as @memcg's (with a reference of its own): freed at release. */
static void karena_arena_set_memcg(struct karena_arena *arena,
				   struct mem_cgroup *memcg)
{
	if (memcg) {
		css_get(&memcg->css);
		arena->memcg = memcg;
	}
}

/*
 * A new @arena (or NULL) made for a grant: record @memcg (if not NULL, with
 * a reference of the arena's own), so that the arena is freed at release,
 * and count it in arenas_reserved.
 */
static struct karena_arena *karena_arena_adopt(struct karena_arena *arena,
					       struct mem_cgroup *memcg)
{
	if (!arena)
		return NULL;
	karena_arena_set_memcg(arena, memcg);
	spin_lock(&karena.lock);
	karena.nr_total++;
	spin_unlock(&karena.lock);
	return arena;
}

/**
 * karena_grant_memcg() - the memory cgroup a grant by current is charged to
 *
 * Return: current's memory cgroup with a reference, or NULL when its pages
 * would be charged nowhere (the root cgroup, no memory controller, kernel
 * memory accounting off): then the grant is served from the reserve.
 */
struct mem_cgroup *karena_grant_memcg(void)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(current->mm);

	if (karena_memcg_charges(memcg))
		return memcg;
	mem_cgroup_put(memcg);
	return NULL;
}

/**
 * karena_arena_alloc_charged() - a new arena of zeroed pages charged to
 * @memcg
 * @memcg: from karena_grant_memcg(); the arena takes a reference of its
 *	   own, the caller keeps its one
 *
 * Each page is allocated with __GFP_ACCOUNT under set_active_memcg(), as
 * kernel/bpf/arena.c does: a charge that would pass memory.max fails after
 * the cgroup's own reclaim, without the OOM killer (__GFP_RETRY_MAYFAIL),
 * and so does the allocation; the pages charged so far go back. The same
 * headroom as any arena allocation applies. Counted in arenas_reserved
 * until karena_arenas_release() frees it.
 *
 * Context: may sleep.
 * Return: the arena, or NULL.
 */
struct karena_arena *karena_arena_alloc_charged(struct mem_cgroup *memcg)
{
	struct karena_arena *arena = NULL;
	struct mem_cgroup *old;

	if (karena_mem_allows(karena.arena_pages)) {
		old = set_active_memcg(memcg);
		arena = karena_arena_alloc(__GFP_ACCOUNT);
		set_active_memcg(old);
	}
	return karena_arena_adopt(arena, memcg);
}

/**
 * karena_arena_new_empty() - a new arena whose slots are all empty
 * @memcg: the memory cgroup of the arena it stands for, or NULL; the new
 *	   arena takes a reference of its own
 *
 * For a grant that makes an arena it shares with other grants since a
 * fork its own (share.c): its slots are filled with the shared arena's
 * pages and, on fault, with fresh zeroed pages charged to the faulting
 * mm's cgroup (karena_page_refill()). With @memcg it is freed at release,
 * as an arena charged to a cgroup is; without, it goes to the worker,
 * whose scrub fills its empty slots. With @memcg its slot array is
 * charged to it. It is not counted here: it takes the place, in one grant,
 * of an arena that grant counts already in arenas_reserved. May sleep.
 *
 * Return: the arena, or NULL.
 */
struct karena_arena *karena_arena_new_empty(struct mem_cgroup *memcg)
{
	struct karena_arena *arena;
	struct mem_cgroup *old;

	if (!memcg)
		return karena_arena_alloc_slots(0);
	old = set_active_memcg(memcg);
	arena = karena_arena_alloc_slots(__GFP_ACCOUNT);
	set_active_memcg(old);
	if (arena)
		karena_arena_set_memcg(arena, memcg);
	return arena;
}

/**
 * karena_page_refill() - a zeroed page for a slot that
 * KARENA_IOC_RETURN_PAGES emptied
 * @mm: the mm of the VMA that faults on the slot
 *
 * The grant's policy, not the page fault's: no OOM killer (KARENA_GFP)
 * and the headroom of karena_mem_allows(). The page is charged to @mm's
 * memory cgroup, as an anonymous page of @mm would be (__GFP_ACCOUNT under
 * set_active_memcg()): over memory.max the charge is refused after the
 * cgroup's own reclaim, and no OOM killer runs. The scrub never puts such
 * a page back in the reserve (karena_arena_scrub()).
 *
 * Context: may sleep.
 * Return: the page with one reference, or NULL.
 */
struct page *karena_page_refill(struct mm_struct *mm)
{
	struct mem_cgroup *memcg, *old;
	struct page *page;

	if (!karena_mem_allows(1))
		return NULL;
	memcg = get_mem_cgroup_from_mm(mm);
	old = set_active_memcg(memcg);
	page = alloc_page(KARENA_GFP | __GFP_ACCOUNT);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return page;
}

/*
 * Make a released arena zero again: clear its touched pages, and replace
 * every page that is gone (KARENA_IOC_RETURN_PAGES, or never there in a
 * fork child's arena), still referenced
 * from elsewhere, or charged to a memory cgroup (a refill,
 * karena_page_refill(): the reserve holds no cgroup's memory). Untouched
 * pages are zero already (see the top of this file). Returns false if a
 * page could not be replaced (the caller frees the arena).
 */
static bool karena_arena_scrub(struct karena_arena *arena)
{
	unsigned int i;

	for (i = 0; i < karena.arena_pages; i++) {
		struct page *page = arena->pages[i];

		if (page && page_ref_count(page) == 1 &&
		    !PageMemcgKmem(page)) {
			if (!test_bit(i, arena->touched))
				continue;
			clear_highpage(page);
		} else {
			if (page)
				put_page(page);
			arena->pages[i] = alloc_page(KARENA_GFP);
			if (!arena->pages[i])
				return false;
		}
		__clear_bit(i, arena->touched);
		cond_resched();
	}
	return true;
}

/* Run the worker now (it is not running already for a refill). */
static void karena_reserve_kick_locked(void)
{
	lockdep_assert_held(&karena.lock);
	if (karena.ready)
		mod_delayed_work(system_unbound_wq, &karena.work, 0);
}

/**
 * karena_arena_take_locked() - a zeroed arena from the free list
 *
 * Runs the worker when this leaves fewer than half of reserve_arenas free
 * and it has not been asked to refill since it last started. Counts the
 * arena out of arenas_free; the caller does the charging.
 *
 * Context: karena.lock held.
 * Return: the arena, or NULL if the free list is empty.
 */
struct karena_arena *karena_arena_take_locked(void)
{
	struct karena_arena *arena;

	lockdep_assert_held(&karena.lock);
	arena = list_first_entry_or_null(&karena.free, struct karena_arena,
					 node);
	if (arena) {
		list_del_init(&arena->node);
		karena.nr_free--;
	}
	if (karena.nr_free < (karena.reserve_arenas + 1) / 2 &&
	    !karena.refill_kicked) {
		karena.refill_kicked = true;
		karena_reserve_kick_locked();
	}
	return arena;
}

/* An arena off the dirty list, or NULL. */
static struct karena_arena *karena_dirty_pop(void)
{
	struct karena_arena *arena;

	spin_lock(&karena.lock);
	arena = list_first_entry_or_null(&karena.dirty, struct karena_arena,
					 node);
	if (arena) {
		list_del_init(&arena->node);
		karena.nr_dirty--;
	}
	spin_unlock(&karena.lock);
	return arena;
}

/* Free an arena the module counts in arenas_reserved. */
static void karena_arena_drop(struct karena_arena *arena)
{
	spin_lock(&karena.lock);
	karena.nr_total--;
	spin_unlock(&karena.lock);
	karena_arena_free(arena);
}

/**
 * karena_arena_take() - a zeroed arena when the free list had none
 * @flushed: in/out, shared by the takes of one grant: the worker has been
 *	     waited for once already
 *
 * Zeroes a dirty arena here if there is one (only its touched pages: far
 * cheaper than a new arena of zeroed pages), else allocates one, unless
 * that would leave too little memory available. These are the only cases
 * in which a grant waits for zeroing. If memory is short, waits for the
 * worker, once per grant, and tries again: it may have just zeroed or freed
 * an arena. That wait is bounded whatever other processes do meanwhile:
 * each run of the worker does at most the work it found when it started
 * (see karena_reserve_work()), and a flush waits for the run in progress
 * and at most one queued after it. The caller does the charging. May sleep.
 *
 * Return: the arena, or NULL when memory cannot be had.
 */
struct karena_arena *karena_arena_take(bool *flushed)
{
	struct karena_arena *arena;

	for (;;) {
		arena = karena_dirty_pop();
		if (arena) {
			if (karena_arena_scrub(arena))
				return arena;
			karena_arena_drop(arena);
		}
		arena = NULL;
		if (karena_mem_allows(karena.arena_pages))
			arena = karena_arena_alloc(0);
		if (arena) {
			spin_lock(&karena.lock);
			karena.nr_total++;
			spin_unlock(&karena.lock);
			return arena;
		}
		if (*flushed)
			return NULL;
		flush_delayed_work(&karena.work);
		*flushed = true;

		spin_lock(&karena.lock);
		arena = karena_arena_take_locked();
		spin_unlock(&karena.lock);
		if (arena)
			return arena;
	}
}

/**
 * karena_arenas_release() - give back arenas that nobody maps any more
 * @arenas: @n arenas, the array of a grant; no VMA maps them, no PTE points
 *	    into them, and nothing but their slots references their pages.
 *	    A NULL entry is an arena that other grants hold (the grant let go
 *	    of it, orphan.c): it leaves arenas_reserved here, with its grant.
 * @n: how many there are
 *
 * The reserve's arenas are queued for zeroing, in one splice whatever the
 * size of the grant; the worker is scheduled only when the dirty list was
 * empty, so that the arenas released before it runs are zeroed in the same
 * batch. An arena charged to a memory cgroup is not queued: its pages go
 * back to the page allocator at once, so that the cgroup's memory.current
 * drops with the release.
 *
 * Context: process context, karena.lock not held; may sleep.
 */
void karena_arenas_release(struct karena_arena **arenas, unsigned long n)
{
	struct karena_arena *arena, *tmp;
	unsigned long i, nr_dirty = 0;
	LIST_HEAD(dirty);
	LIST_HEAD(charged);

	for (i = 0; i < n; i++) {
		if (!arenas[i])
			continue;
		if (arenas[i]->memcg) {
			list_add_tail(&arenas[i]->node, &charged);
		} else {
			list_add_tail(&arenas[i]->node, &dirty);
			nr_dirty++;
		}
	}
	spin_lock(&karena.lock);
	karena.nr_total -= n - nr_dirty;
	if (nr_dirty) {
		list_splice_tail_init(&dirty, &karena.dirty);
		if (!karena.nr_dirty && karena.ready)
			queue_delayed_work(system_unbound_wq, &karena.work,
					   KARENA_SCRUB_DELAY);
		karena.nr_dirty += nr_dirty;
	}
	spin_unlock(&karena.lock);

	list_for_each_entry_safe(arena, tmp, &charged, node) {
		karena_arena_free(arena);
		cond_resched();
	}
}

/**
 * karena_reserve_kick() - let the worker run now (zero, refill, shrink)
 */
void karena_reserve_kick(void)
{
	spin_lock(&karena.lock);
	karena_reserve_kick_locked();
	spin_unlock(&karena.lock);
}

/*
 * Zero one dirty arena, then keep it if the reserve has room or free it;
 * false when there was none.
 */
static bool karena_reserve_scrub_one(void)
{
	struct karena_arena *arena;
	bool keep;

	arena = karena_dirty_pop();
	if (!arena)
		return false;

	/* no room in the reserve: free it as it is, zeroing would be wasted */
	spin_lock(&karena.lock);
	keep = karena.nr_free < karena.reserve_arenas;
	spin_unlock(&karena.lock);
	keep = keep && karena_arena_scrub(arena);
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

	arena = karena_arena_alloc(0);
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

/*
 * One run of the worker does at most the work there was when it started:
 * as many steps (an arena zeroed, added or freed) as there were dirty
 * arenas plus the distance of the free list from reserve_arenas. If it used
 * them all, it queues another run for what arrived meanwhile instead of
 * going on, so that a grant waiting for it (karena_arena_take()) never
 * waits for work that other processes keep adding.
 */
static void karena_reserve_work(struct work_struct *work)
{
	u64 budget, done, want;
	bool orphans;

	spin_lock(&karena.lock);
	orphans = karena.nr_orphans;
	spin_unlock(&karena.lock);

	/* released orphans join the dirty list zeroed below */
	if (orphans)
		karena_orphans_recheck();

	/* a grant that drains the free list from now on asks again */
	spin_lock(&karena.lock);
	karena.refill_kicked = false;
	want = karena.reserve_arenas;
	budget = karena.nr_dirty + max(karena.nr_free, want) -
		 min(karena.nr_free, want);
	spin_unlock(&karena.lock);

	/*
	 * Dirty arenas first, always: zeroing one costs its touched pages,
	 * growing costs a whole arena of zeroed pages, and grants that go on
	 * meanwhile release arenas that would otherwise wait behind the
	 * growing while the free list runs dry. Shrinking comes last.
	 */
	for (done = 0; done < budget; done++) {
		if (!karena_reserve_scrub_one() && !karena_reserve_grow_one() &&
		    !karena_reserve_shrink_one())
			break;
		cond_resched();
	}
	if (budget && done == budget)
		karena_reserve_kick();

	/* look again later at the orphans still referenced */
	spin_lock(&karena.lock);
	if (karena.nr_orphans && karena.ready)
		queue_delayed_work(system_unbound_wq, &karena.work,
				   KARENA_ORPHAN_RECHECK);
	spin_unlock(&karena.lock);
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

	INIT_DELAYED_WORK(&karena.work, karena_reserve_work);
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
	cancel_delayed_work_sync(&karena.work);

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
