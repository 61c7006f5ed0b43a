// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shim_prog - the malloc family at its edges, as a program calls it: run
 * by preload.sh under libkarena-malloc.so, whose shim must answer as
 * docs/design.md says. Sizes that overflow are NULL and ENOMEM (and a
 * failed realloc keeps its block); an alignment that is 0 or not a power
 * of two is EINVAL; every power of two up to 4 MiB is honoured; calloc
 * zeroes a block that a previous owner dirtied; malloc_usable_size covers
 * the request; free leaves errno as it found it (POSIX.1-2024), on each
 * of its paths. Prints each failure, and exits 1 if there was one (2 if
 * karena is not the malloc).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

/* Called through a pointer: GCC must not take its failure for a free. */
static void *(*volatile realloc_fn)(void *, size_t) = realloc;

static void check(int cond, const char *what)
{
	if (!cond) {
		printf("fail: %s\n", what);
		failures++;
	}
}

/* @p is NULL and errno is @err: what a refused request must leave. */
#define REFUSED(expr, err) do {						\
	void *p_;							\
	errno = 0;							\
	p_ = (expr);							\
	check(!p_ && errno == (err), #expr " is NULL, " #err);		\
	free(p_);							\
} while (0)

static int zeroed(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void sizes_that_overflow(void)
{
	char *p;
	void *out = &out;

	REFUSED(malloc(SIZE_MAX), ENOMEM);
	REFUSED(malloc((size_t)PTRDIFF_MAX + 1), ENOMEM);
	REFUSED(calloc(SIZE_MAX / 2, 3), ENOMEM);
	REFUSED(calloc((size_t)1 << 33, (size_t)1 << 33), ENOMEM);
	REFUSED(reallocarray(NULL, SIZE_MAX / 2, 3), ENOMEM);
	REFUSED(realloc(NULL, SIZE_MAX), ENOMEM);
	REFUSED(valloc(SIZE_MAX - 100), ENOMEM);
	REFUSED(pvalloc(SIZE_MAX - 100), ENOMEM);
	REFUSED(aligned_alloc(64, SIZE_MAX - 10), ENOMEM);
	check(posix_memalign(&out, 64, SIZE_MAX - 10) == ENOMEM &&
	      out == &out, "posix_memalign of SIZE_MAX - 10: ENOMEM, untouched");

	p = malloc(300);
	memset(p, 'k', 300);
	errno = 0;
	check(!realloc_fn(p, SIZE_MAX) && errno == ENOMEM,
	      "realloc(p, SIZE_MAX) is NULL, ENOMEM");
	check(p[0] == 'k' && p[299] == 'k', "a failed realloc keeps the block");
	free(p);
}

static void alignments(void)
{
	static const size_t bad[] = { 0, 3, 24, 48, 4097, SIZE_MAX / 2 + 2 };
	unsigned int i, k;
	void *out;
	char what[96];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "alignment %zu: EINVAL", bad[i]);
		errno = 0;
		check(!aligned_alloc(bad[i], 64) && errno == EINVAL, what);
		out = &out;
		check(posix_memalign(&out, bad[i], 64) == EINVAL && out == &out,
		      what);
	}
	out = &out;
	check(posix_memalign(&out, 4, 64) == EINVAL && out == &out,
	      "posix_memalign(4): not a multiple of sizeof(void *), EINVAL");

	/* memalign is glibc's: lenient, rounding up to a power of two */
	for (i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t a = 16;
		char *q;

		while (a < bad[i])
			a <<= 1;
		q = memalign(bad[i], 64);
		snprintf(what, sizeof(what),
			 "memalign(%zu): a block aligned to %zu, as glibc's",
			 bad[i], a);
		check(q && !((uintptr_t)q % a) && malloc_usable_size(q) >= 64,
		      what);
		if (q)
			memset(q, 4, 64);
		free(q);
	}
	errno = 0;
	check(!memalign(bad[i], 64) && errno == EINVAL,
	      "memalign(SIZE_MAX / 2 + 2): no power of two above it, EINVAL");

	for (k = 0; k <= 22; k++) {
		size_t a = (size_t)1 << k, n = 100 + 7 * k;
		char *p = aligned_alloc(a, n), *q = memalign(a, n), *r = NULL;
		int rc = posix_memalign((void **)&r, a < sizeof(void *) ?
					sizeof(void *) : a, n);

		snprintf(what, sizeof(what), "alignment %zu honoured", a);
		check(p && q && !rc && r, what);
		if (!p || !q || rc || !r)
			continue;
		check(!((uintptr_t)p % a) && !((uintptr_t)q % a) &&
		      !((uintptr_t)r % a), what);
		check(malloc_usable_size(p) >= n && malloc_usable_size(q) >= n &&
		      malloc_usable_size(r) >= n, what);
		memset(p, 1, n);
		memset(q, 2, n);
		memset(r, 3, n);
		free(p);
		free(q);
		free(r);
	}
}

