// SPDX-License-Identifier: GPL-2.0
/*
 * Pages shared by the arenas of a parent and its fork children: how
 * many slots hold a page, and the three ways a slot lets go of one.
 *
 * A fork puts every touched page of the parent's arena into the same slot
 * of the child's arena (karena_arena_share()); the page is then held by
 * two slots, each with a reference of its own, until a write, a
 * KARENA_IOC_RETURN_PAGES or a release lets go of one (copy on write,
 * see grant.c). A fork of a fork makes three, and so on.
 *
 * The number of slots that hold a page is kept in the page itself:
 * page_private() is the number of slots besides one (0 for a page that
 * one slot holds, which is every page that was never shared, and the
 * value a freshly allocated page has). Our pages are order-0 pages of no
 * page cache, swap or LRU, never migrated, and nothing else in the kernel
 * reads or writes ->private of such a page. It changes only under
 * karena_share_lock, together with the slot's page reference: a slot's
 * put_page() of a shared page happens under that lock in the same step as
 * the count goes down, so that at every moment, seen under the lock,
 *
 *   page_ref_count() = slots holding it (page_private() + 1)
 *                    + PTEs mapping it (each a VMA of a grant whose slot
 *                      holds it: a slot lets go of its page only after
 *                      zapping its own PTE of it)
 *                    + outside references (a pipe, a GUP pin)
 *                    + references of faults in flight (transient)
 *
 * What the accounting of pinned pages (orphan.c, KARENA_IOC_RETURN_PAGES)
 * needs is whether a slot's page has outside references. It asks only of
 * a page that one slot holds (page_private() == 0) and that no PTE maps
 * (no VMA of that grant maps the range any more): then outside references
 * = page_ref_count() - 1, as without a fork. A page that other slots hold
 * too is not this slot's to account: the slot drops its reference
 * (karena_page_leave()), and the page, with whatever outside references it
 * has, stays counted in the arenas that still hold it. The last of them
 * accounts it as if it had never been shared: a release of its grant
 * while a pipe holds the page makes that grant an orphan, and its
 * KARENA_IOC_RETURN_PAGES keeps the page. Because the count and the
 * reference go down together under the lock, two sides that let go at
 * the same time cannot both leave the page to the other: one of them
 * sees itself as the last.
 *
 * Memory cgroups: a page stays charged to the cgroup it was allocated in
 * (the page allocator's charge goes with the page) whichever slots hold
 * it; a copy on write is allocated in the writer's cgroup.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/spinlock.h>

#include "karena_internal.h"

/* Orders every change of a shared page's slot count (see the top). */
static DEFINE_SPINLOCK(karena_share_lock);

/* One more slot holds @page, with a reference of its own. */
static void karena_page_hold_locked(struct page *page)
{
	lockdep_assert_held(&karena_share_lock);
	get_page(page);
	set_page_private(page, page_private(page) + 1);
}

/* karena_page_leave(), with karena_share_lock held. */
static bool karena_page_leave_locked(struct page *page, bool *pinned)
{
	lockdep_assert_held(&karena_share_lock);
	if (!page_private(page)) {
		*pinned = page_ref_count(page) > 1;
		return false;
	}
	set_page_private(page, page_private(page) - 1);
	/* the others' references remain: never the page's last */
	put_page(page);
	return true;
}

/**
 * karena_page_shared() - do other slots than the caller's hold @page?
 * @page: a page in the caller's slot
 *
 * Context: the caller holds its slot's arena->lock, so its slot keeps
 * the page; the answer can only go from true to false meanwhile (no fork
 * runs while a fault or an ioctl holds mmap_lock).
 */
bool karena_page_shared(struct page *page)
{
	bool shared;

	spin_lock(&karena_share_lock);
	shared = page_private(page);
	spin_unlock(&karena_share_lock);
	return shared;
}

/**
 * karena_page_leave() - a slot lets go of its page, if others hold it
 * @page: the slot's page; no PTE of the slot's grant maps it
 * @pinned: set when the slot holds @page alone: whether anything but the
 *	    slot references it (a pipe, a pin, a fault in flight)
 *
 * Return: true if other slots hold @page too: this slot's reference is
 * dropped here, and the caller must empty the slot without another
 * put_page(). false: the slot keeps @page; *@pinned is set.
 */
bool karena_page_leave(struct page *page, bool *pinned)
{
	bool left;

	spin_lock(&karena_share_lock);
	left = karena_page_leave_locked(page, pinned);
	spin_unlock(&karena_share_lock);
	return left;
}

