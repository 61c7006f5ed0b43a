// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * purge.c - hand back the pages of pools, and release the arenas, that
 * stay empty; and the purge thread that does it when nobody calls.
 *
 * An empty pool of an arena still in use keeps its page resident. Once it
 * has been empty for KARENA_PURGE_MS (default 100; 0 = never), its page
 * goes back through backend->return_pages (MADV_DONTNEED or
 * KARENA_IOC_RETURN_PAGES) and it is marked purged; its bookkeeping lives
 * in the arena header, which is never purged. An arena whose pools are all
 * empty is released (munmapped) once it has been empty for KARENA_PURGE_MS,
 * keeping KARENA_KEEP_ARENAS of them. The free lists are LIFO and pools are
 * taken from the fullest arena, so pools and arenas emptied and reused
 * within the delay are never purged nor released: no thrash.
 *
 * Who runs it:
 *  - the owner, from its slow paths (a pool to or from an arena), at most
 *    once per PURGE_MS/2 (purge_maybe);
 *  - the purge thread, for the owner that has gone idle (a program that
 *    frees everything and then sleeps never calls the allocator again).
 *    It is started lazily by an owner that has just queued an empty pool
 *    (purge_kick), with every signal blocked; every PURGE_MS/2 it takes
 *    each heap's lock in turn and purges what is old enough; when no heap
 *    has anything left to purge or release it waits on kr.purge_cond
 *    (costing nothing) until the next queued pool wakes it.
 *    KARENA_PURGE_THREAD=0 never starts it (a program that must stay
 *    single-threaded, e.g. for unshare(2)).
 *    An active owner does not wait for it: every 64th time a kept pool
 *    empties again, and on every slow path, it runs purge_maybe itself.
 *    It ends when the last thread owning a heap leaves (purge_owner_left),
 *    after handing back everything pending, so that it never keeps alive
 *    a process whose threads have all called pthread_exit.
 *    fork: kr.purge_lock is held across fork(), so no pass is under way;
 *    the child has no purge thread and starts its own when needed.
 *
 * Freed large blocks' kept grants (large.c) go back in the same passes,
 * once they have waited KARENA_PURGE_MS.
 *
 * Pools kept open on usedpools (heap->kept) and spare pools (heap->spare)
 * are not purged: the owner uses them without a lock. They are at most
 * KEEP_POOLS + SPARE_POOLS per heap.
 *
 * karena_trim() (malloc_trim() under the preload) makes a pass at once,
 * with no delay and no empty arena kept, after its caller's own kept and
 * spare pools have gone back to their arenas and its pools in use have
 * handed back their free pages (heap_trim_own).
 */
#include <signal.h>
#include <time.h>

#include "arena.h"
#include "backend.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "lock.h"
#include "pool.h"
#include "purge.h"
#include "span.h"
#include "types.h"

/*
 * Hand back the pages of @h's pools empty for @min_age_ms at time @now
 * (kr_now_ms()). h->lock held (or the heap is otherwise the caller's).
 */
void purge_now(struct kr_heap *h, uint32_t now, uint32_t min_age_ms)
{
	struct kr_arena *a;
	struct kr_pool *m;
	unsigned i;

	h->last_purge_ms = now;
	for (a = h->arenas; a && h->npurgeable; a = a->allnext) {
		for (i = a->freepools; i; i = m->nextfree) {
			long r;

			m = pool_at(a, i);
			if (m->purged || (uint32_t)(now - m->empty_ms) <
					 min_age_ms)
				continue;
			r = kr.backend->return_pages(pool_base(m), POOL_SIZE);
			atomic_fetch_add(&kr.return_calls, 1);
			if (r < 0)
				continue;
			m->purged = 1;
			a->npurged++;
			h->npurgeable--;
			atomic_fetch_add(&kr.pages_returned, (size_t)r);
		}
	}
}

/*
 * Work left for later: pools to purge, empty arenas beyond keep_arenas,
 * cached empty spans.
 */
bool heap_has_pending(const struct kr_heap *h)
{
	return h->npurgeable || h->nempty_arenas > kr.keep_arenas ||
	       h->span_purgeable || h->nempty_span_arenas > kr.keep_arenas ||
	       h->span_cache_pages;
}

/*
 * Release the arenas empty for @min_age_ms at time @now (beyond @keep of
 * them), then hand back the pages of the pools empty that long. h->lock
 * held. True iff something is left for a later pass.
 */
