// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_threads - per-thread heaps: cross-thread frees to a live owner and
 * to an exited (abandoned) one, the batches a freeing thread pushes them
 * in, adoption by new threads (which reuse the arenas an exited thread
 * emptied), no leak. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "heap.h"
#include "init.h"
#include "purge.h"

#define NT	4
#define NB	20000

/*
 * Three cases fork while threads run and start threads in the child,
 * which ThreadSanitizer's runtime does not support ("dup thread with used
 * id"): its build (make -C lib tsan) skips them; the others run them.
 */
#ifdef KARENA_TSAN
#define CHILD_THREADS	0
#else
#define CHILD_THREADS	1
#endif
#define NO_CHILD_THREADS "ThreadSanitizer does not support threads started " \
			 "in the fork child of a threaded parent"

static void *blocks[NT][NB];
static pthread_barrier_t bar;
static int check_ok[NT];
static size_t seen_in_use[NT];

static void *owner(void *arg)
{
	long t = (long)arg;
	struct karena_stats st;
	int i;

	for (i = 0; i < NB; i++) {
		blocks[t][i] = karena_malloc(1 + (size_t)(i * 7 + t) % 300);
		memset(blocks[t][i], (int)t, 1);
	}
	pthread_barrier_wait(&bar);	/* main frees half of them */
	pthread_barrier_wait(&bar);
	karena_stats(&st);		/* collects our remote frees */
	seen_in_use[t] = st.blocks_in_use;
	check_ok[t] = karena__check(stderr) == 0;
	pthread_barrier_wait(&bar);
	return NULL;			/* the rest is freed after we exit */
}

/* Allocate and free 1000 pools' worth of 256-byte blocks, then exit. */
static void *churner(void *arg)
{
	static void *v[32 * 1000];
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(v) / sizeof(*v); i++)
		v[i] = karena_malloc(256);
	for (i = 0; i < sizeof(v) / sizeof(*v); i++)
		karena_free(v[i]);
	return NULL;
}

static void *adopter(void *arg)
{
	void *p = karena_malloc(64);
	(void)arg;
	karena_free(p);
	return NULL;
}

/*
 * Batches (remote.c): a thread with a heap frees main's blocks in steps
 * that main checks between barriers.
 */
#define NBATCH	(23 + 26 + 80 + 3)
static void *mine[NBATCH];
static pthread_barrier_t step;

static size_t in_use(void)
{
	struct karena_stats st;

	karena_stats(&st);
	return st.blocks_in_use;
}

static void *batcher(void *arg)
{
	size_t child_ok;
	pid_t pid;
	int i, status;

	(void)arg;
	karena_free(karena_malloc(64));		/* a heap of its own */
	for (i = 0; i < 5; i++)
		karena_free(mine[i]);
	pthread_barrier_wait(&step);		/* 1: main looks */
	pthread_barrier_wait(&step);
	for (; i < 16; i++)
		karena_free(mine[i]);		/* the batch is full */
	pthread_barrier_wait(&step);		/* 2 */
	pthread_barrier_wait(&step);
	for (; i < 18; i++)
		karena_free(mine[i]);
	pid = fork();				/* pushes them first */
	if (pid == 0)
		_exit(karena__check(stderr) ? 1 : 0);
	waitpid(pid, &status, 0);
	child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	pthread_barrier_wait(&step);		/* 3 */
	pthread_barrier_wait(&step);
	for (; i < 20; i++)
		karena_free(mine[i]);
	in_use();				/* pushes its batches */
	pthread_barrier_wait(&step);		/* 4 */
	pthread_barrier_wait(&step);
	for (; i < 23; i++)
		karena_free(mine[i]);
	return (void *)child_ok;		/* exit pushes the rest */
}

/*
 * A thread that never mallocs frees main's blocks: in batches of its
 * holder (freeonly.c), 3 held, 16 pushed at once, its exit the rest.
 */
