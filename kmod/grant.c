// SPDX-License-Identifier: GPL-2.0
/*
 * Granting arenas: the mmap handler, the arena-aligned
 * get_unmapped_area, and the VMA operations (fault, open for fork and
 * mremap copies, close for release).
 *
 * What userspace does:
 *
 *	fd = open("/dev/karena", O_RDWR);
 *	p = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *	... p is arena_size-aligned and reads as zero ...
 *	munmap(p, arena_size);		(or exit: the arena goes back)
 *
 * Pages reach userspace only through karena_vm_fault(), which returns the
 * arena's own page with a reference (vmf->page). The VMA is neither
 * VM_PFNMAP nor VM_MIXEDMAP and never gets an anon_vma, so fork does not
 * copy its page tables: the child's VMA is opened (karena_vm_open()), gets
 * a private copy of the arena charged to the child, and faults into that.
 *
 * Fork guarantee: the copy is a snapshot, as with anonymous memory. Before
 * an arena is copied, the parent's PTEs of it are zapped; dup_mmap() holds
 * the parent's mmap_lock for write (and from 6.4 has write-locked each
 * parent VMA it has reached), so a parent thread that touches an arena
 * whose copy is made blocks in the fault until fork is over. Each parent
 * thread therefore stops at its first access to an already-copied arena,
 * and the child sees, for every thread, a prefix of that thread's writes
 * in program order (kselftest fork_consistent_snapshot). Not covered, as
 * for anonymous memory without its pinned-page copy: a write through a GUP
 * pin (O_DIRECT read into an arena, RDMA) in flight during fork.
 *
 * A granted arena is mapped by exactly one mm; arena->nr_maps counts its
 * VMAs there (normally one; two while mremap's refused copy exists). The
 * arena is released when the last of them closes. Splits (partial munmap
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
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>

#include "compat.h"
#include "karena_internal.h"

/*
 * Count a refusal to grant (or to copy at fork) and report it. @h, if not
 * NULL, carries a reference that is dropped here.
 */
static void karena_deny(struct karena_holder *h, int err,
			enum karena_deny_reason reason, bool fork_copy)
{
	spin_lock(&karena.lock);
	if (fork_copy)
		karena.fork_copy_failures++;
	else if (err == -EDQUOT)
		karena.denials_quota++;
	else
		karena.denials_nomem++;
	if (h)
		h->denials++;
	spin_unlock(&karena.lock);
	if (reason == KARENA_DENY_NOMEM)
		pr_warn_ratelimited("out of memory for an arena of %s[%d]%s\n",
				    current->comm, task_tgid_nr(current),
				    fork_copy ? " (fork copy)" : "");
	karena_notify(KARENA_EVENT_DENY, reason, h);
	karena_holder_put(h);
}

/* The grant is made: record it in @arena and the counters. */
static void karena_grant_done(struct karena_arena *arena,
			      struct karena_holder *h, struct karena_user *u,
			      bool fork_copy)
{
	lockdep_assert_held(&karena.lock);
	arena->holder = h;
	arena->user = u;
	arena->nr_maps = 1;
	karena.grants++;
	if (fork_copy)
		karena.fork_copies++;
	karena.granted_peak = max(karena.granted_peak, karena.granted);
	h->peak = max(h->peak, h->arenas);
}

/*
 * Charge one arena to @mm's holder and to current's real uid, and take a
 * zeroed arena. @fork_copy: the arena is the copy made for a fork child
 * (counted in fork_copies, or in fork_copy_failures when refused).
 * Every refusal is counted and reported.
 *
 * The common case is one hold of karena.lock: the holder and the user
 * exist, and the free list has an arena. karena.lock is dropped to
 * allocate a new holder or user (then looked up again), or an arena when
 * the free list is empty (the charge is kept meanwhile, so that limits
 * hold; it is undone if the allocation fails).
 *
 * Memory cgroups: when current (the grantee, or the forking parent for a
 * fork copy: the child starts in its cgroup) is in a memory cgroup that
 * pages can be charged to, the arena is made of fresh pages charged to it
 * (karena_arena_alloc_charged()), not taken from the reserve: the
 * reserve's pages are charged to nobody, and a module cannot charge an
 * existing page (see reserve.c). A charge over memory.max is a denial
 * like any other: ENOMEM, counted in denials_nomem, no OOM killer.
 */
