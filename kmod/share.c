// SPDX-License-Identifier: GPL-2.0
/*
 * Arenas and pages shared by the grants of a parent and its fork
 * children: how many grants hold an arena and how a grant makes one its
 * own; how many slots hold a page, and the three ways a slot lets go of
 * one.
 *
 * Arenas. A fork gives the child's grant the parent's arenas themselves
 * (karena_arenas_share()): each counts the grants that hold it
 * (arena->refs), and while more than one does nothing changes its slots;
 * the grants read its pages and map them read-only. A grant that is to
 * change a slot first makes the arena its own (karena_grant_arena_own()):
 * a new slot array whose every touched slot holds the same page as the
 * shared arena's, one more slot holding it, replaces the shared arena in
 * that grant, and the grant lets go of the shared one
 * (karena_arena_leave_locked()). A released grant lets go of its shared
 * arenas the same way (orphan.c). The count goes down only under the
 * arena's lock and only from more than one, so the grant that finds it at
 * 1 under the lock holds the arena alone, and stays alone while its mm's
 * mmap_lock is held: only a fork of that mm can raise it. The counts are
 * in arenas_reserved once per grant and in arenas_shared beyond the first.
 *
 * Pages. A grant that makes a shared arena its own puts every touched
 * page of it into the same slot of its new arena; the page is then held
 * by two slots, each with a reference of its own, until a write, a
 * KARENA_IOC_RETURN_PAGES or a release lets go of one (copy on write,
 * see grant.c). Another grant doing the same makes three, and so on.
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
 *                    + PTEs mapping it (each a VMA of a grant whose
 *                      arena's slot holds it: a slot lets go of its page
 *                      only after zapping its own PTE of it, and a grant
 *                      makes an arena its own with the same pages)
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
 * Context: the caller holds its slot's arena->lock, and the arena is its
 * grant's own, so its slot keeps the page; the answer can only go from
 * true to false meanwhile: a page goes into one more slot only from a slot
 * that holds it already (karena_arena_hold_pages_locked()), under the lock
 * of that slot's arena, and the only arena that holds a page no other
 * holds is the caller's.
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

/* Count @n pages copied for fork children (on write, or pinned). */
void karena_count_copies(unsigned long n)
{
	spin_lock(&karena.lock);
	karena.fork_copies += n;
	spin_unlock(&karena.lock);
}

/**
 * karena_arenas_share() - a fork child's grant holds the parent's arenas
 * @dst: the child's grant's array, @n entries
 * @src: the parent's grant's array; the parent's mm is write-locked by the
 *	 fork, so each of its arenas that only the parent's grant held stays
 *	 so until here
 * @n: arenas in both
 *
 * Each arena gets one more reference, for the child's grant; nothing else
 * is done per arena, and nothing per page. Each reference counts in
 * arenas_reserved (once per grant that holds the arena, so that
 * arenas_reserved = arenas_free + arenas_granted + dirty arenas stays
 * exact) and in arenas_shared (the references beyond the first).
 */
void karena_arenas_share(struct karena_arena **dst,
			 struct karena_arena *const *src, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		refcount_inc(&src[i]->refs);
		dst[i] = src[i];
	}
	spin_lock(&karena.lock);
	karena.nr_total += n;
	karena.nr_shared += n;
	spin_unlock(&karena.lock);
}

/**
 * karena_arena_maybe_pinned() - may a page of @arena be pinned for DMA?
 * @arena: locked
 *
 * Return: true if a touched page of @arena may be pinned
 * (folio_maybe_dma_pinned(): a GUP pin, or over 1024 other references).
 */
bool karena_arena_maybe_pinned(struct karena_arena *arena)
{
	unsigned int i;

	lockdep_assert_held(&arena->lock);
	for_each_set_bit(i, arena->touched, karena.arena_pages)
		if (arena->pages[i] &&
		    folio_maybe_dma_pinned(page_folio(arena->pages[i])))
			return true;
	return false;
}

/*
 * Fill @dst, a new arena of empty slots, with the pages of @src: the page
 * of every touched slot goes into the same slot of @dst, one more slot
 * holding it (with a reference of its own), all under one hold of
 * karena_share_lock. Untouched and empty slots read as zero on both sides
 * and stay empty in @dst. With @copy_pinned (a fork child's arena, which
 * no PTE maps yet) a page that may be pinned for DMA is copied instead, as
 * anonymous memory does at fork: a write through the pin (O_DIRECT, RDMA)
 * then stays in @src's page; if no copy can be had it is shared. Without,
 * every slot of @dst holds the page the same slot of @src holds, so that
 * the PTEs of @dst's grant, made from @src, stay right. A copy is charged
 * to @mm. Returns the number of pages copied.
 * Context: @src->lock held; may sleep.
 */
