// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_large_reuse - large blocks made of the thread's empty arenas
 * (large.c, grant_recycled) while other threads map and unmap memory and
 * fork: each thread frees a batch of small and medium blocks, then
 * allocates, fills, grows and frees a large block, and every other thread
 * forks now and then (the child runs two rounds of its own). Every byte
 * written is read back. A version that moved several arenas onto one
 * mapping failed it on the 6.12 kernel, one run in three at 12 rounds a
 * thread (SIGABRT), hence 24
 * (docs/benchmarks.md, "Large blocks from empty arenas"). */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "backend.h"
#include "init.h"

#define NT	4
#define ROUNDS	24
#define NSMALL	6000

static void *small[NT][NSMALL];
static int thread_ok[NT], children_ok[NT];

/* One round; false if a byte read back was not the one written. */
static bool one_round(void **v, unsigned *seed)
{
	size_t len, grown, i;
	bool zero = rand_r(seed) & 1, good = true;
	unsigned char *p, *q, tag = (unsigned char)rand_r(seed);

	for (i = 0; i < NSMALL; i++) {
		v[i] = karena_malloc(16 + (size_t)rand_r(seed) % 2000);
		if (!v[i])
			return false;
		memset(v[i], (int)i, 16);
	}
	for (i = 0; i < NSMALL; i++)
		karena_free(v[i]);
	len = kr.arena_size / 2 + (size_t)rand_r(seed) % (3 * kr.arena_size);
	p = zero ? karena_calloc(1, len) : karena_malloc(len);
	if (!p)
		return false;
	for (i = 0; zero && i < len; i++)
		good &= !p[i];
	for (i = 0; i < len; i += 64)
		p[i] = (unsigned char)(tag + (i >> 6));
	grown = len + (size_t)rand_r(seed) % (2 * kr.arena_size);
	q = karena_realloc(p, grown);
	if (!q) {
		karena_free(p);
		return false;
	}
	for (i = 0; i < len; i += 64)
		good &= q[i] == (unsigned char)(tag + (i >> 6));
	memset(q + len, 0x5a, grown - len);
	karena_free(q);
	return good;
}

static void *worker(void *arg)
{
	long t = (long)arg;
	unsigned seed = 0x9e3779b9u * (unsigned)(t + 1);
	bool good = true, kids = true;

	for (int r = 0; r < ROUNDS; r++) {
		good &= one_round(small[t], &seed);
		if (t % 2 == 0 && r % 4 == 3) {
			int st;
			pid_t c = fork();

			if (c == 0) {
				unsigned s = seed * 7;

				_exit(one_round(small[t], &s) &&
				      one_round(small[t], &s) ? 0 : 1);
			}
			kids &= c > 0 && waitpid(c, &st, 0) == c &&
				WIFEXITED(st) && !WEXITSTATUS(st);
		}
	}
	thread_ok[t] = good;
	children_ok[t] = kids;
	return NULL;
}

int main(void)
{
	pthread_t th[NT];
	size_t recycled;
	int good = 1, kids = 1;

	karena__set_purge_ms(100);
	recycled = kr.arenas_recycled;
	for (long t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < NT; t++) {
		pthread_join(th[t], NULL);
		good &= thread_ok[t];
		kids &= children_ok[t];
	}
	recycled = kr.arenas_recycled - recycled;
	ok(good, "%d threads, %d rounds each: every byte of every large "
	   "block read back as written", NT, ROUNDS);
	ok(kids, "the children forked from threads ran their rounds and "
	   "exited 0");
	if (kr.backend == &kr_backend_mmap)
		ok(recycled > 0, "%zu large blocks were empty arenas", recycled);
	else
		ok(!recycled, "the module's arenas stay where they are (%zu "
		   "moved)", recycled);
	ok(karena__check(stderr) == 0, "invariants after the threads");
	return tap_done();
}
