// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_classes - the API: size classes, alignment, calloc, realloc across
 * the small/large boundary, aligned allocation, foreign pointers, stats. */
#include "tap.h"
#include "alloc.h"
#include "config.h"
#include "pool.h"

int main(void)
{
	struct karena_stats st0, st1;
	int good;
	size_t n;
	char *p, *q;
	void *v[SMALL_MAX + 1];

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
	ok(good, "sizes 1..512: ours, 16-aligned, class (n-1)/16, usable = class size");
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
	ok(p && karena__is_ours(p) && karena_usable_size(p) == 576,
	   "513 bytes: a medium block of 576 bytes, in an arena");
	karena_free(p);
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
	ok(st1.arena_size >= 65536 && st1.pool_size == 4096 &&
	   st1.arenas_held >= 1, "stats: arena %zu bytes, %zu held",
	   st1.arena_size, st1.arenas_held);
	ok(invariants(), "invariants at the end");
	return tap_done();
}
