// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_classes - the API: size classes and their edges (512, 1024), bad
 * frees of the largest small blocks, alignment, calloc, realloc across the
 * small/large boundary, aligned allocation, foreign pointers, stats. */
#include "tap.h"
#include "alloc.h"
#include "config.h"
#include "pool.h"
#include "span.h"

/*
 * Misuse of a 1000-byte block (class 62, 8 blocks a pool), run in a child
 * (run_self): each must abort. @q keeps the pool in use.
 */
static int misuse(const char *mode)
{
	char *p = karena_malloc(1000), *q = karena_malloc(1000);

	if (!strcmp(mode, "double-free")) {
		karena_free(p);
		karena_free(p);
	} else if (!strcmp(mode, "interior")) {
		karena_free(p + 512);	/* 16-aligned, inside the block */
	} else if (!strcmp(mode, "double-free-other-thread")) {
		karena_free(p);
		free_elsewhere(p);
	} else if (!strcmp(mode, "interior-other-thread")) {
		free_elsewhere(p + 992);
	}
	(void)q;
	return 0;	/* not reached when the misuse is caught */
}

static void expect_abort(const char *self, const char *mode,
			 const char *needle)
{
	ok(aborts_with(self, mode, "KARENA_DEBUG=0", needle, "0x"),
	   "1000-byte block: %s is reported (\"%s\", the pointer) and aborts",
	   mode, needle);
}

/* The edges: 512 | 513 (pools, 16 bytes apart), 1024 | 1025 (a span). */
static void edges_test(void)
{
	static const size_t sizes[] = { 512, 513, 528, 529, 1008, 1009, 1024,
					1025 };
	void *v[sizeof(sizes) / sizeof(*sizes)];
	unsigned i;
	size_t n;
	int good = 1;

	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		size_t want;

		n = sizes[i];
		want = n <= SMALL_MAX ? (n + 15) & ~(size_t)15 : 1152;
		v[i] = karena_malloc(n);
		if (!v[i] || !karena__is_ours(v[i]) ||
		    karena_usable_size(v[i]) != want ||
		    in_span_arena(v[i]) != (n > SMALL_MAX) ||
		    (n <= SMALL_MAX && (pool_of(v[i])->szidx != (n - 1) / 16 ||
					pool_of(v[i])->capacity !=
					POOL_SIZE / want))) {
			good = 0;
			fprintf(stderr, "# %zu bytes: %p, usable %zu\n", n,
				v[i], karena_usable_size(v[i]));
		}
		memset(v[i], 0x6b, n);
	}
	ok(good, "512, 513, 528, 1008, 1024: pools of 16-byte classes; "
	   "1025: a 1152-byte medium block");
	/*
	 * What a block costs, its share of its pool's tail included:
	 * POOL_SIZE / blocks a pool. From 513 bytes up, at most 7.5 % over
	 * the request (897 bytes: 17 blocks of 912 in 16 KiB, 964 bytes each;
	 * 8 KiB pools cost up to 14.2 % there).
	 */
	good = 1;
	for (n = SMALL_MAX / 2 + 1; n <= SMALL_MAX; n++) {
		void *x = karena_malloc(n);
		size_t cost = POOL_SIZE / pool_of(x)->capacity;
		size_t pct10 = (cost - n) * 1000 / n;	/* tenths of a % */

		if (pct10 > 75) {
			good = 0;
			fprintf(stderr, "# %zu bytes cost %zu\n", n, cost);
		}
		karena_free(x);
	}
	ok(good, "513..1024 bytes: a block costs at most 7.5 %% over its "
	   "request");
	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
		karena_free(v[i]);
	ok(invariants(), "invariants after the edges");
	/*
	 * Freed by another thread, the block waits on its heap's remote list
	 * until the owner's pool of that class runs out: within 2 pools.
	 */
	{
		void *x = karena_malloc(1000), *w[2 * POOL_SIZE / 1008 + 1];
		unsigned k = 0;

		free_elsewhere(x);
		while (k < sizeof(w) / sizeof(*w) &&
		       (w[k] = karena_malloc(1000)) != x)
			k++;
		ok(k < sizeof(w) / sizeof(*w) && invariants(), "a 1000-byte "
		   "block freed by another thread is collected by its owner "
		   "and handed out again (after %u others)", k);
		for (i = 0; i <= k && i < sizeof(w) / sizeof(*w); i++)
			karena_free(w[i]);
	}
}

