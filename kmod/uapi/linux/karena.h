/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * karena: kernel-granted memory arenas — the one contract between the
 * karena kernel module and userspace (library, tools, selftests).
 *
 * A process opens /dev/karena and is granted n arenas (one grant) per
 * successful
 *
 *	p = mmap(NULL, n * arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *
 * with 1 <= n <= KARENA_GRANT_MAX_ARENAS. The grant is aligned to arena_size
 * and reads as zero. munmap() of the whole grant, or process exit, gives it
 * back. arena_size (the module's, or the one KARENA_IOC_SET_ARENA_SIZE set
 * for this open file) and the limits in force are read with
 * KARENA_IOC_INFO.
 *
 * Units: every limit and every count of arenas (max_arenas*, arenas_held,
 * the sysfs files and netlink attributes) is in arenas of the module's
 * size, module_arena_size (the arena_kb parameter). A grant of B bytes
 * counts as DIV_ROUND_UP(B, module_arena_size) of them: a grant of n file
 * arenas of 1 MiB with 256 KiB module arenas counts 4 * n, and a grant of
 * one 64 KiB arena counts 1 (it holds the module arena it maps part of).
 *
 * Every struct here has a fixed layout: only __u32/__u64, explicit padding,
 * reserved fields that must be zero on input. No pointers.
 */
#ifndef _UAPI_LINUX_KARENA_H
#define _UAPI_LINUX_KARENA_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KARENA_DEVICE_NAME	"karena"
#define KARENA_ABI_VERSION	1

/**
 * struct karena_info - what KARENA_IOC_INFO reports
 * @abi_version:	out: KARENA_ABI_VERSION of the module
 * @page_size:		out: PAGE_SIZE in bytes
 * @arena_size:		out: bytes in one arena of this open file's grants (a
 *			power of two): module_arena_size unless
 *			KARENA_IOC_SET_ARENA_SIZE set another
 * @max_arenas:		out: system-wide limit on arenas granted at once
 * @max_arenas_per_process: out: per-process (mm) limit, 0 = none
 * @max_arenas_per_uid:	out: per-user limit, 0 = none
 * @arenas_held:	out: arenas the calling process holds now
 * @arenas_peak:	out: most arenas the calling process held at once
 * @denials:		out: grants refused to the calling process
 * @pages_returned:	out: pages the calling process handed back with
 *			KARENA_IOC_RETURN_PAGES
 * @flags:		in: must be zero
 * @__pad:		in: must be zero
 * @module_arena_size:	in: must be zero; out: bytes in one arena of the
 *			module (arena_kb * 1024): the unit of max_arenas*,
 *			arenas_held and arenas_peak (see "Units" above)
 * @reserved:		in: must be zero; out: zero
 *
 * All "out" fields are written by the kernel; every "in" field must be zero
 * or the call fails with EINVAL and writes nothing.
 */
struct karena_info {
	__u32 abi_version;
	__u32 page_size;
	__u64 arena_size;
	__u64 max_arenas;
	__u64 max_arenas_per_process;
	__u64 max_arenas_per_uid;
	__u64 arenas_held;
	__u64 arenas_peak;
	__u64 denials;
	__u64 pages_returned;
	__u32 flags;
	__u32 __pad;
	__u64 module_arena_size;
	__u64 reserved[3];
};

/**
 * struct karena_return_pages - hand back the pages of part of a grant
 * @addr:	in: page-aligned start, inside one grant of the caller
 * @len:	in: page-aligned length, > 0; [addr, addr + len) must lie in
 *		that grant (it may span several of its arenas)
 * @flags:	in: must be zero
 * @__pad:	in: must be zero
 * @returned:	out: pages that were resident and went back to the kernel;
 *		a page that something else still references (a pipe that
 *		vmsplice() filled, a GUP pin) stays in the arena, charged,
 *		and is not counted
 *
 * The grant stays granted; the next touch of the range maps fresh zeroed
 * pages.
 */
struct karena_return_pages {
	__u64 addr;
	__u64 len;
	__u32 flags;
	__u32 __pad;
	__u64 returned;
};

/**
 * struct karena_arena_size - the arena size of one open file
 * @arena_size:	in: bytes, a power of two from KARENA_ARENA_SIZE_MIN to
 *		KARENA_ARENA_SIZE_MAX
 * @flags:	in: must be zero
 * @__pad:	in: must be zero
 *
 * Every later grant through this open file description uses this size (an
 * mmap of n * arena_size is a grant of n arenas, aligned to arena_size);
 * KARENA_IOC_INFO reports it. Without the ioctl a file grants arenas of the
 * module's arena_kb. Limits and counts stay in module arenas (see "Units"
 * above). A fork child's grant, a copy on write of the parent's, keeps its
 * size.
 */
struct karena_arena_size {
	__u64 arena_size;
	__u32 flags;
	__u32 __pad;
};

#define KARENA_ARENA_SIZE_MIN	(64ULL << 10)
#define KARENA_ARENA_SIZE_MAX	(4ULL << 20)
/* most arenas one mmap may grant: length = n * arena_size, 1 <= n <= this */
#define KARENA_GRANT_MAX_ARENAS	4096

#define KARENA_IOC_MAGIC	0xB9

/**
 * DOC: KARENA_IOC_INFO
 *
 * Fill struct karena_info. EINVAL if an "in" field is not zero, EFAULT for a
 * bad pointer. Unknown commands on /dev/karena fail with ENOTTY.
 */
#define KARENA_IOC_INFO		_IOWR(KARENA_IOC_MAGIC, 0x00, struct karena_info)

/**
 * DOC: KARENA_IOC_RETURN_PAGES
 *
 * Hand back the pages of [addr, addr + len) of one granted arena (see struct
 * karena_return_pages). EINVAL for an unaligned, empty, overflowing or
 * out-of-grant range or a non-zero flags/__pad; the range must be mapped
 * from this open file description. ENOMEM when the range lies in an arena
 * shared with a fork parent or child and no arena of the caller's own can
 * be had for it (no page is handed back then).
 */
#define KARENA_IOC_RETURN_PAGES	_IOWR(KARENA_IOC_MAGIC, 0x01, struct karena_return_pages)

/**
 * DOC: KARENA_IOC_SET_ARENA_SIZE
 *
 * Set the arena size of this open file description (see struct
 * karena_arena_size). EINVAL for a size that is not a power of two in
 * [KARENA_ARENA_SIZE_MIN, KARENA_ARENA_SIZE_MAX] or a non-zero flags/__pad;
 * EBUSY once the file has made a grant, or while an mmap of it is in
 * progress; EFAULT for a bad pointer. A refused mmap does not fix the size.
 */
#define KARENA_IOC_SET_ARENA_SIZE _IOW(KARENA_IOC_MAGIC, 0x02, struct karena_arena_size)

/*
 * Generic netlink family "karena": see kmod/karena.yaml, the source of truth
 * for what follows. Attribute ids start at 1; every u64 is padded with the
 * set's PAD attribute. Requests are strictly validated: unknown attributes,
 * wrong lengths and unknown header flags fail with EINVAL, values out of
 * the policy's range with ERANGE, unknown commands with EOPNOTSUPP.
 *
 *   GET          do    request: nothing; reply: the global counters and
 *                      limits (KARENA_A_ARENA_SIZE .. RESERVE_ARENAS,
 *                      FAULT_FAILURES, ORPHANED_PAGES, ARENAS_SHARED), the
 *                      values of the
 *                      sysfs files of the same names in
 *                      /sys/class/misc/karena/; every count and limit of
 *                      arenas, here and in HOLDER nests, is in arenas of
 *                      KARENA_A_ARENA_SIZE bytes
 *   HOLDER_GET   dump  one message per holder, each one KARENA_A_HOLDER
 *                      nest; NLM_F_DUMP_INTR if holders came or went while
 *                      the dump ran (retry it). Without CAP_SYS_ADMIN,
 *                      only the holders of the caller's real uid
 *   SET          do    CAP_SYS_ADMIN (and CAP_NET_ADMIN): any of
 *                      KARENA_A_MAX_ARENAS, MAX_ARENAS_PER_PROCESS,
 *                      MAX_ARENAS_PER_UID, RESERVE_ARENAS; all are checked
 *                      before any is changed
 *   EVENT        multicast on group "monitor": KARENA_A_EVENT (type,
 *                      reason, sequence number) and KARENA_A_HOLDER (the
 *                      holder after the event, as in the dump). Joining
 *                      the group needs CAP_SYS_ADMIN (else EPERM)
 *
 * KARENA_HOLDER_A_PID is 0 while the process is not known yet. That is the
 * case of a fork child's holder: its arenas are granted during fork, before
 * the child has a pid, so it is 0 in the FORK_COPY events and in dumps
 * until the child first touches one of its arenas, maps one, opens the
 * device or calls an ioctl (karenactl prints "-"). Its COMM is the
 * parent's, which is the child's until it execs.
 */
#define KARENA_GENL_NAME	"karena"
#define KARENA_GENL_VERSION	1
#define KARENA_GENL_MCGRP_MONITOR	"monitor"

/* The largest value SET accepts for any limit (the module may allow less). */
#define KARENA_LIMIT_MAX_VALUE	0xffffffffULL

enum karena_cmd {
	KARENA_CMD_UNSPEC,
	KARENA_CMD_GET,		/* do: global state and limits */
	KARENA_CMD_HOLDER_GET,	/* dump: one message per holder */
	KARENA_CMD_SET,		/* do: change limits (CAP_SYS_ADMIN) */
	KARENA_CMD_EVENT,	/* multicast on "monitor" */

	__KARENA_CMD_MAX,
	KARENA_CMD_MAX = __KARENA_CMD_MAX - 1
};

enum karena_attr {
	KARENA_A_UNSPEC,
	KARENA_A_PAD,
	KARENA_A_ARENA_SIZE,		/* u64 */
	KARENA_A_ARENAS_RESERVED,	/* u64 */
	KARENA_A_ARENAS_FREE,		/* u64 */
	KARENA_A_ARENAS_GRANTED,	/* u64 */
	KARENA_A_ARENAS_GRANTED_PEAK,	/* u64 */
	KARENA_A_GRANTS,		/* u64 */
	KARENA_A_RELEASES,		/* u64 */
	KARENA_A_DENIALS_QUOTA,		/* u64 */
	KARENA_A_DENIALS_NOMEM,		/* u64 */
	KARENA_A_FORK_COPIES,		/* u64 */
	KARENA_A_FORK_COPY_FAILURES,	/* u64 */
	KARENA_A_PAGES_RETURNED,	/* u64 */
	KARENA_A_MAX_ARENAS,		/* u64, SET: 1 .. */
	KARENA_A_MAX_ARENAS_PER_PROCESS,	/* u64, 0 = no limit */
	KARENA_A_MAX_ARENAS_PER_UID,	/* u64, 0 = no limit */
	KARENA_A_RESERVE_ARENAS,	/* u64 */
	KARENA_A_HOLDER,		/* nest: enum karena_holder_attr */
	KARENA_A_EVENT,			/* nest: enum karena_event_attr */
	KARENA_A_FAULT_FAILURES,	/* u64 */
	KARENA_A_ORPHANED_PAGES,	/* u64 */
	KARENA_A_ARENAS_SHARED,		/* u64 */

	__KARENA_A_MAX,
	KARENA_A_MAX = __KARENA_A_MAX - 1
};

enum karena_holder_attr {
	KARENA_HOLDER_A_UNSPEC,
	KARENA_HOLDER_A_PAD,
	KARENA_HOLDER_A_PID,		/* u32, tgid; 0 = not known yet, see above */
	KARENA_HOLDER_A_COMM,		/* string */
	KARENA_HOLDER_A_UID,		/* u32, in the receiver's user namespace */
	KARENA_HOLDER_A_ARENAS,		/* u64 */
	KARENA_HOLDER_A_PEAK,		/* u64 */
	KARENA_HOLDER_A_DENIALS,	/* u64 */
	KARENA_HOLDER_A_PAGES_RETURNED,	/* u64 */

	__KARENA_HOLDER_A_MAX,
	KARENA_HOLDER_A_MAX = __KARENA_HOLDER_A_MAX - 1
};

enum karena_event_type {
	KARENA_EVENT_GRANT = 1,
	KARENA_EVENT_DENY,
	KARENA_EVENT_RELEASE,
	KARENA_EVENT_FORK_COPY,
};

enum karena_deny_reason {
	KARENA_DENY_NONE,
	KARENA_DENY_PROCESS_LIMIT,	/* EDQUOT */
	KARENA_DENY_UID_LIMIT,		/* EDQUOT */
	KARENA_DENY_GLOBAL_LIMIT,	/* ENOMEM */
	KARENA_DENY_NOMEM,		/* ENOMEM */
};

enum karena_event_attr {
	KARENA_EVENT_A_UNSPEC,
	KARENA_EVENT_A_PAD,
	KARENA_EVENT_A_TYPE,		/* u32, enum karena_event_type */
	KARENA_EVENT_A_REASON,		/* u32, enum karena_deny_reason */
	KARENA_EVENT_A_SEQ,		/* u64, 1, 2, ...; a gap = lost events */

	__KARENA_EVENT_A_MAX,
	KARENA_EVENT_A_MAX = __KARENA_EVENT_A_MAX - 1
};

#endif /* _UAPI_LINUX_KARENA_H */
