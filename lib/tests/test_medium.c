// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_medium - blocks over 1 KiB: medium classes in spans (sizes,
 * waste, alignment, realloc, usable size, stats, purge, cross-thread
 * frees, bad frees caught) and large blocks in grants of their own. */
#include <pthread.h>

#include <sys/mman.h>
#include <sys/resource.h>

#include "tap.h"
#include "backend.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "lock.h"
#include "purge.h"
#include "span.h"
#include "types.h"

#define NBLOCKS	2000

/* misuse modes, run in a child (run_self): each must abort */
static int misuse(const char *mode)
{
	char *p = karena_malloc(5000), *q;

	if (!strcmp(mode, "double-free")) {
		karena_free(p);
		karena_free(p);
	} else if (!strcmp(mode, "double-free-inuse")) {
		q = karena_malloc(5000);	/* the span stays in use */
		karena_free(p);
		karena_free(p);
		(void)q;
	} else if (!strcmp(mode, "interior")) {
		q = karena_malloc(5000);
		karena_free(p + 1024);
		(void)q;
	} else if (!strcmp(mode, "pool-table")) {
		/* the last line of its arena's pool table's pools */
		char *a = (char *)((uintptr_t)p & kr.arena_mask);

		karena_free(a + ((size_t)kr.first_pool << POOL_SHIFT) - 64);
	} else if (!strcmp(mode, "double-free-other-thread")) {
		q = karena_malloc(5000);	/* the span stays in use */
		karena_free(p);
		free_elsewhere(p);	/* on the owner's free list */
		(void)q;
	} else if (!strcmp(mode, "interior-other-thread")) {
		free_elsewhere(p + 640);
	} else if (!strcmp(mode, "misaligned")) {
		karena_free(p + 8);
	} else if (!strcmp(mode, "double-free-large")) {
		q = karena_malloc(1 << 20);	/* its grant is kept when freed */
		karena_free(q);
		karena_free(q);
	} else if (!strcmp(mode, "realloc-freed-large")) {
		q = karena_malloc(1 << 20);
		karena_free(q);
		q = karena_realloc(q, 2 << 20);
	}
	return 0;	/* not reached when the misuse is caught */
}

static void expect_abort(const char *self, const char *mode, const char *debug,
			 const char *needle)
{
	ok(aborts_with(self, mode, debug, needle, "0x"),
	   "%s %s (%s) is reported (\"%s\", the pointer) and aborts",
	   strstr(mode, "large") ? "large" : "medium", mode, debug, needle);
}

struct handoff {
	void **blocks;
	size_t n;
};

static void *free_all(void *arg)
{
	struct handoff *h = arg;
	size_t i;

	for (i = 0; i < h->n; i++)
		karena_free(h->blocks[i]);
	return NULL;
}

static void sizes_test(void)
{
	size_t n, worst = 0, worst_at = 0;
	int good = 1, aligned = 1, usable = 1;
	char *p;

	for (n = SMALL_MAX + 1; n <= kr.medium_max; n += 1 + n / 64) {
		size_t u;

		p = karena_malloc(n);
		u = karena_usable_size(p);
		if (!p || !karena__is_ours(p) || !in_span_arena(p)) {
			good = 0;
			break;
		}
		if (u < n || u != medium_class_size(medium_class(n)))
			usable = 0;
		if ((u - n) * 1000 > worst * n) {
			worst = (u - n) * 1000 / n;
			worst_at = n;
		}
		if ((uintptr_t)p & 63)
			aligned = 0;
		memset(p, 0x5a, n);
		karena_free(p);
	}
	ok(good, "every size from %u to %zu is a medium block in an arena",
	   SMALL_MAX + 1, kr.medium_max);
	ok(usable, "usable size is the class size, at least the request");
	ok(worst <= 125, "waste at most 12.5%% of the request (worst %zu.%zu%% "
	   "at %zu bytes)", worst / 10, worst % 10, worst_at);
	ok(aligned, "medium blocks are 64-aligned");
	ok(kr.arena_size < 262144 || kr.medium_max == MEDIUM_LIMIT,
	   "with %zu-byte arenas, medium blocks go up to %zu bytes",
	   kr.arena_size, kr.medium_max);
	p = karena_malloc(kr.medium_max + 1);
	ok(p && !karena__is_ours(p) &&
	   karena_usable_size(p) >= kr.medium_max + 1 &&
	   !((uintptr_t)p & 4095), "%zu bytes: a large block, page-aligned",
	   kr.medium_max + 1);
	memset(p, 1, kr.medium_max + 1);
	karena_free(p);
}