static void *heapless(void *arg)
{
	void **b = arg;
	int i;

	for (i = 0; i < 3; i++)
		karena_free(b[i]);
	pthread_barrier_wait(&step);		/* main looks */
	pthread_barrier_wait(&step);
	for (; i < 16; i++)
		karena_free(b[i]);
	pthread_barrier_wait(&step);		/* main looks */
	pthread_barrier_wait(&step);
	for (; i < 18; i++)
		karena_free(b[i]);
	return NULL;
}

/*
 * Frees two of main's blocks, and its exit will not push them: as a
 * holder set up after the thread's key destructors ran.
 */
static void *stranded(void *arg)
{
	karena_free(((void **)arg)[0]);
	karena_free(((void **)arg)[1]);
	freeonly_forget_exit();
	return (void *)(uintptr_t)syscall(SYS_gettid);
}

/*
 * Join @t, a stranded(), and wait until the kernel no longer knows its
 * thread: pthread_join returns when the thread has cleared its id, a
 * little before the kernel forgets it, and a holder's thread is asked
 * for by id (freeonly.c), with tgkill or, where a seccomp filter refuses
 * it, through /proc/self/task, as here. Waits for an event, not a time.
 */
static void join_gone(pthread_t t)
{
	char path[64];
	void *tid;

	pthread_join(t, &tid);
	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)(uintptr_t)tid);
	while (syscall(SYS_tgkill, getpid(), (pid_t)(uintptr_t)tid, 0) == 0 ||
	       (errno == EPERM && access(path, F_OK) == 0))
		sched_yield();
}

/*
 * Frees one block, so takes a holder; main looks before it exits. The
 * free leaves errno as it found it, though taking a gone thread's holder
 * asks the kernel about that thread (freeonly.c).
 */
static int taker_errno;

static void *taker(void *arg)
{
	errno = EDOM;
	karena_free(arg);
	taker_errno = errno;
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	return NULL;
}

/* Frees 3 blocks, then mallocs: its heap's making pushes them. */
static void *late_heap(void *arg)
{
	void **b = arg;
	void *own;
	int i;

	for (i = 0; i < 3; i++)
		karena_free(b[i]);
	own = karena_malloc(64);
	pthread_barrier_wait(&step);		/* main looks */
	pthread_barrier_wait(&step);
	karena_free(own);
	return NULL;
}

/* Frees 2 blocks, then forks: the child inherits no batch of them. */
static void *heapless_forker(void *arg)
{
	void **b = arg;
	pid_t pid;
	int status;

	karena_free(b[0]);
	karena_free(b[1]);
	pid = fork();
	if (pid == 0)
		_exit(karena__check(stderr) ? 1 : 0);
	waitpid(pid, &status, 0);
	return (void *)(uintptr_t)(WIFEXITED(status) &&
				   WEXITSTATUS(status) == 0);
}

/* In a fork child: frees main's block @arg with no heap of its own. */
static void *child_freer(void *arg)
{
	karena_free(arg);
	return NULL;
}

/*
 * Forks while a thread with no heap holds 3 of main's blocks in its
 * batch: the child drops that batch (the thread stayed behind, maybe in
 * the middle of linking one) and its threads reuse the holder.
 */
