// SPDX-License-Identifier: GPL-2.0
/*
 * Granting arenas: the mmap handler, the arena-aligned
 * get_unmapped_area, and the VMA operations (fault and page_mkwrite, with
 * copy on write after fork; open for fork and mremap copies; close for
 * release).
 *
 * What userspace does:
 *
 *	fd = open("/dev/karena", O_RDWR);
 *	(optional) ioctl(fd, KARENA_IOC_SET_ARENA_SIZE, &(struct
 *		karena_arena_size){ .arena_size = size });
 *	p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *	... p is size-aligned and reads as zero ...
 *	munmap(p, n * size);		(or exit: all n arenas go back)
 *
 * One mmap is one grant (struct karena_grant) of n arenas of the file's
 * size (1 <= n <= KARENA_GRANT_MAX_ARENAS): granted, counted, refused and
 * released as a whole. Behind it are the module's own arenas (arena_kb,
 * the reserve's size) that cover its length: a grant of B bytes takes
 * DIV_ROUND_UP(B, arena_size) of them, from the reserve first, and is
 * charged and counted as that many against every limit and in every
 * counter. A file arena smaller than the module's maps part of one module
 * arena (the rest of it is never mapped, yet held, so it is charged); a
 * larger one is several module arenas side by side.
 *
 * Pages reach userspace only through karena_vm_fault(), which returns the
 * arena's own page with a reference (vmf->page). The VMA is neither
 * VM_PFNMAP nor VM_MIXEDMAP and never gets an anon_vma, so fork does not
 * copy its page tables: the child's VMA is opened (karena_vm_open()) and
 * gets a grant of its own, charged to the child, whose arenas share the
 * parent's pages until either side writes.
 *
 * Copy on write. Why not the kernel's own: anonymous and MAP_PRIVATE file
 * memory get it from do_wp_page()/wp_page_copy(), which fork sets up by
 * copying the page tables with write-protected PTEs and which put the copy
 * in an anon_vma. An arena is a MAP_SHARED mapping of a device: fork copies
 * no PTEs of it, and a write fault on a VM_SHARED VMA goes to
 * wp_page_shared() (->page_mkwrite, then the same page made writable),
 * never to wp_page_copy(); a copy there would be an anonymous page outside
 * the arena, which the module could neither count, nor zero, nor hand back
 * (KARENA_IOC_RETURN_PAGES), and which a later fork would copy by the
 * anonymous rules. So the module does it in its own arenas and slots:
 *  - at fork the parent's PTEs of the grant are zapped (below), and the
 *    child's grant holds the parent's arenas themselves, one more
 *    reference each (arena->refs, karena_arenas_share()): no work per
 *    page, no allocation but the child's grant. An arena that several
 *    grants hold is immutable: nothing changes its slots. (A parent that
 *    has pinned pages, MMF_HAS_PINNED, has each arena with a page that may
 *    be pinned for DMA copied for the child at fork, as anonymous memory
 *    does: karena_fork_copy_pinned().)
 *  - a grant that is to change a slot of an arena it shares (a write, a
 *    fault on an empty slot, KARENA_IOC_RETURN_PAGES) first makes the
 *    arena its own (karena_grant_arena_own() in share.c): a new slot array
 *    whose slots hold the same pages, each page counting the slots that
 *    hold it, replaces the shared arena in the grant, which lets go of the
 *    shared one. Several threads of one mm may race for it: each locks the
 *    arena it read from grant->arenas[i] and reads the entry again under
 *    the lock (karena_grant_arena_get_lock()); the entry changes only under
 *    the old arena's lock. A fault that took its page from an arena that
 *    its grant has replaced since retries (the check under the page lock
 *    covers the entry too). Such a fault holds a reference to the arena's
 *    structure meanwhile (arena->users), since the other grants may
 *    release the arena as soon as its own grant let go of it. A read
 *    fault on a shared arena maps its page read-only and unshares
 *    nothing. An arena that only its grant holds (refs == 1) is used
 *    exactly as before any fork. A grant never forked (karena_vm_ops,
 *    below) holds no shared arena: its faults lock the arena directly and
 *    read no count, as before.
 *  - from its first fork on, a grant's VMAs (the parent's and the
 *    child's) have ->page_mkwrite and the read-only page protection of
 *    write-notify (karena_vma_set_cow(), as vma_set_page_prot() would set
 *    it; mprotect() keeps it, since vma_wants_writenotify() sees the
 *    handler): every fault maps its page read-only unless it is a write
 *    fault, and the first write through a read-only PTE calls
 *    ->page_mkwrite. A grant never forked has neither: every fault maps
 *    its page writable, so MAP_POPULATE saves every first-touch fault, and
 *    6.12's refusal of FOLL_LONGTERM write pins on VMAs that need dirty
 *    tracking (vma_needs_dirty_tracking()) does not reach it.
 *  - a write fault on a page that other slots hold too
 *    (karena_vm_fault() with FAULT_FLAG_WRITE) gives the writer a private
 *    copy in its slot (karena_page_unshare_locked()), charged to the
 *    writer like a refilled page (no OOM killer; a copy that cannot be had
 *    is a SIGBUS counted in fork_copy_failures) and counted in
 *    fork_copies. A page that only the writer's slot holds is written in
 *    place (the other side wrote or let go already). A write through a
 *    read-only PTE of a shared page (karena_vm_page_mkwrite()) zaps that
 *    PTE, puts the copy in the slot and returns VM_FAULT_NOPAGE: the
 *    retried fault maps the copy. (Leaving the copy to the retried fault
 *    livelocks when a read maps the shared page back first, as a
 *    read-modify-write instruction's own read does under QEMU TCG.)
 *    Reads never copy.
 *  - a shared page is never written by anyone: every PTE of it is
 *    read-only (the parent's were zapped at fork; faults map it read-only;
 *    mprotect() makes writable only PTEs already dirty, which none of a
 *    shared page is), and every write fault copies or finds it unshared.
 *  - KARENA_IOC_RETURN_PAGES and the release of either side drop only
 *    their own slot's reference to a shared page (karena_page_leave()), so
 *    no arena ever zeroes, reuses or counts as pinned a page that another
 *    arena holds; the last slot to hold a page accounts it, outside
 *    references included, as if it had never been shared (share.c). The
 *    release of a grant whose arena other grants hold drops only its
 *    reference to the arena (karena_grant_pinned()); the last grant to
 *    hold it releases it as if it had never been shared.
 * Faults run under mmap_lock: 6.12 retries a fault under the per-VMA lock
 * with mmap_lock when the VMA has no ->map_pages (vmf_can_call_fault()),
 * and fork excludes both (dup_mmap() write-locks the mm and each VMA), so
 * no arena or page that a grant holds alone becomes shared while a fault
 * or an ioctl of its mm looks at it.
 *
 * Limits at fork. No hook lets a module fail a fork, on 6.1 or 6.12:
 * dup_mmap() calls vm_ops->open(), which returns void, and its other
 * failures are its own (VMA allocation, mempolicy, userfaultfd, anon_vma,
 * page-table copy, the overcommit check of VM_ACCOUNT mappings, a fatal
 * signal); file_operations have no fork hook; copy_process()'s checks are
 * LSM and cgroup controller hooks, which a module cannot add. So the
 * child's grant is charged in ->open against every limit of the module,
 * as a grant of the child's arenas: refused, it leaves the child's VMA
 * pointing at nothing (SIGBUS on access, counted in fork_copy_failures).
 * Memory cgroups are charged per page, by the allocation: a shared page
 * stays charged to whoever allocated it, and the child's cgroup pays for
 * each copy its writes make (at memory.max a copy is refused: a counted
 * SIGBUS, as a refused refill is, never the OOM killer). So memory.max is
 * not checked at fork, where nothing is allocated. Only the copies on
 * write come later, and a refused one is a counted SIGBUS, as anonymous
 * memory would meet the OOM killer.
 *
 * Fork guarantee: the child's view is a snapshot, as with anonymous
 * memory. Before the pages are shared, the parent's PTEs of them are
 * zapped; dup_mmap() holds the parent's mmap_lock for write (and from 6.4
 * has write-locked each parent VMA it has reached), so a parent thread
 * that touches an arena being shared blocks in the fault until fork is
 * over, then reads the shared page or writes a copy. Each parent thread
 * therefore stops at its first access to an already-shared arena, and the
 * child sees, for every thread, a prefix of that thread's writes in
 * program order (kselftest fork_consistent_snapshot). A page pinned for
 * DMA is copied for the child at fork, so that a write through the pin in
 * flight stays the parent's (if no copy can be had, it is shared; the
 * parent's next write through its PTE then leaves the pinned page). A
 * pipe that vmsplice() filled before the fork reads its page as the slot
 * that holds it last leaves it: the page is written in place once no
 * other arena holds it, as a grant never forked is.
 *
 * A grant is mapped by exactly one mm; grant->nr_maps counts its VMAs
 * there (normally one; two while mremap's refused copy exists). The grant
 * is released when the last of them closes. Splits (partial munmap
 * or mprotect) and mremap are refused; VM_DONTEXPAND stops growth and
 * keeps mlock away (VM_SPECIAL); VM_MAYEXEC is cleared.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "karena_internal.h"

/*
 * Count a refusal to grant (or to grant a fork child's @n arenas) and
 * report it. @h, if not NULL, carries a reference that is dropped here. A
 * refused mmap counts once in denials_*; a fork child's refused grant
 * counts its arenas in fork_copy_failures.
 */