static void content_test(void)
{
	static char *v[NBLOCKS];
	size_t i, n;
	int good = 1;

	for (i = 0; i < NBLOCKS; i++) {
		n = SMALL_MAX + 1 + (i * 7919) % 70000;
		v[i] = karena_malloc(n);
		if (!v[i]) {
			good = 0;
			break;
		}
		memset(v[i], (int)(i & 255), n);
	}
	for (i = 0; good && i < NBLOCKS; i += 2) {
		n = SMALL_MAX + 1 + (i * 7919) % 70000;
		if (memchr(v[i], (int)((i + 1) & 255), n) ||
		    (unsigned char)v[i][n - 1] != (i & 255))
			good = 0;
		karena_free(v[i]);
	}
	ok(good, "%d medium blocks of mixed sizes keep their contents",
	   NBLOCKS);
	ok(invariants(), "invariants with half of them freed");
	for (i = 1; i < NBLOCKS; i += 2)
		karena_free(v[i]);
	ok(invariants(), "invariants with all freed");
}

static void align_test(void)
{
	static const size_t aligns[] = { 32, 64, 256, 1024, 4096, 8192,
					 65536, 1 << 20 };
	static const size_t sizes[] = { 1, 100, 600, 1100, 3000, 5000, 70000,
					200000 };
	unsigned i, j;
	int good = 1;

	for (i = 0; i < sizeof(aligns) / sizeof(*aligns); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(*sizes); j++) {
			char *p = karena_aligned_alloc(aligns[i], sizes[j]);

			if (!p || ((uintptr_t)p & (aligns[i] - 1)) ||
			    karena_usable_size(p) < sizes[j]) {
				good = 0;
				fprintf(stderr, "# aligned_alloc(%zu, %zu) = %p\n",
					aligns[i], sizes[j], (void *)p);
			}
			if (p)
				memset(p, 3, sizes[j]);
			karena_free(p);
		}
	ok(good, "aligned_alloc from 32 bytes to 1 MiB, sizes 1 to 200000");
	ok(invariants(), "invariants after aligned blocks");
}

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/*
 * Fewer than @bound page faults, as moved pages take where copied ones
 * take them all? ThreadSanitizer faults in its shadow of the memory too,
 * as many pages again and more, so its build (make -C lib tsan) leaves
 * the count out and asserts the rest.
 */
static bool faults_below(long faults, long bound)
{
#ifdef KARENA_TSAN
	(void)faults;
	(void)bound;
	return true;
#else
	return faults < bound;
#endif
}

/*
 * A large block grown step by step, as a Python list is: its contents
 * stay, and on the mmap backend its mapping moves (large.c): the pages it
 * had are not copied, so growing 4 MiB by 1/8 faults in only the new
 * eighth, where a copy would fault in all of it again.
 */
static void realloc_large_test(void)
{
	size_t n = 4 << 20, i;
	long faults;
	char *p = karena_malloc(n), *q;
	uintptr_t old = (uintptr_t)p;
	int good;

	for (i = 0; i < n; i += 4096)
		p[i] = (char)(i >> 12);
	faults = minor_faults();
	q = karena_realloc(p, n + n / 8);
	faults = minor_faults() - faults;
	good = q && karena_usable_size(q) >= n + n / 8;
	for (i = 0; q && i < n; i += 4096)
		good &= q[i] == (char)(i >> 12);
	ok(good, "realloc of a 4 MiB large block to 4.5 MiB keeps the "
	   "contents");
	if (!strcmp(karena_backend(), "mmap"))
		ok(faults_below(faults, 64), "on the mmap backend its mapping "
		   "moves: %ld page faults (a copy takes 1024)", faults);
	else	/* a device mapping does not move: a new grant, a copy */
		ok(q && (uintptr_t)q != old, "on the %s backend it is copied "
		   "into a new grant (%ld page faults)", karena_backend(),
		   faults);
	karena_free(q);
}

