// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fork_threads - fork from every kind of thread, and every way for
 * the child to end: the main thread and a worker fork, alone or while
 * other threads allocate and free; the child allocates, starts threads and
 * joins them (which starts its own purge thread), forks again, and ends by
 * exit(), or by pthread_exit() of its last thread: the main thread calling
 * it, or the forking worker returning from its start routine. A child of
 * a non-main thread that started and joined a thread used to hang there:
 * the purge thread kept the process alive after its last thread had left
 * (purge.c, purger_main).
 *
 * Every child is waited for with a watchdog of WATCHDOG_S seconds, which
 * only turns a hang into a failure (the child is then killed); nothing
 * here measures time.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "tap.h"
#include "init.h"

#ifndef WATCHDOG_S
#define WATCHDOG_S	60	/* -DWATCHDOG_S=5 to see a hang fail fast */
#endif
#define NCHURN		3
#define HUNG		(-1)

enum child_end {
	END_EXIT,		/* exit(0) from the thread that forked */
	END_PTHREAD_EXIT,	/* that thread calls pthread_exit() */
};

/* Child failures, as exit codes (the parent reports them). */
enum child_error {
	CHILD_NOMEM = 10, CHILD_CORRUPT, CHILD_THREAD, CHILD_NO_PURGER,
	CHILD_INVARIANTS, CHILD_GRANDCHILD,
};

static atomic_int stop;

/*
 * Wait for @pid; if it has not ended within WATCHDOG_S, kill it. Returns
 * its wait status, or HUNG. A pidfd and poll(): no signal handler, so
 * any thread may wait, in a process with any number of threads.
 */
static int wait_watchdog(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), status = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int hung = 0;

	if (fd >= 0) {
		hung = poll(&pfd, 1, WATCHDOG_S * 1000) == 0;
		close(fd);
	}
	if (hung)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return HUNG;
	return hung ? HUNG : status;
}

static const char *describe(int status)
{
	static char buf[64];

	if (status == HUNG)
		snprintf(buf, sizeof(buf), "hung for %d s, killed", WATCHDOG_S);
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d",
			 WTERMSIG(status));
	else
		snprintf(buf, sizeof(buf), "exit status %d",
			 WEXITSTATUS(status));
	return buf;
}

static int ended_well(int status)
{
	return status != HUNG && WIFEXITED(status) && !WEXITSTATUS(status);
}

/* Allocate and free @n blocks of mixed small sizes; false on a failure. */
static int alloc_free(int n, unsigned seed)
{
	static __thread void *v[2000];
	int i;

	if (n > 2000)
		n = 2000;
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		v[i] = karena_malloc(1 + seed % 500);
		if (!v[i])
			return 0;
		memset(v[i], (int)i, 1);
	}
	for (i = 0; i < n; i++) {
		if (*(unsigned char *)v[i] != (unsigned char)i)
			return 0;
		karena_free(v[i]);
	}
	return 1;
}

static void *alloc_free_thread(void *arg)
{
	return (void *)(long)!alloc_free(2000, (unsigned)(long)arg);
}

/* The parent's other threads: allocate and free until told to stop. */
static void *churn(void *arg)
{
	unsigned seed = (unsigned)(long)arg;

	while (!atomic_load(&stop))
		alloc_free(200, seed++);
	return NULL;
}

static pthread_t churners[NCHURN];

static void churn_start(void)
{
	long i;

	atomic_store(&stop, 0);
	for (i = 0; i < NCHURN; i++)
		pthread_create(&churners[i], NULL, churn, (void *)(i + 7));
}

static void churn_stop(void)
{
	int i;

	atomic_store(&stop, 1);
	for (i = 0; i < NCHURN; i++)
		pthread_join(churners[i], NULL);
}

static void child_life(int depth, enum child_end end);

/* A thread of a child that forks a grandchild and waits for it. */
struct fork_again {
	int depth;
	int status;
};

static void *fork_again_thread(void *arg)
{
	struct fork_again *fa = arg;
	pid_t pid;

	fflush(NULL);		/* a child's exit() must not print it again */
	pid = fork();

	if (pid == 0)
		child_life(fa->depth, END_PTHREAD_EXIT);
	fa->status = pid < 0 ? HUNG : wait_watchdog(pid);
	return NULL;
}

/*
 * The life of a child: it allocates, starts two threads that allocate,
 * free and exit (their heaps are abandoned, which starts the child's purge
 * thread), checks the invariants, forks again from a new thread while
 * @depth > 0, and ends as @end says. A failure ends it at once with an
 * enum child_error code.
 */
