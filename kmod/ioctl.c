// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /dev/karena (see uapi/karena.h):
 *
 *   KARENA_IOC_INFO          arena size, limits and the caller's usage
 *   KARENA_IOC_RETURN_PAGES  hand back the pages of part of an arena
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

static long karena_ioc_info(void __user *uarg)
{
	struct karena_holder *h;
	struct karena_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.flags || info.__pad || memchr_inv(info.reserved, 0,
						   sizeof(info.reserved)))
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.abi_version = KARENA_ABI_VERSION;
	info.page_size = PAGE_SIZE;

	h = current->mm ? karena_holder_find(current->mm) : NULL;
	spin_lock(&karena.lock);
	info.arena_size = karena.arena_size;
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
 * Hand back the pages [first, first + n) of the arena mapped by @vma at
 * @addr: zap the range, then empty the slot of every page that nothing
 * references any more but the slot, mark it untouched and drop the page.
 * A page still referenced from elsewhere (a pipe that vmsplice() filled, a
 * GUP pin) stays in its slot, charged with the arena, and is not counted
 * as returned: handing it back would let it live on in nobody's count.
 *
 * arena->lock is held throughout, so no fault can take a new reference; a
 * fault that took its reference before waits for the page lock, so it is
 * counted as a reference and the page stays (the fault then maps it, as
 * its slot still holds it). Returns the number of pages handed back, or
 * -ENOMEM (then nothing changed).
 */
static long karena_return_range(struct vm_area_struct *vma, unsigned long addr,
				unsigned int first, unsigned int n)
{
	struct karena_arena *arena = vma->vm_private_data;
	struct page **pages;
	unsigned int i, nr = 0;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

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
		if (page_ref_count(page) > 1) {
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
	kvfree(pages);
	return nr;
}

static long karena_ioc_return_pages(struct file *file, void __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct karena_return_pages rp;
	struct vm_area_struct *vma;
	struct karena_arena *arena;
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
	/* the range must lie in one arena mapped from this very file */
	if (!vma || vma->vm_file != file || vma->vm_ops != &karena_vm_ops ||
	    !vma->vm_private_data || end > vma->vm_end)
		goto out_unlock;

	arena = vma->vm_private_data;
	nr = karena_return_range(vma, rp.addr,
				 (rp.addr - vma->vm_start) >> PAGE_SHIFT,
				 rp.len >> PAGE_SHIFT);
	if (nr < 0) {
		ret = nr;
		goto out_unlock;
	}
	spin_lock(&karena.lock);
	arena->holder->pages_returned += nr;
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
		return karena_ioc_info(uarg);
	case KARENA_IOC_RETURN_PAGES:
		return karena_ioc_return_pages(file, uarg);
	default:
		return -ENOTTY;
	}
}
