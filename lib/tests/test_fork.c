// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_fork - fork while other threads allocate; the child allocates,
 * frees the parent's blocks, starts threads, and checks the invariants. */
#include <pthread.h>
#include <stdatomic.h>

#include "tap.h"

#define NT 4
static atomic_int stop;

static void *churn(void *arg)
{
	void *v[256] = {0};
	unsigned i = (unsigned)(long)arg;

	while (!atomic_load(&stop)) {
		i = i * 1103515245 + 12345;
		karena_free(v[i % 256]);
#ifdef KARENA_ASAN
		/*
		 * Stay in arenas: GCC 12's ASan allocator has no fork
		 * handlers, so a fork while this thread is inside it (a
		 * request > 512 goes to glibc, i.e. ASan) can leave the
		 * child's threads waiting on its lock forever.
		 */
		v[i % 256] = karena_malloc(i % 513);
#else
		v[i % 256] = karena_malloc(i % 600);
#endif
	}
	for (i = 0; i < 256; i++)
		karena_free(v[i]);
	return NULL;
}

static void *child_thread(void *arg)
{
	void *v[1000];
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		v[i] = karena_malloc(i % 500);
	for (i = 0; i < 1000; i++)
		karena_free(v[i]);
	return NULL;
}

static int child(char **parent_blocks, int n)
{
	pthread_t th[2];
	void *v[5000];
	int i;

	for (i = 0; i < n; i++)
		if (parent_blocks[i][0] != (char)i)
			return 2;
	for (i = 0; i < 5000; i++)
		if (!(v[i] = karena_malloc(i % 512)))
			return 3;
	for (i = 0; i < n; i++)
		karena_free(parent_blocks[i]);
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, child_thread, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 5000; i++)
		karena_free(v[i]);
	return karena__check(stderr) ? 4 : 0;
}

int main(void)
{
	pthread_t th[NT];
	char *pb[1000];
	int i, k, status, good = 1, forks = 30;
	pid_t pid;

#ifdef KARENA_ASAN
	/*
	 * GCC 12's ASan allocator has no fork handlers: a thread of the
	 * parent inside it at the fork leaves its lock held in the child,
	 * and the child's first new thread (the purge thread, a
	 * child_thread) waits forever. Keep the purge thread out of the
	 * ASan run; the native run forks with it.
	 */
	kr.purge_thread = 0;
#endif

	for (i = 0; i < 1000; i++) {
		pb[i] = karena_malloc(1 + i % 400);
		pb[i][0] = (char)i;
	}
	for (i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, churn, (void *)(long)(i + 1));
	for (k = 0; k < forks; k++) {
		pid = fork();
		if (pid == 0)
			_exit(child(pb, 1000));
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			good = 0;
			fprintf(stderr, "fork %d: child status %#x\n", k, status);
		}
	}
	ok(good, "%d forks of a %d-thread parent: children allocate, free the "
	   "parent's blocks, start threads, keep invariants", forks, NT + 1);
	atomic_store(&stop, 1);
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	good = 1;
	for (i = 0; i < 1000; i++)
		good &= pb[i][0] == (char)i;
	ok(good, "the parent's blocks are untouched by the children");
	for (i = 0; i < 1000; i++)
		karena_free(pb[i]);
	ok(invariants(), "parent invariants after the forks");
	return tap_done();
}