static void realloc_test(void)
{
	char *p = karena_malloc(1100), *q;
	size_t i;
	int good = 1;

	for (i = 0; i < 600; i++)
		p[i] = (char)i;
	q = karena_realloc(p, 1152);
	ok(q == p, "realloc within a medium class stays in place");
	q = karena_realloc(p, 300000);
	for (i = 0; q && i < 600; i++)
		good &= q[i] == (char)i;
	ok(q && good, "realloc medium -> large keeps the contents");
	p = karena_realloc(q, karena_usable_size(q) - 4096);
	ok(p == q, "realloc of a large block within its grant stays");
	q = karena_realloc(p, 2000);
	good = q && karena__is_ours(q);
	for (i = 0; q && i < 600; i++)
		good &= q[i] == (char)i;
	ok(good, "realloc large -> medium keeps the contents");
	karena_free(q);
	realloc_large_test();
}

static void stats_test(void)
{
	struct karena_stats st0, st1, st2;
	void *m, *l;

	karena_stats(&st0);
	m = karena_malloc(3000);
	l = karena_malloc(1 << 20);
	karena_stats(&st1);
	ok(st1.medium_blocks_in_use == st0.medium_blocks_in_use + 1 &&
	   st1.medium_bytes_in_use == st0.medium_bytes_in_use + 3072,
	   "stats count a 3000-byte request as one 3072-byte medium block");
	ok(st1.large_blocks == st0.large_blocks + 1 &&
	   st1.large_bytes >= st0.large_bytes + (1 << 20),
	   "stats count the large block and its grant's bytes");
	ok(st1.total_bytes_in_use >= st0.total_bytes_in_use + 3072 + (1 << 20),
	   "total bytes in use count both");
	karena_free(m);
	karena_free(l);
	karena_stats(&st2);
	ok(st2.medium_blocks_in_use == st0.medium_blocks_in_use &&
	   st2.large_blocks == st0.large_blocks &&
	   st2.large_bytes == st0.large_bytes, "stats count the frees (the "
	   "large block's grant is kept a while: large_keep_test)");
}

static void purge_test(void)
{
	static void *v[64];
	struct karena_stats st0, st1;
	unsigned i;

	karena__set_purge_ms(1);
	for (i = 0; i < 64; i++)
		v[i] = karena_malloc(16384 + i * 512);
	for (i = 0; i < 64; i++)
		karena_free(v[i]);
	karena__flush_kept();
	karena_stats(&st0);
	ok(st0.medium_blocks_in_use == 0 || invariants(),
	   "all medium blocks freed");
	{	/* what the purge thread does after KARENA_PURGE_MS */
		struct kr_heap *h = heap_get();

		kr_lock(&h->lock);
		purge_heap(h, kr_now_ms(), 0);
		kr_unlock(&h->lock);
	}
	karena_stats(&st1);
	ok(st1.arenas_spans <= kr.keep_arenas && st1.medium_spans == 0,
	   "purge: arenas of spans released but %zu (keep %u), no span left",
	   st1.arenas_spans, kr.keep_arenas);
	ok(st1.arenas_held < st0.arenas_held ||
	   st1.pages_returned > st0.pages_returned, "purge gave memory back "
	   "(arenas %zu -> %zu, pages %zu -> %zu)", st0.arenas_held,
	   st1.arenas_held, st0.pages_returned, st1.pages_returned);
	ok(invariants(), "invariants after the purge");
}