static bool purge_heap_keeping(struct kr_heap *h, uint32_t now,
			       uint32_t min_age_ms, unsigned keep)
{
	arena_release_old(h, now, min_age_ms, keep);
	span_release_old(h, now, min_age_ms, keep);
	purge_now(h, now, min_age_ms);
	span_purge(h, now, min_age_ms);
	return heap_has_pending(h);
}

/* The same, keeping KARENA_KEEP_ARENAS empty arenas. */
bool purge_heap(struct kr_heap *h, uint32_t now, uint32_t min_age_ms)
{
	return purge_heap_keeping(h, now, min_age_ms, kr.keep_arenas);
}

/*
 * The owner's slow path at time @now, which the caller has just read:
 * purge if it is due (at most once per PURGE_MS/2). h->lock held.
 */
void purge_maybe_at(struct kr_heap *h, uint32_t now)
{
	if (!kr.purge_ms || (uint32_t)(now - h->last_purge_ms) < kr.purge_ms / 2)
		return;
	if (heap_has_pending(h))
		purge_heap(h, now, kr.purge_ms);
	large_keep_release(now, kr.purge_ms);
}

/* The same, reading the clock only when there is something to purge. */
void purge_maybe(struct kr_heap *h)
{
	if (kr.purge_ms && (heap_has_pending(h) || atomic_load_explicit(
			&kr.large_kept, memory_order_relaxed)))
		purge_maybe_at(h, kr_now_ms());
}

/*
 * One pass over every heap but the lost ones, handing back what has been
 * empty for @min_age_ms, each heap keeping @keep empty arenas (of pools,
 * and of spans). purge_lock held.
 */
static bool purge_all(uint32_t min_age_ms, unsigned keep)
{
	struct kr_heap *h;
	bool pending = false;

	for (h = heap_list_head(); h; h = h->next_all) {
		if (h->lost)
			continue;
		kr_lock(&h->lock);
		pending |= purge_heap_keeping(h, kr_now_ms(), min_age_ms, keep);
		kr_unlock(&h->lock);
	}
	pending |= large_keep_release(kr_now_ms(), min_age_ms);
	atomic_fetch_add(&kr.purge_passes, 1);
	return pending;
}

/* One pass over every heap now, as the purge thread makes (tests). */
void purge_pass_all(uint32_t min_age_ms)
{
	pthread_mutex_lock(&kr.purge_lock);
	purge_all(min_age_ms, kr.keep_arenas);
	pthread_mutex_unlock(&kr.purge_lock);
}

/* What has gone back to the backend so far: a count that only grows. */
static size_t handed_back(void)
{
	return atomic_load(&kr.pages_returned) +
	       atomic_load(&kr.arenas_released) +
	       atomic_load(&kr.large_returned);
}

/*
 * karena_trim() (and malloc_trim() under the preload): the caller's own
 * kept and spare pools to their arenas and its pools' free pages back
 * (heap_trim_own), then one pass over every heap that takes no account of
 * age and keeps no empty arena. What stays: other threads' pools in use,
 * kept and spare (their owners use them without a lock), spans that hold
 * a block, and the arena tables of arenas in use. 1 iff something went
 * back to the backend.
 */
KR_API int karena_trim(void)
{
	size_t before;

	if (!atomic_load_explicit(&kr.initialized, memory_order_acquire))
		return 0;
	before = handed_back();
	heap_trim_own();
	pthread_mutex_lock(&kr.purge_lock);
	purge_all(0, 0);
	pthread_mutex_unlock(&kr.purge_lock);
	return handed_back() != before;
}

/* No thread owns a heap: every one has exited or is exiting. */
static bool nobody_left(void)
{
	return !atomic_load(&kr.nowned);
}

/* Wait @ms on purge_cond, or less if woken. purge_lock held. */
static void purger_wait(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	pthread_cond_clockwait(&kr.purge_cond, &kr.purge_lock,
			       CLOCK_MONOTONIC, &t);
}

/*
 * The purge thread. It ends when no thread owns a heap any more (after a
 * last pass that hands back everything pending): Linux has no daemon
 * threads, so a process whose threads all leave by pthread_exit (a main
 * that calls it, a fork child of a non-main thread whose start routine
 * returns) would otherwise never end. The last owner to leave wakes it
 * (purge_owner_left).
 */
