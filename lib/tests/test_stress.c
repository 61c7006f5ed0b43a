// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_stress - seeded random malloc/free/realloc/calloc in several
 * threads, with cross-thread frees through a shared mailbox, contents
 * checked on free, invariants checked as it goes; small blocks, and
 * medium ones up to 32 KiB (1 in 16 up to 4.5 KiB, 1 in 256 above).
 * KARENA_STRESS_SEED and KARENA_STRESS_OPS (per thread) override. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tap.h"
#include "init.h"
#include "purge.h"

#define NT	4
#define SLOTS	4096
#define MAILBOX	1024

struct obj { unsigned char *p; size_t n; unsigned char tag; };

static _Atomic(unsigned char *) mailbox[MAILBOX];
static unsigned long long seed, ops = 2500000;
static atomic_int failures, checks_bad;

static unsigned long long next(unsigned long long *s)
{
	*s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
	return *s;
}

static size_t pick_size(unsigned long long r)
{
	switch (r % 16) {
	case 0: return 513 + r % 4000;		/* medium: spans of 8 */
	case 1: case 2: return r % 17;
	case 3:		/* 1 in 256: medium, 4-32 KiB, spans of 4 */
		if (!((r >> 4) & 15))
			return 4097 + (r >> 8) % 28672;
		/* fall through */
	default: return 1 + (r >> 8) % 512;
	}
}

/* blocks carry their size and tag in the first bytes, checked on free */
static void fill(unsigned char *p, size_t n, unsigned char tag)
{
	if (n >= 9) { memcpy(p, &n, 8); memset(p + 8, tag, n - 8); }
	else memset(p, tag, n);
}

static int verify(unsigned char *p, size_t n, unsigned char tag)
{
	size_t i = 0, m;

	if (n >= 9) {
		memcpy(&m, p, 8);
		if (m != n) return 0;
		i = 8;
	}
	for (; i < n; i++)
		if (p[i] != tag) return 0;
	return 1;
}

static void *worker(void *arg)
{
	unsigned long long s = seed + (unsigned long long)(long)arg * 7919 + 1;
	struct obj *o = calloc(SLOTS, sizeof(*o));
	unsigned long long k;
	unsigned i;

	for (k = 0; k < ops; k++) {
		unsigned long long r = next(&s);
		struct obj *x = &o[r % SLOTS];
		unsigned op = (unsigned)(r >> 40) % 10;

		if (x->p && !verify(x->p, x->n, x->tag))
			atomic_fetch_add(&failures, 1);
		if (op < 5) {			/* free (if any) + malloc */
			karena_free(x->p);
			x->n = pick_size(r >> 20);
			x->tag = (unsigned char)(r >> 12);
			x->p = op == 4 ? karena_calloc(1, x->n) : karena_malloc(x->n);
			if (op == 4) {
				size_t j;
				for (j = 0; j < x->n; j++)
					if (x->p[j]) { atomic_fetch_add(&failures, 1); break; }
			}
			if (!x->p && x->n) atomic_fetch_add(&failures, 1);
			if (x->p) fill(x->p, x->n, x->tag);
		} else if (op < 7 && x->p) {	/* realloc, keep the prefix */
			size_t n = pick_size(r >> 24), keep = n < x->n ? n : x->n;
			unsigned char *p = karena_realloc(x->p, n ? n : 1);
			if (!p) { atomic_fetch_add(&failures, 1); continue; }
			for (i = x->n >= 9 ? 8 : 0; i < keep; i++)
				if (p[i] != x->tag) { atomic_fetch_add(&failures, 1); break; }
			if (x->n >= 9 && keep >= 8 && memcmp(p, &x->n, 8))
				atomic_fetch_add(&failures, 1);
			x->p = p; x->n = n ? n : 1;
			fill(x->p, x->n, x->tag);
		} else if (op < 9 && x->p) {	/* hand to another thread */
			unsigned char *old;
			fill(x->p, x->n, 0xEE);
			if (x->n >= 9) memcpy(x->p, &x->n, 8);
			old = atomic_exchange(&mailbox[(r >> 30) % MAILBOX], x->p);
			x->p = NULL;
			if (old) {
				size_t n;
				/* a block from any thread: its size is inside */
				if (karena_usable_size(old) >= 9) {
					memcpy(&n, old, 8);
					if (n <= karena_usable_size(old) && n >= 9 &&
					    !verify(old, n, 0xEE))
						atomic_fetch_add(&failures, 1);
				}
				karena_free(old);	/* often cross-thread */
			}
		} else if (x->p) {
			karena_free(x->p);
			x->p = NULL;
		}
		if (k % 200000 == 0 && karena__check(stderr))
			atomic_fetch_add(&checks_bad, 1);
	}
	for (i = 0; i < SLOTS; i++)
		karena_free(o[i].p);
	free(o);
	return NULL;
}

int main(void)
{
	pthread_t th[NT];
	struct karena_stats st;
	struct timespec t0, t1;
	const char *e;
	long t;
	unsigned i;

	e = getenv("KARENA_STRESS_SEED");
	seed = e ? strtoull(e, NULL, 0) : (unsigned long long)time(NULL);
	e = getenv("KARENA_STRESS_OPS");
	if (e)
		ops = strtoull(e, NULL, 0);
#ifdef KARENA_ASAN
	else
		ops /= 10;
#endif
	printf("# seed %llu (KARENA_STRESS_SEED=%llu to repeat), %d threads x %llu ops\n",
	       seed, seed, NT, ops);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	for (i = 0; i < MAILBOX; i++)
		karena_free(atomic_exchange(&mailbox[i], NULL));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# %.1f s\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	ok(atomic_load(&failures) == 0, "no corrupted, lost or failed block (%d)",
	   atomic_load(&failures));
	ok(atomic_load(&checks_bad) == 0, "invariants held during the run");
	karena_stats(&st);
	ok(st.blocks_in_use == 0, "every block freed is counted free (%zu in use)",
	   st.blocks_in_use);
	ok(invariants(), "invariants of every heap at the end");
	purge_pass_all(0);	/* what the purge thread does after PURGE_MS */
	karena_stats(&st);
	ok(st.arenas_held <= (size_t)(NT + 1) * (kr.keep_arenas + 1),
	   "arenas went back: %zu held, %zu peak, %zu released",
	   st.arenas_held, st.arenas_peak, st.arenas_released);
	return tap_done();
}