static void threads_test(void)
{
	static void *blocks[NBLOCKS];
	struct handoff h = { blocks, NBLOCKS };
	struct karena_stats st0, st1;
	pthread_t t;
	size_t i;
	int good = 1;

	karena_stats(&st0);
	for (i = 0; i < NBLOCKS; i++)
		blocks[i] = karena_malloc(i % 3 ? 1100 + i * 31 % 60000 :
					  200000);
	pthread_create(&t, NULL, free_all, &h);
	pthread_join(t, NULL);
	for (i = 0; i < NBLOCKS; i++) {	/* collected by the owner */
		char *p = karena_malloc(1100);

		good &= p != NULL;
		karena_free(p);
	}
	karena_stats(&st1);
	ok(good && st1.medium_blocks_in_use == st0.medium_blocks_in_use &&
	   st1.large_blocks == st0.large_blocks,
	   "medium and large blocks freed by another thread: counted free "
	   "(%zu medium, %zu large in use)", st1.medium_blocks_in_use,
	   st1.large_blocks);
	ok(invariants(), "invariants after cross-thread frees");
}

/*
 * Medium blocks freed by another thread go back on their spans' free lists
 * when the owner collects them: the owner's next mallocs of the class get
 * the same blocks, with no new span.
 */
static void remote_reuse_test(void)
{
	enum { N = 40 };
	static char *blocks[N], *again[N];
	struct handoff h = { (void **)blocks, N };
	struct karena_stats st0, st1;
	pthread_t t;
	int i, j, found = 0;

	karena__flush_kept();
	for (i = 0; i < N; i++) {
		blocks[i] = karena_malloc(1500);
		memset(blocks[i], i, 1500);
	}
	karena_stats(&st0);
	pthread_create(&t, NULL, free_all, &h);
	pthread_join(t, NULL);
	for (i = 0; i < N; i++) {
		char *p = karena_malloc(1500);

		for (j = 0; j < N; j++)
			found += p == blocks[j];
		again[i] = p;
	}
	karena_stats(&st1);
	ok(found == N && st1.medium_spans == st0.medium_spans &&
	   st1.medium_blocks_in_use == st0.medium_blocks_in_use,
	   "%d medium blocks freed by another thread are the owner's next %d "
	   "(%d reused; spans %zu -> %zu)", N, N, found, st0.medium_spans,
	   st1.medium_spans);
	for (i = 0; i < N; i++)
		karena_free(again[i]);
	ok(invariants(), "invariants after the remote frees are reused");
}

/*
 * Empty spans wait in their owner's cache, and the purge gives them back
 * once they have waited KARENA_PURGE_MS, as it does free pools: by the
 * library's clock, which the test sets.
 */
static void cache_age_test(void)
{
	enum { N = 64 };
	static void *v[N];
	struct kr_heap *h = heap_get();
	unsigned i, cached;

	karena__flush_kept();
	karena__set_purge_ms(100);
	karena__set_clock(5000);
	for (i = 0; i < N; i++)
		v[i] = karena_malloc(9000 + (i % 4) * 4096);
	for (i = 0; i < N; i++)
		karena_free(v[i]);
	cached = h->span_cache_pages;
	kr_lock(&h->lock);
	purge_heap(h, 5099, 100);
	kr_unlock(&h->lock);
	ok(cached > 0 && h->span_cache_pages == cached && invariants(),
	   "empty spans are cached (%u pools), and stay 99 ms", cached);
	kr_lock(&h->lock);
	purge_heap(h, 5100, 100);
	kr_unlock(&h->lock);
	ok(h->span_cache_pages == 0 && invariants(),
	   "the purge gives them back at 100 ms (%u pools left)",
	   h->span_cache_pages);
	karena__real_clock();
}

/*
 * A class with no span of its own takes the pages of another class's
 * cached span, which are resident, before fresh ones (span_take): with
 * no warm pool left, the span of a 2000-byte block starts at a pool
 * where a freed 9-21 KiB block started, and no arena of spans is added.
 */