KR_NOINLINE static void *purger_main(void *arg)
{
	unsigned ms = kr.purge_ms / 2 ? kr.purge_ms / 2 : 1;

	(void)arg;
	kr_tls_heap = HEAP_DEAD;	/* never allocates from arenas */
	pthread_mutex_lock(&kr.purge_lock);	/* tell purge_kick we run */
	atomic_store(&kr.purger_started, 1);
	pthread_cond_broadcast(&kr.purge_cond);
	for (;;) {
		if (nobody_left()) {
			purge_all(0, kr.keep_arenas);
			if (nobody_left())	/* else one came meanwhile */
				break;
		}
		purger_wait(ms);
		if (nobody_left() || purge_all(kr.purge_ms, kr.keep_arenas))
			continue;
		/*
		 * Say we are idle, then look once more: an owner queues
		 * (under its heap's lock) before it reads purger_state, so
		 * either it sees IDLE and wakes us, or this pass sees what it
		 * queued.
		 */
		atomic_store(&kr.purger_state, PURGER_IDLE);
		if (purge_all(kr.purge_ms, kr.keep_arenas))
			atomic_store(&kr.purger_state, PURGER_ACTIVE);
		while (atomic_load(&kr.purger_state) == PURGER_IDLE &&
		       !nobody_left())
			pthread_cond_wait(&kr.purge_cond, &kr.purge_lock);
	}
	atomic_store(&kr.purger_state, PURGER_NONE);
	pthread_mutex_unlock(&kr.purge_lock);
	return NULL;
}

/*
 * Make sure the purge thread runs. Called by an owner after it queued an
 * empty pool, with no lock of ours held (pthread_create may malloc). The
 * thread, once started, stays (idle, in a condition wait, when there is
 * nothing to do): starting and ending a thread touches far more memory
 * (stack, libc's thread start and exit code) than a waiting thread holds.
 */
void purge_kick(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int none = PURGER_NONE, st;

	if (!kr.purge_thread || !kr.purge_ms)
		return;
	st = atomic_load_explicit(&kr.purger_state, memory_order_seq_cst);
	if (st == PURGER_ACTIVE)
		return;
	if (st == PURGER_IDLE) {
		pthread_mutex_lock(&kr.purge_lock);
		if (atomic_load(&kr.purger_state) == PURGER_IDLE) {
			atomic_store(&kr.purger_state, PURGER_ACTIVE);
			pthread_cond_broadcast(&kr.purge_cond);
		}
		pthread_mutex_unlock(&kr.purge_lock);
		return;
	}
	if (!atomic_compare_exchange_strong(&kr.purger_state, &none,
					    PURGER_ACTIVE))
		return;
	/*
	 * purge_lock keeps fork() out while the thread is created and starts:
	 * its stack and TLS are allocated, here and in the new thread, maybe
	 * under another allocator's lock (glibc's, a sanitizer's) that a
	 * child must not inherit held.
	 */
	pthread_mutex_lock(&kr.purge_lock);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 << 10);
	atomic_store(&kr.purger_started, 0);
	if (pthread_create(&t, &attr, purger_main, NULL)) {
		atomic_store(&kr.purger_state, PURGER_NONE); /* slow paths */
	} else {
		atomic_fetch_add(&kr.purge_threads, 1);
		/* until its start-up (libc's, a sanitizer's) is over */
		while (!atomic_load(&kr.purger_started))
			pthread_cond_wait(&kr.purge_cond, &kr.purge_lock);
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&kr.purge_lock);
}

/*
 * A thread left its heap (heap_abandon), with no lock of ours held. While
 * other threads own heaps, make sure the purge thread runs for the empty
 * pools left behind. When it was the last owner, the purge thread must
 * end (purger_main): wake it; if there is none, hand back what is pending
 * here, as its last pass would have.
 */
void purge_owner_left(void)
{
	if (!nobody_left()) {
		purge_kick();
		return;
	}
	if (!kr.purge_ms)
		return;
	pthread_mutex_lock(&kr.purge_lock);
	if (atomic_load(&kr.purger_state) == PURGER_NONE) {
		purge_all(0, kr.keep_arenas);
	} else {
		atomic_store(&kr.purger_state, PURGER_ACTIVE);
		pthread_cond_broadcast(&kr.purge_cond);
	}
	pthread_mutex_unlock(&kr.purge_lock);
}

/* fork child: no purge thread here (the parent's did not come along). */
void purge_atfork_child(void)
{
	pthread_mutex_init(&kr.purge_lock, NULL);
	pthread_cond_init(&kr.purge_cond, NULL);
	atomic_store(&kr.purger_state, PURGER_NONE);
}
