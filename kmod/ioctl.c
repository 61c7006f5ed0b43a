// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/karena (see uapi/linux/karena.h):
 *
 *   KARENA_IOC_INFO           the file's arena size, limits and the
 *                             caller's usage
 *   KARENA_IOC_RETURN_PAGES   hand back the pages of part of a grant
 *   KARENA_IOC_SET_ARENA_SIZE the arena size of this file's grants
 *
 * Every "in" field must be zero or the call fails with EINVAL and changes
 * nothing; unknown commands fail with ENOTTY.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "karena_internal.h"

static long karena_ioc_info(struct file *file, void __user *uarg)
{
	struct karena_file *kf = file->private_data;
	struct karena_holder *h;
	struct karena_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.flags || info.__pad || info.module_arena_size ||
	    memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.abi_version = KARENA_ABI_VERSION;
	info.page_size = PAGE_SIZE;

	h = current->mm ? karena_holder_find(current->mm) : NULL;
	spin_lock(&karena.lock);
	info.arena_size = kf->arena_size;
	info.module_arena_size = karena.arena_size;
	info.max_arenas = karena.max_arenas;
	info.max_arenas_per_process = karena.max_per_process;
	info.max_arenas_per_uid = karena.max_per_uid;
	if (h) {
		info.arenas_held = h->arenas;
		info.arenas_peak = h->peak;
		info.denials = h->denials;
		info.pages_returned = h->pages_returned;
	}
	spin_unlock(&karena.lock);
	karena_holder_put(h);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

/*
 * Hand back the pages [first, first + n) of @arena, which @vma maps at
 * @addr: zap the range, then empty the slot of every page that nothing
 * references any more but the slot, mark it untouched and drop the page.
 * A page still referenced from elsewhere (a pipe that vmsplice() filled, a
 * GUP pin) stays in its slot, charged with the grant, and is not counted
 * as returned: handing it back would let it live on in nobody's count. A
 * page that other arenas hold too since a fork is handed back by this
 * slot alone (karena_page_leave()): it stays theirs, pins and all.
 *
 * arena->lock is held throughout, so no fault can take a new reference; a
 * fault that took its reference before waits for the page lock, so it is
 * counted as a reference and the page stays (the fault then maps it, as
 * its slot still holds it). @pages has room for @n pages. Returns the
 * number of pages handed back.
 */
static unsigned int karena_return_range(struct vm_area_struct *vma,
					unsigned long addr,
					struct karena_arena *arena,
					unsigned int first, unsigned int n,
					struct page **pages)
{
	unsigned int i, nr = 0;
	bool pinned;

	mutex_lock(&arena->lock);
	for (i = 0; i < n; i++) {
		pages[i] = arena->pages[first + i];
		if (pages[i])
			lock_page(pages[i]);
	}
	/* drops this VMA's PTE references, the only ones an arena's own */
	karena_zap_range(vma, addr, (unsigned long)n << PAGE_SHIFT);
	for (i = 0; i < n; i++) {
		struct page *page = pages[i];

		if (!page)
			continue;
		unlock_page(page);
		if (karena_page_leave(page, &pinned)) {
			/* other arenas hold it: only our reference is gone */
			pages[i] = NULL;
		} else if (pinned) {
			pages[i] = NULL;
			continue;
		}
		WRITE_ONCE(arena->pages[first + i], NULL);
		/* an empty slot reads as zero: untouched until refilled */
		__clear_bit(first + i, arena->touched);
		nr++;
	}
	mutex_unlock(&arena->lock);

	for (i = 0; i < n; i++)
		if (pages[i])
			put_page(pages[i]);
	return nr;
}

/*
 * Hand back pages [first, first + n) of the grant @vma maps, arena by
 * arena, once each arena of the range that the grant shares with others
 * since a fork is its own (karena_grant_arena_own()). Returns the number
 * of pages handed back, or -ENOMEM (then no page was handed back).
 */
static long karena_return_grant_pages(struct vm_area_struct *vma,
				      unsigned long first, unsigned long n)
{
	struct karena_grant *g = vma->vm_private_data;
	unsigned long a, last = (first + n - 1) >> karena.arena_order;
	struct karena_arena *arena;
	unsigned int slot, chunk;
	struct page **pages;
	long nr = 0;

	pages = kvmalloc_array(min_t(unsigned long, n, karena.arena_pages),
			       sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	/* the arenas shared since a fork become the grant's own, all first */
	for (a = first >> karena.arena_order; a <= last; a++) {
		arena = karena_grant_arena_get_lock(g, a);
		arena = karena_grant_arena_own(g, a, arena, current->mm,
					       false);
		if (!arena) {
			kvfree(pages);
			return -ENOMEM;
		}
		karena_arena_unlock_put(arena);
		cond_resched();
	}
	while (n) {
		slot = first & (karena.arena_pages - 1);
		chunk = min_t(unsigned long, n, karena.arena_pages - slot);
		nr += karena_return_range(vma,
					  vma->vm_start + (first << PAGE_SHIFT),
					  g->arenas[first >> karena.arena_order],
					  slot, chunk, pages);
		first += chunk;
		n -= chunk;
		cond_resched();
	}
	kvfree(pages);
	return nr;
}

static long karena_ioc_return_pages(struct file *file, void __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct karena_return_pages rp;
	struct vm_area_struct *vma;
	struct karena_grant *g;
	unsigned long end;
	long ret = -EINVAL;
	long nr;

	if (copy_from_user(&rp, uarg, sizeof(rp)))
		return -EFAULT;
	if (rp.flags || rp.__pad || !rp.len ||
	    !PAGE_ALIGNED(rp.addr) || !PAGE_ALIGNED(rp.len) ||
	    rp.addr > ULONG_MAX || rp.len > ULONG_MAX ||
	    check_add_overflow((unsigned long)rp.addr, (unsigned long)rp.len,
			       &end))
		return -EINVAL;
	if (!mm)
		return -EINVAL;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, rp.addr);
	/* the range must lie in one grant mapped from this very file */
	if (!vma || vma->vm_file != file || !karena_vma_is_grant(vma) ||
	    !vma->vm_private_data || end > vma->vm_end)
		goto out_unlock;

	g = vma->vm_private_data;
	nr = karena_return_grant_pages(vma,
				       (rp.addr - vma->vm_start) >> PAGE_SHIFT,
				       rp.len >> PAGE_SHIFT);
	if (nr < 0) {
		ret = nr;
		goto out_unlock;
	}
	spin_lock(&karena.lock);
	g->holder->pages_returned += nr;
	karena.pages_returned += nr;
	spin_unlock(&karena.lock);
	rp.returned = nr;
	ret = 0;
out_unlock:
	mmap_read_unlock(mm);

	if (!ret && copy_to_user(uarg, &rp, sizeof(rp)))
		ret = -EFAULT;
	return ret;
}

/*
 * Set the arena size of this file's grants: a power of two in
 * [KARENA_ARENA_SIZE_MIN, KARENA_ARENA_SIZE_MAX], before the file's first
 * grant. An mmap of the file in progress counts as one (it has read the
 * size already).
 */
static long karena_ioc_set_arena_size(struct file *file, void __user *uarg)
{
	struct karena_file *kf = file->private_data;
	struct karena_arena_size as;
	long ret = 0;

	if (copy_from_user(&as, uarg, sizeof(as)))
		return -EFAULT;
	if (as.flags || as.__pad || as.arena_size < KARENA_ARENA_SIZE_MIN ||
	    as.arena_size > KARENA_ARENA_SIZE_MAX ||
	    as.arena_size & (as.arena_size - 1))
		return -EINVAL;

	spin_lock(&karena.lock);
	if (kf->granted || kf->grants_in_flight)
		ret = -EBUSY;
	else
		kf->arena_size = as.arena_size;
	spin_unlock(&karena.lock);
	return ret;
}

/**
 * karena_ioctl() - dispatch an ioctl on /dev/karena
 * @file: the open file
 * @cmd: KARENA_IOC_*
 * @arg: user pointer to the command's struct
 *
 * Return: 0 or a negative errno; -ENOTTY for an unknown command.
 */
long karena_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KARENA_IOC_INFO:
		return karena_ioc_info(file, uarg);
	case KARENA_IOC_RETURN_PAGES:
		return karena_ioc_return_pages(file, uarg);
	case KARENA_IOC_SET_ARENA_SIZE:
		return karena_ioc_set_arena_size(file, uarg);
	default:
		return -ENOTTY;
	}
}
