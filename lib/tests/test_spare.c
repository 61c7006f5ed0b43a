// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_spare - a heap's spare pools (spare.c): an emptied pool goes on top
 * of the spare without the lock; one more than it holds gives the oldest 8
 * back to their arenas together; the top is the next pool taken, by any class; an empty
 * spare takes 8 pools from the arenas at once.
 *
 * The first give to an arena starts the purge thread, and pthread_create
 * callocs (the thread's DTV): with malloc routed to karena (below) and no
 * pool of that class open, the calloc re-enters the heap in the middle of the
 * give, collects the blocks another thread freed, and retires the pool
 * they empty into the spare. The spare must be consistent by then; when
 * it was not, the nested retire gave the same 8 pools back a second time,
 * and blocks were later handed out twice. */
#include <pthread.h>

#include "tap.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "purge.h"
#include "spare.h"
#include "types.h"

static size_t last_calloc;	/* pthread_create's: the DTV, 16 * (n + k) */

#ifndef KARENA_ASAN		/* ASan owns malloc in its build */
/* glibc's own allocations (pthread_create's) come to karena, as under
 * libkarena-malloc.so (KR_API: exported, though built -fvisibility=hidden) */
KR_API void *malloc(size_t n)
{
	return karena_malloc(n);
}

KR_API void *calloc(size_t n, size_t size)
{
	last_calloc = n * size;
	return karena_calloc(n, size);
}

KR_API void *realloc(void *p, size_t n)
{
	return karena_realloc(p, n);
}

KR_API void free(void *p)
{
	karena_free(p);
}
#endif

#define REQ		512		/* class 31 */
#define PER_POOL	(POOL_SIZE / REQ)	/* 8 blocks a pool */
#define NPOOLS		(SPARE_POOLS + 4)

/* Has a pool of class @c on @h's usedpools a block to hand out? */
static __attribute__((unused)) bool class_has_block(struct kr_heap *h, unsigned c)
{
	struct kr_pool *p;

	for (p = h->usedpools[c]; p && p != POOL_NONE; p = p->nextpool)
		if (p->freeblock || p->carve)
			return true;
	return false;
}

/* The other thread: frees @victim's blocks (remote frees) when told. */
static void *victim[PER_POOL];
static atomic_int phase;

static void wait_phase(int want)
{
	while (atomic_load(&phase) != want)
		sched_yield();
}

static void *remote_freer(void *arg)
{
	unsigned j;

	(void)arg;
	wait_phase(1);
	for (j = 0; j < PER_POOL; j++)
		karena_free(victim[j]);
	atomic_store(&phase, 2);
	wait_phase(3);		/* exiting would start the purge thread */
	return NULL;
}

int main(void)
{
	static void *b[NPOOLS][PER_POOL];
	struct kr_pool *pool[NPOOLS], *old[SPARE_BATCH], *p;
	struct kr_heap *h;
	unsigned i, j, n, c;
	pthread_t t;
	int good;
	void *x;

	ok(pthread_create(&t, NULL, remote_freer, NULL) == 0,
	   "a thread to free blocks remotely");
	/* fill the pool of the class pthread_create callocs: the purge
	 * thread's creation will need a new pool */
	c = size_to_class(last_calloc);
#ifndef KARENA_ASAN
	h = kr_tls_heap;
	for (n = 0; h && last_calloc <= SMALL_MAX && class_has_block(h, c) &&
	     n < POOL_SIZE / ALIGNMENT; n++)
		(void)karena_malloc(last_calloc);
	ok(h && last_calloc && last_calloc <= SMALL_MAX &&
	   !class_has_block(h, c),
	   "pthread_create callocs %zu bytes; no pool of that class open "
	   "(%u blocks taken)", last_calloc, n);
#endif

	/* every pool full but the last, used: emptied pools are not kept */
	for (i = 0; i < NPOOLS; i++)
		for (j = 0; j < (i + 1 < NPOOLS ? PER_POOL : 1); j++)
			b[i][j] = karena_malloc(REQ);
	h = kr_tls_heap;
	good = 1;
	for (i = 0; i < NPOOLS; i++) {
		pool[i] = pool_of(b[i][0]);
		for (j = 0; j < i; j++)
			good &= pool[j] != pool[i];
	}
	ok(good && atomic_load(&kr.purger_state) == PURGER_NONE,
	   "%u pools of %u-byte blocks; no pool given back yet, no purge "
	   "thread", NPOOLS, REQ);

	/*
	 * Empty pools in order until the spare is full (the pools it held,
	 * from the last refill, stay under them): each goes on top.
	 */
	good = 1;
	for (i = 0; h->nspare < SPARE_POOLS && i < NPOOLS - 3; i++) {
		for (j = 0; j < PER_POOL; j++)
			karena_free(b[i][j]);
		good &= h->spare[h->nspare - 1] == pool[i] && !pool_ref(pool[i]) &&
			pool[i]->state == POOL_INUSE &&
			h->usedpools[REQ / 16 - 1] != pool[i];
	}
	ok(good && h->nspare == SPARE_POOLS &&
	   atomic_load(&kr.purger_state) == PURGER_NONE,
	   "%u emptied pools go on top of the spare, still in use for their "
	   "arenas, until it is full; the lock was not needed", i);
	ok(invariants(), "invariants: a full spare");

	/*
	 * One more: the oldest 8 go back, and the purge thread starts. The
	 * blocks of the next pool are freed remotely first, so that the
	 * thread's creation, re-entering, retires that pool.
	 */
	for (j = 0; j < SPARE_BATCH; j++)
		old[j] = h->spare[j];
	for (j = 0; j < PER_POOL; j++)
		victim[j] = b[i + 1][j];
	atomic_store(&phase, 1);
	wait_phase(2);
	for (j = 0; j < PER_POOL; j++)
		karena_free(b[i][j]);
	ok(invariants(), "invariants after a give that started a thread, "
	   "whose creation re-entered the heap");
	atomic_store(&phase, 3);
	pthread_join(t, NULL);
	good = 1;
	for (j = 0; j < SPARE_BATCH; j++)
		good &= old[j]->state == POOL_EMPTY && !spare_holds(h, old[j]);
	ok(good, "the next empties: the oldest %u pools are back with their "
	   "arenas", SPARE_BATCH);
#ifndef KARENA_ASAN
	ok(h->nspare == SPARE_POOLS - SPARE_BATCH + 1 &&
	   spare_holds(h, pool[i - 1]) && spare_holds(h, pool[i]) &&
	   pool[i + 1]->szidx == c && pool_ref(pool[i + 1]) == 1,
	   "the newer ones stay, with the pool emptied last; the calloc "
	   "collected the remote frees and took the pool they emptied");
#else
	(void)c;	/* ASan's calloc: no re-entry; the check collected */
	ok(h->nspare == SPARE_POOLS - SPARE_BATCH + 2 &&
	   spare_holds(h, pool[i - 1]) && spare_holds(h, pool[i]) &&
	   spare_holds(h, pool[i + 1]),
	   "the newer ones stay, with the two pools emptied last");
#endif
	ok(atomic_load(&kr.purger_state) != PURGER_NONE,
	   "giving pools back started the purge thread");
	i++;

	/* the top is the next pool taken, by any class */
	n = h->nspare;
	p = h->spare[n - 1];
	x = karena_malloc(464);
	ok(pool_of(x) == p && h->nspare == n - 1 && p->size == 464 &&
	   pool_ref(p) == 1, "a class with no pool takes the top spare pool and "
	   "rebuilds it (464-byte blocks)");
	karena_free(x);
	ok(invariants(), "invariants after the reuse");

	/* an empty spare takes SPARE_BATCH at once */
	karena__flush_kept();
	ok(h->nspare == 0, "flushed: no spare pool left");
	x = karena_malloc(432);
	ok(x && h->nspare == SPARE_BATCH - 1, "the next pool needed brings "
	   "%u more from the arenas (spare %u)", SPARE_BATCH - 1, h->nspare);
	ok(invariants(), "invariants after a refill");
	karena_free(x);
	for (i++; i < NPOOLS; i++)
		for (j = 0; j < (i + 1 < NPOOLS ? PER_POOL : 1); j++)
			karena_free(b[i][j]);
	karena__flush_kept();
	ok(invariants(), "invariants at the end");
	return tap_done();
}