static void child_life(int depth, enum child_end end)
{
	size_t purgers = atomic_load(&kr.purge_threads);
	pthread_t th[2];
	void *res;
	int i;

	if (!alloc_free(2000, 1))
		_exit(CHILD_NOMEM);
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, alloc_free_thread,
				   (void *)(long)(i + 1)))
			_exit(CHILD_THREAD);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], &res);
		if (res)
			_exit(CHILD_CORRUPT);
	}
	if (atomic_load(&kr.purge_threads) == purgers)
		_exit(CHILD_NO_PURGER);	/* the case that hung: not reached */
	if (karena__check(stderr))
		_exit(CHILD_INVARIANTS);
	if (depth > 0) {
		struct fork_again fa = { depth - 1, 0 };

		if (pthread_create(&th[0], NULL, fork_again_thread, &fa))
			_exit(CHILD_THREAD);
		pthread_join(th[0], NULL);
		if (!ended_well(fa.status)) {
			fprintf(stderr, "# grandchild: %s\n",
				describe(fa.status));
			_exit(CHILD_GRANDCHILD);
		}
	}
	if (end == END_EXIT)
		exit(0);
	pthread_exit(NULL);	/* the last thread: the process ends, 0 */
}

/* Fork from the calling thread; the child lives child_life(). */
static int fork_and_wait(int depth, enum child_end end)
{
	pid_t pid;

	fflush(NULL);		/* a child's exit() must not print it again */
	pid = fork();

	if (pid == 0)
		child_life(depth, end);
	return pid < 0 ? HUNG : wait_watchdog(pid);
}

struct worker_fork {
	int depth;
	enum child_end end;
	int status;
};

/*
 * A worker that forks: in the child it is the only thread, and with
 * END_PTHREAD_EXIT it leaves the way a worker does, by returning from its
 * start routine (child_life's pthread_exit is the same).
 */
static void *worker_fork(void *arg)
{
	struct worker_fork *w = arg;

	alloc_free(500, 3);
	w->status = fork_and_wait(w->depth, w->end);
	return NULL;
}

static int fork_from_worker(int depth, enum child_end end)
{
	struct worker_fork w = { depth, end, HUNG };
	pthread_t t;

	if (pthread_create(&t, NULL, worker_fork, &w))
		return HUNG;
	pthread_join(t, NULL);
	return w.status;
}

static const char *end_name(enum child_end end)
{
	return end == END_EXIT ? "exit()" : "pthread_exit() of its last thread";
}

int main(void)
{
	enum child_end end;
	int st, k, good;
	pthread_t t;

	/* the purge thread is what a child must not wait for at its end */
	karena__set_purge_ms(100);
	kr.purge_thread = 1;
	/* a worker's heap abandoned: the parent's purge thread runs */
	pthread_create(&t, NULL, alloc_free_thread, NULL);
	pthread_join(t, NULL);

	for (end = END_EXIT; end <= END_PTHREAD_EXIT; end++) {
		st = fork_and_wait(0, end);
		ok(ended_well(st), "main thread forks (no other thread "
		   "allocating); the child starts and joins threads, ends by "
		   "%s: %s", end_name(end), describe(st));
		st = fork_from_worker(0, end);
		ok(ended_well(st), "a worker forks; the child starts and joins "
		   "threads, ends by %s: %s", end_name(end), describe(st));
	}

	churn_start();
	st = fork_and_wait(0, END_PTHREAD_EXIT);
	ok(ended_well(st), "main thread forks while %d threads allocate and "
	   "free; the child ends by pthread_exit(): %s", NCHURN,
	   describe(st));
	good = 1;
	for (k = 0; k < 10; k++) {
		st = fork_from_worker(0, k & 1 ? END_EXIT : END_PTHREAD_EXIT);
		if (!ended_well(st)) {
			good = 0;
			printf("# fork %d: %s\n", k, describe(st));
		}
	}
	ok(good, "10 forks from new workers while %d threads allocate and "
	   "free; the children start and join threads and end", NCHURN);
	st = fork_from_worker(2, END_PTHREAD_EXIT);
	ok(ended_well(st), "a worker forks while others allocate; the child "
	   "forks again from a worker of its own, and so does the grandchild "
	   "(three generations, each ending by pthread_exit()): %s",
	   describe(st));
	churn_stop();

	st = fork_and_wait(1, END_EXIT);
	ok(ended_well(st), "main thread forks; the child forks again from a "
	   "worker: %s", describe(st));
	ok(invariants(), "parent invariants after the forks");
	return tap_done();
}
