// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * freeonly.c - batches for a thread that frees other threads' small
 * blocks but has no heap: it never mallocs (a consumer of a queue, a
 * thread that drains and frees what others built).
 *
 * remote.c batches a heap's frees of other heaps' blocks in the heap
 * (heap->batches). A thread with no heap pushed each block alone, with a
 * compare-and-swap on the owner's list line, which the owner's exchange
 * and every other such push also write: a producer/consumer pair whose
 * consumer only frees took up to 1.5x mimalloc's time across two CPUs
 * (docs/benchmarks.md).
 * Such a thread now gets a holder: REMOTE_SLOTS batches, as a heap has,
 * and nothing else (no pools, no arenas, no owner count). Holders are
 * mmapped, on one list, never unmapped, and reused.
 *
 * Who pushes a holder's batches: its thread, when they fill, when it
 * builds a heap (a first malloc), before a fork, in karena_stats, and at
 * its exit (a pthread key destructor, which also frees the holder for
 * the next thread). But a thread can free for the first time after its
 * key destructors have run: an exiting detached thread trims glibc's
 * cache of thread stacks and frees their TLS arrays, which other threads
 * allocated. A holder set up then is never handed back by its thread. A
 * heap made then was never abandoned either, and, owned forever, kept the
 * purge thread waiting and the process alive: that is why a holder counts
 * in no owner count. Instead each holder records its thread's id, and a
 * thread that needs a holder and finds none free asks whether the
 * threads of up to PROBES holders still exist (tgkill with signal 0:
 * ESRCH once a thread has gone, never while it lives; /proc/self/task
 * where seccomp refuses tgkill; should a new thread get the same id, the
 * holder only waits longer), pushes a dead
 * one's batches and takes it. Such a holder keeps at most
 * (REMOTE_BATCH - 1) * REMOTE_SLOTS blocks from their heaps until then.
 *
 * In a fork child the holders of the threads that stayed behind are
 * emptied (their blocks dropped, as a lost heap's are) and free.
 *
 * holders_lock guards the list and the ids; a holder's batches are its
 * thread's alone, or, once the thread has gone, the taker's. No malloc
 * and no other lock is taken under holders_lock, and pthread_setspecific,
 * which may malloc, is called without it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "heap.h"
#include "types.h"

/* Holders whose thread a taker may probe before it maps a new one. */
#define PROBES	8

__thread struct kr_freeonly *kr_tls_holder
	__attribute__((tls_model("initial-exec")));

static pthread_mutex_t holders_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kr_freeonly *holders;	/* every holder, newest first */
static struct kr_freeonly *probe_next;	/* where the next probes start */
static unsigned nholders;

static pthread_key_t holder_key;
static bool holder_key_made;	/* false: no key left (PTHREAD_KEYS_MAX) */
static pthread_once_t holder_key_once = PTHREAD_ONCE_INIT;

/*
 * Has thread @tid of this process exited? Asked with tgkill and signal 0
 * (ESRCH once it has gone); where a seccomp filter refuses tgkill (EPERM,
 * ENOSYS), by whether /proc/self/task has its entry still, if /proc is
 * there at all (else the thread lives, as far as we can tell). Formats
 * the path by hand: holders_lock is held, under which nothing may malloc.
 */
static bool thread_gone(pid_t tid)
{
	char path[32] = "/proc/self/task/", digits[12];
	size_t n = strlen(path), k = 0;

	if (syscall(SYS_tgkill, getpid(), tid, 0) == 0)
		return false;
	if (errno != EPERM && errno != ENOSYS)
		return errno == ESRCH;
	do
		digits[k++] = (char)('0' + tid % 10);
	while ((tid /= 10) && k < sizeof(digits));
	while (k)
		path[n++] = digits[--k];
	path[n] = '\0';
	return access(path, F_OK) == -1 && errno == ENOENT &&
	       access("/proc/self/task", F_OK) == 0;
}

/* pthread key destructor: @arg's thread is exiting. */
static void holder_release(void *arg)
{
	struct kr_freeonly *fo = arg;

	kr_tls_holder = FREEONLY_DEAD;	/* its later frees: pushed alone */
	remote_batches_push(fo->batches);
	pthread_mutex_lock(&holders_lock);
	fo->tid = 0;
	pthread_mutex_unlock(&holders_lock);
}

/*
 * Made at the first remote free of a thread with no heap, which may come
 * after the program has taken every key: then no thread gets a holder.
 */
static void holder_key_create(void)
{
	holder_key_made = !pthread_key_create(&holder_key, holder_release);
}

/*
 * A free holder, or one whose thread has gone (up to PROBES of them
 * asked), marked the caller's (@tid); NULL if none.
 */
static struct kr_freeonly *holder_find(pid_t tid)
{
	struct kr_freeonly *fo, *found = NULL;
	unsigned probes = 0;

	for (fo = holders; fo && !found; fo = fo->next)
		if (!fo->tid)
			found = fo;
	for (fo = probe_next; !found && probes < nholders && probes < PROBES;
	     probes++) {
		if (!fo)
			fo = holders;
		if (thread_gone(fo->tid))
			found = fo;
		fo = fo->next;
		probe_next = fo;
	}
	if (found)
		found->tid = tid;
	return found;
}

/*
 * A holder for the calling thread: a free one, a dead thread's (its
 * blocks pushed first), or a new one. NULL if mmap fails.
 */
static struct kr_freeonly *holder_take(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct kr_freeonly *fo;

	pthread_mutex_lock(&holders_lock);
	fo = holder_find(tid);
	pthread_mutex_unlock(&holders_lock);
	if (fo) {
		remote_batches_push(fo->batches);	/* a dead thread's */
		return fo;
	}
	fo = mmap(NULL, sizeof(*fo), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fo == MAP_FAILED)
		return NULL;
	fo->tid = tid;			/* the rest all zero: no batch */
	pthread_mutex_lock(&holders_lock);
	fo->next = holders;
	holders = fo;
	nholders++;
	pthread_mutex_unlock(&holders_lock);
	return fo;
}

/*
 * The batches of the calling thread, whose heap is @self (not a real
 * one) and which has no holder: one set up for it, on its first remote
 * free. NULL: push the block alone (the thread's heap is being built, or
 * it is exiting, or no memory, or no pthread key left).
 */
struct kr_remote_batch *freeonly_attach(const struct kr_heap *self)
{
	struct kr_freeonly *fo = kr_tls_holder;
	int saved_errno = errno;	/* free leaves it alone (POSIX) */

	if (self || fo)			/* HEAP_BUSY, HEAP_DEAD; or ours */
		return NULL;
	pthread_once(&holder_key_once, holder_key_create);
	if (!holder_key_made)
		return NULL;
	kr_tls_holder = FREEONLY_BUSY;	/* a nested free pushes alone */
	fo = holder_take();		/* tgkill's ESRCH, mmap's ENOMEM */
	if (fo)
		pthread_setspecific(holder_key, fo);	/* may malloc */
	kr_tls_holder = fo;
	errno = saved_errno;
	return fo ? fo->batches : NULL;
}

/* Push the calling thread's holder's batches, if it has one. */
void freeonly_push(void)
{
	if (freeonly_is_holder(kr_tls_holder))
		remote_batches_push(kr_tls_holder->batches);
}

/* Holders made so far (the tests: reused, not one per thread). */
unsigned freeonly_count(void)
{
	unsigned n;

	pthread_mutex_lock(&holders_lock);
	n = nholders;
	pthread_mutex_unlock(&holders_lock);
	return n;
}

/*
 * The tests: the calling thread's exit will not release its holder, as
 * if it had been set up after the thread's key destructors ran.
 */
void freeonly_forget_exit(void)
{
	if (freeonly_is_holder(kr_tls_holder))
		pthread_setspecific(holder_key, NULL);
}

/* fork: held across it (heap.c pushes the forking thread's batches). */
void freeonly_atfork_prepare(void)
{
	pthread_mutex_lock(&holders_lock);
}

void freeonly_atfork_parent(void)
{
	pthread_mutex_unlock(&holders_lock);
}

/*
 * The child's one thread has an id of its own. Every other holder's
 * thread stayed behind, maybe in the middle of linking a block into a
 * batch: its batches are dropped, not pushed (a chain cut short would
 * read as a double free), as a lost heap's blocks are, and the holder
 * is free for the child's threads.
 */
void freeonly_atfork_child(void)
{
	struct kr_freeonly *fo;

	pthread_mutex_init(&holders_lock, NULL);
	for (fo = holders; fo; fo = fo->next) {
		if (fo == kr_tls_holder) {
			fo->tid = (pid_t)syscall(SYS_gettid);
		} else {
			memset(fo->batches, 0, sizeof(fo->batches));
			fo->tid = 0;
		}
	}
}
