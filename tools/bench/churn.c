// SPDX-License-Identifier: GPL-2.0
/*
 * churn: a steady working set of `live` blocks with mixed small sizes,
 * turned over at random: each step frees one random slot and refills it
 * with a new block of a random size. This is the long-running server or
 * interpreter pattern: the heap is fragmented, free lists are never empty
 * and never in address order.
 *
 * Sizes: 60% 16..64, 30% 80..256, 10% 272..512 (multiples of 16), plus
 * `big` percent (default 0) of 1..4 KiB blocks, which an obmalloc-style
 * allocator forwards to the system allocator.
 *
 *	churn live=100000 steps=5000000
 *	-> bench=churn live=100000 steps=5000000 big=0 ns_per_op=40.1
 *
 * ns_per_op is per step (one free + one malloc), timed after the working set
 * is built.
 */
#include "common.h"

static size_t pick_size(uint64_t *seed, int big_pct)
{
	uint64_t r = rng_below(seed, 100);

	if ((int)r < big_pct)
		return 1024 + rng_below(seed, 3 * 1024 + 1);
	r = rng_below(seed, 100);
	if (r < 60)
		return 16 * (1 + rng_below(seed, 4)); /* 16..64 */
	if (r < 90)
		return 16 * (5 + rng_below(seed, 12)); /* 80..256 */
	return 16 * (17 + rng_below(seed, 16));	       /* 272..512 */
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"live", "steps", "big", NULL};
	long live, steps;
	int big;
	void **slot;
	uint64_t seed = 7;
	double t;

	check_params(argc, argv, keys, "[live=N] [steps=N] [big=PERCENT]");
	live = (long)param_num("live", 100000, argc, argv);
	steps = (long)param_num("steps", 5e6, argc, argv);
	big = (int)param_num("big", 0, argc, argv);
	if (live < 1 || steps < 1 || big < 0 || big > 100) {
		fprintf(stderr, "churn: live, steps >= 1, 0 <= big <= 100\n");
		return 2;
	}

	slot = map_array(live * sizeof(*slot));
	for (long i = 0; i < live; i++) {
		slot[i] = xmalloc(pick_size(&seed, big));
		*(char *)slot[i] = 1;
	}
	t = now_s();
	for (long s = 0; s < steps; s++) {
		long i = rng_below(&seed, live);

		free(slot[i]);
		slot[i] = xmalloc(pick_size(&seed, big));
		*(char *)slot[i] = (char)s;
	}
	t = now_s() - t;
	for (long i = 0; i < live; i++)
		free(slot[i]);
	printf("bench=churn live=%ld steps=%ld big=%d ns_per_op=%.3f\n", live, steps, big,
	       t * 1e9 / steps);
	return 0;
}
