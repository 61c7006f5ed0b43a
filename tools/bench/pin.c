// SPDX-License-Identifier: GPL-2.0
/*
 * pin: fragmentation. Allocate `total` bytes of 16..128-byte blocks, free
 * 99% of them, keep 1%, wait 1.5 s and see how much memory the survivors
 * pin. Two patterns:
 *
 *	mode=random       keep a random 1% (each block survives with p=0.01)
 *	mode=interleaved  keep exactly one block in every thousand allocations
 *	                  (a long-lived object among short-lived ones)
 *
 * trim=1 calls malloc_trim(0) after the frees, as a program that wants its
 * free memory back at once does: glibc's gives back the free pages inside
 * its heap, karena's the free pages inside its pools (karena_trim); an
 * allocator that does not define malloc_trim leaves the call to glibc's,
 * which has nothing of the allocator's to give.
 *
 *	pin mode=random total=256m
 *	-> bench=pin mode=random ... live_mb=2.6 rss_start_mb=1.5
 *	   rss_peak_mb=290.1 rss_final_mb=... final_over_peak_pct=...
 *	   final_over_live=...
 *
 * rss_final is measured 1.5 s after the last free, with the same 1 ms
 * malloc/free tick as drain (tick=0 to wait idle). final_over_peak_pct is
 * (final - start) / (peak - start); final_over_live is (final - start) /
 * live bytes: 1.0 would be perfect packing. A pool- or arena-granular
 * allocator holds a whole pool (or arena) for each survivor in it.
 */
#include <malloc.h>

#include "common.h"

int main(int argc, char **argv)
{
	static const char *const keys[] = {"mode", "total", "tick", "trim", NULL};
	const char *mode;
	double total, got = 0, live = 0, t0;
	long n = 0, cap, kept = 0;
	size_t book;
	long rss_start, rss_peak, rss_final;
	int tick, interleaved, trim;
	void **ptr;
	unsigned char *units; /* each block's size / 16 */
	uint64_t seed = 11;

	check_params(argc, argv, keys,
		     "[mode=random|interleaved] [total=BYTES] [tick=0|1] [trim=0|1]");
	mode = param_str("mode", "random", argc, argv);
	total = param_num("total", 256 << 20, argc, argv);
	tick = (int)param_num("tick", 1, argc, argv);
	trim = (int)param_num("trim", 0, argc, argv);
	interleaved = !strcmp(mode, "interleaved");
	if (!interleaved && strcmp(mode, "random")) {
		fprintf(stderr, "pin: mode must be random or interleaved\n");
		return 2;
	}
	if (total < 1 << 20) {
		fprintf(stderr, "pin: total >= 1m\n");
		return 2;
	}

	free(xmalloc(64)); /* let the allocator initialise itself */
	rss_start = rss_bytes();

	cap = (long)(total / 16) + 1;
	ptr = map_array(cap * sizeof(*ptr));
	units = map_array(cap);
	while (got < total && n < cap) {
		size_t sz = 16 * (1 + rng_below(&seed, 8)); /* 16..128 */

		ptr[n] = xmalloc(sz);
		units[n] = sz / 16;
		memset(ptr[n], 0x5A, sz);
		got += sz;
		n++;
	}
	/* RSS counts only the allocator's memory: the bookkeeping arrays
	 * (mmap, 9 bytes a block, all touched) are subtracted. */
	rss_peak = rss_bytes() - n * (long)(sizeof(*ptr) + 1);
	for (long i = 0; i < n; i++) {
		int keep = interleaved ? i % 1000 == 999 : rng_below(&seed, 100) == 0;

		if (keep) {
			live += 16 * units[i]; /* requested bytes */
			ptr[kept++] = ptr[i];
		} else {
			free(ptr[i]);
		}
	}
	if (trim)
		malloc_trim(0);

	t0 = now_s();
	while (now_s() - t0 < 1.5) {
		if (tick) {
			void *p = xmalloc(64);

			escape(p);
			free(p);
		}
		sleep_s(0.001);
	}
	/* Drop the bookkeeping but the survivors' pointers, and subtract
	 * those few pages. */
	unmap_array(units, cap);
	book = (kept * sizeof(*ptr) + 4095) & ~4095UL;
	if (book < cap * sizeof(*ptr))
		madvise((char *)ptr + book, cap * sizeof(*ptr) - book, MADV_DONTNEED);
	rss_final = rss_bytes() - (long)book;

	printf("bench=pin mode=%s total_mb=%.0f tick=%d trim=%d blocks=%ld kept=%ld "
	       "live_mb=%.2f rss_start_mb=%.1f rss_peak_mb=%.1f "
	       "rss_final_mb=%.1f final_over_peak_pct=%.1f "
	       "final_over_live=%.2f\n",
	       mode, total / (1 << 20), tick, trim, n, kept, live / 1048576.0, rss_start / 1048576.0,
	       rss_peak / 1048576.0, rss_final / 1048576.0,
	       100.0 * (rss_final - rss_start) / (rss_peak - rss_start),
	       (rss_final - rss_start) / live);
	for (long i = 0; i < kept; i++)
		free(ptr[i]);
	return 0;
}
