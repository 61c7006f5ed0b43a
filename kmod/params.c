// SPDX-License-Identifier: GPL-2.0
/*
 * The module parameters and the one validated setter behind
 * them and the generic netlink SET, which changes several at once.
 *
 *   arena_kb                arena size in KiB: power of two, 64..4096;
 *                           read-only after load
 *   reserve_arenas          zeroed arenas kept ready; 0..half of RAM; a
 *                           load fails with ENOMEM (not clamped) if the
 *                           available memory cannot hold it (reserve.c)
 *   max_arenas              arenas granted at once, system-wide;
 *                           1..all of RAM (0 at load = a quarter of RAM)
 *   max_arenas_per_process  per mm; 0 = none; at most all of RAM
 *   max_arenas_per_uid      per real uid; 0 = none; at most all of RAM
 *
 * At load the parameter handlers only parse (the arena size, which the
 * bounds depend on, may come later on the command line); the init function
 * then checks every value and refuses to load with one pr_err naming the bad
 * one. After load a write is checked first and changes nothing on EINVAL.
 * Documented in kmod/ABI/sysfs-module-karena.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>

#include "karena_internal.h"

#define KARENA_ARENA_KB_MIN	64
#define KARENA_ARENA_KB_MAX	4096

static unsigned int arena_kb = 256;
module_param(arena_kb, uint, 0444);
MODULE_PARM_DESC(arena_kb, "Arena size in KiB: a power of two, 64..4096 (default 256)");

static const char * const karena_limit_names[KARENA_NR_LIMITS] = {
	[KARENA_LIMIT_RESERVE_ARENAS]	= "reserve_arenas",
	[KARENA_LIMIT_MAX_ARENAS]	= "max_arenas",
	[KARENA_LIMIT_MAX_PER_PROCESS]	= "max_arenas_per_process",
	[KARENA_LIMIT_MAX_PER_UID]	= "max_arenas_per_uid",
};

static unsigned long *karena_limit_var(enum karena_limit which)
{
	switch (which) {
	case KARENA_LIMIT_RESERVE_ARENAS:
		return &karena.reserve_arenas;
	case KARENA_LIMIT_MAX_ARENAS:
		return &karena.max_arenas;
	case KARENA_LIMIT_MAX_PER_PROCESS:
		return &karena.max_per_process;
	case KARENA_LIMIT_MAX_PER_UID:
		return &karena.max_per_uid;
	default:
		return NULL;
	}
}

/* How many arenas all of RAM would make: the bound of every limit. */
static u64 karena_ram_arenas(void)
{
	return totalram_pages() / karena.arena_pages;
}

