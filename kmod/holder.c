// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds how many arenas: per-process (mm) holders, per-uid
 * users, the global counters and the quota checks.
 *
 * A holder is keyed by its mm (mmgrab()bed, so the address cannot be reused
 * by a new mm while the holder exists). It is created by the first grant to
 * that mm, by a fork copy into a new mm, or by open() of /dev/karena, and
 * is freed when its last reference goes: one per grant charged to it, one
 * per open file that its mm opened (so the denials of a process that holds
 * nothing are kept while its fd is open), and short-lived ones held by a
 * call in progress. A user (uid) lives while arenas are charged to it.
 *
 * Everything here is under karena.lock, a spinlock; allocations happen
 * before taking it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/hash.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "karena_internal.h"

/* The holder of @mm, or NULL; no reference taken. karena.lock held. */
static struct karena_holder *karena_holder_lookup(struct mm_struct *mm)
{
	struct karena_holder *h;

	lockdep_assert_held(&karena.lock);
	hash_for_each_possible(karena.holders, h, hnode, (unsigned long)mm)
		if (h->mm == mm)
			return h;
	return NULL;
}

/* The accounting of @uid, or NULL; no reference taken. karena.lock held. */
static struct karena_user *karena_user_lookup(kuid_t uid)
{
	struct karena_user *u;