static struct karena_arena *karena_grant(struct mm_struct *mm, bool fork_copy)
{
	struct mem_cgroup *memcg = karena_grant_memcg();
	enum karena_deny_reason reason;
	struct karena_holder *h, *new_h = NULL;
	struct karena_user *u, *new_u = NULL, *free_u = NULL;
	struct karena_arena *arena = NULL;
	kuid_t uid = current_uid();
	bool rechecked = false;
	int err;

again:
	reason = KARENA_DENY_NOMEM;
	err = -ENOMEM;
	spin_lock(&karena.lock);
	h = karena_holder_lookup(mm);
	u = karena_user_lookup(uid);
	if (unlikely(!h || !u)) {
		spin_unlock(&karena.lock);
		if (!h)
			new_h = karena_holder_new(mm);
		if (!u)
			new_u = karena_user_new(uid);
		spin_lock(&karena.lock);
		h = karena_holder_lookup(mm);
		if (!h && new_h)
			h = karena_holder_add(&new_h);
		u = karena_user_lookup(uid);
		/* a user is only added with the reference taken below */
		if (!u && new_u && h)
			u = karena_user_add(&new_u);
	}
	if (h)
		h->refs++;
	if (h && u) {
		u->refs++;
		err = karena_charge(h, u, &reason);
		if (err) {
			if (karena_user_put_locked(u))
				free_u = u;
		} else if (!memcg) {
			arena = karena_arena_take_locked();
			if (arena)
				karena_grant_done(arena, h, u, fork_copy);
		}
	}
	spin_unlock(&karena.lock);
	karena_holder_free_new(new_h);
	kfree(new_u);
	kfree(free_u);
	if (h && mm == current->mm)
		karena_holder_identify(h);

	/* a limit may count orphans whose pages were let go since: look */
	if (err && reason != KARENA_DENY_NOMEM && !rechecked &&
	    READ_ONCE(karena.nr_orphans)) {
		rechecked = true;
		if (karena_orphans_recheck()) {
			karena_holder_put(h);
			new_h = NULL;
			new_u = NULL;
			free_u = NULL;
			goto again;
		}
	}
	if (err) {
		mem_cgroup_put(memcg);
		karena_deny(h, err, reason, fork_copy);
		return ERR_PTR(err);
	}

	if (!arena) {
		/* a charged arena takes over the reference to memcg */
		arena = memcg ? karena_arena_alloc_charged(memcg) :
				karena_arena_take();
		spin_lock(&karena.lock);
		if (arena) {
			karena_grant_done(arena, h, u, fork_copy);
		} else {
			karena_uncharge(h, u);
			if (karena_user_put_locked(u))
				free_u = u;
		}
		spin_unlock(&karena.lock);
		if (!arena) {
			kfree(free_u);
			mem_cgroup_put(memcg);
			karena_deny(h, -ENOMEM, KARENA_DENY_NOMEM, fork_copy);
			return ERR_PTR(-ENOMEM);
		}
	}

	karena_notify(fork_copy ? KARENA_EVENT_FORK_COPY : KARENA_EVENT_GRANT,
		      KARENA_DENY_NONE, h);
	return arena;
}

/*
 * Uncharge @arena and queue it for zeroing. @drop is set to @arena if the
 * caller must karena_arena_free() it after unlocking (its pages are charged
 * to a memory cgroup: they go back now, uncharged, never to the reserve),
 * else to NULL. Returns the user to kfree() after unlocking, if this was
 * its last reference; the holder's reference is left to the caller.
 */
static struct karena_user *karena_release_locked(struct karena_arena *arena,
						 struct karena_arena **drop)
{
	struct karena_holder *h = arena->holder;
	struct karena_user *u = arena->user;

	lockdep_assert_held(&karena.lock);
	karena_uncharge(h, u);
	karena.releases++;
	arena->holder = NULL;
	arena->user = NULL;
	*drop = karena_arena_release_locked(arena);
	return karena_user_put_locked(u) ? u : NULL;
}

/**
 * karena_release_unlock() - give back an arena that nothing maps or
 * references any more
 * @arena: its last VMA is gone, or it was an orphan whose pages are free
 *
 * Uncharges it, queues it for zeroing (or frees it, if charged to a memory
 * cgroup), reports the release and drops the holder's reference.
 *
 * Context: called with karena.lock held, which is released here; may sleep.
 */
