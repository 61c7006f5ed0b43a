// SPDX-License-Identifier: GPL-2.0
/*
 * xmalloc: a producer/consumer chain with mixed sizes, after Lever and
 * Boreham's xmalloc-test. `threads` threads stand in a ring; each mallocs
 * n objects of sizes spread evenly over the powers of two from 16 bytes
 * to `max` (64 KiB: most of them over 512 bytes), writes them and passes
 * them to the next thread through a single-producer/single-consumer ring
 * of `ring` pointers, and frees what the previous thread passed to it. So
 * every object is freed by a thread other than the one that made it, and
 * every thread both produces and consumes.
 *
 *	xmalloc threads=2 n=500000 max=65536 ring=256
 *	-> bench=xmalloc threads=2 n=500000 max=65536 ring=256 ns_per_op=95.2
 *
 * ns_per_op: wall time per object, all threads' objects counted.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "common.h"

struct link {				/* thread i -> thread i + 1 */
	void **slots;
	_Alignas(64) _Atomic long head;	/* pushed, by the producer */
	_Alignas(64) _Atomic long tail;	/* popped, by the consumer */
};

static long n_threads, n_items, max_size, ring_len;
static struct link *links;

static size_t pick_size(uint64_t *seed)
{
	unsigned octaves = 0;
	size_t base;

	while ((16ul << (octaves + 1)) <= (size_t)max_size)
		octaves++;
	base = 16ul << rng_below(seed, octaves + 1);
	return base + rng_below(seed, base);	/* within the octave */
}

static void *worker(void *arg)
{
	long me = (long)arg, made = 0, freed = 0, sum = 0;
	struct link *out = &links[me];
	struct link *in = &links[(me + n_threads - 1) % n_threads];
	uint64_t seed = 0x51ed27ull * (uint64_t)(me + 1);
	int idle = 0;

	while (made < n_items || freed < n_items) {
		int progress = 0;
		long h, t;

		h = atomic_load_explicit(&out->head, memory_order_relaxed);
		if (made < n_items &&
		    h - atomic_load_explicit(&out->tail, memory_order_acquire) < ring_len) {
			size_t n = pick_size(&seed);
			char *p = xmalloc(n);

			p[0] = p[n - 1] = (char)made;
			out->slots[h % ring_len] = p;
			atomic_store_explicit(&out->head, h + 1, memory_order_release);
			made++;
			progress = 1;
		}
		t = atomic_load_explicit(&in->tail, memory_order_relaxed);
		if (freed < n_items && atomic_load_explicit(&in->head, memory_order_acquire) > t) {
			char *p = in->slots[t % ring_len];

			sum += p[0];
			free(p);
			atomic_store_explicit(&in->tail, t + 1, memory_order_release);
			freed++;
			progress = 1;
		}
		if (progress)
			idle = 0;
		else if (++idle < 64)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"threads", "n", "max", "ring", NULL};
	double t;

	check_params(argc, argv, keys, "[threads=N] [n=N] [max=BYTES] [ring=N]");
	n_threads = (long)param_num("threads", 2, argc, argv);
	n_items = (long)param_num("n", 500000, argc, argv);
	max_size = (long)param_num("max", 65536, argc, argv);
	ring_len = (long)param_num("ring", 256, argc, argv);
	if (n_threads < 2 || n_threads > 256 || n_items < 1 || max_size < 16 || ring_len < 1) {
		fprintf(stderr, "xmalloc: threads 2..256, n, ring >= 1, max >= 16\n");
		return 2;
	}
	links = map_array(n_threads * sizeof(*links));
	for (long k = 0; k < n_threads; k++)
		links[k].slots = map_array(ring_len * sizeof(void *));
	t = run_threads(n_threads, worker);
	printf("bench=xmalloc threads=%ld n=%ld max=%ld ring=%ld ns_per_op=%.3f\n", n_threads,
	       n_items, max_size, ring_len, t * 1e9 / (n_threads * n_items));
	return 0;
}
