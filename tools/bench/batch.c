// SPDX-License-Identifier: GPL-2.0
/*
 * batch: allocate a batch of n blocks, then free the whole batch in one
 * order, `rounds` times. The order decides which free-list and pool paths an
 * allocator takes:
 *
 *	lifo    newest first: each free undoes the last malloc (stack-like)
 *	fifo    oldest first: frees walk the pools in allocation order
 *	random  a fresh shuffle each round: frees scatter over every pool
 *
 * Sizes are drawn uniformly from 16..max in steps of 16 (default 16..256),
 * the same sequence for every allocator (fixed seed).
 *
 *	batch order=random n=100000 rounds=20 max=256
 *	-> bench=batch order=random n=100000 rounds=20 ns_per_op=31.2
 *
 * ns_per_op is per malloc+free pair (the shuffle is done before timing).
 */
#include "common.h"

int main(int argc, char **argv)
{
	static const char *const keys[] = {"order", "n", "rounds", "max", NULL};
	const char *order;
	long n, rounds, max;
	size_t *idx, *size;
	void **ptr;
	uint64_t seed = 42;
	double t = 0;

	check_params(argc, argv, keys, "[order=lifo|fifo|random] [n=N] [rounds=R] [max=BYTES]");
	order = param_str("order", "random", argc, argv);
	n = (long)param_num("n", 100000, argc, argv);
	rounds = (long)param_num("rounds", 20, argc, argv);
	max = (long)param_num("max", 256, argc, argv);
	if (strcmp(order, "lifo") && strcmp(order, "fifo") && strcmp(order, "random")) {
		fprintf(stderr, "batch: order must be lifo, fifo or random\n");
		return 2;
	}
	if (n < 1 || rounds < 1 || max < 16) {
		fprintf(stderr, "batch: n, rounds >= 1 and max >= 16\n");
		return 2;
	}

	ptr = map_array(n * sizeof(*ptr));
	idx = map_array(n * sizeof(*idx));
	size = map_array(n * sizeof(*size));
	for (long i = 0; i < n; i++)
		size[i] = 16 * (1 + rng_below(&seed, max / 16));

	for (long r = 0; r <= rounds; r++) {
		double t0;

		/* The free order for this round. */
		for (long i = 0; i < n; i++)
			idx[i] = order[0] == 'l' ? n - 1 - i : i;
		if (order[0] == 'r')
			for (long i = n - 1; i > 0; i--) {
				long j = rng_below(&seed, i + 1);
				size_t x = idx[i];

				idx[i] = idx[j];
				idx[j] = x;
			}

		t0 = now_s();
		for (long i = 0; i < n; i++) {
			ptr[i] = xmalloc(size[i]);
			*(char *)ptr[i] = (char)i;
		}
		for (long i = 0; i < n; i++)
			free(ptr[idx[i]]);
		if (r > 0) /* round 0 is the warm-up */
			t += now_s() - t0;
	}
	printf("bench=batch order=%s n=%ld rounds=%ld max=%ld ns_per_op=%.3f\n", order, n, rounds,
	       max, t * 1e9 / ((double)n * rounds));
	return 0;
}