void karena_release_unlock(struct karena_arena *arena)
	__releases(&karena.lock)
{
	struct karena_holder *h = arena->holder;
	struct karena_arena *drop;
	struct karena_user *u;

	u = karena_release_locked(arena, &drop);
	spin_unlock(&karena.lock);

	karena_arena_free(drop);
	kfree(u);
	karena_notify(KARENA_EVENT_RELEASE, KARENA_DENY_NONE, h);
	karena_holder_put(h);
}

/*
 * Copy @src's contents into the fresh (all zero, all present) @dst, which
 * no VMA maps yet. Only @src's touched pages can be non-zero (reserve.c);
 * each one copied is touched in @dst too, since the kernel wrote it.
 */
static void karena_arena_copy(struct karena_arena *dst,
			      struct karena_arena *src)
{
	unsigned int i;

	mutex_lock(&src->lock);
	for_each_set_bit(i, src->touched, karena.arena_pages) {
		/* an empty slot reads as zero, as dst's page already does */
		if (!src->pages[i])
			continue;
		copy_highpage(dst->pages[i], src->pages[i]);
		__set_bit(i, dst->touched);
		cond_resched();
	}
	mutex_unlock(&src->lock);
}

/*
 * Fork is copying @vma (the child's) from the parent's VMA at the same
 * address: take the parent's PTEs of the arena away before the copy is
 * made, so that a parent thread cannot change it behind the copy. That
 * thread's next access faults, and the fault waits for the end of fork
 * (dup_mmap() holds the parent's mmap_lock for write and, from 6.4, has
 * write-locked the VMA); then it maps the same page again. This is what
 * write-protecting anonymous PTEs does for anonymous memory.
 */
static void karena_fork_zap_parent(struct vm_area_struct *vma,
				   struct karena_arena *src)
{
	struct mm_struct *parent = current->mm;
	struct vm_area_struct *pvma;

	/* held by dup_mmap(); mmap_assert_write_locked() uses dump_mm, unexported */
	lockdep_assert_held_write(&parent->mmap_lock);
	pvma = vma_lookup(parent, vma->vm_start);
	if (WARN_ON_ONCE(!pvma || pvma->vm_private_data != src ||
			 pvma->vm_ops != &karena_vm_ops))
		return;
	karena_zap_range(pvma, pvma->vm_start, pvma->vm_end - pvma->vm_start);
}

/*
 * A new VMA now points at the arena. In the arena's own mm this is mremap's
 * copy (refused right after) or a split (refused before): count it. In
 * another mm it is a fork child: give the child its own copy, a snapshot
 * taken with the parent's PTEs zapped (see karena_fork_zap_parent()). This
 * cannot fail; if the copy cannot be made, the child's VMA points at
 * nothing and faults with SIGBUS (counted in fork_copy_failures). A VMA
 * that already points at nothing passes that on.
 */
static void karena_vm_open(struct vm_area_struct *vma)
{
	struct karena_arena *src = vma->vm_private_data;
	struct karena_arena *copy;

	if (!src)
		return;

	/* src is mapped by the VMA this one was copied from: holder is stable */
	if (src->holder->mm == vma->vm_mm) {
		spin_lock(&karena.lock);
		src->nr_maps++;
		spin_unlock(&karena.lock);
		return;
	}

	copy = karena_grant(vma->vm_mm, true);
	if (IS_ERR(copy)) {
		vma->vm_private_data = NULL;
		return;
	}
	karena_fork_zap_parent(vma, src);
	karena_arena_copy(copy, src);
	vma->vm_private_data = copy;
}

/*
 * A VMA goes away; the last one of an arena releases it, unless some of
 * its pages are still referenced from elsewhere (a pipe, a pin): then the
 * arena stays charged as an orphan until they are let go (orphan.c).
 */
static void karena_vm_close(struct vm_area_struct *vma)
{
	struct karena_arena *arena = vma->vm_private_data;
	unsigned int pinned;
	bool last;

	if (!arena)
		return;

	spin_lock(&karena.lock);
	last = !--arena->nr_maps;
	spin_unlock(&karena.lock);
	if (!last)
		return;

	/* no VMA maps it now: only outside references remain to count */
	pinned = karena_arena_pinned(arena);
	spin_lock(&karena.lock);
	if (pinned) {
		karena_orphan_locked(arena, pinned);
		spin_unlock(&karena.lock);
		return;
	}
	karena_release_unlock(arena);
}

