// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_purge - resident memory falls after a sparse free (issue 8): fill
 * whole arenas with 128-byte blocks, free 99% at random (or all but one in
 * every thousand), let KARENA_PURGE_MS pass and measure the arenas'
 * residency with mincore(): at most half of the peak (random 1%), under
 * 10% (one in a thousand). The purge thread does it: this thread makes no
 * allocator call while it waits. A pool reused within the delay is never
 * handed back (no thrash), and on the kernel backend the module's own
 * count (KARENA_IOC_INFO pages_returned) grows.
 *
 * Time is the library's clock, which this test stops and moves
 * (karena__set_clock): the purge decides by it alone, so what the test
 * asserts holds however slow the host is. The purge thread still runs on
 * the host's time; the test waits for its passes by counting them, with a
 * watchdog that only turns a hang into a failure. karena_trim() hands
 * back at once what the purge would hand back later. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <linux/karena.h>
#include "tap.h"
#include "arena.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "lock.h"
#include "purge.h"
#include "types.h"

#define REQ	128
#define NARENAS	8
#define MIN_POOLS	96	/* of which KEEP_POOLS + SPARE_POOLS are never purged */

static char *arenas[4096];	/* the arenas' bases */
static unsigned narenas;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_arena(void *b)
{
	char *a = arena_base(arena_of(b));
	unsigned i;

	for (i = 0; i < narenas; i++)
		if (arenas[i] == a)
			return;
	if (narenas < 4096)
		arenas[narenas++] = a;
}

/* resident pages of every arena noted (a released arena counts 0) */
static size_t resident(void)
{
	static unsigned char vec[1u << (MAX_ARENA_SHIFT - OS_PAGE_SHIFT)];
	size_t n = 0, i, j;

	for (i = 0; i < narenas; i++) {
		if (mincore(arenas[i], kr.arena_size, vec) < 0)
			continue;	/* ENOMEM: not mapped any more */
		for (j = 0; j < kr.arena_size / OS_PAGE_SIZE; j++)
			n += vec[j] & 1;
	}
	return n;
}

static long kernel_pages_returned(void)
{
	const char *dev = getenv("KARENA_DEVICE");
	struct karena_info info;
	int fd;

	fd = open(dev && *dev ? dev : "/dev/karena", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, KARENA_IOC_INFO, &info) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return (long)info.pages_returned;
}

static unsigned long long rng = 99;
static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng >> 33) % n);
}

/*
 * Wait until the purge thread has made two more passes: the second began
 * after this call, so it saw the clock as it is now. False if that takes
 * longer than WATCHDOG_S (a hang: the thread is not running).
 */
#define WATCHDOG_S 60
static int purge_thread_passes(void)
{
	size_t want = atomic_load(&kr.purge_passes) + 2;
	double t0 = now_s();

	while (atomic_load(&kr.purge_passes) < want) {
		struct timespec ts = { 0, 1000 * 1000 };

		if (now_s() - t0 > WATCHDOG_S)
			return 0;
		nanosleep(&ts, NULL);	/* polls a count; asserts no time */
	}
	return 1;
}

/*
 * Fill NARENAS whole arenas (more if they hold fewer than MIN_POOLS
 * pools: small arenas), keep a block when keep(i) says so, free the
 * rest; let KARENA_PURGE_MS pass on the library's clock and wait (idle)
 * for the purge thread to look, or, with @trim, call karena_trim() with
 * the clock stopped. Returns the residency after it in percent of the
 * peak; *@looked says whether the thread made its passes (or the trim
 * said it handed memory back), *@within whether the residency is at most
 * what the blocks kept need, and that less than the peak. What they need:
 * after the purge, the pools holding a kept block, the heap's kept and
 * spare pools, never purged, and the pool tables; after the trim, the
 * pages holding a kept block and the pool tables (and a second trim finds
 * nothing more). Then a tenth of the blocks are allocated again, and the
 * heap must check out.
 */
