// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_lock - the heap lock (struct kr_lock): mutual exclusion under
 * contention, sleepers woken, the word back at 0 when free, and errno
 * untouched by a sleep a signal cut short (free must not change it). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

static atomic_int sleeper_tid, interrupted;
static int sleeper_errno;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

/* Waits for the lock main holds, with errno at EDOM before. */
static void *sleeper(void *arg)
{
	(void)arg;
	atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
	errno = EDOM;
	kr_lock(&lock);
	sleeper_errno = errno;
	kr_unlock(&lock);
	return NULL;
}

/*
 * Is thread @tid of this process blocked in futex(2)? -1: this kernel
 * does not say (no /proc/PID/syscall).
 */
static int in_futex(int tid)
{
	char path[64];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr == SYS_futex;
}

/*
 * A sleeper whose futex wait a signal interrupts (EINTR: the handler has
 * no SA_RESTART) goes back to sleep, and takes the lock with errno as it
 * was. Waits for events (the thread in futex(2), the handler run), never
 * for a time.
 */
static void interrupted_sleep(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t t;
	int tid, in;

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	kr_lock(&lock);
	pthread_create(&t, NULL, sleeper, NULL);
	while (!(tid = atomic_load(&sleeper_tid)) || !(in = in_futex(tid)))
		sched_yield();
	if (in < 0) {
		kr_unlock(&lock);
		pthread_join(t, NULL);
		skip("a sleep on the lock cut short by a signal",
		     "this kernel has no /proc/PID/syscall to see the sleep");
		return;
	}
	pthread_kill(t, SIGUSR1);
	while (!atomic_load(&interrupted) || !in_futex(tid))
		sched_yield();
	kr_unlock(&lock);
	pthread_join(t, NULL);
	ok(sleeper_errno == EDOM, "a sleep on the lock that a signal cut "
	   "short leaves errno alone (%d: %s)", sleeper_errno,
	   strerror(sleeper_errno));
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
	interrupted_sleep();
	return tap_done();
}
