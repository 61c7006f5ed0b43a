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
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>

#include "compat.h"
#include "karena_internal.h"

/*
 * Charge one arena to @mm's holder and to current's real uid, and take a
 * zeroed arena. @fork_copy: the arena is the copy made for a fork child
 * (counted in fork_copies, or in fork_copy_failures when refused).
 * Every refusal is counted and reported.
 */
static struct karena_arena *karena_grant(struct mm_struct *mm, bool fork_copy)
{
	enum karena_deny_reason reason = KARENA_DENY_NOMEM;
	struct karena_arena *arena = NULL;
	struct karena_holder *h;
	struct karena_user *u = NULL;
	int err = -ENOMEM;

	h = karena_holder_get(mm);
	if (h)
		u = karena_user_get(current_uid());

	if (h && u) {
		spin_lock(&karena.lock);
		err = karena_charge(h, u, &reason);
		spin_unlock(&karena.lock);
	}
	if (!err) {
		arena = karena_arena_take();
		if (!arena) {
			err = -ENOMEM;
			reason = KARENA_DENY_NOMEM;
			spin_lock(&karena.lock);
			karena_uncharge(h, u);
			spin_unlock(&karena.lock);
		}
	}

	if (err) {
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
		karena_user_put(u);
		karena_holder_put(h);
		return ERR_PTR(err);
	}

	spin_lock(&karena.lock);
	arena->holder = h;
	arena->user = u;
	arena->nr_maps = 1;
	karena.grants++;
	if (fork_copy)
		karena.fork_copies++;
	karena.granted_peak = max(karena.granted_peak, karena.granted);
	h->peak = max(h->peak, h->arenas);
	spin_unlock(&karena.lock);

	karena_notify(fork_copy ? KARENA_EVENT_FORK_COPY : KARENA_EVENT_GRANT,
		      KARENA_DENY_NONE, h);
	return arena;
}

/* The last VMA of @arena is gone: uncharge it and queue it for zeroing. */
static void karena_release(struct karena_arena *arena)
{
	struct karena_holder *h = arena->holder;
	struct karena_user *u = arena->user;

	spin_lock(&karena.lock);
	karena_uncharge(h, u);
	karena.releases++;
	arena->holder = NULL;
	arena->user = NULL;
	spin_unlock(&karena.lock);

	karena_notify(KARENA_EVENT_RELEASE, KARENA_DENY_NONE, h);
	karena_arena_release(arena);
	karena_user_put(u);
	karena_holder_put(h);
}

/* Copy @src's contents into the fresh (all zero, all present) @dst. */
static void karena_arena_copy(struct karena_arena *dst,
			      struct karena_arena *src)
{
	unsigned int i;

	mutex_lock(&src->lock);
	for (i = 0; i < karena.arena_pages; i++) {
		/* an empty slot reads as zero, as dst's page already does */
		if (src->pages[i])
			copy_highpage(dst->pages[i], src->pages[i]);
		if (!(i & 63))
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

/* A VMA goes away; the last one of an arena releases it. */
static void karena_vm_close(struct vm_area_struct *vma)
{
	struct karena_arena *arena = vma->vm_private_data;
	bool last;

	if (!arena)
		return;

	spin_lock(&karena.lock);
	last = --arena->nr_maps == 0;
	spin_unlock(&karena.lock);
	if (last)
		karena_release(arena);
}

/*
 * Map the arena's page at vmf->pgoff, refilling a slot that
 * KARENA_IOC_RETURN_PAGES emptied with a fresh zeroed page. The page is
 * returned locked (VM_FAULT_LOCKED) after checking that it is still in its
 * slot: KARENA_IOC_RETURN_PAGES empties the slot first and then locks the
 * page before zapping, so either we see the empty slot and retry, or our
 * PTE is in place before the zap removes it.
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
		page = alloc_page(GFP_HIGHUSER | __GFP_ZERO);
		if (!page) {
			mutex_unlock(&arena->lock);
			spin_lock(&karena.lock);
			karena.fault_failures++;
			spin_unlock(&karena.lock);
			return VM_FAULT_OOM;
		}
		WRITE_ONCE(arena->pages[idx], page);
	}
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
