/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The global counters and limits of karena.ko, one line each: the one
 * table every list of them is made from. It is a list, not a header with
 * a guard: a user defines KARENA_COUNTER() and KARENA_LIMIT(), includes
 * this file where the list goes, and undefines them. So are made enum
 * karena_stat and the snapshot of struct karena_stats (karena_internal.h,
 * holder.c), the files of /sys/class/misc/karena/ (sysfs.c), the
 * attributes of the GET reply and that reply's size (netlink.c), and
 * karenactl's status table (tools/karenactl/state.c).
 *
 * KARENA_COUNTER(name, NLA, unit, field), KARENA_LIMIT(same):
 *   name   the sysfs file (counters) or the module parameter (limits);
 *          what karenactl prints; kmod/karena.yaml's attribute, with '-'
 *          for '_'
 *   NLA    the netlink attribute is KARENA_A_<NLA> (uapi/linux/karena.h)
 *   unit   ARENAS: a count or limit of module arenas; OTHER: bytes, pages,
 *          calls
 *   field  the member of struct karena_state it is read from
 *
 * Every counter comes before every limit: the sysfs files are the first
 * KARENA_NR_COUNTERS entries of enum karena_stat (a counter after a limit
 * does not build), and the GET reply carries them in this order, as
 * karena.yaml lists them.
 *
 * Adding a counter is one line here, plus what cannot be generated: the
 * counting in struct karena_state, the attribute in karena.yaml and in
 * enum karena_attr of the UAPI header (at the end: attribute ids never
 * change), its entry in ABI/sysfs-class-misc-karena, and its mention in
 * karena.4 and karenactl.8. tools/spec-check.py (make check) fails until
 * all of them agree, and compares karena.yaml with the UAPI header
 * through the kernel's own YNL generator.
 */
KARENA_COUNTER(arena_size,		ARENA_SIZE,		OTHER,	arena_size)
KARENA_COUNTER(arenas_reserved,		ARENAS_RESERVED,	ARENAS,	nr_total)
KARENA_COUNTER(arenas_free,		ARENAS_FREE,		ARENAS,	nr_free)
KARENA_COUNTER(arenas_granted,		ARENAS_GRANTED,		ARENAS,	granted)
KARENA_COUNTER(arenas_granted_peak,	ARENAS_GRANTED_PEAK,	ARENAS,	granted_peak)
KARENA_COUNTER(grants,			GRANTS,			ARENAS,	grants)
KARENA_COUNTER(releases,		RELEASES,		ARENAS,	releases)
KARENA_COUNTER(denials_quota,		DENIALS_QUOTA,		OTHER,	denials_quota)
KARENA_COUNTER(denials_nomem,		DENIALS_NOMEM,		OTHER,	denials_nomem)
KARENA_COUNTER(fork_copies,		FORK_COPIES,		ARENAS,	fork_copies)
KARENA_COUNTER(fork_copy_failures,	FORK_COPY_FAILURES,	ARENAS,	fork_copy_failures)
KARENA_COUNTER(pages_returned,		PAGES_RETURNED,		OTHER,	pages_returned)
KARENA_COUNTER(fault_failures,		FAULT_FAILURES,		OTHER,	fault_failures)
KARENA_COUNTER(orphaned_pages,		ORPHANED_PAGES,		OTHER,	orphaned_pages)
KARENA_COUNTER(arenas_shared,		ARENAS_SHARED,		ARENAS,	nr_shared)
KARENA_LIMIT(max_arenas,		MAX_ARENAS,		ARENAS,	max_arenas)
KARENA_LIMIT(max_arenas_per_process,	MAX_ARENAS_PER_PROCESS,	ARENAS,	max_per_process)
KARENA_LIMIT(max_arenas_per_uid,	MAX_ARENAS_PER_UID,	ARENAS,	max_per_uid)
KARENA_LIMIT(reserve_arenas,		RESERVE_ARENAS,		ARENAS,	reserve_arenas)
