// SPDX-License-Identifier: GPL-2.0
/*
 * Karena.ko: kernel-granted memory arenas.
 *
 * The module keeps a reserve of zeroed arenas (reserve.c) and grants one
 * per mmap of /dev/karena (grant.c), within per-process, per-uid and
 * system-wide limits (holder.c, params.c). Counters are in sysfs
 * (sysfs.c) and generic netlink (netlink.c); ioctls report usage and take
 * back pages (ioctl.c). This file holds the global state, the misc device
 * and its file operations, and module init/exit.
 *
 * The module cannot be unloaded while a file is open or an arena is mapped
 * (fops.owner; every mapping holds its file), so exit runs with nothing
 * granted and frees every arena.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "karena_internal.h"

/* The one instance of the global state; see struct karena_state. */
struct karena_state karena = {
	.lock		= __SPIN_LOCK_UNLOCKED(karena.lock),
	.reserve_arenas	= 64,
	.max_per_uid	= KARENA_PER_UID_DEFAULT,
	.free		= LIST_HEAD_INIT(karena.free),
	.dirty		= LIST_HEAD_INIT(karena.dirty),
	.orphans	= LIST_HEAD_INIT(karena.orphans),
	.holder_list	= LIST_HEAD_INIT(karena.holder_list),
	.holder_next_id	= 1,
};

/*
 * The file remembers the holder of the mm that opened it, so that this
 * process's denials have a home while it holds no arena, and the arena
 * size of its grants (the module's until KARENA_IOC_SET_ARENA_SIZE).
 */
static int karena_open(struct inode *inode, struct file *file)
{
	struct karena_file *kf;

	kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);	/* as struct file */
	if (!kf)
		return -ENOMEM;
	kf->arena_size = karena.arena_size;
	if (current->mm) {
		kf->holder = karena_holder_get(current->mm);
		if (!kf->holder) {
			kfree(kf);
			return -ENOMEM;
		}
	}
	file->private_data = kf;
	return 0;
}

static int karena_release_file(struct inode *inode, struct file *file)
{
	struct karena_file *kf = file->private_data;

	karena_holder_put(kf->holder);
	kfree(kf);
	return 0;
}

static const struct file_operations karena_fops = {
	.owner			= THIS_MODULE,
	.open			= karena_open,
	.release		= karena_release_file,
	.mmap			= karena_mmap,
	.get_unmapped_area	= karena_get_unmapped_area,
	.unlocked_ioctl		= karena_ioctl,
	.compat_ioctl		= compat_ptr_ioctl,
	.llseek			= noop_llseek,
};

/*
 * Mode 0666: any user may ask; the limits decide, and their defaults are
 * chosen for that (params.c): one uid at most an eighth of RAM, everyone
 * together a quarter, each memory cgroup within its memory.max (grant.c).
 * A site that wants
 * fewer users at the device narrows the mode with udev, not here.
 */
static struct miscdevice karena_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= KARENA_DEVICE_NAME,
	.fops	= &karena_fops,
	.groups	= karena_groups,
	.mode	= 0666,
};

/*
 * The device is registered last: once it exists a process may open it and
 * keep the file, so everything it can reach (the reserve, the netlink
 * family its grants report to) is in place before, and exit removes it
 * first.
 */
static int __init karena_init(void)
{
	int ret;

	ret = karena_params_init();
	if (ret)
		return ret;
	karena_holders_init();

	ret = karena_reserve_init();
	if (ret)
		return ret;
	spin_lock(&karena.lock);
	karena.ready = true;
	spin_unlock(&karena.lock);

	ret = karena_netlink_init();
	if (ret) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		goto err_free_reserve;
	}

	ret = misc_register(&karena_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", KARENA_DEVICE_NAME, ret);
		goto err_unregister_netlink;
	}

	pr_info("%lu KiB arenas, %lu reserved, at most %lu granted\n",
		karena.arena_size / 1024, karena.reserve_arenas,
		karena.max_arenas);
	return 0;

err_unregister_netlink:
	karena_netlink_exit();
err_free_reserve:
	karena_reserve_exit();
	return ret;
}

static void __exit karena_exit(void)
{
	misc_deregister(&karena_misc);
	karena_netlink_exit();
	karena_reserve_exit();
}

module_init(karena_init);
module_exit(karena_exit);

MODULE_DESCRIPTION("Kernel-granted memory arenas with per-process, per-user and global limits");
MODULE_AUTHOR("The karena developers");
MODULE_LICENSE("GPL");
#ifdef KARENA_VERSION
MODULE_VERSION(KARENA_VERSION);
#endif
