// SPDX-License-Identifier: GPL-2.0
/*
 * prodcons: two threads, every block freed on the other thread. The
 * producer mallocs n blocks (sizes 16..max, multiples of 16) and passes each
 * through a lock-free single-producer/single-consumer ring of `ring`
 * pointers; the consumer reads one byte and frees it. This is the pattern
 * that per-thread caches handle worst: every free is a remote free, and the
 * producer's pools drain only through the consumer.
 *
 *	prodcons n=5000000 ring=1024 max=256
 *	-> bench=prodcons n=5000000 ring=1024 max=256 ns_per_op=55.0
 *
 * ns_per_op is wall time / n for the whole transfer (both threads running).
 * A full or empty ring spins a little, then yields: the machine may have
 * fewer free cores than threads.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "common.h"

static void **ring;
static long ring_len, n_items, max_size;
static _Atomic long head; /* written by the producer: items pushed */
static _Atomic long tail; /* written by the consumer: items popped */

static void wait_a_little(int *spins)
{
	if (++*spins < 64)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static void *producer(void *arg)
{
	uint64_t seed = 99;
	long h = 0;

	(void)arg;
	for (long i = 0; i < n_items; i++) {
		char *p = xmalloc(16 * (1 + rng_below(&seed, max_size / 16)));
		int spins = 0;

		p[0] = (char)i;
		while (h - atomic_load_explicit(&tail, memory_order_acquire) >= ring_len)
			wait_a_little(&spins);
		ring[h % ring_len] = p;
		atomic_store_explicit(&head, ++h, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long t = 0, sum = 0;

	(void)arg;
	while (t < n_items) {
		int spins = 0;
		char *p;

		while (atomic_load_explicit(&head, memory_order_acquire) == t)
			wait_a_little(&spins);
		p = ring[t % ring_len];
		sum += p[0];
		free(p);
		atomic_store_explicit(&tail, ++t, memory_order_release);
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"n", "ring", "max", NULL};
	pthread_t pt, ct;
	double t;

	check_params(argc, argv, keys, "[n=N] [ring=N] [max=BYTES]");
	n_items = (long)param_num("n", 5e6, argc, argv);
	ring_len = (long)param_num("ring", 1024, argc, argv);
	max_size = (long)param_num("max", 256, argc, argv);
	if (n_items < 1 || ring_len < 1 || max_size < 16) {
		fprintf(stderr, "prodcons: n, ring >= 1 and max >= 16\n");
		return 2;
	}
	ring = map_array(ring_len * sizeof(*ring));

	t = now_s();
	if (pthread_create(&ct, NULL, consumer, NULL) ||
	    pthread_create(&pt, NULL, producer, NULL)) {
		fprintf(stderr, "prodcons: pthread_create failed\n");
		return 1;
	}
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	t = now_s() - t;
	printf("bench=prodcons n=%ld ring=%ld max=%ld ns_per_op=%.3f\n", n_items, ring_len,
	       max_size, t * 1e9 / n_items);
	return 0;
}
