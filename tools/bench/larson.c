// SPDX-License-Identifier: GPL-2.0
/*
 * larson: a server that hands objects between threads, after Larson and
 * Krishnan's benchmark. Each of `threads` workers owns a table of `slots`
 * objects; a step frees the object in a random slot and puts a new one of
 * a random size (min..max bytes) there. After every `steps` steps the
 * tables rotate: worker i takes the table worker i+1 filled, so most frees
 * are of objects another thread allocated, as in a server whose requests
 * move between worker threads.
 *
 *	larson threads=2 slots=1000 min=16 max=1000 steps=50000 rounds=20
 *	-> bench=larson threads=2 ... ns_per_op=40.1 mops=24.9
 *
 * ns_per_op is wall time per step of all threads together (steps done by
 * every thread / wall time, inverted); mops is the same as a rate.
 */
#include <pthread.h>

#include "common.h"

static long n_threads, n_slots, min_size, max_size, n_steps, n_rounds;
static void ***tables;		/* tables[i]: the table worker i works on */
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
	long me = (long)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(me + 1);

	for (long r = 0; r < n_rounds; r++) {
		void **t = tables[me];

		for (long s = 0; s < n_steps; s++) {
			long i = (long)rng_below(&seed, n_slots);
			size_t n = min_size + rng_below(&seed, max_size - min_size + 1);
			char *p;

			free(t[i]);
			p = xmalloc(n);
			p[0] = p[n - 1] = (char)s;
			t[i] = p;
		}
		/* hand the table on: worker me - 1 takes it next round */
		pthread_barrier_wait(&barrier);
		if (me == 0) {
			void **first = tables[0];

			for (long k = 0; k + 1 < n_threads; k++)
				tables[k] = tables[k + 1];
			tables[n_threads - 1] = first;
		}
		pthread_barrier_wait(&barrier);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"threads", "slots", "min", "max", "steps",
					   "rounds", NULL};
	uint64_t seed = 7;
	double t;

	check_params(argc, argv, keys, "[threads=N] [slots=N] [min=B] [max=B] [steps=N] "
		     "[rounds=N]");
	n_threads = (long)param_num("threads", 2, argc, argv);
	n_slots = (long)param_num("slots", 1000, argc, argv);
	min_size = (long)param_num("min", 16, argc, argv);
	max_size = (long)param_num("max", 1000, argc, argv);
	n_steps = (long)param_num("steps", 50000, argc, argv);
	n_rounds = (long)param_num("rounds", 20, argc, argv);
	if (n_threads < 1 || n_threads > 256 || n_slots < 1 || min_size < 1 ||
	    max_size < min_size || n_steps < 1 || n_rounds < 1) {
		fprintf(stderr, "larson: threads 1..256, slots, steps, rounds >= 1, "
			"1 <= min <= max\n");
		return 2;
	}
	tables = map_array(n_threads * sizeof(*tables));
	for (long k = 0; k < n_threads; k++) {
		tables[k] = map_array(n_slots * sizeof(void *));
		for (long i = 0; i < n_slots; i++)
			tables[k][i] = xmalloc(min_size + rng_below(&seed, max_size - min_size + 1));
	}
	pthread_barrier_init(&barrier, NULL, (unsigned)n_threads);
	t = run_threads(n_threads, worker);
	for (long k = 0; k < n_threads; k++)
		for (long i = 0; i < n_slots; i++)
			free(tables[k][i]);
	printf("bench=larson threads=%ld slots=%ld min=%ld max=%ld steps=%ld rounds=%ld "
	       "ns_per_op=%.3f mops=%.3f\n", n_threads, n_slots, min_size, max_size, n_steps,
	       n_rounds, t * 1e9 / (n_threads * n_steps * n_rounds),
	       n_threads * n_steps * n_rounds / t / 1e6);
	return 0;
}