static void karena_deny(struct karena_holder *h, int err,
			enum karena_deny_reason reason, bool fork_copy,
			unsigned long n)
{
	spin_lock(&karena.lock);
	if (fork_copy)
		karena.fork_copy_failures += n;
	else if (err == -EDQUOT)
		karena.denials_quota++;
	else
		karena.denials_nomem++;
	if (h)
		h->denials++;
	spin_unlock(&karena.lock);
	if (reason == KARENA_DENY_NOMEM)
		pr_warn_ratelimited("out of memory for %lu arenas of %s[%d]%s\n",
				    n, current->comm, task_tgid_nr(current),
				    fork_copy ? " (fork copy)" : "");
	karena_notify(KARENA_EVENT_DENY, reason, h);
	karena_holder_put(h);
}

/* The grant is made: record it in @g and the counters. */
static void karena_grant_done(struct karena_grant *g, struct karena_holder *h,
			      struct karena_user *u)
{
	lockdep_assert_held(&karena.lock);
	g->holder = h;
	g->user = u;
	g->nr_maps = 1;
	karena.grants += g->nr_arenas;
	karena.granted_peak = max(karena.granted_peak, karena.granted);
	h->peak = max(h->peak, h->arenas);
}

/* Most arenas a grant takes from the free list in one hold of the lock. */
#define KARENA_TAKE_BATCH	64

