/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The types and functions shared by the files of
 * karena.ko, grouped by the file that defines them.
 *
 * Objects and their lifetimes:
 *
 *   struct karena_arena   arena_size bytes (the module's arena, arena_kb)
 *                         of order-0 pages: the unit of the reserve, of
 *                         every limit and of every count. It is on the
 *                         free list (zeroed, ready), in one grant, or on
 *                         the dirty list (released, waiting for the
 *                         zeroing worker); one charged to a memory cgroup
 *                         is freed at release instead (reserve.c). Since
 *                         a fork it may be in the grants of the parent and
 *                         of its children at once, unchanged by any of
 *                         them until each has its own (share.c).
 *   struct karena_grant   what one mmap granted: n arenas of the file's
 *                         arena size, backed by the module arenas that
 *                         cover them (a file arena smaller than the
 *                         module's uses part of one), mapped by one or
 *                         more VMAs of exactly one mm, charged to that
 *                         mm's holder and to one user, released as a
 *                         whole. After its last VMA closed it may be
 *                         orphaned (pages still referenced from elsewhere:
 *                         still charged, on karena.orphans, see orphan.c)
 *                         until those references go.
 *   struct karena_file    one per open file: its opener's holder and the
 *                         arena size its grants use.
 *   struct karena_holder  one per mm that was granted an arena or opened
 *                         /dev/karena: the per-process accounting. It holds
 *                         one reference per charged grant and one per open
 *                         file whose opener it is, and is freed when the
 *                         last goes (so denials of a process that holds no
 *                         arena are kept while its fd is open).
 *   struct karena_user    one per uid that holds arenas: the per-uid quota.
 *
 * Locking (outermost first):
 *
 *   mmap_lock of the mm     (core mm) held by mmap, fault, fork, munmap
 *   arena->lock (mutex)     the arena's page slots, arena->pages[], its
 *                           touched-page bitmap, the decrements of
 *                           arena->refs, and the grant's pointer to it
 *                           (grant->arenas[i]) while it is shared
 *   page lock               orders a fault against KARENA_IOC_RETURN_PAGES
 *   karena_share_lock       a shared page's count of slots (share.c)
 *   karena_orphan_mutex     one recheck of the orphans at a time (orphan.c)
 *   karena.lock (spinlock)  every counter, the free, dirty and orphan
 *                           lists, the holder and user tables,
 *                           grant->nr_maps, grant->holder/user,
 *                           grant->orphan_pages, the karena_file fields,
 *                           and the limits in force. Never held across an
 *                           allocation or a sleep.
 */
#ifndef _KARENA_INTERNAL_H
#define _KARENA_INTERNAL_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>

#include <linux/karena.h>

struct file;
struct mem_cgroup;
struct mm_struct;
struct page;
struct vm_area_struct;

/* How often the worker looks again at orphaned grants (orphan.c). */
#define KARENA_ORPHAN_RECHECK	HZ

/**
 * struct karena_arena - one arena of the module's size
 * @node:	on karena.free or karena.dirty while not granted (karena.lock)
 * @memcg:	the memory cgroup its pages are charged to, with a reference;
 *		NULL for the reserve's arenas, charged to nobody (reserve.c).
 *		Fixed from allocation to free.
 * @refs:	grants whose @arenas point at it: 1 for an arena that is its
 *		grant's own, and for one that no grant holds; more since a
 *		fork shared it whole (share.c), and then nothing changes its
 *		slots. Goes up only in a fork of an mm whose grant holds it
 *		(under that mm's mmap_lock for write), so one that a grant
 *		holds alone stays so while that grant's mm is locked; goes
 *		down only from more than 1 and under @lock: never to 0.
 * @users:	keeps the structure itself (not its pages) allocated: one for
 *		its existence, dropped by karena_arena_free(), and one for
 *		each fault or ioctl of a forked grant between reading the
 *		arena from grant->arenas[] and its last look at it
 *		(karena_grant_arena_get_lock()), which another thread of the
 *		mm may meanwhile have replaced and another grant released;
 *		and one for a released grant letting go of a shared arena
 *		until it has unlocked it (karena_grant_pinned()).
 *		The structure is freed after an RCU grace period (@rcu), so
 *		that a lookup can take a reference under rcu_read_lock().
 * @rcu:	for that free
 * @lock:	protects @pages and @touched
 * @touched:	bitmap of karena.arena_pages bits, stored after @pages: set
 *		for a page that may have been written since the arena was
 *		last zeroed (mapped into a user PTE by the fault handler, or
 *		put in the slot by a fork); a clear bit means the page, or its
 *		empty slot, reads as zero. The worker clears only these pages.
 *		See reserve.c for why nothing else can write a page.
 * @pages:	karena.arena_pages slots; NULL = handed back with
 *		KARENA_IOC_RETURN_PAGES, or left empty when a grant made a
 *		shared arena its own (share.c): the next fault fills it with a
 *		fresh zeroed page.
 *		Each page holds one reference for the slot. A page shared
 *		since a fork is in the slots of several arenas, each with its
 *		reference, and counts them (share.c).
 */
struct karena_arena {
	struct list_head node;
	struct mem_cgroup *memcg;
	refcount_t refs;
	refcount_t users;
	struct rcu_head rcu;
	struct mutex lock;		/* protects @pages, @touched */
	unsigned long *touched;
	struct page *pages[];
};

/**
 * struct karena_grant - one grant: the arenas behind one mmap
 * @nr_maps:	VMAs that map it (karena.lock); the grant is released when
 *		the last one closes, or orphaned (orphan.c)
 * @holder:	the holder it is charged to (karena.lock; stable while
 *		@nr_maps > 0 and while orphaned)
 * @user:	the user it is charged to (same rules)
 * @orphan_node: on karena.orphans while orphaned (karena.lock)
 * @orphan_pages: while orphaned, its pages with outside references at the
 *		last count (karena.lock)
 * @nr_pages:	pages mapped: the length of the mmap / PAGE_SIZE
 * @nr_arenas:	module arenas behind them, DIV_ROUND_UP(@nr_pages,
 *		karena.arena_pages): what the grant is charged and counted as
 * @arenas:	page i of the grant is slot i & (karena.arena_pages - 1) of
 *		@arenas[i >> karena.arena_order]; the slots past @nr_pages of
 *		the last arena are never mapped, so never touched. An entry
 *		whose arena other grants hold too changes, under that arena's
 *		lock, when the grant makes it its own (grant.c), and is NULL
 *		once a released grant let go of it (orphan.c)
 */
struct karena_grant {
	unsigned int nr_maps;
	struct karena_holder *holder;
	struct karena_user *user;
	struct list_head orphan_node;
	unsigned int orphan_pages;
	unsigned long nr_pages;
	unsigned long nr_arenas;
	struct karena_arena *arenas[];
};

/**
 * struct karena_file - one open file of /dev/karena
 * @holder:	the holder of the mm that opened it (a reference), or NULL
 * @arena_size:	bytes in one arena of this file's grants: the module's
 *		arena_size until KARENA_IOC_SET_ARENA_SIZE (karena.lock)
 * @grants_in_flight: mmaps of this file between reading @arena_size and
 *		their outcome (karena.lock)
 * @granted:	an mmap of this file has made a grant, so @arena_size is
 *		fixed (karena.lock)
 */
struct karena_file {
	struct karena_holder *holder;
	unsigned long arena_size;
	unsigned int grants_in_flight;
	bool granted;
};

/**
 * struct karena_holder - accounting for one process (mm)
 * @hnode:	in karena.holders, hashed by @mm
 * @node:	in karena.holder_list, in @id order (for dumps)
 * @mm:		the key; mmgrab()bed so it cannot be reused while we exist
 * @id:		unique, increasing: the dump cursor
 * @refs:	grants charged to it + open files opened by this mm + in-flight
 *		users
 * @tgid:	thread-group id; 0 until a task of a fork child shows up
 * @uid:	real uid of the task that created the holder
 * @comm:	command name (karena.lock)
 * @arenas:	arenas held now
 * @peak:	most arenas held at once
 * @denials:	grants refused to this process
 * @pages_returned: pages handed back with KARENA_IOC_RETURN_PAGES
 *
 * Every field but @hnode/@node/@refs is written under karena.lock.
 */
struct karena_holder {
	struct hlist_node hnode;
	struct list_head node;
	struct mm_struct *mm;
	u64 id;
	unsigned int refs;
	pid_t tgid;
	kuid_t uid;
	char comm[TASK_COMM_LEN];
	u64 arenas;
	u64 peak;
	u64 denials;
	u64 pages_returned;
};

/**
 * struct karena_user - accounting for one uid
 * @hnode:	in karena.users, hashed by @uid
 * @uid:	the key
 * @refs:	grants charged to this uid + in-flight users; freed at zero
 * @arenas:	arenas charged now (the per-uid quota)
 */
struct karena_user {
	struct hlist_node hnode;
	kuid_t uid;
	unsigned int refs;
	u64 arenas;
};

/**
 * struct karena_state - everything global; one instance, "karena"
 *
 * Configuration, fixed after load: @arena_size, @arena_pages and its log2
 * @arena_order. Every limit and every arena count is in arenas of
 * @arena_size; a grant of B bytes counts DIV_ROUND_UP(B, @arena_size).
 * Limits (written by the validated setters in params.c, read under @lock):
 * @reserve_arenas, @max_arenas, @max_per_process, @max_per_uid.
 * Counters, all under @lock:
 * @nr_total:	arenas the module has allocated (free + granted + dirty)
 * @nr_free:	zeroed arenas on @free, ready to grant
 * @nr_dirty:	released arenas on @dirty, waiting to be zeroed
 * @refill_kicked: a grant has run the worker to refill @free since the
 *		worker last started (it is kicked once per refill, see reserve.c)
 * @granted:	arenas granted now (== @grants - @releases when idle),
 *		orphans included
 * @nr_shared:	references of grants to arenas that another grant holds
 *		too, beyond the first of each arena (share.c)
 * @nr_orphans:	grants on @orphans (released by their VMAs, still charged)
 * @orphaned_pages: their pages with outside references (orphan.c)
 * @granted_peak: most arenas granted at once
 * @grants, @releases, @denials_quota, @denials_nomem, @fork_copies,
 * @fork_copy_failures, @pages_returned, @fault_failures: event counts
 */
struct karena_state {
	spinlock_t lock;	/* see "Locking" at the top */
	bool ready;

	unsigned long arena_size;
	unsigned int arena_pages;
	unsigned int arena_order;

	unsigned long reserve_arenas;
	unsigned long max_arenas;
	unsigned long max_per_process;
	unsigned long max_per_uid;

	struct list_head free;
	struct list_head dirty;
	struct list_head orphans;
	struct delayed_work work;
	bool refill_kicked;

	DECLARE_HASHTABLE(holders, 6);
	DECLARE_HASHTABLE(users, 6);
	struct list_head holder_list;
	u64 holder_next_id;
	u64 holder_gen;

	u64 nr_total;
	u64 nr_free;
	u64 nr_dirty;
	u64 granted;
	u64 nr_shared;
	u64 granted_peak;
	u64 grants;
	u64 releases;
	u64 denials_quota;
	u64 denials_nomem;
	u64 fork_copies;
	u64 fork_copy_failures;
	u64 pages_returned;
	u64 fault_failures;
	u64 nr_orphans;
	u64 orphaned_pages;
};

extern struct karena_state karena;

/* max_arenas_per_uid until load: "not given", then half of max_arenas */
#define KARENA_PER_UID_DEFAULT	ULONG_MAX

/* ---- for netlink.c: snapshots, holder dump, limit setters ---- */

/* The counters and the limits, in the order of karena_counters.h. */
enum karena_stat {
#define KARENA_COUNTER(name, nla, unit, field)	KARENA_STAT_##name,
#define KARENA_LIMIT(name, nla, unit, field)	KARENA_STAT_##name,
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
	KARENA_NR_STATS
};

/* The counters alone: the first entries of enum karena_stat. */
enum {
#define KARENA_COUNTER(name, nla, unit, field)	KARENA_COUNTER_INDEX_##name,
#define KARENA_LIMIT(name, nla, unit, field)
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
	KARENA_NR_COUNTERS
};

/**
 * struct karena_stats - a consistent snapshot of the global state
 * @val: by enum karena_stat; the meanings are those of the sysfs files
 *	and module parameters of the same names (kmod/ABI/)
 */
struct karena_stats {
	u64 val[KARENA_NR_STATS];
};

/**
 * struct karena_holder_info - a snapshot of one holder
 * @id: dump cursor; @tgid: 0 if not known yet; @uid: in init_user_ns
 */
struct karena_holder_info {
	u64 id;
	pid_t tgid;
	kuid_t uid;
	char comm[TASK_COMM_LEN];
	u64 arenas;
	u64 peak;
	u64 denials;
	u64 pages_returned;
};

/* The limits that can be changed at run time (module parameters, SET). */
enum karena_limit {
	KARENA_LIMIT_RESERVE_ARENAS,
	KARENA_LIMIT_MAX_ARENAS,
	KARENA_LIMIT_MAX_PER_PROCESS,
	KARENA_LIMIT_MAX_PER_UID,
	KARENA_NR_LIMITS
};

/* holder.c */
void karena_stats_read(struct karena_stats *s);
void karena_holder_info(const struct karena_holder *h,
			struct karena_holder_info *info);
int karena_holders_fill(u64 *cursor, struct karena_holder_info *buf,
			unsigned int max, const kuid_t *uid, u64 *gen);
struct karena_holder *karena_account_get_lock(struct mm_struct *mm,
					      const kuid_t *uid,
					      struct karena_user **u)
	__acquires(&karena.lock);
struct karena_holder *karena_holder_get(struct mm_struct *mm);
struct karena_holder *karena_holder_find(struct mm_struct *mm);
void karena_holder_put(struct karena_holder *h);
void karena_holder_identify(struct karena_holder *h);
void karena_holders_identify_forked(void);
bool karena_user_put_locked(struct karena_user *u);
int karena_charge(struct karena_holder *h, struct karena_user *u,
		  unsigned long n, enum karena_deny_reason *reason);
void karena_uncharge(struct karena_holder *h, struct karena_user *u,
		     unsigned long n);
void karena_holders_init(void);

/* params.c */
int karena_limits_set(const u64 *val, unsigned int given,
		      enum karena_limit *bad);
int karena_params_init(void);

/* reserve.c */
struct mem_cgroup *karena_grant_memcg(void);
struct karena_arena *karena_arena_alloc_charged(struct mem_cgroup *memcg);
struct karena_arena *karena_arena_new_empty(struct mem_cgroup *memcg);
void karena_arena_put(struct karena_arena *arena);
struct page *karena_page_refill(struct mm_struct *mm);
struct karena_arena *karena_arena_take_locked(void);
struct karena_arena *karena_arena_take(bool *flushed);
void karena_arenas_release(struct karena_arena **arenas, unsigned long n);
void karena_reserve_kick(void);
int karena_reserve_init(void);
void karena_reserve_exit(void);

/* orphan.c */
unsigned int karena_grant_pinned(struct karena_grant *g);
void karena_orphan_locked(struct karena_grant *g, unsigned int pinned);
unsigned int karena_orphans_recheck(void);

/* share.c */
void karena_count_copies(unsigned long n);
bool karena_page_shared(struct page *page);
bool karena_page_leave(struct page *page, bool *pinned);
unsigned int karena_arena_leave_shared(struct karena_arena *arena);
void karena_arenas_share(struct karena_arena **dst,
			 struct karena_arena *const *src, unsigned long n);
bool karena_arena_maybe_pinned(struct karena_arena *arena);
struct karena_arena *karena_arena_unshare_locked(struct karena_arena *shared,
						 struct mm_struct *mm,
						 bool copy_pinned);
bool karena_arena_leave_locked(struct karena_arena *arena);
void karena_arena_unlock_put(struct karena_arena *arena);
struct karena_arena *karena_grant_arena_get_lock(struct karena_grant *g,
						 unsigned long ai);
struct karena_arena *karena_grant_arena_own(struct karena_grant *g,
					    unsigned long ai,
					    struct karena_arena *arena,
					    struct mm_struct *mm,
					    bool copy_pinned);
struct page *karena_page_unshare_locked(struct karena_arena *arena,
					unsigned int idx, struct mm_struct *mm,
					bool *copied);

/* grant.c */
bool karena_vma_is_grant(const struct vm_area_struct *vma);
void karena_release_unlock(struct karena_grant *g);
int karena_mmap(struct file *file, struct vm_area_struct *vma);
unsigned long karena_get_unmapped_area(struct file *file, unsigned long addr,
				       unsigned long len, unsigned long pgoff,
				       unsigned long flags);

/* ioctl.c */
long karena_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* sysfs.c */
extern const struct attribute_group *karena_groups[];

/* netlink.c */
int karena_netlink_init(void);
void karena_netlink_exit(void);
void karena_notify(enum karena_event_type type, enum karena_deny_reason reason,
		   const struct karena_holder *h);

#endif /* _KARENA_INTERNAL_H */