static double sparse(int one_in_1000, int trim, int *looked, int *within)
{
	size_t cap = POOL_SIZE / REQ, per_arena = kr.npools - kr.first_pool;
	size_t fill = (MIN_POOLS + per_arena - 1) / per_arena;	/* arenas */
	size_t nb = (fill > NARENAS ? fill : NARENAS) * per_arena * cap;
	void **b = malloc(nb * sizeof(*b));
	size_t i, peak, r, need = 0;
	uintptr_t last = 0, unit = trim ? OS_PAGE_SIZE : POOL_SIZE;

	narenas = 0;
	for (i = 0; i < nb; i++) {
		b[i] = karena_malloc(REQ);
		memset(b[i], 0x5a, REQ);
		note_arena(b[i]);
	}
	peak = resident();
	for (i = 0; i < nb; i++) {
		int keep = one_in_1000 ? i % 1000 == 0 : rnd(100) == 0;

		if (!keep) {
			karena_free(b[i]);
			b[i] = NULL;
		} else if ((uintptr_t)b[i] / unit != last) {	/* in order */
			last = (uintptr_t)b[i] / unit;
			need++;
		}
	}
	if (!trim)
		need = (need + KEEP_POOLS + SPARE_POOLS) *
		       (POOL_SIZE / OS_PAGE_SIZE);
	/*
	 * The pool tables, the arena header their slot 0: on mmap, the
	 * pages their slots take; a grant's pages are all present from the
	 * start (the module maps them at mmap), so on the kernel backend the
	 * tables' whole pools.
	 */
	if (is_kernel())
		need += (size_t)narenas * kr.first_pool *
			(POOL_SIZE / OS_PAGE_SIZE);
	else
		need += (size_t)narenas *
			((((size_t)kr.npools << POOL_SLOT_SHIFT) +
			  OS_PAGE_SIZE - 1) / OS_PAGE_SIZE);
	if (trim) {
		*looked = karena_trim() == 1;
	} else {
		karena__advance_clock(kr.purge_ms);
		*looked = purge_thread_passes();
	}
	r = resident();
	printf("# %s: %u arenas, peak %zu pages, %zu after the %s, "
	       "%zu needed at most\n", one_in_1000 ? "1 in 1000" : "random 1%",
	       narenas, peak, r, trim ? "trim" : "purge", need);
	*within = r <= need && need < peak;
	for (i = 0; i < nb; i++) {
		const unsigned char *k = b[i];

		if (k && (k[0] != 0x5a || memcmp(k, k + 1, REQ - 1)))
			*within = 0;	/* a kept block lost its bytes */
	}
	if (trim && karena_trim() != 0)
		*within = 0;	/* a second trim found more */
	/* the pools go on serving: a tenth of the blocks again */
	for (i = 0; i < nb; i += 10)
		if (!b[i] && (b[i] = karena_malloc(REQ)))
			memset(b[i], 0x5a, REQ);
	if (!invariants())
		*within = 0;
	for (i = 0; i < nb; i++)
		karena_free(b[i]);
	free(b);
	return 100.0 * (double)r / (double)peak;
}

/* A purge pass over this thread's heap, as the purge thread makes one. */
static void purge_pass(struct kr_heap *h)
{
	kr_lock(&h->lock);
	purge_heap(h, kr_now_ms(), kr.purge_ms);
	kr_unlock(&h->lock);
}

/* Every block of @b freed, then allocated again; false if one fails. */
static int free_all_alloc_all(void **b, size_t nb, struct kr_heap *h)
{
	size_t i;
	int good = 1;

	for (i = 0; i < nb; i++)
		karena_free(b[i]);
	purge_pass(h);		/* while every pool is empty */
	for (i = 0; i < nb; i++)
		good &= (b[i] = karena_malloc(REQ)) != NULL;
	return good;
}