/*
 * Fill @g->arenas[*@got ..] from the free list, as far as it goes and at
 * most KARENA_TAKE_BATCH of them.
 * Context: karena.lock held.
 */
static void karena_grant_take_free(struct karena_grant *g, unsigned long *got)
{
	struct karena_arena *arena;
	unsigned int i;

	lockdep_assert_held(&karena.lock);
	for (i = 0; i < KARENA_TAKE_BATCH && *got < g->nr_arenas; i++) {
		arena = karena_arena_take_locked();
		if (!arena)
			return;
		g->arenas[(*got)++] = arena;
	}
}

/*
 * Fill the rest of @g->arenas[]: with new arenas charged to @memcg if it
 * is not NULL, else from the free list while it has arenas, then dirty
 * arenas zeroed here or new ones (karena_arena_take()). Returns 0,
 * -ENOMEM, or -EINTR if the caller was killed meanwhile (a large grant is
 * many arenas); *@got says how many are in place either way.
 */
static int karena_grant_take_rest(struct karena_grant *g, unsigned long *got,
				  struct mem_cgroup *memcg)
{
	struct karena_arena *arena;
	bool flushed = false;
	unsigned long before;

	while (*got < g->nr_arenas) {
		if (fatal_signal_pending(current))
			return -EINTR;
		before = *got;
		if (!memcg) {
			spin_lock(&karena.lock);
			karena_grant_take_free(g, got);
			spin_unlock(&karena.lock);
		}
		if (*got == before) {
			arena = memcg ? karena_arena_alloc_charged(memcg) :
					karena_arena_take(&flushed);
			if (!arena)
				return -ENOMEM;
			g->arenas[(*got)++] = arena;
		}
		cond_resched();
	}
	return 0;
}

/*
 * Uncharge @g from @h and @u (the grant is released, or was never
 * completed). Returns the user to kfree() after unlocking, if this was its
 * last reference; the holder's reference is left for the caller to drop.
 */
static struct karena_user *karena_grant_uncharge_locked(struct karena_grant *g,
							struct karena_holder *h,
							struct karena_user *u)
{
	lockdep_assert_held(&karena.lock);
	karena_uncharge(h, u, g->nr_arenas);
	return karena_user_put_locked(u) ? u : NULL;
}

/*
 * Give back the first @nr arenas of @g (karena_arenas_release(): queued
 * for zeroing, or freed if charged to a memory cgroup) and free @g.
 */
static void karena_grant_free(struct karena_grant *g, unsigned long nr)
{
	karena_arenas_release(g->arenas, nr);
	kvfree(g);
}

/*
 * Charge the @nr_pages of a new grant (as DIV_ROUND_UP(@nr_pages,
 * arena_pages) arenas) to @mm's holder and to current's real uid, and take
 * that many zeroed arenas, or, for a fork child (@parent, the grant its
 * VMA was copied from), hold the parent's arenas (karena_arenas_share();
 * counted in fork_copy_failures when refused). Every refusal is counted
 * and reported; nothing is granted unless everything is.
 *
 * The common case is one hold of karena.lock: the holder and the user
 * exist, and the free list has the arenas (at most KARENA_TAKE_BATCH are
 * taken per hold). karena.lock is dropped to allocate a new holder or
 * user (then looked up again), or to take more arenas (the charge is kept
 * meanwhile, so that limits hold; it is undone, and the arenas taken go
 * back, if the rest cannot be had).
 *
 * Memory cgroups: when current (the grantee, or the forking parent for a
 * fork child: the child starts in its cgroup) is in a memory cgroup that
 * pages can be charged to, every arena of a grant by mmap is made of fresh
 * pages charged to it (karena_arena_alloc_charged()), none taken from the
 * reserve: the reserve's pages are charged to nobody, and a module cannot
 * charge an existing page (see reserve.c). A charge over memory.max is a
 * denial like any other: ENOMEM, counted in denials_nomem, no OOM killer.
 * A fork child's grant takes no page and no arena at fork: its copies on
 * write are charged when it writes (see "Limits at fork" at the top).
 *
 * Orphans: a limit that refuses the grant may count orphaned grants whose
 * outside references are gone since the worker last looked; they are
 * rechecked (released if so) and the grant is tried once more.
 */