/**
 * karena_arena_share() - fill a fork child's arena with the parent's pages
 * @dst: the child's arena: empty slots, mapped by no VMA yet
 * @src: the parent's arena; no PTE maps its pages (the fork zapped them)
 * @mm: the mm a copy is charged to (current's: the child starts in its
 *	cgroup)
 *
 * The page of every touched slot goes into the same slot of @dst, one
 * more slot holding it (with a reference of its own), all under one hold
 * of karena_share_lock per arena. Untouched and empty slots read as zero
 * on both sides and stay empty in @dst. A page that may be pinned for DMA
 * is copied instead, as anonymous memory does at fork: a write through
 * the pin (O_DIRECT, RDMA) then stays the parent's; if no copy can be had
 * it is shared.
 *
 * Return: the number of pages copied.
 */
unsigned long karena_arena_share(struct karena_arena *dst,
				 struct karena_arena *src,
				 struct mm_struct *mm)
{
	unsigned long copied = 0;
	struct page *page, *copy;
	bool pinned = false;
	unsigned int i;

	mutex_lock(&src->lock);
	spin_lock(&karena_share_lock);
	for_each_set_bit(i, src->touched, karena.arena_pages) {
		page = src->pages[i];
		if (!page)
			continue;
		__set_bit(i, dst->touched);
		if (folio_maybe_dma_pinned(page_folio(page))) {
			pinned = true;
			continue;
		}
		karena_page_hold_locked(page);
		dst->pages[i] = page;
	}
	spin_unlock(&karena_share_lock);

	/* the pinned ones, left empty in @dst above: a copy, or shared */
	for_each_set_bit(i, src->touched, pinned ? karena.arena_pages : 0) {
		page = src->pages[i];
		if (!page || dst->pages[i])
			continue;
		copy = karena_page_refill(mm);
		if (copy) {
			copy_highpage(copy, page);
			copied++;
		} else {
			spin_lock(&karena_share_lock);
			karena_page_hold_locked(page);
			spin_unlock(&karena_share_lock);
			copy = page;
		}
		dst->pages[i] = copy;
	}
	mutex_unlock(&src->lock);
	return copied;
}

/**
 * karena_arena_leave_shared() - a released arena lets go of the pages
 * that other arenas hold too, and counts its pinned ones
 * @arena: of a grant that no VMA maps (no PTE of it maps its pages, and no
 *	   fault or KARENA_IOC_RETURN_PAGES can change its slots)
 *
 * Each page that other slots hold too leaves its slot (karena_page_leave()
 * for every slot, under one hold of karena_share_lock): the slot is
 * emptied (it reads as zero) and its reference dropped, which cannot be
 * the page's last.
 *
 * Return: the pages that only @arena holds and something else references.
 */
unsigned int karena_arena_leave_shared(struct karena_arena *arena)
{
	unsigned int i, n = 0;
	bool pinned;

	spin_lock(&karena_share_lock);
	for (i = 0; i < karena.arena_pages; i++) {
		if (!arena->pages[i])
			continue;
		if (karena_page_leave_locked(arena->pages[i], &pinned)) {
			arena->pages[i] = NULL;
			__clear_bit(i, arena->touched);
		} else if (pinned) {
			n++;
		}
	}
	spin_unlock(&karena_share_lock);
	return n;
}

/**
 * karena_page_unshare_locked() - make slot @idx of @arena the writer's own
 * @arena: its slot @idx holds a page
 * @idx: the slot a write fault is for
 * @mm: the writer's mm, charged for a copy
 * @copied: set when a copy was made
 *
 * A page that no other slot holds is the slot's own already, outside
 * references or not (they are accounted as without a fork, see the top).
 * Otherwise the writer gets a private copy, charged to @mm as a refilled
 * page is, and the slot lets go of the shared page; the others keep it.
 * The shared page is not written meanwhile: every PTE of it is read-only
 * and every write fault on it comes here.
 *
 * Context: @arena->lock held; may sleep.
 * Return: the slot's page now, or NULL when no copy can be had.
 */
struct page *karena_page_unshare_locked(struct karena_arena *arena,
					unsigned int idx, struct mm_struct *mm,
					bool *copied)
{
	struct page *page = arena->pages[idx], *copy;
	bool pinned, left;

	lockdep_assert_held(&arena->lock);
	*copied = false;
	if (!karena_page_shared(page))
		return page;
	copy = karena_page_refill(mm);
	if (!copy)
		return NULL;
	copy_highpage(copy, page);
	left = karena_page_leave(page, &pinned);
	if (!left) {
		/* the others let go meanwhile: the page is ours */
		put_page(copy);
		return page;
	}
	WRITE_ONCE(arena->pages[idx], copy);
	*copied = true;
	return copy;
}