/* Is @val acceptable for @which? 0 or -EINVAL. */
static int karena_limit_check(enum karena_limit which, u64 val)
{
	u64 ram = karena_ram_arenas();

	switch (which) {
	case KARENA_LIMIT_RESERVE_ARENAS:
		return val <= ram / 2 ? 0 : -EINVAL;
	case KARENA_LIMIT_MAX_ARENAS:
		return val >= 1 && val <= ram ? 0 : -EINVAL;
	case KARENA_LIMIT_MAX_PER_PROCESS:
	case KARENA_LIMIT_MAX_PER_UID:
		return val <= ram ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/*
 * Check every limit in @given, then set them all under one karena.lock.
 * The caller holds kernel_param_lock(THIS_MODULE), as the sysfs core does
 * around a parameter write, so that no write lands between the two.
 */
static int karena_limits_apply(const u64 *val, unsigned int given,
			       enum karena_limit *bad)
{
	enum karena_limit which;

	for (which = 0; which < KARENA_NR_LIMITS; which++) {
		if ((given & BIT(which)) && karena_limit_check(which, val[which])) {
			*bad = which;
			return -EINVAL;
		}
	}

	spin_lock(&karena.lock);
	for (which = 0; which < KARENA_NR_LIMITS; which++)
		if (given & BIT(which))
			*karena_limit_var(which) = val[which];
	spin_unlock(&karena.lock);

	if (given & BIT(KARENA_LIMIT_RESERVE_ARENAS))
		karena_reserve_kick();
	return 0;
}

/**
 * karena_limits_set() - change several limits at run time, all or none
 * @val: the new values, indexed by enum karena_limit
 * @given: BIT(which) for each limit to change
 * @bad: set to the limit whose value was refused, on -EINVAL
 *
 * Every value is checked before any is set, and they change together
 * under karena.lock, so a GET sees the whole change or none of it; a
 * module parameter written through sysfs meanwhile waits. A lower limit
 * only affects later grants; nothing already granted is taken back. A
 * new reserve_arenas is reached in the background.
 *
 * Return: 0, or -EINVAL (nothing changed).
 */
int karena_limits_set(const u64 *val, unsigned int given,
		      enum karena_limit *bad)
{
	int ret;

	kernel_param_lock(THIS_MODULE);
	ret = karena_limits_apply(val, given, bad);
	kernel_param_unlock(THIS_MODULE);
	return ret;
}

/* A parameter write: the sysfs core holds kernel_param_lock around it. */
static int karena_param_set(const char *val, const struct kernel_param *kp)
{
	u64 limit[KARENA_NR_LIMITS] = {};
	enum karena_limit which, bad;
	unsigned long v;

	for (which = 0; which < KARENA_NR_LIMITS; which++)
		if (kp->arg == karena_limit_var(which))
			break;
	if (which == KARENA_NR_LIMITS || kstrtoul(val, 0, &v))
		return -EINVAL;

	if (!READ_ONCE(karena.ready)) {
		/*
		 * Loading: insmod arguments are checked by
		 * karena_params_init(); a write that comes after that check
		 * (through sysfs, before init is done) is checked here.
		 */
		if (karena.arena_pages && karena_limit_check(which, v))
			return -EINVAL;
		*(unsigned long *)kp->arg = v;
		return 0;
	}
	limit[which] = v;
	return karena_limits_apply(limit, BIT(which), &bad);
}

static const struct kernel_param_ops karena_limit_ops = {
	.set = karena_param_set,
	.get = param_get_ulong,
};

module_param_cb(reserve_arenas, &karena_limit_ops, &karena.reserve_arenas, 0644);
MODULE_PARM_DESC(reserve_arenas, "Zeroed arenas kept ready (default 64)");
module_param_cb(max_arenas, &karena_limit_ops, &karena.max_arenas, 0644);
MODULE_PARM_DESC(max_arenas, "Most arenas granted at once, system-wide (default: a quarter of RAM)");
module_param_cb(max_arenas_per_process, &karena_limit_ops, &karena.max_per_process, 0644);
MODULE_PARM_DESC(max_arenas_per_process, "Most arenas one process may hold, 0 = no limit (default 0)");
module_param_cb(max_arenas_per_uid, &karena_limit_ops, &karena.max_per_uid, 0644);
MODULE_PARM_DESC(max_arenas_per_uid, "Most arenas one user may hold, 0 = no limit (default 0)");

/* Check the load-time parameters and fill in defaults. */
static int karena_params_check(void)
{
	enum karena_limit which;

	if (!is_power_of_2(arena_kb) || arena_kb < KARENA_ARENA_KB_MIN ||
	    arena_kb > KARENA_ARENA_KB_MAX) {
		pr_err("arena_kb=%u: must be a power of two from %u to %u\n",
		       arena_kb, KARENA_ARENA_KB_MIN, KARENA_ARENA_KB_MAX);
		return -EINVAL;
	}
	karena.arena_size = (unsigned long)arena_kb * SZ_1K;
	karena.arena_pages = karena.arena_size >> PAGE_SHIFT;
	karena.arena_order = ilog2(karena.arena_pages);

	if (!karena.max_arenas)
		karena.max_arenas = max_t(u64, 1, karena_ram_arenas() / 4);

	for (which = 0; which < KARENA_NR_LIMITS; which++) {
		unsigned long val = *karena_limit_var(which);

		if (karena_limit_check(which, val)) {
			pr_err("%s=%lu: out of range for %llu arenas of %u KiB in RAM\n",
			       karena_limit_names[which], val,
			       karena_ram_arenas(), arena_kb);
			return -EINVAL;
		}
	}
	return 0;
}

/**
 * karena_params_init() - check the load-time parameters, fill in defaults
 *
 * Return: 0, or -EINVAL after one pr_err naming the bad parameter.
 */
int karena_params_init(void)
{
	int ret;

	/* the parameter files exist already: hold off writers */
	kernel_param_lock(THIS_MODULE);
	ret = karena_params_check();
	kernel_param_unlock(THIS_MODULE);
	return ret;
}