static struct karena_grant *karena_grant(struct mm_struct *mm,
					 unsigned long nr_pages,
					 const struct karena_grant *parent)
{
	unsigned long n = DIV_ROUND_UP(nr_pages, karena.arena_pages);
	struct mem_cgroup *memcg = parent ? NULL : karena_grant_memcg();
	bool fork_copy = parent;
	enum karena_deny_reason reason;
	struct karena_holder *h;
	struct karena_user *u, *free_u;
	kuid_t uid = current_uid();
	bool rechecked = false;
	struct karena_grant *g;
	unsigned long got = 0;
	int err;

	/* charged to current's memory cgroup, as its VMAs are */
	g = kvzalloc(struct_size(g, arenas, n),
		     GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
	if (g) {
		INIT_LIST_HEAD(&g->orphan_node);
		g->nr_pages = nr_pages;
		g->nr_arenas = n;
	}

again:
	reason = KARENA_DENY_NOMEM;
	err = -ENOMEM;
	free_u = NULL;
	h = karena_account_get_lock(mm, &uid, &u);
	if (h && u && g) {
		err = karena_charge(h, u, n, &reason);
		if (!err && !memcg && !fork_copy) {
			karena_grant_take_free(g, &got);
			if (got == n)
				karena_grant_done(g, h, u);
		}
	}
	if (err && u && karena_user_put_locked(u))
		free_u = u;
	spin_unlock(&karena.lock);
	kfree(free_u);
	if (h && mm == current->mm)
		karena_holder_identify(h);

	/* a limit may count orphans whose pages were let go since: look */
	if (err && reason != KARENA_DENY_NOMEM && !rechecked &&
	    READ_ONCE(karena.nr_orphans)) {
		rechecked = true;
		if (karena_orphans_recheck()) {
			karena_holder_put(h);
			goto again;
		}
	}
	if (err) {
		mem_cgroup_put(memcg);
		kvfree(g);
		karena_deny(h, err, reason, fork_copy, n);
		return ERR_PTR(err);
	}

	if (fork_copy) {
		karena_arenas_share(g->arenas, parent->arenas, n);
		got = n;
		spin_lock(&karena.lock);
		karena_grant_done(g, h, u);
		spin_unlock(&karena.lock);
	}
	if (got < n) {
		err = karena_grant_take_rest(g, &got, memcg);
		spin_lock(&karena.lock);
		if (!err)
			karena_grant_done(g, h, u);
		else
			free_u = karena_grant_uncharge_locked(g, h, u);
		spin_unlock(&karena.lock);
		if (err) {
			mem_cgroup_put(memcg);
			kfree(free_u);
			karena_grant_free(g, got);
			if (err == -EINTR) {
				karena_holder_put(h);
				return ERR_PTR(err);
			}
			karena_deny(h, err, KARENA_DENY_NOMEM, fork_copy, n);
			return ERR_PTR(err);
		}
	}
	mem_cgroup_put(memcg);

	karena_notify(fork_copy ? KARENA_EVENT_FORK_COPY : KARENA_EVENT_GRANT,
		      KARENA_DENY_NONE, h);
	return g;
}

/**
 * karena_release_unlock() - give back a grant that nothing maps or
 * references any more
 * @g: its last VMA is gone, or it was an orphan whose pages are free
 *
 * Uncharges it, gives its arenas back (karena_arenas_release()), reports
 * the release and drops the holder's reference.
 *
 * Context: called with karena.lock held, which is released here; may sleep.
 */
void karena_release_unlock(struct karena_grant *g)
	__releases(&karena.lock)
{
	struct karena_holder *h = g->holder;
	struct karena_user *u;

	lockdep_assert_held(&karena.lock);
	karena.releases += g->nr_arenas;
	u = karena_grant_uncharge_locked(g, h, g->user);
	spin_unlock(&karena.lock);

	kfree(u);
	karena_grant_free(g, g->nr_arenas);
	karena_notify(KARENA_EVENT_RELEASE, KARENA_DENY_NONE, h);
	karena_holder_put(h);
}

static void karena_vma_set_cow(struct vm_area_struct *vma);
static void karena_vm_close(struct vm_area_struct *vma);
static const struct vm_operations_struct karena_cow_vm_ops;

/*
 * Fork is copying @vma (the child's) from the parent's VMA at the same
 * address: take the parent's PTEs of the grant away before its pages are
 * shared, so that no writable PTE of a shared page is left. A parent
 * thread's next access faults, and the fault waits for the end of fork
 * (dup_mmap() holds the parent's mmap_lock for write and, from 6.4, has
 * write-locked the VMA); then a read maps the shared page read-only and a
 * write gets a copy. This is what write-protecting anonymous PTEs does for
 * anonymous memory; a module has no exported way to write-protect a range.
 */
static bool karena_fork_zap_parent(struct vm_area_struct *vma,
				   struct karena_grant *src)
{
	struct mm_struct *parent = current->mm;
	struct vm_area_struct *pvma;

	/* held by dup_mmap(); mmap_assert_write_locked() uses dump_mm, unexported */
	lockdep_assert_held_write(&parent->mmap_lock);
	pvma = vma_lookup(parent, vma->vm_start);
	if (WARN_ON_ONCE(!pvma || pvma->vm_private_data != src ||
			 !karena_vma_is_grant(pvma)))
		return false;
	karena_zap_range(pvma, pvma->vm_start, pvma->vm_end - pvma->vm_start);
	karena_vma_set_cow(pvma);
	return true;
}

/*
 * The parent has pinned pages at some time (MMF_HAS_PINNED): each arena of
 * the fork child @child that may have a page pinned for DMA is made the
 * child's own now (karena_grant_arena_own()), with a copy of each such
 * page, so that a write through the pin stays the parent's, as anonymous
 * memory does at fork. Without a copy the arena stays shared. The copies
 * are charged to current, the parent: the child starts in its cgroup.
 */
static void karena_fork_copy_pinned(struct karena_grant *child)
{
	struct karena_arena *arena;
	unsigned long i;

	for (i = 0; i < child->nr_arenas; i++) {
		arena = karena_grant_arena_get_lock(child, i);
		if (karena_arena_maybe_pinned(arena))
			arena = karena_grant_arena_own(child, i, arena,
						       current->mm, true);
		if (arena)
			karena_arena_unlock_put(arena);
		cond_resched();
	}
}

/*
 * A new VMA now points at the grant. In the grant's own mm this is
 * mremap's copy (refused right after) or a split (refused before): count
 * it. In another mm it is a fork child: give it a grant of its own of the
 * same size, charged to the child as a grant (the limits hold at fork),
 * which holds the parent's arenas until either side writes (see
 * "Copy on write" at the top), with the parent's PTEs zapped first (see
 * karena_fork_zap_parent()). This cannot fail (vm_ops->open returns
 * void); if the child's grant is refused, the child's VMA points at
 * nothing and faults with SIGBUS (its arenas counted in
 * fork_copy_failures). A VMA that already points at nothing passes that on.
 */
static void karena_vm_open(struct vm_area_struct *vma)
{
	struct karena_grant *src = vma->vm_private_data;
	struct karena_grant *copy;

	if (!src)
		return;

	/* src is mapped by the VMA this one was copied from: holder is stable */
	if (src->holder->mm == vma->vm_mm) {
		spin_lock(&karena.lock);
		src->nr_maps++;
		spin_unlock(&karena.lock);
		return;
	}

	copy = karena_grant(vma->vm_mm, src->nr_pages, src);
	if (IS_ERR(copy)) {
		vma->vm_private_data = NULL;
		return;
	}
	vma->vm_private_data = copy;
	if (!karena_fork_zap_parent(vma, src)) {
		/* nothing can be shared safely: the child gets a SIGBUS */
		karena_vm_close(vma);
		vma->vm_private_data = NULL;
		return;
	}
	karena_vma_set_cow(vma);
	/* as copy_page_range() asks, for anonymous memory */
	if (test_bit(MMF_HAS_PINNED, &current->mm->flags))
		karena_fork_copy_pinned(copy);
}

/*
 * A VMA goes away; the last one of a grant releases it (all its arenas),
 * unless some of its pages are still referenced from elsewhere (a pipe, a
 * pin): then the whole grant stays charged as an orphan until they are
 * let go (orphan.c). Pages that other arenas hold too (shared since a
 * fork) are theirs from now on: karena_grant_pinned() lets go of them.
 */
static void karena_vm_close(struct vm_area_struct *vma)
{
	struct karena_grant *g = vma->vm_private_data;
	unsigned int pinned;
	bool last;

	if (!g)
		return;

	spin_lock(&karena.lock);
	last = !--g->nr_maps;
	spin_unlock(&karena.lock);
	if (!last)
		return;

	/* no VMA maps it now: only outside references remain to count */
	pinned = karena_grant_pinned(g);
	spin_lock(&karena.lock);
	if (pinned) {
		karena_orphan_locked(g, pinned);
		spin_unlock(&karena.lock);
		return;
	}
	karena_release_unlock(g);
}

/* Count a fault refused for want of a page; the fault is a SIGBUS. */
static vm_fault_t karena_fault_refused(u64 *counter)
{
	spin_lock(&karena.lock);
	(*counter)++;
	spin_unlock(&karena.lock);
	/* a refusal, like a denied grant: never the OOM killer */
	return VM_FAULT_SIGBUS;
}

/*
 * Is @page still in slot @idx of @arena, and @arena still arena @ai of @g,
 * as under the arena's lock? Asked under the page lock before the page is
 * mapped: a slot that changed meanwhile (KARENA_IOC_RETURN_PAGES, a copy
 * on write, or the grant making a shared arena its own) means retry. A
 * fork cannot run meanwhile (mmap_lock).
 */
static bool karena_slot_holds(struct karena_grant *g, unsigned long ai,
			      struct karena_arena *arena, pgoff_t idx,
			      struct page *page)
{
	return READ_ONCE(g->arenas[ai]) == arena &&
	       READ_ONCE(arena->pages[idx]) == page;
}

/*
 * Map the grant's page at vmf->pgoff, refilling a slot that
 * KARENA_IOC_RETURN_PAGES emptied (or one left empty when the grant made
 * a shared arena its own) with a fresh zeroed page, allocated with the
 * grant's policy (karena_page_refill(): no OOM killer, the memory
 * headroom, the mm's memory cgroup); when none can be had the fault is a
 * SIGBUS, counted in fault_failures. A refill or a write in an arena that
 * other grants hold too first makes the arena the grant's own
 * (karena_grant_arena_own(); a SIGBUS counted in fork_copy_failures if it
 * cannot be had). A write fault on a page that other arenas hold too
 * first makes it the writer's own (karena_page_unshare_locked(); a copy
 * that cannot be had is a SIGBUS counted in fork_copy_failures); in a
 * forked grant every other fault maps its page read-only (write-notify).
 * The page is returned locked (VM_FAULT_LOCKED) after checking that it is
 * still in its slot.
 * KARENA_IOC_RETURN_PAGES holds arena->lock and the page locks across its
 * zap and empties only slots whose page has no reference but the slot's
 * (or that other arenas hold too): a fault that took its reference before
 * keeps the page in its slot (and maps it once the page lock is free), one
 * that comes later waits for arena->lock and finds the slot as the ioctl
 * left it. The check of the slot after lock_page() stays as a guard: a
 * slot that changed (an ioctl, or a copy on write by another thread)
 * means retry (VM_FAULT_NOPAGE).
 */
static vm_fault_t karena_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct karena_grant *g = vma->vm_private_data;
	struct karena_arena *arena;
	pgoff_t idx = vmf->pgoff;
	unsigned long ai;
	struct page *page;
	bool copied, forked, stale;
	vm_fault_t refused;

	/* the fork copy failed */
	if (!g)
		return VM_FAULT_SIGBUS;
	if (idx >= g->nr_pages)
		return VM_FAULT_SIGBUS;
	if (vma->vm_mm == current->mm)
		karena_holder_identify(g->holder);
	/* from here on idx is the page's slot in arena ai */
	ai = idx >> karena.arena_order;
	idx &= karena.arena_pages - 1;

	/* only a grant forked may hold shared arenas: see "Copy on write" */
	forked = vma->vm_ops == &karena_cow_vm_ops;
	if (forked) {
		arena = karena_grant_arena_get_lock(g, ai);
	} else {
		arena = g->arenas[ai];
		mutex_lock(&arena->lock);
	}
	page = arena->pages[idx];
	/* a slot to fill or a page to write: the arena must be the grant's */
	if (forked && (!page || (vmf->flags & FAULT_FLAG_WRITE))) {
		arena = karena_grant_arena_own(g, ai, arena, vma->vm_mm,
					       false);
		if (!arena)
			return karena_fault_refused(&karena.fork_copy_failures);
		page = arena->pages[idx];
	}
	if (!page) {
		page = karena_page_refill(vma->vm_mm);
		if (!page) {
			refused = karena_fault_refused(&karena.fault_failures);
			goto unlock;
		}
		WRITE_ONCE(arena->pages[idx], page);
	} else if (vmf->flags & FAULT_FLAG_WRITE) {
		page = karena_page_unshare_locked(arena, idx, vma->vm_mm,
						  &copied);
		if (!page) {
			refused = karena_fault_refused(&karena.fork_copy_failures);
			goto unlock;
		}
		if (copied)
			karena_count_copies(1);
	}
	/* before any PTE or GUP reference can let the page be written */
	if (!test_bit(idx, arena->touched))
		__set_bit(idx, arena->touched);
	get_page(page);
	mutex_unlock(&arena->lock);

	lock_page(page);
	stale = !karena_slot_holds(g, ai, arena, idx, page);
	if (forked)
		karena_arena_put(arena);
	if (stale) {
		unlock_page(page);
		put_page(page);
		return VM_FAULT_NOPAGE;
	}
	vmf->page = page;
	return VM_FAULT_LOCKED;

unlock:
	mutex_unlock(&arena->lock);
	if (forked)
		karena_arena_put(arena);
	return refused;
}

