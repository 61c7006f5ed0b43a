// SPDX-License-Identifier: GPL-2.0
/*
 * grant_bench: what an arena costs from the kernel, against what the same
 * memory costs as anonymous mmap. Run inside the test VM with karena.ko
 * loaded (tools/vm/run --kernel 6.1 -- tools/bench/grant_bench); without
 * /dev/karena it measures the anonymous side only.
 *
 * One "cycle" is: map arena_size bytes, write one byte to every page, unmap.
 *
 *	karena          mmap(/dev/karena, MAP_SHARED)        = grant
 *	karena_populate the same with MAP_POPULATE
 *	anon            mmap(MAP_PRIVATE | MAP_ANONYMOUS)
 *	anon_populate   the same with MAP_POPULATE
 *
 * The modes take turns: `reps` rounds, each giving every mode an equal
 * slice of 2*secs/reps; a mode's us_per_cycle (and ns_per_page) is its
 * median round; map_us, touch_us and unmap_us split the mean cycle into
 * its three phases (grant, first touches, release). Then the throughput test:
 * 1 and 2 threads each loop map + touch the first page + unmap for `secs`
 * seconds; cycles_per_s is the total. Last the refault test: one region
 * stays mapped, and a cycle touches every page and hands them all back
 *
 *	karena          KARENA_IOC_RETURN_PAGES (the library's purge): the
 *	                next touch refills each page from the page allocator
 *	anon            madvise(MADV_DONTNEED)
 *
 * Run from a memory cgroup other than the root (vm-bench.sh does both),
 * every grant and refill is charged to it, and so is anonymous memory.
 *
 *	grant_bench [secs=2] [reps=5] [device=/dev/karena]
 *	-> bench=grant mode=karena arena_kb=256 us_per_cycle=... ns_per_page=...
 *	   bench=grant_rate mode=karena threads=2 cycles_per_s=...
 *	   bench=refault mode=karena us_per_cycle=... ns_per_page=...
 *
 * arena_size comes from KARENA_IOC_INFO, never assumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>

#include "common.h"
#include <linux/karena.h>

static int dev_fd = -1;
static size_t arena_size, page_size;

/* Map one arena-sized region the way `mode` says; NULL on failure. */
static char *map_one(int karena, int populate)
{
	int flags = karena ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	if (populate)
		flags |= MAP_POPULATE;
	p = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, flags, karena ? dev_fd : -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Seconds spent in each phase of a cycle, summed (NULL: not wanted). */
struct phases {
	double map, touch, unmap;
};

static int cycle(int karena, int populate, size_t touch_pages, struct phases *ph)
{
	double t0 = ph ? now_s() : 0, t1 = 0, t2 = 0;
	char *p = map_one(karena, populate);
	int err;

	if (!p)
		return -1;
	if (ph)
		t1 = now_s();
	for (size_t off = 0; off < touch_pages * page_size; off += page_size)
		p[off] = 1;
	if (ph)
		t2 = now_s();
	err = munmap(p, arena_size);
	if (ph) {
		ph->map += t1 - t0;
		ph->touch += t2 - t1;
		ph->unmap += now_s() - t2;
	}
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct mode {
	const char *name;
	int karena, populate;
	char *region;	  /* the refault's region, mapped for every round */
	double us[64];	  /* one per round */
	struct phases ph; /* summed over every round */
	long cycles;	  /* in every round */
	int failed;	  /* errno of the first failure */
};

/*
 * Run every mode's @step for one slice of secs/reps, round after round, so
 * that a noisy neighbour (TCG, a shared host) and the state of the
 * kernel's reserve weigh on all modes alike; m->us[r] is round r's time a
 * step, sorted at the end so that each mode's median is m->us[reps / 2].
 */
static void time_rounds(struct mode *modes, int nmodes, double secs, int reps,
			int (*step)(struct mode *m))
{
	double slice = secs / reps / nmodes;

	for (int r = 0; r < reps; r++)
		for (struct mode *m = modes; m < modes + nmodes; m++) {
			double t0 = now_s(), t = 0;
			long n = 0;

			if (m->failed)
				continue;
			do {
				if (step(m)) {
					m->failed = errno;
					break;
				}
				n++;
			} while ((t = now_s() - t0) < slice);
			m->us[r] = n ? t * 1e6 / n : 0;
			m->cycles += n;
		}
	for (struct mode *m = modes; m < modes + nmodes; m++)
		qsort(m->us, reps, sizeof(m->us[0]), cmp_double);
}

static int cycle_step(struct mode *m)
{
	return cycle(m->karena, m->populate, arena_size / page_size, &m->ph);
}

/* The map, touch, unmap cycle of every mode; each mode's median round. */
static void time_cycles(struct mode *modes, int nmodes, double secs, int reps)
{
	size_t pages = arena_size / page_size;

	time_rounds(modes, nmodes, secs, reps, cycle_step);
	for (struct mode *m = modes; m < modes + nmodes; m++) {
		if (m->failed) {
			printf("bench=grant mode=%s error=%s\n", m->name, strerror(m->failed));
			continue;
		}
		printf("bench=grant mode=%s arena_kb=%zu us_per_cycle=%.2f "
		       "us_min=%.2f us_max=%.2f ns_per_page=%.1f map_us=%.2f "
		       "touch_us=%.2f unmap_us=%.2f\n",
		       m->name, arena_size >> 10, m->us[reps / 2], m->us[0], m->us[reps - 1],
		       m->us[reps / 2] * 1e3 / pages, m->ph.map * 1e6 / m->cycles,
		       m->ph.touch * 1e6 / m->cycles, m->ph.unmap * 1e6 / m->cycles);
	}
}

struct rate_arg {
	int karena;
	double secs;
	long cycles;
	int failed;
};

static void *rate_thread(void *arg)
{
	struct rate_arg *a = arg;
	double t0 = now_s();

	do {
		if (cycle(a->karena, 0, 1, NULL)) {
			a->failed = errno;
			break;
		}
		a->cycles++;
	} while (now_s() - t0 < a->secs);
	return NULL;
}

static void time_rate(const char *name, int karena, int threads, double secs)
{
	struct rate_arg arg[2] = {{karena, secs, 0, 0}, {karena, secs, 0, 0}};
	pthread_t tid[2];
	double t0 = now_s(), t;
	long total = 0;

	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, rate_thread, &arg[i]);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	t = now_s() - t0;
	for (int i = 0; i < threads; i++)
		total += arg[i].cycles;
	printf("bench=grant_rate mode=%s threads=%d cycles_per_s=%.0f%s\n", name, threads,
	       total / t, arg[0].failed || arg[1].failed ? " error=1" : "");
}

/* Hand back every page of @p: the karena way or the anonymous one. */
static int hand_back(int karena, char *p)
{
	struct karena_return_pages r = {
		.addr = (uintptr_t)p,
		.len = arena_size,
	};

	if (!karena)
		return madvise(p, arena_size, MADV_DONTNEED);
	return ioctl(dev_fd, KARENA_IOC_RETURN_PAGES, &r);
}

/* Touch every page of the region, then hand them all back. */
static int refault_step(struct mode *m)
{
	for (size_t off = 0; off < arena_size; off += page_size)
		m->region[off] = 1;
	return hand_back(m->karena, m->region);
}

/*
 * The refault: a median of @reps rounds of @secs / @reps seconds, each a
 * loop of refault_step(), modes taking turns.
 */
static void time_refault(double secs, int reps)
{
	struct mode modes[] = {{.name = "anon"}, {.name = "karena", .karena = 1}};
	size_t pages = arena_size / page_size;
	int nmodes = dev_fd >= 0 ? 2 : 1;

	for (struct mode *m = modes; m < modes + nmodes; m++) {
		m->region = map_one(m->karena, 0);
		if (!m->region)
			m->failed = errno;
	}
	time_rounds(modes, nmodes, secs, reps, refault_step);
	for (struct mode *m = modes; m < modes + nmodes; m++) {
		if (m->failed) {
			printf("bench=refault mode=%s error=%s\n", m->name, strerror(m->failed));
		} else {
			printf("bench=refault mode=%s arena_kb=%zu us_per_cycle=%.2f us_min=%.2f "
			       "us_max=%.2f ns_per_page=%.1f\n", m->name, arena_size >> 10,
			       m->us[reps / 2], m->us[0], m->us[reps - 1],
			       m->us[reps / 2] * 1e3 / pages);
		}
		if (m->region)
			munmap(m->region, arena_size);
	}
}

int main(int argc, char **argv)
{
	static const char *const keys[] = {"secs", "reps", "device", NULL};
	const char *dev;
	double secs;
	int reps;
	struct karena_info info;

	check_params(argc, argv, keys, "[secs=S] [reps=N] [device=/dev/karena]");
	secs = param_num("secs", 2, argc, argv);
	reps = (int)param_num("reps", 5, argc, argv);
	dev = param_str("device", "/dev/karena", argc, argv);
	if (reps < 1 || reps > 64 || secs <= 0) {
		fprintf(stderr, "grant_bench: 1 <= reps <= 64, secs > 0\n");
		return 2;
	}
	page_size = sysconf(_SC_PAGESIZE);

	dev_fd = open(dev, O_RDWR | O_CLOEXEC);
	memset(&info, 0, sizeof(info));
	if (dev_fd >= 0 && ioctl(dev_fd, KARENA_IOC_INFO, &info) == 0) {
		arena_size = info.arena_size;
	} else {
		fprintf(stderr, "grant_bench: %s: %s; anonymous mmap only\n", dev, strerror(errno));
		if (dev_fd >= 0)
			close(dev_fd);
		dev_fd = -1;
		arena_size = 256 << 10;
	}

	{
		struct mode modes[] = {
			{.name = "anon"},
			{.name = "anon_populate", .populate = 1},
			{.name = "karena", .karena = 1},
			{.name = "karena_populate", .karena = 1, .populate = 1},
		};

		time_cycles(modes, dev_fd >= 0 ? 4 : 2, secs * 2, reps);
	}
	for (int threads = 1; threads <= 2; threads++) {
		if (dev_fd >= 0)
			time_rate("karena", 1, threads, secs / 2);
		time_rate("anon", 0, threads, secs / 2);
	}
	time_refault(secs, reps);
	return 0;
}