int main(void)
{
	struct karena_stats st0, st;
	struct kr_heap *h;
	long k0 = -1, k1;
	double pct;
	size_t calls, i, j, nb, held, allocated;
	void **b;
	int good, looked, within;

	kr.purge_thread = 1;
	karena__set_purge_ms(100);
	karena_free(karena_malloc(REQ));	/* init, heap */
	h = kr_tls_heap;
	if (is_kernel())
		k0 = kernel_pages_returned();
	karena_stats(&st0);
	karena__set_clock(kr_now_ms());

	pct = sparse(0, 0, &looked, &within);
	ok(looked && within, "random 1%% kept: resident falls to %.1f%% of the "
	   "peak, no more than the pools in use need (%u-block pools: "
	   "1 - 0.99^%u of them hold a kept block), once KARENA_PURGE_MS (%u) "
	   "has passed", pct, POOL_SIZE / REQ, POOL_SIZE / REQ, kr.purge_ms);
	pct = sparse(1, 0, &looked, &within);
	ok(looked && within, "1 in 1000 kept: resident falls to %.1f%% of the "
	   "peak, no more than the pools in use need", pct);
	pct = sparse(0, 1, &looked, &within);
	ok(looked && within && invariants(), "random 1%% kept, then "
	   "karena_trim: resident falls to %.1f%% of the peak at once, no "
	   "more than the pages that hold a kept block, which keep their "
	   "bytes; a second trim finds nothing; the pools serve on", pct);
	pct = sparse(1, 1, &looked, &within);
	ok(looked && within && invariants(), "1 in 1000 kept, then "
	   "karena_trim: resident falls to %.1f%% of the peak", pct);
	ok(atomic_load(&kr.purge_threads) >= 1,
	   "the purge thread did it while this thread was idle");
	karena_stats(&st);
	ok(st.pages_returned > st0.pages_returned,
	   "karena_stats counts the pages handed back (%zu -> %zu)",
	   st0.pages_returned, st.pages_returned);
	if (is_kernel()) {
		k1 = kernel_pages_returned();
		ok(k0 >= 0 && k1 > k0,
		   "KARENA_IOC_INFO pages_returned grows (%ld -> %ld)", k0, k1);
	} else {
		ok(1, "mmap backend: pages handed back by MADV_DONTNEED "
		   "(KARENA_IOC_INFO is checked on the kernel backend)");
	}
	ok(invariants(), "invariants after the purges");

	/*
	 * No thrash: pools and arenas reused within the delay stay. Start
	 * from a settled heap: the blocks allocated here come from the spare
	 * pools of every arena the sparse rounds used, then from the fullest
	 * arena; a few rounds of free-all/allocate-all pack them into the
	 * fewest arenas (usable_arenas is sorted for that), and a pass once
	 * the delay is over hands back the pools left behind. The empty
	 * arena kept (KARENA_KEEP_ARENAS) since the sparse rounds goes too:
	 * the rounds below would not use it, and release it once it had
	 * been empty for the delay, rightly.
	 */
	nb = (size_t)2 * (kr.npools - kr.first_pool) * (POOL_SIZE / REQ);
	b = malloc(nb * sizeof(*b));
	for (i = 0; i < nb; i++)
		b[i] = karena_malloc(REQ);
	for (j = 0; j < 3; j++)
		free_all_alloc_all(b, nb, h);
	karena__advance_clock(kr.purge_ms);
	purge_pass(h);
	heap_release_empty_arenas(h);
	kr_lock(&h->lock);
	good = !heap_has_pending(h);
	kr_unlock(&h->lock);
	ok(good, "settled: nothing left to purge or release");
	pthread_mutex_lock(&kr.purge_lock);	/* a pass under way ends */
	calls = atomic_load(&kr.return_calls);
	pthread_mutex_unlock(&kr.purge_lock);
	karena_stats(&st);
	held = st.arenas_held;
	allocated = st.arenas_allocated;
	/*
	 * Eight rounds, a quarter of the delay apart: twice the delay in
	 * all, and a purge pass in each while every pool is empty.
	 */
	good = 1;
	for (j = 0; j < 8; j++) {
		karena__advance_clock(kr.purge_ms / 4);
		good &= free_all_alloc_all(b, nb, h);
	}
	karena_stats(&st);
	ok(good && atomic_load(&kr.return_calls) == calls,
	   "%zu rounds of free-all/allocate-all, %u ms apart: %zu "
	   "return_pages calls (none)", j, kr.purge_ms / 4,
	   atomic_load(&kr.return_calls) - calls);
	ok(st.arenas_allocated == allocated && st.arenas_held == held,
	   "and no arena released or granted (%zu -> %zu grants, "
	   "%zu -> %zu held)", allocated, st.arenas_allocated, held,
	   st.arenas_held);
	/* the same pools, left empty for the delay, do go back */
	for (i = 0; i < nb; i++)
		karena_free(b[i]);
	karena__flush_kept();
	karena__advance_clock(kr.purge_ms);
	purge_pass(h);
	karena_stats(&st);
	ok(atomic_load(&kr.return_calls) > calls && st.arenas_held < held,
	   "left empty for KARENA_PURGE_MS, they go back (%zu return_pages "
	   "calls, %zu -> %zu arenas held)",
	   atomic_load(&kr.return_calls) - calls, held, st.arenas_held);

	/*
	 * karena_trim: the same blocks freed again, and no time passes (the
	 * clock is stopped), so only the trim can hand their arenas back:
	 * every one, the one KARENA_KEEP_ARENAS keeps and those of this
	 * thread's kept and spare pools too.
	 */
	for (i = 0; i < nb; i++)
		b[i] = karena_malloc(REQ);
	for (i = 0; i < nb; i++)
		karena_free(b[i]);
	karena_stats(&st0);
	good = karena_trim();
	karena_stats(&st);
	ok(good == 1 && st0.arenas_held >= 2 && st.arenas_held == 0 &&
	   invariants(), "karena_trim hands back every empty arena at once "
	   "(%zu -> %zu held), and says so (%d)", st0.arenas_held,
	   st.arenas_held, good);
	good = karena_trim();
	b[0] = karena_malloc(REQ);
	ok(good == 0 && b[0] && invariants(), "a second trim finds nothing "
	   "(%d), and malloc goes on", good);
	karena_free(b[0]);
	karena__real_clock();
	free(b);
	return tap_done();
}
