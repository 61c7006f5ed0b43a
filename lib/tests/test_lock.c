// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_lock - the heap lock (struct kr_lock): mutual exclusion under
 * contention, sleepers woken, and the word back at 0 when free. */
#include <pthread.h>

#include "tap.h"
#include "lock.h"

#define THREADS	4
#define ROUNDS	50000

static struct kr_lock lock;
static unsigned long counter;		/* guarded by lock, not atomic */
static atomic_int inside, overlap;

static void *worker(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ROUNDS; i++) {
		kr_lock(&lock);
		if (atomic_fetch_add(&inside, 1))
			atomic_store(&overlap, 1);
		counter++;
		if (i % 1000 == 0)
			sched_yield();	/* hold it while others queue */
		atomic_fetch_sub(&inside, 1);
		kr_unlock(&lock);
	}
	return NULL;
}

/* Release the lock main holds once main waits for it (marked it 2). */
static void *hold_then_release(void *arg)
{
	(void)arg;
	while (atomic_load(&lock.state) != 2)
		sched_yield();
	kr_unlock(&lock);	/* taken by main, released here: a futex
				 * word has no owner */
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	int i;

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ok(counter == (unsigned long)THREADS * ROUNDS && !atomic_load(&overlap),
	   "%d threads x %d rounds: %lu increments, never two inside",
	   THREADS, ROUNDS, counter);
	ok(atomic_load(&lock.state) == 0, "the word is 0 when free");

	/* a waiter sleeps (state 2) and is woken by the release */
	kr_lock(&lock);
	pthread_create(&t[0], NULL, hold_then_release, NULL);
	kr_lock(&lock);		/* sleeps until the thread releases */
	ok(atomic_load(&lock.state) == 2,
	   "a thread that had to sleep holds it marked contended (2)");
	kr_unlock(&lock);
	pthread_join(t[0], NULL);
	ok(atomic_load(&lock.state) == 0, "free again after the release");
	return tap_done();
}