	lockdep_assert_held(&karena.lock);
	hash_for_each_possible(karena.users, u, hnode, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/**
 * karena_holder_find() - the holder of @mm with a reference, or NULL
 * @mm: the process's mm
 *
 * If @mm is current's, a holder that does not know its process yet (a
 * fork child's) learns it here.
 */
struct karena_holder *karena_holder_find(struct mm_struct *mm)
{
	struct karena_holder *h;

	spin_lock(&karena.lock);
	h = karena_holder_lookup(mm);
	if (h)
		h->refs++;
	spin_unlock(&karena.lock);
	if (h && mm == current->mm)
		karena_holder_identify(h);
	return h;
}

/*
 * A holder for @mm, not yet in the table, with no reference counted, or
 * NULL when out of memory. It records current's tgid, comm and real uid,
 * unless @mm is not current's (a fork child being built): then the tgid
 * stays 0 until karena_holder_identify() runs in a task of @mm. Charged to
 * current's memory cgroup, as the VMAs of @mm that current makes are.
 */
static struct karena_holder *karena_holder_alloc(struct mm_struct *mm)
{
	struct karena_holder *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	new->mm = mm;
	new->uid = current_uid();
	get_task_comm(new->comm, current);
	if (mm == current->mm)
		new->tgid = task_tgid_nr(current);
	return new;
}

/*
 * Put @h, from karena_holder_alloc(), in the table: the caller has just
 * seen, under the same hold of karena.lock, that @h's mm has none.
 */
static void karena_holder_insert(struct karena_holder *h)
{
	lockdep_assert_held(&karena.lock);
	mmgrab(h->mm);
	h->id = karena.holder_next_id++;
	hash_add(karena.holders, &h->hnode, (unsigned long)h->mm);
	list_add_tail(&h->node, &karena.holder_list);
	karena.holder_gen++;
}

/*
 * The accounting for @uid, not yet in the table, or NULL (no memory). Not
 * charged to a memory cgroup: the processes of one uid share it across
 * cgroups, as they share the kernel's struct user_struct.
 */
static struct karena_user *karena_user_alloc(kuid_t uid)
{
	struct karena_user *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (new)
		new->uid = uid;
	return new;
}

/*
 * The holder of @mm and, if @uid, the user of @uid, from the table or else
 * from @new_h and @new_u (set to NULL when they go into it); no reference
 * taken. A user is only looked for, or added, once there is a holder.
 */
static struct karena_holder *
karena_account_find_locked(struct mm_struct *mm, const kuid_t *uid,
			   struct karena_user **u,
			   struct karena_holder **new_h,
			   struct karena_user **new_u)
{
	struct karena_holder *h;

	lockdep_assert_held(&karena.lock);
	*u = NULL;
	h = karena_holder_lookup(mm);
	if (!h && *new_h) {
		h = *new_h;
		*new_h = NULL;
		karena_holder_insert(h);
	}
	if (!h || !uid)
		return h;
	*u = karena_user_lookup(*uid);
	if (!*u && *new_u) {
		*u = *new_u;
		*new_u = NULL;
		hash_add(karena.users, &(*u)->hnode, __kuid_val(*uid));
	}
	return h;
}

/**
 * karena_account_get_lock() - lock karena.lock and get the holder of @mm
 * and the user of @uid, creating them if needed
 * @mm: the process's mm
 * @uid: the user to charge; NULL for the holder only
 * @u: out: the user of *@uid with a reference, or NULL (no @uid, no
 *     holder, or out of memory); may be NULL if @uid is
 *
 * The one way a holder or a user comes into existence. The common case,
 * both exist, is one hold of karena.lock, which the caller keeps for what
 * it does with them (a grant charges them in the same hold). Otherwise the
 * lock is dropped to allocate what is missing, and both are looked up
 * again. A holder made here records its process as karena_holder_alloc()
 * says; the caller calls karena_holder_identify() after unlocking, if @mm
 * is current's. The references are dropped with karena_holder_put() and
 * karena_user_put_locked().
 *
 * Context: process context; returns with karena.lock held.
 * Return: the holder with a reference, or NULL when out of memory (then
 * *@u is NULL too).
 */
struct karena_holder *karena_account_get_lock(struct mm_struct *mm,
					      const kuid_t *uid,
					      struct karena_user **u)
	__acquires(&karena.lock)
{
	struct karena_holder *h, *new_h = NULL;
	struct karena_user *user, *new_u = NULL;

	spin_lock(&karena.lock);
	h = karena_account_find_locked(mm, uid, &user, &new_h, &new_u);
	if (unlikely(!h || (uid && !user))) {
		spin_unlock(&karena.lock);
		if (!h)
			new_h = karena_holder_alloc(mm);
		if (uid)
			new_u = karena_user_alloc(*uid);
		spin_lock(&karena.lock);
		h = karena_account_find_locked(mm, uid, &user, &new_h, &new_u);
		/* what another task added meanwhile is used, not ours */
		kfree(new_h);
		kfree(new_u);
	}
	if (h)
		h->refs++;
	if (user)
		user->refs++;
	if (u)
		*u = user;
	return h;
}

/**
 * karena_holder_get() - the holder of @mm with a reference, created if needed
 * @mm: the process's mm
 *
 * See karena_account_get_lock() for a new holder's tgid.
 *
 * Return: the holder, or NULL when out of memory.
 */
struct karena_holder *karena_holder_get(struct mm_struct *mm)
{
	struct karena_holder *h;

	h = karena_account_get_lock(mm, NULL, NULL);
	spin_unlock(&karena.lock);
	if (h && mm == current->mm)
		karena_holder_identify(h);
	return h;
}

/**
 * karena_holder_put() - drop a reference; free the holder at the last one
 * @h: the holder, may be NULL
 *
 * May sleep (mmdrop()). Never called under karena.lock.
 */
void karena_holder_put(struct karena_holder *h)
{
	if (!h)
		return;

	spin_lock(&karena.lock);
	if (--h->refs) {
		spin_unlock(&karena.lock);
		return;
	}
	hash_del(&h->hnode);
	list_del(&h->node);
	karena.holder_gen++;
	spin_unlock(&karena.lock);

	mmdrop(h->mm);
	kfree(h);
}

/**
 * karena_holder_identify() - record current as the process behind @h
 * @h: a holder whose mm is current->mm
 *
 * A holder made for a fork child does not know the child's pid: the
 * arenas are copied by vm_ops->open() in dup_mmap(), which runs in the
 * parent before copy_process() has given the child a pid (the child's
 * task_struct, reachable as mm->owner with CONFIG_MEMCG, still carries the
 * parent's pid and tgid then, and a failed fork frees its signal_struct
 * without waiting for RCU, so it is not read from here). Its tgid stays 0,
 * shown as "not known yet", until the child first faults on an arena,
 * opens /dev/karena, maps an arena or calls an ioctl (karena_holder_get()
 * and karena_holder_find() call this when @h's mm is current's), or until
 * a dump of the holders finds it (karena_holders_identify_forked()).
 */
void karena_holder_identify(struct karena_holder *h)
{
	char comm[TASK_COMM_LEN];

	if (likely(READ_ONCE(h->tgid)))
		return;
	get_task_comm(comm, current);
	spin_lock(&karena.lock);
	h->tgid = task_tgid_nr(current);
	memcpy(h->comm, comm, sizeof(comm));
	spin_unlock(&karena.lock);
}

/* Is there a holder whose process is not known yet? */
static bool karena_holders_unidentified(void)
{
	struct karena_holder *h;
	bool found = false;

	spin_lock(&karena.lock);
	list_for_each_entry(h, &karena.holder_list, node) {
		if (!h->tgid) {
			found = true;
			break;
		}
	}
	spin_unlock(&karena.lock);
	return found;
}

/* Does @mm have a holder whose process is not known yet? */
static bool karena_holder_unidentified(struct mm_struct *mm)
{
	struct karena_holder *h;
	bool found;

	spin_lock(&karena.lock);
	h = karena_holder_lookup(mm);
	found = h && !h->tgid;
	spin_unlock(&karena.lock);
	return found;
}

/**
 * karena_holders_identify_forked() - find the processes of fork children
 *
 * A dump of the holders calls this first, so that a fork child that has
 * not touched its arenas yet is listed with its pid rather than 0. Only
 * if some holder does not know its process: one walk over the processes
 * under RCU. A process whose mm has such a holder gives it its tgid and
 * comm. The process's mm is read again under karena.lock, with the holder
 * found: if it is still the holder's, the process holds that mm (so the
 * address cannot have been freed and reused for another mm in between).
 * A process is on the task list only once fork has given it its pid.
 * Kernel threads borrowing an mm are skipped, and so is a process whose
 * leader has exited (its mm reads NULL here): its holder stays at 0 until
 * one of its tasks shows up.
 *
 * Context: process context; takes karena.lock and task locks, one at a
 * time.
 */
void karena_holders_identify_forked(void)
{
	char comm[TASK_COMM_LEN];
	struct karena_holder *h;
	struct task_struct *p;
	struct mm_struct *mm;
	pid_t tgid;

	if (!karena_holders_unidentified())
		return;
	rcu_read_lock();
	for_each_process(p) {
		mm = READ_ONCE(p->mm);
		if (!mm || (p->flags & PF_KTHREAD) ||
		    !karena_holder_unidentified(mm))
			continue;
		get_task_comm(comm, p);
		tgid = task_tgid_nr(p);
		spin_lock(&karena.lock);
		h = karena_holder_lookup(mm);
		if (h && !h->tgid && READ_ONCE(p->mm) == mm) {
			h->tgid = tgid;
			memcpy(h->comm, comm, sizeof(comm));
		}
		spin_unlock(&karena.lock);
	}
	rcu_read_unlock();
}

/**
 * karena_user_put_locked() - drop a reference to @u
 * @u: the user
 *
 * At the last reference @u leaves the table, and the caller kfree()s it
 * after dropping karena.lock.
 *
 * Context: karena.lock held.
 * Return: true if @u is to be freed.
 */
bool karena_user_put_locked(struct karena_user *u)
{
	lockdep_assert_held(&karena.lock);
	if (--u->refs)
		return false;
	hash_del(&u->hnode);
	return true;
}

/**
 * karena_charge() - admit @n more arenas for @h and @u, or say why not
 * @h: the holder that receives them
 * @u: the user they are charged to
 * @n: arenas of karena.arena_size (a grant's nr_arenas)
 * @reason: set to the reason of a refusal
 *
 * All @n or none: on success @h, @u and the global count of granted arenas
 * are increased by @n; the caller completes the grant (grants, peaks) or
 * karena_uncharge()s. Limits are checked in the order process, user,
 * system.
 *
 * Return: 0, -EDQUOT (process or uid limit) or -ENOMEM (max_arenas).
 */
int karena_charge(struct karena_holder *h, struct karena_user *u,
		  unsigned long n, enum karena_deny_reason *reason)
{
	lockdep_assert_held(&karena.lock);

	if (karena.max_per_process && h->arenas + n > karena.max_per_process) {
		*reason = KARENA_DENY_PROCESS_LIMIT;
		return -EDQUOT;
	}
	if (karena.max_per_uid && u->arenas + n > karena.max_per_uid) {
		*reason = KARENA_DENY_UID_LIMIT;
		return -EDQUOT;
	}
	if (karena.granted + n > karena.max_arenas) {
		*reason = KARENA_DENY_GLOBAL_LIMIT;
		return -ENOMEM;
	}
	h->arenas += n;
	u->arenas += n;
	karena.granted += n;
	return 0;
}

/**
 * karena_uncharge() - undo one karena_charge()
 * @h: the holder
 * @u: the user
 * @n: the arenas it charged
 */
void karena_uncharge(struct karena_holder *h, struct karena_user *u,
		     unsigned long n)
{
	lockdep_assert_held(&karena.lock);

	h->arenas -= n;
	u->arenas -= n;
	karena.granted -= n;
}

/**
 * karena_stats_read() - a consistent snapshot of counters and limits
 * @s: filled in
 */
void karena_stats_read(struct karena_stats *s)
{
	spin_lock(&karena.lock);
	*s = (struct karena_stats){ .val = {
#define KARENA_COUNTER(name, nla, unit, field)				\
	[KARENA_STAT_##name] = karena.field,
#define KARENA_LIMIT(name, nla, unit, field)				\
	[KARENA_STAT_##name] = karena.field,
#include "karena_counters.h"
#undef KARENA_COUNTER
#undef KARENA_LIMIT
	} };
	spin_unlock(&karena.lock);
}

static void karena_holder_info_locked(const struct karena_holder *h,
				      struct karena_holder_info *info)
{
	info->id = h->id;
	info->tgid = h->tgid;
	info->uid = h->uid;
	memcpy(info->comm, h->comm, sizeof(info->comm));
	info->arenas = h->arenas;
	info->peak = h->peak;
	info->denials = h->denials;
	info->pages_returned = h->pages_returned;
}

/**
 * karena_holder_info() - a snapshot of one holder
 * @h: a holder the caller has a reference to (e.g. from karena_notify())
 * @info: filled in
 */
void karena_holder_info(const struct karena_holder *h,
			struct karena_holder_info *info)
{
	spin_lock(&karena.lock);
	karena_holder_info_locked(h, info);
	spin_unlock(&karena.lock);
}

/**
 * karena_holders_fill() - copy out holders for a dump, in id order
 * @cursor: in: the last id already dumped (0 to start); out: the last id
 *	    copied
 * @buf: room for @max snapshots
 * @max: size of @buf
 * @uid: if not NULL, only the holders of this uid are copied
 * @gen: out: the holder-table generation; it changes whenever a holder is
 *	 added or removed, so a dump that sees it change is inconsistent
 *	 (NLM_F_DUMP_INTR)
 *
 * Return: the number of snapshots copied; 0 when the dump is complete.
 */
int karena_holders_fill(u64 *cursor, struct karena_holder_info *buf,
			unsigned int max, const kuid_t *uid, u64 *gen)
{
	struct karena_holder *h;
	unsigned int n = 0;

	spin_lock(&karena.lock);
	*gen = karena.holder_gen;
	list_for_each_entry(h, &karena.holder_list, node) {
		if (n == max)
			break;
		if (h->id <= *cursor || (uid && !uid_eq(h->uid, *uid)))
			continue;
		karena_holder_info_locked(h, &buf[n++]);
		*cursor = h->id;
	}
	spin_unlock(&karena.lock);
	return n;
}

/**
 * karena_holders_init() - set up the holder and user tables
 */
void karena_holders_init(void)
{
	hash_init(karena.holders);
	hash_init(karena.users);
}