/*
 * Make slot @idx of @arena, whose shared page vmf->page is mapped
 * read-only at vmf->address, the writer's own (a copy in the slot), and
 * unmap the shared page there. The page lock orders this against a fault
 * that found the shared page in the slot and is about to map it
 * (karena_vm_fault() checks the slot under the page lock, and the core
 * maps the page before unlocking it): that mapping is either made before
 * the zap, which removes it, or finds the copy in the slot and retries.
 * The zap comes before the slot lets go of the shared page, so that this
 * mm no longer maps it when another arena may become its only holder.
 * Returns the slot's page now, or NULL if no copy could be had.
 *
 * Context: @arena->lock held; may sleep.
 */
static struct page *karena_vm_unshare_mapped(struct vm_fault *vmf,
					     struct karena_arena *arena,
					     unsigned int idx)
{
	struct page *shared = vmf->page, *page;
	bool copied;

	lock_page(shared);
	karena_zap_range(vmf->vma, vmf->address & PAGE_MASK, PAGE_SIZE);
	page = karena_page_unshare_locked(arena, idx, vmf->vma->vm_mm, &copied);
	unlock_page(shared);
	if (copied)
		karena_count_copies(1);
	return page;
}

/*
 * A write to a page of a forked grant that is mapped read-only: every
 * page is, until written (the VMA has write-notify because this handler
 * exists). The slot's own page, which no other arena holds: the write
 * goes on, and the page is returned locked, as karena_vm_fault() returns
 * it. A shared page is made the slot's own here
 * (karena_vm_unshare_mapped(): its PTE zapped, a copy put in the slot)
 * and the fault retried; a page no longer in its slot (a copy on write
 * or KARENA_IOC_RETURN_PAGES replaced it) has its PTE zapped and the
 * fault retried. Whatever fault maps the address next maps the slot's
 * page as it is now. The core cannot be asked to map another page from
 * here: ->page_mkwrite only says yes or no for the page that is mapped.
 *
 * The copy is made here, not left to the retried fault, because a read
 * can map the shared page again between the zap and the retry (another
 * thread's, or a read-modify-write instruction's own read under QEMU
 * TCG), and the write would then zap and retry forever.
 */
