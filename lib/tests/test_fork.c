// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_fork - fork while other threads allocate; the child allocates,
 * frees the parent's blocks, starts threads, and checks the invariants;
 * and a child never reuses the heap of a thread that was alive at the fork
 * (it may have been inside malloc or free: lib/README.md, "Fork"). */
#include <pthread.h>
#include <stdatomic.h>

#include "tap.h"
#include "arena.h"
#include "init.h"

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

/*
 * A thread that allocates, frees every other block, and then waits: its
 * heap has free blocks and is between operations at the fork.
 */
#define NIDLE 600
static char *idle_blocks[NIDLE];
static int idle_ready[2], idle_release[2];

static void *idle_thread(void *arg)
{
	char c = 0;
	int i;

	(void)arg;
	for (i = 0; i < NIDLE; i++) {
		idle_blocks[i] = karena_malloc(16 + i % 300);
		memset(idle_blocks[i], 0x5a, 16);
	}
	for (i = 0; i < NIDLE; i += 2) {
		karena_free(idle_blocks[i]);
		idle_blocks[i] = NULL;
	}
	if (write(idle_ready[1], &c, 1) != 1 ||
	    read(idle_release[0], &c, 1) != 1)
		return NULL;
	for (i = 1; i < NIDLE; i += 2)
		karena_free(idle_blocks[i]);
	return NULL;
}

static int in_idle_arena(const void *p)
{
	int i;

	for (i = 1; i < NIDLE; i += 2)
		if (arena_of(p) == arena_of(idle_blocks[i]))
			return 1;
	return 0;
}

static void *child_alloc_thread(void *arg)
{
	void **v = arg;
	int i;

	for (i = 0; i < 2000; i++)
		v[i] = karena_malloc(16 + i % 300);
	return NULL;
}

/*
 * The child frees the idle thread's blocks (dropped: its heap is lost),
 * then allocates on its main thread and on two new threads, which would
 * adopt that heap if it were merely abandoned: no new block may lie in one
 * of its arenas, and no freed block may have been written.
 */
static int child_of_idle_parent(void)
{
	static void *v[3][2000];
	pthread_t th[2];
	int i, k;

	for (i = 1; i < NIDLE; i += 2)
		karena_free(idle_blocks[i]);
	for (k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, child_alloc_thread, v[k + 1]);
	child_alloc_thread(v[0]);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	for (k = 0; k < 3; k++)
		for (i = 0; i < 2000; i++)
			if (!v[k][i] || in_idle_arena(v[k][i]))
				return 2;
	for (i = 1; i < NIDLE; i += 2)
		if (idle_blocks[i][8] != 0x5a)
			return 3;
	return karena__check(stderr) ? 4 : 0;
}

static void test_live_heap_is_lost(void)
{
	pthread_t th;
	int status = -1;
	pid_t pid;
	char c = 0;

	if (pipe(idle_ready) || pipe(idle_release) ||
	    pthread_create(&th, NULL, idle_thread, NULL)) {
		ok(0, "set up the idle thread");
		return;
	}
	if (read(idle_ready[0], &c, 1) != 1) {
		ok(0, "the idle thread got ready");
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(child_of_idle_parent());
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a child frees the blocks of a thread alive at the fork (dropped), "
	   "and neither its main thread nor new threads reuse that heap "
	   "(status %#x)", status);
	if (write(idle_release[1], &c, 1) != 1)
		ok(0, "release the idle thread");
	pthread_join(th, NULL);
	ok(invariants(), "parent invariants after the idle thread's frees");
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
	test_live_heap_is_lost();
	return tap_done();
}