static unsigned long karena_arena_hold_pages_locked(struct karena_arena *dst,
						    struct karena_arena *src,
						    struct mm_struct *mm,
						    bool copy_pinned)
{
	unsigned long copied = 0;
	struct page *page, *copy;
	bool pinned = false;
	unsigned int i;

	lockdep_assert_held(&src->lock);
	spin_lock(&karena_share_lock);
	for_each_set_bit(i, src->touched, karena.arena_pages) {
		page = src->pages[i];
		if (!page)
			continue;
		__set_bit(i, dst->touched);
		if (copy_pinned &&
		    folio_maybe_dma_pinned(page_folio(page))) {
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
	return copied;
}

/**
 * karena_arena_unshare_locked() - an arena of its own for a grant that
 * holds @shared with other grants
 * @shared: locked; its refs > 1
 * @mm: the mm a copy of a pinned page is charged to
 * @copy_pinned: copy the pages that may be pinned for DMA (a fork child's
 *	grant, which maps none of them yet)
 *
 * A new slot array (karena_arena_new_empty(), in @shared's memory cgroup,
 * whose release it follows) whose slots hold the pages of @shared, each
 * page counting one more slot (karena_arena_hold_pages_locked()); the
 * copies of pinned pages count in fork_copies. The caller puts it in its
 * grant in place of @shared and lets go of @shared
 * (karena_arena_leave_locked()).
 *
 * Context: may sleep.
 * Return: the new arena, or NULL when its slots cannot be had.
 */
struct karena_arena *karena_arena_unshare_locked(struct karena_arena *shared,
						 struct mm_struct *mm,
						 bool copy_pinned)
{
	struct karena_arena *own;
	unsigned long copied;

	lockdep_assert_held(&shared->lock);
	own = karena_arena_new_empty(shared->memcg);
	if (!own)
		return NULL;
	copied = karena_arena_hold_pages_locked(own, shared, mm, copy_pinned);
	if (copied)
		karena_count_copies(copied);
	return own;
}

/**
 * karena_arena_leave_locked() - a grant lets go of @arena if others hold it
 * @arena: locked; in the grant's array until the caller replaces the entry
 *
 * Return: true if other grants hold @arena: the grant's reference is
 * dropped (never the last: every drop is made under @arena->lock and from
 * more than one), and arenas_shared counts one less. false: the arena is
 * the grant's own, and nothing changed.
 */
bool karena_arena_leave_locked(struct karena_arena *arena)
{
	lockdep_assert_held(&arena->lock);
	if (refcount_read(&arena->refs) == 1)
		return false;
	refcount_dec(&arena->refs);
	spin_lock(&karena.lock);
	karena.nr_shared--;
	spin_unlock(&karena.lock);
	return true;
}

/**
 * karena_grant_arena_get_lock() - lock the arena behind @g->arenas[@ai]
 * @g: a grant that a VMA maps, whose mm's mmap_lock the caller holds
 * @ai: the arena's index in @g
 *
 * The entry changes (under the old arena's lock) when @g makes a shared
 * arena its own, and the old arena may then be released by the other
 * grants that held it: so the arena read from the entry is held with a
 * reference to its structure (arena->users, taken under rcu_read_lock(),
 * see struct karena_arena), the entry is read again once the lock is
 * held, and the lock taken again if it changed. A grant never forked
 * has no shared arena, so its entries never change: its faults lock
 * @g->arenas[@ai] directly.
 *
 * Context: may sleep.
 * Return: the arena, locked, with a reference the caller drops with
 * karena_arena_put() once it no longer looks at the arena; it is
 * @g->arenas[@ai] until unlocked.
 */
struct karena_arena *karena_grant_arena_get_lock(struct karena_grant *g,
						 unsigned long ai)
{
	struct karena_arena *arena;
	bool held;

	for (;;) {
		rcu_read_lock();
		arena = READ_ONCE(g->arenas[ai]);
		held = refcount_inc_not_zero(&arena->users);
		rcu_read_unlock();
		if (!held) {
			/* being freed: the entry has changed already */
			cpu_relax();
			continue;
		}
		mutex_lock(&arena->lock);
		if (READ_ONCE(g->arenas[ai]) == arena)
			return arena;
		karena_arena_unlock_put(arena);
	}
}

/**
 * karena_arena_unlock_put() - done with an arena from
 * karena_grant_arena_get_lock() or karena_grant_arena_own()
 * @arena: locked, with a reference to its structure
 *
 * Unlocks it, then drops the reference: the structure outlives the
 * unlock, which another grant's release of the arena may follow.
 */
void karena_arena_unlock_put(struct karena_arena *arena)
{
	mutex_unlock(&arena->lock);
	karena_arena_put(arena);
}

/**
 * karena_grant_arena_own() - make @g->arenas[@ai] the grant's own
 * @g: as for karena_grant_arena_get_lock()
 * @ai: the arena's index in @g
 * @arena: @g->arenas[@ai], from karena_grant_arena_get_lock()
 * @mm: the mm a copy of a pinned page is charged to
 * @copy_pinned: as for karena_arena_unshare_locked()
 *
 * An arena that only @g holds is returned as it is. One that other grants
 * hold too is replaced in @g by a new arena of the same pages
 * (karena_arena_unshare_locked()), published under the old one's lock, and
 * @g lets go of the old one (karena_arena_leave_locked()). The new one
 * stays @g's own while the caller holds the mmap_lock: only a fork of this
 * mm could share it again.
 *
 * Context: may sleep.
 * Return: @g's own arena, locked, with a reference as from
 * karena_grant_arena_get_lock(); or NULL, with @arena unlocked and its
 * reference dropped, when no arena could be had (@g still holds @arena,
 * shared).
 */
struct karena_arena *karena_grant_arena_own(struct karena_grant *g,
					    unsigned long ai,
					    struct karena_arena *arena,
					    struct mm_struct *mm,
					    bool copy_pinned)
{
	struct karena_arena *own;

	lockdep_assert_held(&arena->lock);
	if (refcount_read(&arena->refs) == 1)
		return arena;
	own = karena_arena_unshare_locked(arena, mm, copy_pinned);
	if (!own) {
		karena_arena_unlock_put(arena);
		return NULL;
	}
	WRITE_ONCE(g->arenas[ai], own);
	karena_arena_leave_locked(arena);
	karena_arena_unlock_put(arena);
	return karena_grant_arena_get_lock(g, ai);
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