static vm_fault_t karena_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct karena_grant *g = vma->vm_private_data;
	struct page *page = vmf->page;
	struct karena_arena *arena;
	pgoff_t idx = vmf->pgoff;
	struct page *copy;
	unsigned long ai;
	bool in_slot;

	/* only karena_vm_fault() maps pages, after these very checks */
	if (WARN_ON_ONCE(!g || idx >= g->nr_pages))
		return VM_FAULT_SIGBUS;
	ai = idx >> karena.arena_order;
	idx &= karena.arena_pages - 1;

	arena = karena_grant_arena_get_lock(g, ai);
	arena = karena_grant_arena_own(g, ai, arena, vma->vm_mm, false);
	if (!arena)
		return karena_fault_refused(&karena.fork_copy_failures);
	in_slot = arena->pages[idx] == page;
	if (in_slot && karena_page_shared(page)) {
		copy = karena_vm_unshare_mapped(vmf, arena, idx);
		karena_arena_unlock_put(arena);
		if (!copy)
			return karena_fault_refused(&karena.fork_copy_failures);
		return VM_FAULT_NOPAGE;
	}
	mutex_unlock(&arena->lock);
	if (in_slot) {
		/* the slot's own page: as in karena_vm_fault() */
		lock_page(page);
		if (karena_slot_holds(g, ai, arena, idx, page)) {
			karena_arena_put(arena);
			return VM_FAULT_LOCKED;
		}
		unlock_page(page);
	}
	karena_arena_put(arena);
	karena_zap_range(vma, vmf->address & PAGE_MASK, PAGE_SIZE);
	return VM_FAULT_NOPAGE;
}

