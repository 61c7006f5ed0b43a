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
 * rss_start is measured after a warm-up: a burst of 1% of total (at least
 * 1 MiB) allocated and freed the same way, then 1.2 s of waiting as below.
 * So code that the drain runs for the first time (the allocator's purge,
 * madvise and munmap, a purge thread, the program's own sleep) is resident
 * before the start, and the excess measures the heap memory the allocator
 * keeps, not program text paged in (one first call of a libc function can
 * map 64 KiB of text by fault-around: 4% of a 1.6 MiB process).
 * rss_cold_mb is taken before the warm-up, after the allocator has served
 * its first request, and excess_cold_1.0_pct compares with it.
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

/* Allocate about @total bytes of blocks of 16..@max into @ptr; the count. */
static long fill(void **ptr, long cap, double total, long max, uint64_t *seed)
{
	double got = 0;
	long n = 0;

	while (got < total && n < cap) {
		size_t sz = 16 * (1 + rng_below(seed, max / 16));

		ptr[n] = xmalloc(sz);
		memset(ptr[n], 0xA5, sz);
		got += sz;
		n++;
	}
	return n;
}

/* Wait until @t0 + @until seconds, with a malloc+free per ms if @tick. */
static void wait_until(double t0, double until, int tick)
{
	while (now_s() - t0 < until) {
		if (tick) {
			void *p = xmalloc(64);

			escape(p);
			free(p);
		}
		sleep_s(0.001);
	}
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"total", "max", "tick", NULL};
	double total, warm, t_alloc, t_free, t0;
	long max, n, cap;
	long rss_cold, rss_start, rss_peak, rss[NSAMPLES];
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
	rss_cold = rss_bytes();

	warm = total / 100 > 1 << 20 ? total / 100 : 1 << 20;
	cap = (long)(warm / 16) + 1;
	ptr = map_array(cap * sizeof(*ptr));
	n = fill(ptr, cap, warm, max, &seed);
	for (long i = 0; i < n; i++)
		free(ptr[i]);
	unmap_array(ptr, cap * sizeof(*ptr));
	wait_until(now_s(), 1.2, tick);
	rss_start = rss_bytes();

	cap = (long)(total / 16) + 1;
	ptr = map_array(cap * sizeof(*ptr));
	t0 = now_s();
	n = fill(ptr, cap, total, max, &seed);
	t_alloc = now_s() - t0;
	rss_peak = rss_bytes() - n * (long)sizeof(*ptr); /* minus bookkeeping */
	t0 = now_s();
	for (long i = 0; i < n; i++)
		free(ptr[i]);
	t_free = now_s() - t0;
	unmap_array(ptr, cap * sizeof(*ptr));

	t0 = now_s();
	for (size_t s = 0; s < NSAMPLES; s++) {
		wait_until(t0, sample_at[s], tick);
		rss[s] = rss_bytes();
	}

	printf("bench=drain total_mb=%.0f max=%ld tick=%d blocks=%ld "
	       "alloc_s=%.3f free_s=%.3f rss_cold_mb=%.1f rss_start_mb=%.1f "
	       "rss_peak_mb=%.1f",
	       total / (1 << 20), max, tick, n, t_alloc, t_free, rss_cold / 1048576.0,
	       rss_start / 1048576.0, rss_peak / 1048576.0);
	for (size_t s = 0; s < NSAMPLES; s++)
		printf(" rss_%g_mb=%.1f", sample_at[s], rss[s] / 1048576.0);
	printf(" excess_1.0_pct=%.1f excess_cold_1.0_pct=%.1f "
	       "retained_1.0_pct=%.2f\n",
	       100.0 * (rss[3] - rss_start) / rss_start, 100.0 * (rss[3] - rss_cold) / rss_cold,
	       100.0 * (rss[3] - rss_start) / (rss_peak - rss_start));
	return 0;
}
