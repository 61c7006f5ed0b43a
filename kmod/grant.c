// SPDX-License-Identifier: GPL-2.0
/*
 * Granting arenas: the mmap handler, the arena-aligned
 * get_unmapped_area, and the VMA operations (fault, open for fork and
 * mremap copies, close for release).
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
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "compat.h"
#include "karena_internal.h"

/*
 * Count a refusal to grant (or to copy @n arenas at fork) and report it.
 * @h, if not NULL, carries a reference that is dropped here. A refused
 * mmap counts once in denials_*; a refused fork copy counts its arenas in
 * fork_copy_failures, as fork_copies counts those made.
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
			      struct karena_user *u, bool fork_copy)
{
	lockdep_assert_held(&karena.lock);
	g->holder = h;
	g->user = u;
	g->nr_maps = 1;
	karena.grants += g->nr_arenas;
	if (fork_copy)
		karena.fork_copies += g->nr_arenas;
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
 * Fill the rest of @g->arenas[]: with new arenas charged to @memcg if it is
 * not NULL, else from the free list while it has arenas, then dirty arenas
 * zeroed here or new ones (karena_arena_take()). Returns 0, -ENOMEM, or
 * -EINTR if the caller was killed meanwhile (a large grant is many
 * arenas); *@got says how many are in place either way.
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
 * that many zeroed arenas. @fork_copy: the grant is the copy made for a
 * fork child (counted in fork_copies, or in fork_copy_failures when
 * refused). Every refusal is counted and reported; nothing is granted
 * unless everything is.
 *
 * The common case is one hold of karena.lock: the holder and the user
 * exist, and the free list has the arenas (at most KARENA_TAKE_BATCH are
 * taken per hold). karena.lock is dropped to allocate a new holder or
 * user (then looked up again), or to take more arenas (the charge is kept
 * meanwhile, so that limits hold; it is undone, and the arenas taken go
 * back, if the rest cannot be had).
 *
 * Memory cgroups: when current (the grantee, or the forking parent for a
 * fork copy: the child starts in its cgroup) is in a memory cgroup that
 * pages can be charged to, every arena of the grant is made of fresh pages
 * charged to it (karena_arena_alloc_charged()), none taken from the
 * reserve: the reserve's pages are charged to nobody, and a module cannot
 * charge an existing page (see reserve.c). A charge over memory.max is a
 * denial like any other: ENOMEM, counted in denials_nomem, no OOM killer.
 *
 * Orphans: a limit that refuses the grant may count orphaned grants whose
 * outside references are gone since the worker last looked; they are
 * rechecked (released if so) and the grant is tried once more.
 */
static struct karena_grant *karena_grant(struct mm_struct *mm,
					 unsigned long nr_pages, bool fork_copy)
{
	unsigned long n = DIV_ROUND_UP(nr_pages, karena.arena_pages);
	struct mem_cgroup *memcg = karena_grant_memcg();
	enum karena_deny_reason reason;
	struct karena_holder *h;
	struct karena_user *u, *free_u;
	kuid_t uid = current_uid();
	bool rechecked = false;
	struct karena_grant *g;
	unsigned long got = 0;
	int err;

	g = kvzalloc(struct_size(g, arenas, n),
		     GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
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
		if (!err && !memcg) {
			karena_grant_take_free(g, &got);
			if (got == n)
				karena_grant_done(g, h, u, fork_copy);
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

	if (got < n) {
		err = karena_grant_take_rest(g, &got, memcg);
		spin_lock(&karena.lock);
		if (!err)
			karena_grant_done(g, h, u, fork_copy);
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
 * address: take the parent's PTEs of the grant away before the copy is
 * made, so that a parent thread cannot change it behind the copy. That
 * thread's next access faults, and the fault waits for the end of fork
 * (dup_mmap() holds the parent's mmap_lock for write and, from 6.4, has
 * write-locked the VMA); then it maps the same page again. This is what
 * write-protecting anonymous PTEs does for anonymous memory.
 */
static void karena_fork_zap_parent(struct vm_area_struct *vma,
				   struct karena_grant *src)
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
 * A new VMA now points at the grant. In the grant's own mm this is
 * mremap's copy (refused right after) or a split (refused before): count
 * it. In another mm it is a fork child: give the child its own copy of
 * every arena of the grant, one grant of the same size charged to the
 * child, a snapshot taken with the parent's PTEs zapped (see
 * karena_fork_zap_parent()). This cannot fail; if the copy cannot be made,
 * the child's VMA points at nothing and faults with SIGBUS (its arenas
 * counted in fork_copy_failures). A VMA that already points at nothing
 * passes that on.
 */
static void karena_vm_open(struct vm_area_struct *vma)
{
	struct karena_grant *src = vma->vm_private_data;
	struct karena_grant *copy;
	unsigned long i;

	if (!src)
		return;

	/* src is mapped by the VMA this one was copied from: holder is stable */
	if (src->holder->mm == vma->vm_mm) {
		spin_lock(&karena.lock);
		src->nr_maps++;
		spin_unlock(&karena.lock);
		return;
	}

	copy = karena_grant(vma->vm_mm, src->nr_pages, true);
	if (IS_ERR(copy)) {
		vma->vm_private_data = NULL;
		return;
	}
	karena_fork_zap_parent(vma, src);
	for (i = 0; i < src->nr_arenas; i++)
		karena_arena_copy(copy->arenas[i], src->arenas[i]);
	vma->vm_private_data = copy;
}

/*
 * A VMA goes away; the last one of a grant releases it (all its arenas),
 * unless some of its pages are still referenced from elsewhere (a pipe, a
 * pin): then the whole grant stays charged as an orphan until they are
 * let go (orphan.c).
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

/*
 * Map the grant's page at vmf->pgoff, refilling a slot that
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
	struct karena_grant *g = vma->vm_private_data;
	struct karena_arena *arena;
	pgoff_t idx = vmf->pgoff;
	struct page *page;

	/* the fork copy failed */
	if (!g)
		return VM_FAULT_SIGBUS;
	if (idx >= g->nr_pages)
		return VM_FAULT_SIGBUS;
	if (vma->vm_mm == current->mm)
		karena_holder_identify(g->holder);
	/* from here on idx is the page's slot in its arena */
	arena = g->arenas[idx >> karena.arena_order];
	idx &= karena.arena_pages - 1;

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

const struct vm_operations_struct karena_vm_ops = {
	.open		= karena_vm_open,
	.close		= karena_vm_close,
	.may_split	= karena_vm_may_split,
	.mremap		= karena_vm_mremap,
	.fault		= karena_vm_fault,
};

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
 * Asks the mm's allocator for len + the file's arena size and aligns up
 * inside that. A MAP_FIXED address must be aligned already.
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
	return ALIGN(ret, size);
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

	g = karena_grant(vma->vm_mm, vma_pages(vma), false);
	karena_file_grant_end(kf, !IS_ERR(g));
	if (IS_ERR(g))
		return PTR_ERR(g);

	karena_vm_flags_mod(vma, VM_DONTEXPAND, VM_MAYEXEC);
	vma->vm_ops = &karena_vm_ops;
	vma->vm_private_data = g;
	return 0;
}