/* A split would leave part of a grant in a VMA of its own. */
static int karena_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

/* A grant stays where it was granted. */
static int karena_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

/* A grant that was never forked: its pages are all its own. */
static const struct vm_operations_struct karena_vm_ops = {
	.open		= karena_vm_open,
	.close		= karena_vm_close,
	.may_split	= karena_vm_may_split,
	.mremap		= karena_vm_mremap,
	.fault		= karena_vm_fault,
};

/* A grant that was forked, or a fork child's: write-notify, see the top. */
static const struct vm_operations_struct karena_cow_vm_ops = {
	.open		= karena_vm_open,
	.close		= karena_vm_close,
	.may_split	= karena_vm_may_split,
	.mremap		= karena_vm_mremap,
	.fault		= karena_vm_fault,
	.page_mkwrite	= karena_vm_page_mkwrite,
};

/**
 * karena_vma_is_grant() - does @vma map a grant of this module?
 * @vma: any VMA
 *
 * Return: true for both kinds (karena_vm_ops and karena_cow_vm_ops).
 */
bool karena_vma_is_grant(const struct vm_area_struct *vma)
{
	return vma->vm_ops == &karena_vm_ops ||
	       vma->vm_ops == &karena_cow_vm_ops;
}

/*
 * From now on @vma's pages may be shared: give it ->page_mkwrite and the
 * read-only page protection that write-notify means, as
 * vma_set_page_prot() (not exported) computes it for a VMA that wants
 * write-notify (the module sets no caching bits for pgprot_modify() to
 * keep, so vm_get_page_prot() of the flags is the whole of it).
 * mprotect() keeps it so (vma_wants_writenotify() sees the handler).
 * Context: @vma write-locked (dup_mmap() holds the parent's mmap_lock for
 * write and, from 6.4, has write-locked the VMA; the child's is not
 * visible yet), so no fault uses it meanwhile.
 */