static int fork_with_held_batch(void *spare)
{
	unsigned holders = freeonly_count();
	pthread_t t;
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		size_t before = in_use();

		pthread_create(&t, NULL, child_freer, spare);
		pthread_join(t, NULL);
		/* its one block pushed at its exit, the 3 held ones dropped */
		_exit(karena__check(stderr) || freeonly_count() != holders ||
		      in_use() != before - 1);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The heapless threads above, in turn: main's blocks from @next on. */
static void heapless_tests(size_t base, int next)
{
	unsigned holders;
	pthread_t t;
	void *child_ok;
	int i;

	pthread_create(&t, NULL, heapless, &mine[next]);
	pthread_barrier_wait(&step);
	ok(in_use() == base, "3 blocks a thread with no heap freed wait in "
	   "its batch (%zu in use, %zu before)", in_use(), base);
	if (!CHILD_THREADS)
		skip("a fork child drops that batch", NO_CHILD_THREADS);
	else
		ok(fork_with_held_batch(mine[NBATCH - 1]), "a fork child drops "
		   "that batch, and its own thread with no heap reuses the "
		   "holder");
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 16, "its full batch of 16 is pushed at once "
	   "(%zu)", in_use());
	pthread_barrier_wait(&step);
	pthread_join(t, NULL);
	ok(in_use() == base - 18, "its exit pushes the rest (%zu)", in_use());
	next += 18;
	holders = freeonly_count();

	pthread_create(&t, NULL, stranded, &mine[next]);
	join_gone(t);
	ok(in_use() == base - 18 && freeonly_count() == holders,
	   "a holder whose thread left without a word keeps its 2 blocks, and "
	   "was the free one (%zu in use, %u holders)", in_use(),
	   freeonly_count());
	pthread_create(&t, NULL, taker, mine[next + 2]);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 20 && freeonly_count() == holders,
	   "the next thread with no heap finds it gone, pushes its blocks and "
	   "takes it (%zu in use, %u holders)", in_use(), freeonly_count());
	ok(taker_errno == EDOM, "and its free leaves errno alone (%d: %s)",
	   taker_errno, strerror(taker_errno));
	pthread_barrier_wait(&step);
	pthread_join(t, NULL);
	ok(in_use() == base - 21, "and pushes its own at its exit (%zu)",
	   in_use());
	next += 3;

	pthread_create(&t, NULL, late_heap, &mine[next]);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 21 - 3 + 1, "a thread's first malloc pushes the "
	   "blocks it freed before it had a heap (%zu)", in_use());
	pthread_barrier_wait(&step);
	pthread_join(t, NULL);
	next += 3;

	pthread_create(&t, NULL, heapless_forker, &mine[next]);
	pthread_join(t, &child_ok);
	ok(in_use() == base - 26 && child_ok, "a fork from a thread with no "
	   "heap pushes its batches first, and the child's heaps check out "
	   "(%zu)", in_use());
	next += 2;

	for (i = 0; i < 40; i++, next++) {
		pthread_create(&t, NULL, stranded, &mine[next]);
		join_gone(t);
		next++;
	}
	ok(in_use() == base - 26 - 78 && freeonly_count() <= holders + 1,
	   "40 threads with no heap that leave without a word: their blocks "
	   "are pushed by the next, and one or two holders serve them all "
	   "(%zu in use, %u holders)", in_use(), freeonly_count());
	for (; next < NBATCH; next++)
		karena_free(mine[next]);
	ok(in_use() == base - (NBATCH - 23) + 2, "nothing lost but the last "
	   "thread's 2 (%zu)", in_use());
}

/* Refuse tgkill with EPERM, as a seccomp filter of a sandbox may. */
static int refuse_tgkill(void)
{
#if defined(__x86_64__)
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_tgkill, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(insns) / sizeof(*insns), .filter = insns,
	};

	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	       prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
	return 0;
#endif
}

/*
 * In a fork child whose seccomp filter refuses tgkill: threads with no
 * heap that leave without a word, more than there are holders. The next
 * one finds a gone thread's holder through /proc/self/task instead
 * (freeonly.c), so no holder is added and every block but those of the
 * holders' last threads is pushed. Exits 0 if so, 1 if not, 2 without
 * seccomp.
 */
static void stranded_under_seccomp_child(void)
{
	unsigned holders = freeonly_count(), n = holders + 3, i;
	void **b = karena_malloc(2 * n * sizeof(*b));
	size_t before;
	pthread_t t;

	for (i = 0; i < 2 * n; i++)
		b[i] = karena_malloc(64);
	before = in_use();
	if (!refuse_tgkill())
		_exit(2);
	for (i = 0; i < n; i++) {
		pthread_create(&t, NULL, stranded, &b[2 * i]);
		join_gone(t);
	}
	holders = holders ? holders : 1;
	_exit(freeonly_count() != holders ||
	      in_use() != before - 2 * (n - holders));
}