int main(int argc, char **argv)
{
	struct karena_stats st0, st1;
	int good;
	size_t n;
	char *p, *q;
	void *v[SMALL_MAX + 1];

	if (argc > 1)
		return misuse(argv[1]);

	const char *want = getenv("KARENA_BACKEND");
	ok(!strcmp(karena_backend(), "mmap") || !strcmp(karena_backend(), "kernel"),
	   "backend is \"%s\"", karena_backend());
	if (want && *want)
		ok(!strcmp(want, karena_backend()), "KARENA_BACKEND=%s is honoured", want);

	p = karena_malloc(0);
	ok(p && karena__is_ours(p) && karena_usable_size(p) == 16,
	   "malloc(0) is a 16-byte block");
	karena_free(p);

	good = 1;
	for (n = 1; n <= SMALL_MAX; n++) {
		v[n] = karena_malloc(n);
		if (!v[n] || !karena__is_ours(v[n]) ||
		    ((uintptr_t)v[n] & 15) ||
		    karena_usable_size(v[n]) != ((n + 15) & ~(size_t)15) ||
		    pool_of(v[n])->szidx != (n - 1) / 16)
			good = 0;
		else
			memset(v[n], (int)n, n);
	}
	ok(good, "sizes 1..1024: ours, 16-aligned, class (n-1)/16, usable = class size");
	good = 1;
	for (n = 1; n <= SMALL_MAX; n++) {
		for (size_t i = 0; i < n; i++)
			if (((unsigned char *)v[n])[i] != (unsigned char)n)
				good = 0;
		karena_free(v[n]);
	}
	ok(good, "blocks of every size keep their contents");
	ok(invariants(), "invariants after every class");

	p = karena_malloc(SMALL_MAX + 1);
	ok(p && karena__is_ours(p) && karena_usable_size(p) == 1152,
	   "1025 bytes: a medium block of 1152 bytes, in an arena");
	karena_free(p);
	edges_test();
	expect_abort(argv[0], "double-free", "double free");
	expect_abort(argv[0], "interior", "interior pointer");
	expect_abort(argv[0], "double-free-other-thread", "double free");
	expect_abort(argv[0], "interior-other-thread", "interior pointer");
	p = __libc_malloc(100);	/* not malloc(): ASan builds replace it */
	ok(!karena__is_ours(p), "glibc's pointer is not ours");
	karena_free(p);
	ok(1, "karena_free of a glibc pointer goes to glibc");
	karena_free(NULL);

	p = karena_malloc(200);
	memset(p, 0xab, 200);
	karena_free(p);
	q = karena_calloc(10, 20);
	good = q != NULL;
	for (n = 0; q && n < 200; n++)
		good &= q[n] == 0;
	ok(good, "calloc zeroes a reused block");
	karena_free(q);
	errno = 0;
	ok(!karena_calloc((size_t)-1 / 2, 3) && errno == ENOMEM,
	   "calloc overflow: NULL, ENOMEM");
	q = karena_calloc(100, 100);
	ok(q && karena__is_ours(q) && q[9999] == 0, "medium calloc is zeroed");
	karena_free(q);
	q = karena_calloc(1000, 1000);
	ok(q && !karena__is_ours(q) && q[999999] == 0 &&
	   karena_usable_size(q) >= 1000000, "large calloc is zeroed");
	karena_free(q);

	p = karena_malloc(40);
	for (n = 0; n < 40; n++)
		p[n] = (char)n;
	q = karena_realloc(p, 41);
	ok(q == p, "realloc within the class stays in place");
	p = karena_realloc(q, 300);
	good = p && karena__is_ours(p);
	for (n = 0; p && n < 40; n++)
		good &= p[n] == (char)n;
	ok(good, "realloc to a larger class copies");
	q = karena_realloc(p, 5000);
	good = q && karena__is_ours(q) && karena_usable_size(q) == 5120;
	for (n = 0; q && n < 40; n++)
		good &= q[n] == (char)n;
	ok(good, "realloc small -> medium moves with the contents");
	p = karena_realloc(q, 20);
	good = p != NULL;
	for (n = 0; p && n < 20; n++)
		good &= p[n] == (char)n;
	ok(good, "realloc large -> small keeps the contents");
	karena_free(p);
	p = karena_realloc(NULL, 30);
	ok(p && karena__is_ours(p), "realloc(NULL, n) allocates");
	ok(karena_realloc(p, 0) == NULL, "realloc(p, 0) frees");

	p = karena_aligned_alloc(64, 100);
	ok(p && !((uintptr_t)p & 63), "aligned_alloc(64, 100) is 64-aligned");
	karena_free(p);
	p = karena_aligned_alloc(16, 100);
	ok(p && karena__is_ours(p), "aligned_alloc(16, 100) is a small block");
	karena_free(p);
	errno = 0;
	ok(!karena_aligned_alloc(24, 100) && errno == EINVAL,
	   "aligned_alloc with a bad alignment: EINVAL");

	karena_stats(&st0);
	p = karena_malloc(24);
	karena_stats(&st1);
	ok(st1.blocks_in_use == st0.blocks_in_use + 1 &&
	   st1.classes[1].blocks_in_use == st0.classes[1].blocks_in_use + 1,
	   "stats count the block in class 1");
	karena_free(p);
	karena_stats(&st1);
	ok(st1.blocks_in_use == st0.blocks_in_use, "stats count the free");
	ok(st1.arena_size >= 65536 && st1.pool_size == POOL_SIZE &&
	   st1.arenas_held >= 1, "stats: arena %zu bytes, %zu held",
	   st1.arena_size, st1.arenas_held);
	ok(invariants(), "invariants at the end");
	return tap_done();
}