/* calloc after a dirty free of the same size: every size class, and large */
static void calloc_zeroes(void)
{
	static const size_t sizes[] = { 1, 16, 100, 512, 1000, 4096, 20000,
					131072, 300000, 5 << 20 };
	unsigned int i, j;
	char what[64];

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		for (j = 0; j < 8; j++) {
			unsigned char *d = malloc(n);

			memset(d, 0xa5, malloc_usable_size(d));
			free(d);
			d = calloc(1, n);
			snprintf(what, sizeof(what), "calloc(1, %zu) zeroed", n);
			check(d && zeroed(d, n), what);
			free(d);
		}
	}
}

static void usable_sizes(void)
{
	size_t n;
	int bad = 0;

	check(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");
	for (n = 0; n < 600000; n = n < 2048 ? n + 1 : n + n / 7) {
		char *p = malloc(n);

		if (!p || malloc_usable_size(p) < n)
			bad++;
		else
			memset(p, 'u', malloc_usable_size(p));
		free(p);
	}
	check(!bad, "malloc_usable_size covers every request up to 600 kB");
}

/* free(@p) with errno at EDOM before; false if it changed errno. */
static int free_kept_errno(void *p)
{
	errno = EDOM;
	free(p);
	return errno == EDOM;
}

/*
 * Frees @n blocks of @size, after making them all: they empty their pools,
 * spans or grants, and free goes down its slow paths (an empty pool
 * retired, a span emptied, a large block's grant or mapping given back).
 */
static int frees_keep_errno(size_t size, int n)
{
	void *b[4096];
	int i, kept = 1;

	for (i = 0; i < n; i++)
		b[i] = malloc(size);
	for (i = 0; i < n; i++)
		kept &= free_kept_errno(b[i]);
	return kept;
}

static void *blocks_of_main[64];

/* Frees main's blocks: @arg says whether it mallocs first (has a heap). */
static void *free_main_blocks(void *arg)
{
	int i, kept = 1;

	if (arg)
		free(malloc(16));
	for (i = 0; i < 64; i++)
		kept &= free_kept_errno(blocks_of_main[i]);
	return (void *)(intptr_t)kept;
}

static void free_keeps_errno(void)
{
	static const size_t sizes[] = { 16, 48, 1000, 2000, 40000,
					128 << 10, 300 << 10, 8 << 20 };
	void *kept;
	pthread_t t;
	unsigned i, s;

	for (s = 0; s < sizeof(sizes) / sizeof(*sizes); s++) {
		char what[64];

		snprintf(what, sizeof(what), "free of %zu-byte blocks keeps "
			 "errno", sizes[s]);
		check(frees_keep_errno(sizes[s], sizes[s] > (1 << 20) ? 3 :
				       4096), what);
	}
	check(free_kept_errno(NULL), "free(NULL) keeps errno");
	for (s = 0; s < 2; s++) {
		for (i = 0; i < 64; i++)
			blocks_of_main[i] = malloc(i < 32 ? 32 : 3000);
		pthread_create(&t, NULL, free_main_blocks,
			       (void *)(intptr_t)s);
		pthread_join(t, &kept);
		check(kept != NULL, s ? "another thread's free keeps errno" :
		      "the free of a thread that never mallocs keeps errno");
	}
}

int main(void)
{
	if (!dlsym(RTLD_DEFAULT, "karena_stats")) {
		printf("karena is not the malloc of this process\n");
		return 2;
	}
	sizes_that_overflow();
	alignments();
	calloc_zeroes();
	usable_sizes();
	free_keeps_errno();
	free(NULL);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