static void stranded_under_seccomp(void)
{
	pid_t pid;
	int status;

	if (!CHILD_THREADS) {
		skip("stranded holders where seccomp refuses tgkill",
		     NO_CHILD_THREADS);
		return;
	}
	pid = fork();
	if (pid == 0)
		stranded_under_seccomp_child();
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		skip("stranded holders where seccomp refuses tgkill",
		     "this kernel has no seccomp filters");
	else
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "where seccomp refuses tgkill, a stranded holder is still "
		   "taken back (/proc/self/task), and no holder added");
}

static void batch_tests(void)
{
	size_t base;
	pthread_t t;
	void *child_ok;
	int i;

	for (i = 0; i < NBATCH; i++)
		mine[i] = karena_malloc(64);
	base = in_use();
	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&t, NULL, batcher, NULL);
	pthread_barrier_wait(&step);
	ok(in_use() == base, "5 blocks another thread freed wait in its batch "
	   "(%zu in use, %zu before)", in_use(), base);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 16, "a full batch of 16 is pushed at once (%zu)",
	   in_use());
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 18, "a fork pushes the forking thread's batches "
	   "(%zu)", in_use());
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	ok(in_use() == base - 20, "karena_stats pushes the caller's batches "
	   "(%zu)", in_use());
	pthread_barrier_wait(&step);
	pthread_join(t, &child_ok);
	ok(child_ok != NULL, "the fork child's heaps check out");
	ok(in_use() == base - 23, "a thread's exit pushes its batches (%zu)",
	   in_use());
	heapless_tests(base - 23, 23);
	stranded_under_seccomp();
}

/*
 * A fork child takes every pthread key before any thread with no heap
 * frees: such a thread then gets no holder (freeonly.c makes its key at
 * the first such free) and pushes each block at once, and the keys the
 * program holds keep their values.
 */
static pthread_key_t first_key;
static pthread_barrier_t key_step;

static void *freer_with_key(void *arg)
{
	int mine_too;

	pthread_setspecific(first_key, &mine_too);
	karena_free(arg);
	pthread_barrier_wait(&key_step);	/* main looks */
	pthread_barrier_wait(&key_step);
	return (void *)(uintptr_t)(pthread_getspecific(first_key) == &mine_too);
}

