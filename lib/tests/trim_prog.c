// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * trim_prog - malloc_trim(0) hands karena's free memory back at once.
 * Run by preload.sh under libkarena-malloc.so with KARENA_PURGE_MS at an
 * hour, so that nothing goes back by age while it runs, and no purge
 * thread. It allocates 24 MiB of 100-byte blocks, 24 MiB of 3000-byte
 * ones and 16 blocks of 1 MiB, keeps the first 1/64 of the small and
 * medium ones (their pools and spans stay in use) and frees the rest.
 * Then:
 *   - the heap still holds most of what it had (karena_stats: arenas and
 *     kept large grants), as it must for an hour;
 *   - malloc_trim(0) returns 1, and the heap then holds at most a sixth
 *     of that, the pools and spans of the blocks kept and their arenas;
 *   - the blocks kept still read what was written in them;
 *   - a second malloc_trim(0) has nothing of karena's to give (its
 *     karena_trim() returns 0), and malloc goes on working;
 *   - what another thread, alive and waiting, has freed goes back too:
 *     it allocates and frees 16 MiB of small blocks, and the trim made
 *     while it waits returns 1 and leaves at most a sixth of that held.
 * karena_stats and karena_trim are looked up in the preloaded library, so
 * that the program needs no link with it. Exit 0 iff all of that holds;
 * a line of numbers on stdout for each part.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <karena.h>

#define SMALL		100
#define MEDIUM		3000
#define LARGE		(1 << 20)
#define NSMALL		((24 << 20) / SMALL)
#define NMEDIUM		((24 << 20) / MEDIUM)
#define NLARGE		16
#define KEPT(n)		((n) / 64)

static void (*stats)(struct karena_stats *);
static int (*trim)(void);

/* Bytes karena holds from its backend: arenas, large blocks, kept grants. */
static size_t held(void)
{
	struct karena_stats st;

	stats(&st);
	return st.arenas_held * st.arena_size + st.large_bytes +
	       st.large_kept_bytes;
}

/* Fill @n blocks of @size at @v, each with its own byte. */
static int fill(void **v, size_t n, size_t size)
{
	size_t i;

	for (i = 0; i < n; i++) {
		v[i] = malloc(size);
		if (!v[i])
			return -1;
		memset(v[i], (int)(i % 251), size);
	}
	return 0;
}

/* Do blocks [0, @n) at @v still read their own byte? */
static int intact(void *const *v, size_t n, size_t size)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < size; j++)
			if (((unsigned char *)v[i])[j] != i % 251)
				return 0;
	return 1;
}

static void free_from(void **v, size_t from, size_t n)
{
	while (from < n)
		free(v[from++]);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int phase;	/* 1: the worker has freed; 2: main has trimmed */

/* Allocate and free 16 MiB of small blocks, then wait for main's trim. */
static void *worker(void *arg)
{
	void **v = arg;

	if (fill(v, NSMALL * 2 / 3, SMALL))
		return v;
	free_from(v, 0, NSMALL * 2 / 3);
	pthread_mutex_lock(&lock);
	phase = 1;
	pthread_cond_broadcast(&cond);
	while (phase != 2)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Another thread's free memory, the thread alive: 0 iff it goes back. */
static int other_thread(void)
{
	static void *v[NSMALL];
	size_t before, freed, trimmed;
	pthread_t t;
	void *ret;
	int r;

	trim();			/* what this thread freed last, first */
	before = held();
	if (pthread_create(&t, NULL, worker, v)) {
		printf("pthread_create failed\n");
		return 1;
	}
	pthread_mutex_lock(&lock);
	while (phase != 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	freed = held() - before;
	r = trim();
	trimmed = held() - before;
	pthread_mutex_lock(&lock);
	phase = 2;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(t, &ret);
	printf("another thread's: %zu KiB held after its frees, %zu after "
	       "karena_trim (%d)\n", freed >> 10, trimmed >> 10, r);
	if (ret || freed < (size_t)(8 << 20) || r != 1 || trimmed > freed / 6) {
		printf("another thread's free memory did not go back\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	static void *small[NSMALL], *medium[NMEDIUM], *large[NLARGE];
	size_t peak, freed, trimmed;
	int first, second, bad = 0;
	void *again;

	stats = (void (*)(struct karena_stats *))dlsym(RTLD_DEFAULT,
						       "karena_stats");
	trim = (int (*)(void))dlsym(RTLD_DEFAULT, "karena_trim");
	if (!stats || !trim) {
		printf("not under karena: no karena_stats or karena_trim\n");
		return 1;
	}
	if (fill(small, NSMALL, SMALL) || fill(medium, NMEDIUM, MEDIUM) ||
	    fill(large, NLARGE, LARGE)) {
		printf("malloc failed while filling\n");
		return 1;
	}
	peak = held();
	free_from(small, KEPT(NSMALL), NSMALL);
	free_from(medium, KEPT(NMEDIUM), NMEDIUM);
	free_from(large, 0, NLARGE);
	freed = held();
	first = malloc_trim(0);
	trimmed = held();
	second = trim();
	again = malloc(SMALL);
	printf("held %zu KiB at the peak, %zu after the frees, %zu after "
	       "malloc_trim (%d), then karena_trim %d\n", peak >> 10,
	       freed >> 10, trimmed >> 10, first, second);
	if (freed < peak / 2) {
		printf("the frees handed back half or more already: the "
		       "purge delay is not in force\n");
		bad = 1;
	}
	if (first != 1 || trimmed > freed / 6) {
		printf("malloc_trim did not hand the free memory back\n");
		bad = 1;
	}
	if (!intact(small, KEPT(NSMALL), SMALL) ||
	    !intact(medium, KEPT(NMEDIUM), MEDIUM)) {
		printf("a block kept across the trim lost its contents\n");
		bad = 1;
	}
	if (second != 0 || !again) {
		printf("a second trim found something, or malloc failed\n");
		bad = 1;
	}
	free(again);
	free_from(small, 0, KEPT(NSMALL));
	free_from(medium, 0, KEPT(NMEDIUM));
	fflush(stdout);
	return other_thread() | bad;
}
