// SPDX-License-Identifier: GPL-2.0
/*
 * drain: does memory go back to the system once the program frees it?
 * Allocate `total` bytes of small blocks (sizes 16..max, multiples of 16),
 * free every one of them in allocation order, then sample RSS for 1.5 s.
 *
 *	drain total=1g max=512 tick=1
 *	-> bench=drain total_mb=1024 ... rss_start_mb=1.6 rss_peak_mb=1090.2
 *	   rss_0_mb=... rss_0.1_mb=... rss_0.5_mb=... rss_1.0_mb=...
 *	   rss_1.5_mb=... excess_1.0_pct=... retained_1.0_pct=...
 *
 * rss_start is measured after the allocator has served its first request;
 * rss_T is T seconds after the last free returned. excess_T_pct is how far
 * RSS is above the start, in percent of the start (the target: <= 5 at 1.0 s);
 * retained_T_pct is the same excess in percent of (peak - start), i.e. the
 * share of the freed memory still resident.
 *
 * tick=1 (default): while waiting, malloc+free one 64-byte block every
 * millisecond, as a live program would; allocators that purge lazily
 * (jemalloc's decay, mimalloc's delayed purge) only act on such calls.
 * tick=0 waits idle.
 */
#include "common.h"

static const double sample_at[] = {0, 0.1, 0.5, 1.0, 1.5};
#define NSAMPLES (sizeof(sample_at) / sizeof(sample_at[0]))

int main(int argc, char **argv)
{
	static const char *const keys[] = {"total", "max", "tick", NULL};
	double total, got = 0, t_alloc, t_free, t0;
	long max, n = 0, cap;
	long rss_start, rss_peak, rss[NSAMPLES];
	int tick;
	void **ptr;
	uint64_t seed = 3;

	check_params(argc, argv, keys, "[total=BYTES] [max=BYTES] [tick=0|1]");
	total = param_num("total", 1 << 30, argc, argv);
	max = (long)param_num("max", 512, argc, argv);
	tick = (int)param_num("tick", 1, argc, argv);
	if (total < 1 << 20 || max < 16) {
		fprintf(stderr, "drain: total >= 1m and max >= 16\n");
		return 2;
	}

	free(xmalloc(64)); /* let the allocator initialise itself */
	rss_start = rss_bytes();

	cap = (long)(total / 16) + 1;
	ptr = map_array(cap * sizeof(*ptr));
	t0 = now_s();
	while (got < total && n < cap) {
		size_t sz = 16 * (1 + rng_below(&seed, max / 16));

		ptr[n] = xmalloc(sz);
		memset(ptr[n], 0xA5, sz);
		got += sz;
		n++;
	}
	t_alloc = now_s() - t0;
	rss_peak = rss_bytes() - n * (long)sizeof(*ptr); /* minus bookkeeping */
	t0 = now_s();
	for (long i = 0; i < n; i++)
		free(ptr[i]);
	t_free = now_s() - t0;
	unmap_array(ptr, cap * sizeof(*ptr));

	t0 = now_s();
	for (size_t s = 0; s < NSAMPLES; s++) {
		while (now_s() - t0 < sample_at[s]) {
			if (tick) {
				void *p = xmalloc(64);

				escape(p);
				free(p);
			}
			sleep_s(0.001);
		}
		rss[s] = rss_bytes();
	}

	printf("bench=drain total_mb=%.0f max=%ld tick=%d blocks=%ld "
	       "alloc_s=%.3f free_s=%.3f rss_start_mb=%.1f rss_peak_mb=%.1f",
	       total / (1 << 20), max, tick, n, t_alloc, t_free, rss_start / 1048576.0,
	       rss_peak / 1048576.0);
	for (size_t s = 0; s < NSAMPLES; s++)
		printf(" rss_%g_mb=%.1f", sample_at[s], rss[s] / 1048576.0);
	printf(" excess_1.0_pct=%.1f retained_1.0_pct=%.2f\n",
	       100.0 * (rss[3] - rss_start) / rss_start,
	       100.0 * (rss[3] - rss_start) / (rss_peak - rss_start));
	return 0;
}