static int no_key_left(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		void *b = karena_malloc(64), *kept;
		pthread_key_t k;
		size_t before;
		pthread_t t;
		int pushed;

		pthread_key_create(&first_key, NULL);
		while (pthread_key_create(&k, NULL) == 0)
			;
		before = in_use();
		pthread_barrier_init(&key_step, NULL, 2);
		pthread_create(&t, NULL, freer_with_key, b);
		pthread_barrier_wait(&key_step);
		pushed = in_use() == before - 1;
		pthread_barrier_wait(&key_step);
		pthread_join(t, &kept);
		_exit(!pushed || !kept);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * A fresh process that takes every pthread key first thing in main: the
 * heaps' key was made at load, so a new thread still gets a heap, which
 * its exit abandons. Exit status 0 if so.
 */
static void *small_user(void *arg)
{
	void *p = karena_malloc(64);

	*(int *)arg = karena__is_ours(p);
	karena_free(p);
	return NULL;
}

static int keys_taken_first(void)
{
	struct karena_stats st;
	pthread_key_t k;
	pthread_t t;
	int ours = 0;

	while (pthread_key_create(&k, NULL) == 0)
		;
	pthread_create(&t, NULL, small_user, &ours);
	pthread_join(t, NULL);
	karena_stats(&st);
	return !(ours && st.heaps_abandoned == 1);
}

static int run_keys_taken_first(const char *self)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		execl(self, self, "keys-taken-first", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
	pthread_t th[NT];
	struct karena_stats st0, st, sb;
	long t;
	int i, good;

	if (argc > 1 && !strcmp(argv[1], "keys-taken-first"))
		return keys_taken_first();
	karena__set_keep_arenas(1);
	kr.purge_thread = 1;
	/* the library's clock stands still: nothing is old enough to purge */
	karena__set_clock(kr_now_ms());
	karena_free(karena_malloc(1));
	karena_stats(&st0);
	pthread_barrier_init(&bar, NULL, NT + 1);
	for (t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, owner, (void *)t);
	pthread_barrier_wait(&bar);
	karena_stats(&st);
	ok(st.blocks_in_use == st0.blocks_in_use + NT * NB,
	   "%d threads hold %d blocks each", NT, NB);
	ok(st.heaps >= NT + 1, "one heap per thread (%zu)", st.heaps);
	for (t = 0; t < NT; t++)
		for (i = 0; i < NB; i += 2)
			karena_free(blocks[t][i]);	/* remote frees */
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	good = 1;
	for (t = 0; t < NT; t++)
		good &= check_ok[t];
	ok(good, "owners' invariants hold after collecting remote frees");
	karena_stats(&st);
	ok(st.blocks_in_use == st0.blocks_in_use + NT * NB / 2,
	   "remote frees are counted once collected (%zu)", st.blocks_in_use);
	for (t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	karena_stats(&st);
	ok(st.heaps_abandoned == NT, "exited threads' heaps are abandoned (%zu)",
	   st.heaps_abandoned);
	for (t = 0; t < NT; t++)
		for (i = 1; i < NB; i += 2)
			karena_free(blocks[t][i]);	/* into abandoned heaps */
	karena_stats(&st);
	ok(st.blocks_in_use == st0.blocks_in_use,
	   "frees into abandoned heaps: nothing left in use");
	purge_pass_all(0);	/* what the purge thread does after PURGE_MS */
	karena_stats(&st);
	ok(st.arenas_held <= st0.arenas_held + NT,
	   "after a purge pass, abandoned heaps have given their arenas back "
	   "but keep_arenas each (%zu held, was %zu)", st.arenas_held,
	   st0.arenas_held);
	ok(invariants(), "invariants of this and every abandoned heap");

	for (t = 0; t < NT; t++) {
		pthread_create(&th[t], NULL, adopter, NULL);
		pthread_join(th[t], NULL);
	}
	karena_stats(&st);
	ok(st.heaps == NT + 1, "new threads adopt abandoned heaps (%zu heaps)",
	   st.heaps);
	for (t = 0; t < 50; t++) {
		pthread_create(&th[0], NULL, adopter, NULL);
		pthread_join(th[0], NULL);
	}
	purge_pass_all(0);
	karena_stats(&st);
	ok(st.heaps == NT + 1 && st.arenas_held <= st0.arenas_held + NT,
	   "50 short-lived threads: no heap or arena leak");

	/*
	 * An exited thread's emptied arenas wait, with its heap, for the next
	 * thread, which reuses them: no arena granted for the second churner.
	 */
	karena_stats(&sb);
	pthread_create(&th[0], NULL, churner, NULL);
	pthread_join(th[0], NULL);
	karena_stats(&st0);
	pthread_create(&th[0], NULL, churner, NULL);
	pthread_join(th[0], NULL);
	karena_stats(&st);
	ok(st0.arenas_held > sb.arenas_held &&
	   st.arenas_allocated == st0.arenas_allocated &&
	   st.arenas_released == st0.arenas_released, "a new thread adopts an "
	   "exited one's heap and reuses its empty arenas (%zu held, was %zu; "
	   "granted %zu -> %zu)", st0.arenas_held, sb.arenas_held,
	   st0.arenas_allocated, st.arenas_allocated);
	purge_pass_all(0);
	karena_stats(&st);
	ok(st.arenas_held <= sb.arenas_held + kr.keep_arenas,
	   "a purge pass releases them but keep_arenas (%zu held)",
	   st.arenas_held);
	karena__real_clock();
	ok(run_keys_taken_first("/proc/self/exe"), "a program that takes "
	   "every pthread key first thing still gets heaps, abandoned at "
	   "their threads' exits (the key was made at load)");
	if (!CHILD_THREADS)
		skip("every pthread key taken, in a fork child",
		     NO_CHILD_THREADS);
	else
		ok(no_key_left(), "with every pthread key taken, a thread with "
		   "no heap pushes each block at once, and the program's keys "
		   "keep their values");
	batch_tests();
	ok(invariants(), "invariants at the end");
	return tap_done();
}
