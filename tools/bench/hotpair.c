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
 * The timed loop is the non-inlined hot_loop(), so that
 * `valgrind --tool=callgrind --toggle-collect=hot_loop` counts exactly the
 * instructions of the pairs (plus ~5 of loop overhead each) and nothing of
 * start-up.
 */
#include "common.h"

__attribute__((noinline)) static void hot_loop(size_t size, long iters)
{
	for (long i = 0; i < iters; i++) {
		char *p = malloc(size);

		escape(p);
		p[0] = (char)i;
		free(p);
	}
}

int main(int argc, char **argv)
{
	static const char *const keys[] = { "size", "iters", NULL };
	size_t size;
	long iters;
	double t;

	check_params(argc, argv, keys, "[size=BYTES] [iters=N]");
	size = (size_t)param_num("size", 64, argc, argv);
	iters = (long)param_num("iters", 5e6, argc, argv);
	if (!size || iters < 1) {
		fprintf(stderr, "hotpair: size and iters must be > 0\n");
		return 2;
	}

	hot_loop(size, iters / 10 + 1); /* warm-up: first pool, caches */
	t = now_s();
	hot_loop(size, iters);
	t = now_s() - t;
	printf("bench=hotpair size=%zu iters=%ld ns_per_op=%.3f\n", size, iters,
	       t * 1e9 / iters);
	return 0;
}