static void cache_reuse_test(void)
{
	enum { N = 64 };
	static void *v[N];
	struct kr_heap *h = heap_get();
	struct karena_stats st0, st1;
	unsigned i, cached, found = 0;
	void *b;

	/* no warm pool left: every free pool's pages handed back */
	karena__flush_kept();
	karena__set_clock(20000);
	kr_lock(&h->lock);
	purge_heap(h, 20000, 0);
	kr_unlock(&h->lock);
	for (i = 0; i < N; i++)
		v[i] = karena_malloc(9000 + (i % 4) * 4096);
	for (i = 0; i < N; i++)
		karena_free(v[i]);
	cached = h->span_cache_pages;
	karena_stats(&st0);
	b = karena_malloc(2000);
	karena_stats(&st1);
	for (i = 0; b && i < N; i++)
		found += ((uintptr_t)b & ~(uintptr_t)POOL_MASK) ==
			 ((uintptr_t)v[i] & ~(uintptr_t)POOL_MASK);
	ok(cached > 0 && found && h->span_cache_pages < cached &&
	   st1.arenas_spans == st0.arenas_spans && invariants(),
	   "a new class's span takes a cached span's pools (%u cached, %u "
	   "after; arenas of spans %zu -> %zu)", cached,
	   h->span_cache_pages, st0.arenas_spans, st1.arenas_spans);
	karena_free(b);
	karena__flush_kept();
	karena__real_clock();
}

/*
 * A freed large block's grant is kept for a later request that fits, at
 * most a quarter larger than it needs (large.c), and the purge gives it
 * back once it has waited KARENA_PURGE_MS by the library's clock, which
 * the test sets.
 */
static void large_keep_test(void)
{
	const size_t n = 1 << 20;
	struct karena_stats st0, st;
	unsigned char *p, *q, *r, *v[12];
	size_t i, nonzero = 0;

	karena__set_purge_ms(100);
	karena__set_clock(20000);
	large_keep_drop();
	karena_stats(&st0);
	p = karena_malloc(n);
	memset(p, 0xab, n);
	karena_free(p);
	karena_stats(&st);
	ok(st.large_kept == 1 && st.large_kept_bytes >= n &&
	   st.large_blocks == st0.large_blocks &&
	   st.large_bytes == st0.large_bytes,
	   "a freed large block's grant is kept, apart from those in use");
	q = karena_calloc(1, n - 100000);
	for (i = 0; q && i < n - 100000; i++)
		nonzero += q[i] != 0;
	karena_stats(&st);
	ok(q == p && !nonzero && st.large_kept == 0,
	   "a calloc that fits takes it, zeroed (%zu bytes were not)",
	   nonzero);
	karena_free(q);
	r = karena_malloc(n / 2);
	karena_stats(&st);
	if (kr.backend == &kr_backend_mmap)
		ok(r == p && st.large_kept == 1 &&
		   st.large_kept_bytes == n - n / 2,
		   "a request it would hold with over a quarter to spare takes "
		   "its front; the rest stays kept (%zu bytes)",
		   st.large_kept_bytes);
	else
		ok(r && r != p && st.large_kept == 1 &&
		   st.large_kept_bytes >= n,
		   "a request it would hold with over a quarter to spare gets "
		   "a grant of its own (the module's grants go back whole)");
	karena_free(r);
	karena_stats(&st);
	ok(st.large_kept == 2, "both grants kept (%zu)", st.large_kept);
	karena__advance_clock(99);
	purge_pass_all(100);
	karena_stats(&st);
	ok(st.large_kept == 2, "... for 99 ms");
	karena__advance_clock(1);
	purge_pass_all(100);
	karena_stats(&st);
	errno = 0;
	ok(st.large_kept == 0 && st.large_kept_bytes == 0 &&
	   msync(p, OS_PAGE_SIZE, MS_ASYNC) == -1 && errno == ENOMEM,
	   "... and given back (unmapped) by the purge at 100 ms");

	for (i = 0; i < 12; i++)
		v[i] = karena_malloc(n + i * 4096);
	for (i = 0; i < 12; i++)
		karena_free(v[i]);
	karena_stats(&st);
	ok(st.large_kept == 8, "at most 8 grants are kept, the newest (%zu)",
	   st.large_kept);
	p = karena_malloc(33 << 20);
	karena_free(p);
	karena_stats(&st);
	ok(st.large_kept == 8 && st.large_kept_bytes < (32 << 20),
	   "a grant over 32 MiB is given back at once");
	large_keep_drop();

	karena__set_purge_ms(0);
	p = karena_malloc(n);
	karena_free(p);
	karena_stats(&st);
	ok(st.large_kept == 0, "KARENA_PURGE_MS=0 keeps nothing");
	karena__set_purge_ms(100);
	karena__real_clock();
}

