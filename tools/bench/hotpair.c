// SPDX-License-Identifier: GPL-2.0
/*
 * hotpair: the allocator's fast path. One malloc(size) and one free() of the
 * same block, back to back, `iters` times, touching one byte of each block.
 * After a warm-up the block always comes straight back from the allocator's
 * per-thread cache or free list, so ns_per_op is the cost of the pair.
 *
 *	hotpair size=64 iters=5000000
 *	-> bench=hotpair size=64 iters=5000000 ns_per_op=7.41
 *
 * hold=N (default 0) allocates N blocks of the size first and keeps them
 * live, so the pair never empties its pool: the difference from hold=0 is
 * what an allocator pays for emptying and re-opening a pool (or page) on
 * every pair.
 *
 * size= may be a comma-separated list (size=16,32,48): one line per size,
 * each size warmed up and timed in turn, in one process.
 *
 * The timed loop is the non-inlined hot_loop() and the warm-up a separate
 * warm_loop(), so that `valgrind --tool=callgrind --toggle-collect=hot_loop`
 * counts exactly the instructions of the timed pairs (plus ~5 of loop
 * overhead each) and nothing of start-up or of the first pool's set-up.
 */
#include "common.h"

static inline void pairs(size_t size, long iters)
{
	for (long i = 0; i < iters; i++) {
		char *p = malloc(size);

		escape(p);
		p[0] = (char)i;
		free(p);
	}
}

__attribute__((noinline)) static void warm_loop(size_t size, long iters)
{
	pairs(size, iters);
}

__attribute__((noinline)) static void hot_loop(size_t size, long iters)
{
	pairs(size, iters);
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"size", "iters", "hold", NULL};
	const char *sizes;
	long iters, hold;

	check_params(argc, argv, keys, "[size=BYTES[,BYTES...]] [iters=N] [hold=N]");
	sizes = param_str("size", "64", argc, argv);
	iters = (long)param_num("iters", 5e6, argc, argv);
	hold = (long)param_num("hold", 0, argc, argv);
	if (iters < 1 || hold < 0) {
		fprintf(stderr, "hotpair: iters > 0, hold >= 0\n");
		return 2;
	}

	while (*sizes) {
		char *end;
		size_t size = strtoul(sizes, &end, 0);
		double t;

		if (end == sizes || !size || (*end && *end != ',')) {
			fprintf(stderr, "hotpair: bad size list\n");
			return 2;
		}
		sizes = *end ? end + 1 : end;

		for (long i = 0; i < hold; i++) /* never freed: keep pools busy */
			escape(xmalloc(size));
		warm_loop(size, iters / 10 + 1); /* first pool, caches */
		t = now_s();
		hot_loop(size, iters);
		t = now_s() - t;
		printf("bench=hotpair size=%zu iters=%ld hold=%ld "
		       "ns_per_op=%.3f\n",
		       size, iters, hold, t * 1e9 / iters);
	}
	return 0;
}
