// SPDX-License-Identifier: GPL-2.0
/*
 * mstress: many threads churning one shared set of objects, after the
 * mstress of mimalloc-bench. `threads` threads (more than the machine's
 * cores, by default) each make `steps` steps; a step puts a new object in
 * a random slot of a table of `slots` shared by all (an atomic exchange)
 * and frees the object it took out, which any thread may have made. Sizes:
 * mostly small (16..256 bytes), one in 8 up to 4 KiB, one in 64 up to
 * 64 KiB. Every `retire` steps a thread exits and a new one takes its
 * place, so heaps are abandoned and adopted under load.
 *
 *	mstress threads=8 slots=20000 steps=200000 retire=50000
 *	-> bench=mstress threads=8 ... ns_per_op=61.0
 *
 * ns_per_op: wall time per step, all threads' steps counted.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

static long n_threads, n_slots, n_steps, retire_every;
static _Atomic(void *) *table;

static size_t pick_size(uint64_t *seed)
{
	uint64_t r = rng_below(seed, 64);

	if (r == 0)
		return 4096 + rng_below(seed, 61441);
	if (r < 8)
		return 257 + rng_below(seed, 3840);
	return 16 + rng_below(seed, 241);
}

struct job {
	long id, steps;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	uint64_t seed = 0xa076bull * (uint64_t)(j->id + 1);

	for (long s = 0; s < j->steps; s++) {
		size_t n = pick_size(&seed);
		char *p = xmalloc(n), *old;

		p[0] = p[n - 1] = (char)s;
		old = atomic_exchange_explicit(&table[rng_below(&seed, n_slots)], p,
					       memory_order_acq_rel);
		free(old);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"threads", "slots", "steps", "retire", NULL};
	pthread_t th[256];
	struct job jobs[256];
	long done[256] = {0};
	double t;

	check_params(argc, argv, keys, "[threads=N] [slots=N] [steps=N] [retire=N]");
	n_threads = (long)param_num("threads", 8, argc, argv);
	n_slots = (long)param_num("slots", 20000, argc, argv);
	n_steps = (long)param_num("steps", 200000, argc, argv);
	retire_every = (long)param_num("retire", 50000, argc, argv);
	if (n_threads < 1 || n_threads > 256 || n_slots < 1 || n_steps < 1 || retire_every < 1) {
		fprintf(stderr, "mstress: threads 1..256, slots, steps, retire >= 1\n");
		return 2;
	}
	table = map_array(n_slots * sizeof(*table));
	t = now_s();
	/* each thread's steps in pieces of `retire`: a new thread per piece */
	for (int more = 1; more;) {
		more = 0;
		for (long k = 0; k < n_threads; k++) {
			long left = n_steps - done[k];

			jobs[k].id = k + n_threads * (done[k] / retire_every);
			jobs[k].steps = left < retire_every ? left : retire_every;
			if (jobs[k].steps > 0 &&
			    pthread_create(&th[k], NULL, worker, &jobs[k])) {
				fprintf(stderr, "mstress: pthread_create failed\n");
				return 1;
			}
		}
		for (long k = 0; k < n_threads; k++) {
			if (jobs[k].steps <= 0)
				continue;
			pthread_join(th[k], NULL);
			done[k] += jobs[k].steps;
			more |= done[k] < n_steps;
		}
	}
	t = now_s() - t;
	for (long i = 0; i < n_slots; i++)
		free(atomic_load(&table[i]));
	printf("bench=mstress threads=%ld slots=%ld steps=%ld retire=%ld ns_per_op=%.3f\n",
	       n_threads, n_slots, n_steps, retire_every, t * 1e9 / (n_threads * n_steps));
	return 0;
}