static void karena_vma_set_cow(struct vm_area_struct *vma)
{
	vma->vm_ops = &karena_cow_vm_ops;
	WRITE_ONCE(vma->vm_page_prot,
		   vm_get_page_prot(vma->vm_flags & ~VM_SHARED));
}

/*
 * The arena size of @kf's grants, now: the size a KARENA_IOC_SET_ARENA_SIZE
 * may still change. get_unmapped_area only places the mapping; karena_mmap()
 * reads the size again, for good, with karena_file_grant_begin().
 */
static unsigned long karena_file_arena_size(struct karena_file *kf)
{
	unsigned long size;

	spin_lock(&karena.lock);
	size = kf->arena_size;
	spin_unlock(&karena.lock);
	return size;
}

/*
 * Is @len a whole number n of arenas of @size, 1 <= n <=
 * KARENA_GRANT_MAX_ARENAS? @size is a power of two.
 */
static bool karena_grant_len_ok(unsigned long len, unsigned long size)
{
	return len && IS_ALIGNED(len, size) &&
	       len / size <= KARENA_GRANT_MAX_ARENAS;
}

/**
 * karena_get_unmapped_area() - an arena-aligned address for a grant
 * @file: the /dev/karena file
 * @addr: hint, or the address for MAP_FIXED
 * @len: n arenas of the file's size, 1 <= n <= KARENA_GRANT_MAX_ARENAS
 * @pgoff: must be 0
 * @flags: MAP_* flags
 *
 * Asks the mm's allocator for len + the file's arena size and takes the
 * highest aligned address inside that: the mm hands out address space
 * top-down, so the next grant's range ends where this one starts and
 * lands right below it, arenas side by side rather than an arena's size
 * apart (the library's pool tables take their colour from the arena's
 * number: lib/src/arena.h). A MAP_FIXED address must be aligned already.
 *
 * Return: the address, or a negative errno.
 */
unsigned long karena_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags)
{
	unsigned long size = karena_file_arena_size(file->private_data);
	unsigned long span, ret;

	if (!karena_grant_len_ok(len, size) || pgoff)
		return -EINVAL;
	if (flags & MAP_FIXED)
		return IS_ALIGNED(addr, size) ? addr : -EINVAL;

	if (addr && IS_ALIGNED(addr, size)) {
		ret = karena_mm_get_unmapped_area(current->mm, addr, len, flags);
		if (ret == addr)
			return ret;
	}
	if (check_add_overflow(len, size, &span))
		return -ENOMEM;
	ret = karena_mm_get_unmapped_area(current->mm, 0, span, flags);
	if (IS_ERR_VALUE(ret))
		return ret;
	return ALIGN_DOWN(ret + span - len, size);
}

/*
 * An mmap of @kf starts: its arena size is read for good, and cannot
 * change until karena_file_grant_end() (nor after it, once a grant was
 * made).
 */
static unsigned long karena_file_grant_begin(struct karena_file *kf)
{
	unsigned long size;

	spin_lock(&karena.lock);
	size = kf->arena_size;
	kf->grants_in_flight++;
	spin_unlock(&karena.lock);
	return size;
}

static void karena_file_grant_end(struct karena_file *kf, bool granted)
{
	spin_lock(&karena.lock);
	kf->grants_in_flight--;
	if (granted)
		kf->granted = true;
	spin_unlock(&karena.lock);
}

/* The checks of karena_mmap(), for arenas of @size bytes. */
static int karena_mmap_check(struct vm_area_struct *vma, unsigned long size)
{
	/* one mmap is one grant of a whole number of arenas */
	if (!karena_grant_len_ok(vma->vm_end - vma->vm_start, size))
		return -EINVAL;
	/* the device has no offsets */
	if (vma->vm_pgoff)
		return -EINVAL;
	/* MAP_PRIVATE would make copy-on-write pages we do not account */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/* arenas hold data, never code */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* karena_get_unmapped_area() placed it; say so if someone did not */
	if (!IS_ALIGNED(vma->vm_start, size))
		return -EINVAL;
	return 0;
}

/**
 * karena_mmap() - grant n arenas of the file's arena size
 * @file: the /dev/karena file
 * @vma: the new mapping, n arenas long
 *
 * Return: 0; -EINVAL for a bad shape; -EPERM for PROT_EXEC; -EDQUOT for a
 * process or uid limit; -ENOMEM for max_arenas or no memory (all n
 * arenas or none are granted).
 */
int karena_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct karena_file *kf = file->private_data;
	struct karena_grant *g;
	unsigned long size;
	int ret;

	size = karena_file_grant_begin(kf);
	ret = karena_mmap_check(vma, size);
	if (ret) {
		karena_file_grant_end(kf, false);
		return ret;
	}

	g = karena_grant(vma->vm_mm, vma_pages(vma), NULL);
	karena_file_grant_end(kf, !IS_ERR(g));
	if (IS_ERR(g))
		return PTR_ERR(g);

	karena_vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);
	vma->vm_ops = &karena_vm_ops;
	vma->vm_private_data = g;
	return 0;
}
