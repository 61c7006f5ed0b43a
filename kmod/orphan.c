// SPDX-License-Identifier: GPL-2.0
/*
 * Orphaned grants: released by their last VMA while something
 * else still holds references to some of their pages.
 *
 * A page of a grant can be referenced from outside its arena and its
 * PTEs: a pipe that vmsplice() filled, a GUP pin (O_DIRECT, io_uring
 * fixed buffers, RDMA), a splice in flight. Such a reference keeps the page
 * alive after munmap or exit. If the grant were released then, the page
 * would be in nobody's count while its holder could take a new grant in
 * its place, again and again. So the grant is not released: when its last
 * VMA closes and a page of any of its arenas still has a reference
 * besides the arena's own (page_ref_count() > 1: pins add 1024, other
 * references 1), the grant becomes an orphan. An arena or a page that
 * other grants or arenas hold too since a fork is theirs to account
 * (share.c): the grant lets go of it when its last VMA closes, and it
 * does not count here. The orphan stays charged to its holder, its user
 * and the global count (and its pages to their memory cgroup) exactly as
 * while it was mapped, so every limit still counts it;
 * orphaned_pages counts its referenced pages. It is released as a whole,
 * as a munmap would have done, once no page has an outside reference:
 *
 *   - by the worker, which rechecks the orphans every KARENA_ORPHAN_RECHECK
 *     while there are any;
 *   - at once by a grant that a limit refuses (karena_grant() rechecks and
 *     tries again), so that a holder whose pins are gone is never refused
 *     for them.
 *
 * The grant, not the arena, is the orphan, because the grant is what is
 * charged and released (one charge of nr_arenas, one holder and user
 * reference): a grant of many arenas with one page pinned stays charged
 * whole until that page is let go. That errs towards counting too much,
 * never too little, and pins that outlive their mapping are short-lived.
 *
 * Nothing can take a new reference to a page of an orphan (no VMA maps it;
 * a pipe can only duplicate its own), so once every page is down to the
 * arena's reference it stays there. A transient reference (a physical
 * page scanner's get_page_unless_zero()) can make a grant an orphan for
 * one recheck, which is harmless.
 *
 * Each orphan holds a reference to the module: the module cannot be
 * unloaded while it still accounts pages that a pipe keeps alive. The
 * worker's last module_put() is safe: exit cancels the worker (and waits
 * for it) before freeing anything.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>

#include "karena_internal.h"

/* Serializes rechecks, so that a grant's recheck sees every orphan. */
static DEFINE_MUTEX(karena_orphan_mutex);

/**
 * karena_grant_pinned() - pages of @g with a reference besides their slot's
 * @g: a grant that no VMA maps (so no PTE of it references its pages, and
 *     no fault or KARENA_IOC_RETURN_PAGES can change its slots)
 *
 * An arena that other grants hold too (shared whole since a fork) is
 * theirs from now on: @g lets go of it (karena_arena_leave_locked()) and
 * its entry becomes NULL, with no look at its pages; the grants that
 * still hold it account them, outside references included. Likewise a
 * page that other arenas hold too (shared since a grant made a shared
 * arena its own) is not counted here: its slot lets go of it now
 * (karena_arena_leave_shared()), and the arenas that still hold it
 * account it (share.c).
 *
 * Return: the number of pages that only @g holds and something else
 * references.
 */
unsigned int karena_grant_pinned(struct karena_grant *g)
{
	struct karena_arena *arena;
	unsigned int n = 0;
	unsigned long a;
	bool left;

	for (a = 0; a < g->nr_arenas; a++) {
		arena = g->arenas[a];
		if (!arena)
			continue;
		/*
		 * Once @g lets go, the grant that holds the arena last may
		 * lock it and release it before our unlock is over
		 * (mutex_unlock() still touches the mutex after handing it
		 * over): the structure stays until this reference goes.
		 */
		refcount_inc(&arena->users);
		mutex_lock(&arena->lock);
		left = karena_arena_leave_locked(arena);
		if (left)
			g->arenas[a] = NULL;
		mutex_unlock(&arena->lock);
		if (!left)
			n += karena_arena_leave_shared(arena);
		karena_arena_put(arena);
		cond_resched();
	}
	return n;
}

/**
 * karena_orphan_locked() - keep a released grant charged while @pinned of
 * its pages are referenced from elsewhere
 * @g: its last VMA has closed; still charged to g->holder/user
 * @pinned: karena_grant_pinned(@g), not zero
 *
 * Context: karena.lock held.
 */
void karena_orphan_locked(struct karena_grant *g, unsigned int pinned)
{
	lockdep_assert_held(&karena.lock);
	g->orphan_pages = pinned;
	list_add_tail(&g->orphan_node, &karena.orphans);
	karena.nr_orphans++;
	karena.orphaned_pages += pinned;
	/* the caller's file (vma->vm_file) still pins the module */
	__module_get(THIS_MODULE);
	if (karena.ready)
		queue_delayed_work(system_unbound_wq, &karena.work,
				   KARENA_ORPHAN_RECHECK);
}

/**
 * karena_orphans_recheck() - release every orphan whose pages are free of
 * outside references
 *
 * Context: process context, karena.lock not held; may sleep.
 * Return: the number of grants released.
 */
unsigned int karena_orphans_recheck(void)
{
	struct karena_grant *g, *tmp;
	unsigned int pinned, released = 0;
	LIST_HEAD(check);

	mutex_lock(&karena_orphan_mutex);
	spin_lock(&karena.lock);
	list_splice_init(&karena.orphans, &check);
	spin_unlock(&karena.lock);

	list_for_each_entry_safe(g, tmp, &check, orphan_node) {
		pinned = karena_grant_pinned(g);
		spin_lock(&karena.lock);
		karena.orphaned_pages -= g->orphan_pages;
		if (pinned) {
			g->orphan_pages = pinned;
			karena.orphaned_pages += pinned;
			list_move_tail(&g->orphan_node, &karena.orphans);
			spin_unlock(&karena.lock);
			continue;
		}
		list_del_init(&g->orphan_node);
		g->orphan_pages = 0;
		karena.nr_orphans--;
		karena_release_unlock(g);
		module_put(THIS_MODULE);
		released++;
	}
	mutex_unlock(&karena_orphan_mutex);
	return released;
}