/*
 * Map the arena's page at vmf->pgoff, refilling a slot that
 * KARENA_IOC_RETURN_PAGES emptied with a fresh zeroed page, allocated with
 * the grant's policy (karena_page_refill(): no OOM killer, the memory
 * headroom, the mm's memory cgroup); when none can be had the fault is a
 * SIGBUS, counted in fault_failures. The page is returned locked
 * (VM_FAULT_LOCKED) after checking that it is still in its slot.
 * KARENA_IOC_RETURN_PAGES holds arena->lock and the page locks across its
 * zap and empties only slots whose page has no reference but the slot's:
 * a fault that took its reference before keeps the page in its slot (and
 * maps it once the page lock is free), one that comes later waits for
 * arena->lock and finds the slot as the ioctl left it. The check of the
 * slot after lock_page() stays as a guard: a slot that changed means
 * retry (VM_FAULT_NOPAGE).
 */
static vm_fault_t karena_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct karena_arena *arena = vma->vm_private_data;
	pgoff_t idx = vmf->pgoff;
	struct page *page;

	/* the fork copy failed */
	if (!arena)
		return VM_FAULT_SIGBUS;
	if (idx >= karena.arena_pages)
		return VM_FAULT_SIGBUS;
	if (vma->vm_mm == current->mm)
		karena_holder_identify(arena->holder);

	mutex_lock(&arena->lock);
	page = arena->pages[idx];
	if (!page) {
		page = karena_page_refill(vma->vm_mm);
		if (!page) {
			mutex_unlock(&arena->lock);
			spin_lock(&karena.lock);
			karena.fault_failures++;
			spin_unlock(&karena.lock);
			/* a refusal, like a denied grant: never the OOM killer */
			return VM_FAULT_SIGBUS;
		}
		WRITE_ONCE(arena->pages[idx], page);
	}
	/* before any PTE or GUP reference can let the page be written */
	if (!test_bit(idx, arena->touched))
		__set_bit(idx, arena->touched);
	get_page(page);
	mutex_unlock(&arena->lock);

	lock_page(page);
	if (READ_ONCE(arena->pages[idx]) != page) {
		unlock_page(page);
		put_page(page);
		return VM_FAULT_NOPAGE;
	}
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/* A split would leave part of an arena in a VMA of its own. */
static int karena_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

/* An arena stays where it was granted. */
static int karena_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

const struct vm_operations_struct karena_vm_ops = {
	.open		= karena_vm_open,
	.close		= karena_vm_close,
	.may_split	= karena_vm_may_split,
	.mremap		= karena_vm_mremap,
	.fault		= karena_vm_fault,
};

/**
 * karena_get_unmapped_area() - an arena_size-aligned address for a grant
 * @file: the /dev/karena file
 * @addr: hint, or the address for MAP_FIXED
 * @len: must be arena_size
 * @pgoff: must be 0
 * @flags: MAP_* flags
 *
 * Asks the mm's allocator for len + arena_size bytes and aligns up inside
 * them. A MAP_FIXED address must be aligned already.
 *
 * Return: the address, or a negative errno.
 */
unsigned long karena_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags)
{
	unsigned long size = karena.arena_size;
	unsigned long ret;

	if (len != size || pgoff)
		return -EINVAL;
	if (flags & MAP_FIXED)
		return IS_ALIGNED(addr, size) ? addr : -EINVAL;

	if (addr && IS_ALIGNED(addr, size)) {
		ret = karena_mm_get_unmapped_area(current->mm, addr, len, flags);
		if (ret == addr)
			return ret;
	}
	ret = karena_mm_get_unmapped_area(current->mm, 0, len + size, flags);
	if (IS_ERR_VALUE(ret))
		return ret;
	return ALIGN(ret, size);
}

/**
 * karena_mmap() - grant one arena
 * @file: the /dev/karena file
 * @vma: the new mapping
 *
 * Return: 0; -EINVAL for a bad shape; -EPERM for PROT_EXEC; -EDQUOT for a
 * process or uid limit; -ENOMEM for max_arenas or no memory.
 */
int karena_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = karena.arena_size;
	struct karena_arena *arena;

	/* one mmap is one whole arena */
	if (vma->vm_end - vma->vm_start != size)
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

	arena = karena_grant(vma->vm_mm, false);
	if (IS_ERR(arena))
		return PTR_ERR(arena);

	karena_vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);
	vma->vm_ops = &karena_vm_ops;
	vma->vm_private_data = arena;
	return 0;
}