/*
 * The mmap backend splits kept grants: a block that grows takes the kept
 * grant that starts where its own ends (in place, its bytes untouched),
 * or moves to the front of one that holds it (a copy); the rest of a
 * split grant ages from its first free.
 */
static void large_grow_test(void)
{
	const size_t n = 4 << 20, small = 160 << 10;
	struct karena_stats st;
	unsigned char *p, *q, *r, *s, *t;
	size_t i, bad = 0;
	void *guard;

	karena__set_purge_ms(100);
	karena__set_clock(50000);
	large_keep_drop();
	p = karena_malloc(n);
	memset(p, 0x5a, n);
	karena_free(p);
	karena__advance_clock(60);
	q = karena_malloc(small);		/* the front of p's grant */
	memset(q, 0x11, small);
	if (kr.backend != &kr_backend_mmap) {
		karena_stats(&st);
		ok(q && q != p && st.large_kept == 1 &&
		   st.large_kept_bytes >= n, "the module's grants go back "
		   "whole: a 160 KiB block leaves a kept 4 MiB grant alone");
		karena_free(q);
		large_keep_drop();
		karena__real_clock();
		return;
	}
	ok(q == p, "a block of 160 KiB takes the front of a kept 4 MiB grant");
	for (i = 1; i <= 4; i++) {	/* doubling, as sqlite's buffers */
		r = karena_realloc(q, small << i);
		ok(r == q, "grown to %zu KiB in place, into the kept rest",
		   (small << i) >> 10);
		q = r;
	}
	for (i = 0; i < small; i++)
		bad += q[i] != 0x11;
	karena_stats(&st);
	ok(!bad && st.large_kept == 1 &&
	   st.large_kept_bytes == n - (small << 4),
	   "its bytes kept (%zu differ); %zu bytes of the grant still kept",
	   bad, st.large_kept_bytes);

	karena_free(q);
	large_keep_drop();

	/* a grant of its own, and nothing of ours where it ends */
	s = karena_malloc(small);
	guard = mmap(s + small, OS_PAGE_SIZE, PROT_NONE, MAP_PRIVATE |
		     MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	memset(s, 0x22, small);
	t = karena_malloc(n);
	karena_free(t);
	karena__advance_clock(30);
	r = karena_realloc(s, 3 * small);	/* t's grant holds it: a copy */
	bad = 0;
	for (i = 0; r && i < small; i++)
		bad += r[i] != 0x22;
	karena_stats(&st);
	ok(r == t && !bad,
	   "a block that cannot grow in place moves to the front of a kept "
	   "grant that holds it, its bytes copied (%zu differ)", bad);
	ok(st.large_kept == 2 && st.large_kept_bytes == n - 3 * small + small,
	   "... the grant's rest and the block's old grant are kept (%zu "
	   "kept, %zu bytes)", st.large_kept, st.large_kept_bytes);
	karena__advance_clock(70);
	purge_pass_all(100);
	karena_stats(&st);
	ok(st.large_kept == 1 && st.large_kept_bytes == small,
	   "the split grant's rest went back at 100 ms from its free; the "
	   "old grant, freed 30 ms later, is still kept (%zu kept, %zu "
	   "bytes)", st.large_kept, st.large_kept_bytes);
	karena_free(r);
	if (guard != MAP_FAILED)
		munmap(guard, OS_PAGE_SIZE);
	large_keep_drop();
	karena__real_clock();
}

/*
 * On the mmap backend a large block may be one of the thread's empty
 * arenas, its mapping grown by mremap (large.c): writing the arena's part
 * faults few pages, the arena counts as released, the block grows as one
 * mapping, and a calloc from it reads as zero. The module's grants are the
 * module's: there nothing moves. The library's clock stands still, so
 * that no purge ages the arenas meanwhile.
 */
static void large_recycle_test(void)
{
	const size_t nblocks = 8 * kr.arena_size / 64;
	const size_t len = kr.arena_size + kr.arena_size / 2;
	const size_t arena_pages = kr.arena_size / OS_PAGE_SIZE;
	bool mmap_backend = kr.backend == &kr_backend_mmap;
	struct karena_stats st0, st1;
	size_t i, took, nonzero = 0;
	unsigned char *p, *q;
	long faults;
	void **v;

	v = mmap(NULL, nblocks * sizeof(*v), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!ok(v != MAP_FAILED, "room for %zu pointers", nblocks))
		return;
	karena__set_purge_ms(100);
	karena__set_clock(70000);
	large_keep_drop();
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < nblocks; i++) {
			v[i] = karena_malloc(64);
			memset(v[i], 0xa5, 64);
		}
		for (i = 0; i < nblocks; i++)
			karena_free(v[i]);
		karena_stats(&st0);
		took = kr.arenas_recycled;
		p = round ? karena_calloc(1, len) : karena_malloc(len);
		faults = minor_faults();
		if (round)
			for (i = 0; p && i < len; i++)
				nonzero += p[i] != 0;
		else if (p)
			memset(p, 1, kr.arena_size);
		faults = minor_faults() - faults;
		karena_stats(&st1);
		took = kr.arenas_recycled - took;
		if (!mmap_backend)
			ok(p && !took, "the module's arenas stay where they are "
			   "(%zu moved)", took);
		else if (!round)
			ok(p && took == 1 &&
			   st1.arenas_released - st0.arenas_released == 1 &&
			   st0.arenas_held - st1.arenas_held == 1 &&
			   faults_below(faults, (long)arena_pages / 4) &&
			   invariants(),
			   "a large block of 1.5 arenas is an empty arena grown: "
			   "%ld faults writing the arena's %zu pages", faults,
			   arena_pages);
		else
			ok(p && took == 1 && !nonzero && invariants(),
			   "a calloc from an empty arena reads as zero (%zu "
			   "bytes did not)", nonzero);
		if (!round && mmap_backend && p) {
			memset(p + kr.arena_size, 1, len - kr.arena_size);
			faults = minor_faults();
			q = karena_realloc(p, len + kr.arena_size);
			for (i = 0; q && i < len; i++)
				nonzero += q[i] != 1;
			faults = minor_faults() - faults;
			karena_stats(&st1);
			ok(q && !nonzero &&
			   faults_below(faults, (long)arena_pages / 4) &&
			   !st1.large_kept,
			   "grown, it moves as one mapping, keeping its bytes "
			   "(%zu differ) and its pages: %ld faults reading "
			   "them, %zu grants kept (a copy keeps the old one)",
			   nonzero, faults, st1.large_kept);
			p = q;
		}
		karena_free(p);
		large_keep_drop();
	}
	munmap(v, nblocks * sizeof(*v));
	karena__real_clock();
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return misuse(argv[1]);

	sizes_test();
	content_test();
	align_test();
	realloc_test();
	stats_test();
	threads_test();
	remote_reuse_test();
	cache_age_test();
	cache_reuse_test();
	large_keep_test();
	large_grow_test();
	large_recycle_test();
	purge_test();
	expect_abort(argv[0], "double-free", "KARENA_DEBUG=0", "double free");
	expect_abort(argv[0], "double-free-inuse", "KARENA_DEBUG=0",
		     "double free");
	expect_abort(argv[0], "interior", "KARENA_DEBUG=0", "inside a block");
	expect_abort(argv[0], "pool-table", "KARENA_DEBUG=0",
		     "into the pool table of an arena of spans");
	expect_abort(argv[0], "pool-table", "KARENA_DEBUG=1",
		     "into the pool table of an arena of spans");
	expect_abort(argv[0], "double-free-other-thread", "KARENA_DEBUG=0",
		     "double free");
	expect_abort(argv[0], "interior-other-thread", "KARENA_DEBUG=0",
		     "inside a block");
	expect_abort(argv[0], "misaligned", "KARENA_DEBUG=0",
		     "inside a block");
	expect_abort(argv[0], "double-free-large", "KARENA_DEBUG=0",
		     "double free of a large block");
	expect_abort(argv[0], "realloc-freed-large", "KARENA_DEBUG=0",
		     "realloc of a large block");
	expect_abort(argv[0], "double-free", "KARENA_DEBUG=1", "double free");
	expect_abort(argv[0], "double-free-other-thread", "KARENA_DEBUG=1",
		     "double free");
	return tap_done();
}
