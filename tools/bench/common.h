/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tools/bench/common.h: the few helpers every workload program shares.
 *
 * Each workload is one small program: it takes key=value parameters, does
 * its work with the malloc family (whichever allocator is preloaded), and
 * prints its metrics as ONE line of space-separated key=value pairs that
 * tools/bench/summarize.py parses, e.g.
 *
 *	bench=hotpair size=64 iters=5000000 ns_per_op=7.41
 *
 * Time is CLOCK_MONOTONIC; RSS is read from /proc/self/statm (resident
 * pages), which is cheap enough to sample every few milliseconds.
 */
#ifndef KARENA_BENCH_COMMON_H
#define KARENA_BENCH_COMMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Keep the compiler from optimising away an allocation it can see through. */
#define escape(p) __asm__ volatile("" : : "g"(p) : "memory")

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

/* Resident set size in bytes, from /proc/self/statm (second field). */
static inline long rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* xorshift64*: fast, deterministic, good enough to pick sizes and slots. */
static inline uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n). */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

/*
 * Parameters: "key=value" arguments override the defaults a program passes
 * in. param_num("size", 64, argc, argv) returns size=... or 64; a suffix
 * k/m/g multiplies by 2^10/2^20/2^30. Unknown keys are the caller's to
 * reject with check_params().
 */
static inline const char *param_str(const char *key, const char *def, int argc, char **argv)
{
	size_t n = strlen(key);

	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return def;
}

static inline double param_num(const char *key, double def, int argc, char **argv)
{
	const char *v = param_str(key, NULL, argc, argv);
	char *end;
	double x;

	if (!v)
		return def;
	x = strtod(v, &end);
	switch (*end) {
	case 'k':
	case 'K':
		x *= 1 << 10;
		end++;
		break;
	case 'm':
	case 'M':
		x *= 1 << 20;
		end++;
		break;
	case 'g':
	case 'G':
		x *= 1 << 30;
		end++;
		break;
	}
	if (*end || end == v) {
		fprintf(stderr, "bad number for %s: '%s'\n", key, v);
		exit(2);
	}
	return x;
}

/* Exit with a usage message if an argument is not key=value of a known key. */
static inline void check_params(int argc, char **argv, const char *const *keys, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		const char *const *k;
		size_t n = strcspn(argv[i], "=");

		for (k = keys; *k; k++)
			if (strlen(*k) == n && !strncmp(argv[i], *k, n) && argv[i][n] == '=')
				break;
		if (!*k) {
			fprintf(stderr, "usage: %s %s\n", argv[0], usage);
			exit(2);
		}
	}
}

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "malloc(%zu) failed\n", n);
		exit(1);
	}
	return p;
}

/*
 * The workloads' own bookkeeping (pointer arrays) comes from mmap, never
 * from the allocator under test, so it does not blur that allocator's RSS.
 */
static inline void *map_array(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/*
 * Run fn((void *)0) .. fn((void *)(n - 1)) on n threads (n <= 256) and
 * wait for them all; returns the wall time they took. Exits 1 when a
 * thread cannot be created.
 */
static inline double run_threads(long n, void *(*fn)(void *))
{
	pthread_t th[256];
	double t = now_s();

	for (long k = 0; k < n; k++)
		if (pthread_create(&th[k], NULL, fn, (void *)k)) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	for (long k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	return now_s() - t;
}

static inline void unmap_array(void *p, size_t bytes)
{
	munmap(p, bytes);
}

#endif /* KARENA_BENCH_COMMON_H */
