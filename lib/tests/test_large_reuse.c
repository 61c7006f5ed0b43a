// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_large_reuse - large blocks made of the thread's empty arenas
 * (large.c, grant_recycled) while other threads map and unmap memory and
 * fork: each thread frees a batch of small and medium blocks, then
 * allocates, fills, grows and frees a large block, and every other thread
 * forks now and then (the child runs two rounds of its own). Every byte
 * written is read back. An allocation that the module's limits refuse
 * (NULL, ENOMEM: documented) ends a round early and is counted, and a
 * child that met one exits 1; a child whose grants went past the limits
 * at the fork dies of SIGBUS while the module counts fork copies refused,
 * and is counted too (the debug kernel's VM, whose purge lags, met it one
 * run in six). On the mmap backend nothing may be refused. A version that moved several arenas onto one
 * mapping failed it on the 6.12 kernel, one run in three at 12 rounds a
 * thread (SIGABRT), hence 24
 * (docs/benchmarks.md, "Large blocks from empty arenas"). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
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
static size_t rounds[NT][3];		/* by enum round */
static int children[NT], children_refused[NT], children_bad_status[NT];

/* What a round found: all well, an allocation refused, a byte wrong. */
enum round { ROUND_OK, ROUND_ENOMEM, ROUND_BAD };

/* A NULL from karena: ENOMEM is the module's limit (documented), else bad. */
static enum round refused(void)
{
	return errno == ENOMEM ? ROUND_ENOMEM : ROUND_BAD;
}

/* One round: every byte written is read back. */
static enum round one_round(void **v, unsigned *seed)
{
	size_t len, grown, i, n;
	bool zero = rand_r(seed) & 1, good = true;
	unsigned char *p, *q, tag = (unsigned char)rand_r(seed);

	for (n = 0; n < NSMALL; n++) {
		v[n] = karena_malloc(16 + (size_t)rand_r(seed) % 2000);
		if (!v[n])
			break;
		memset(v[n], (int)n, 16);
	}
	for (i = 0; i < n; i++)
		karena_free(v[i]);
	if (n < NSMALL)
		return refused();
	len = kr.arena_size / 2 + (size_t)rand_r(seed) % (3 * kr.arena_size);
	p = zero ? karena_calloc(1, len) : karena_malloc(len);
	if (!p)
		return refused();
	for (i = 0; zero && i < len; i++)
		good &= !p[i];
	for (i = 0; i < len; i += 64)
		p[i] = (unsigned char)(tag + (i >> 6));
	grown = len + (size_t)rand_r(seed) % (2 * kr.arena_size);
	q = karena_realloc(p, grown);
	if (!q) {
		enum round r = refused();

		for (i = 0; i < len; i += 64)	/* p is left as it was */
			good &= p[i] == (unsigned char)(tag + (i >> 6));
		karena_free(p);
		return good ? r : ROUND_BAD;
	}
	for (i = 0; i < len; i += 64)
		good &= q[i] == (unsigned char)(tag + (i >> 6));
	memset(q + len, 0x5a, grown - len);
	karena_free(q);
	return good ? ROUND_OK : ROUND_BAD;
}

/*
 * The module's count of fork copies refused (sysfs), or 0 without it. A
 * fork child whose grants go past the module's limits gets VMAs that
 * point at nothing, and a SIGBUS on access: documented, and counted there
 * (kmod/grant.c, "Limits at fork").
 */
static unsigned long fork_copy_failures(void)
{
	FILE *f = fopen("/sys/class/misc/karena/fork_copy_failures", "r");
	unsigned long n = 0;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

/* A child's fatal signal names the address, then kills it as before. */
static void say_fault(int sig, siginfo_t *si, void *ctx)
{
	char msg[96];
	int n;

	(void)ctx;
	n = snprintf(msg, sizeof(msg), "# child %d: signal %d, code %d, at %p\n",
		     (int)getpid(), sig, si->si_code, si->si_addr);
	if (write(2, msg, (size_t)n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void *worker(void *arg)
{
	long t = (long)arg;
	unsigned seed = 0x9e3779b9u * (unsigned)(t + 1);

	for (int r = 0; r < ROUNDS; r++) {
		rounds[t][one_round(small[t], &seed)]++;
		if (t % 2 == 0 && r % 4 == 3) {
			unsigned long refused = fork_copy_failures();
			int st;
			pid_t c = fork();

			if (c == 0) {
				struct sigaction sa = { .sa_sigaction = say_fault,
							.sa_flags = SA_SIGINFO };
				unsigned s = seed * 7;

				sigaction(SIGBUS, &sa, NULL);
				sigaction(SIGSEGV, &sa, NULL);
				enum round a = one_round(small[t], &s);
				enum round b = one_round(small[t], &s);

				_exit(a > b ? a : b);
			}
			if (c < 0 || waitpid(c, &st, 0) != c)
				st = -1;
			if (st == ROUND_ENOMEM << 8 ||
			    (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS &&
			     fork_copy_failures() > refused))
				children_refused[t]++;
			else if (st)
				children_bad_status[t] = st;
			children[t]++;
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t th[NT];
	size_t recycled, nrounds[3] = { 0 };
	int kids = 0, refused_kids = 0, bad_status = 0, each_did_one = 1;

	karena__set_purge_ms(100);
	recycled = kr.arenas_recycled;
	for (long t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (int t = 0; t < NT; t++) {
		pthread_join(th[t], NULL);
		for (int k = 0; k < 3; k++)
			nrounds[k] += rounds[t][k];
		each_did_one &= rounds[t][ROUND_OK] > 0;
		kids += children[t];
		refused_kids += children_refused[t];
		if (children_bad_status[t])
			bad_status = children_bad_status[t];
	}
	recycled = kr.arenas_recycled - recycled;
	ok(!nrounds[ROUND_BAD], "%d threads, %d rounds each: every byte of "
	   "every large block read back as written (%zu rounds bad)", NT,
	   ROUNDS, nrounds[ROUND_BAD]);
	/* the module's limits may refuse a round (ENOMEM, documented) */
	ok(each_did_one && (kr.backend != &kr_backend_mmap ||
			    !nrounds[ROUND_ENOMEM]),
	   "each thread completed rounds (%zu of %d; %zu refused with ENOMEM%s)",
	   nrounds[ROUND_OK], NT * ROUNDS, nrounds[ROUND_ENOMEM],
	   kr.backend == &kr_backend_mmap ? ", none allowed on mmap" : "");
	ok(!bad_status && (kr.backend != &kr_backend_mmap || !refused_kids),
	   "the %d children forked from threads ran their rounds "
	   "and exited 0, or met the module's limits (%d: exit 1 for ENOMEM, "
	   "or SIGBUS with fork copies refused; last other status %#x)",
	   kids, refused_kids, (unsigned)bad_status);
	if (kr.backend == &kr_backend_mmap)
		ok(recycled > 0, "%zu large blocks were empty arenas", recycled);
	else
		ok(!recycled, "the module's arenas stay where they are (%zu "
		   "moved)", recycled);
	ok(karena__check(stderr) == 0, "invariants after the threads");
	return tap_done();
}
