// SPDX-License-Identifier: LGPL-2.1-or-later
/* mt_prog - a plain multi-threaded C program for the LD_PRELOAD test: it
 * knows nothing of karena. Threads build lists of strdup'd strings and
 * realloc'd arrays, hand half of them to the next thread to free, and
 * print a deterministic checksum. Then threads that never malloc (two
 * joined, eight detached) free lists that main built. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NT	8
#define N	50000

struct node { struct node *next; char *s; int *arr; size_t n; };

static struct node *handoff[NT];
static pthread_barrier_t bar;
static unsigned long sums[NT];

static void *run(void *arg)
{
	long t = (long)arg;
	struct node *head = NULL, *give = NULL, *x;
	unsigned long sum = 0;
	char buf[64];
	int i;
	size_t j;

	for (i = 0; i < N; i++) {
		x = calloc(1, sizeof(*x));
		snprintf(buf, sizeof(buf), "t%ld-item-%d", t, i);
		x->s = strdup(buf);
		x->n = (size_t)(i % 40) + 1;
		x->arr = NULL;
		for (j = 1; j <= x->n; j++) {	/* grow by realloc */
			x->arr = realloc(x->arr, j * sizeof(int));
			x->arr[j - 1] = (int)(j * (size_t)i);
		}
		if (i % 2) { x->next = give; give = x; }
		else { x->next = head; head = x; }
	}
	handoff[t] = give;
	pthread_barrier_wait(&bar);
	/* free our own half, and the half the previous thread built */
	for (int round = 0; round < 2; round++) {
		x = round ? handoff[(t + NT - 1) % NT] : head;
		while (x) {
			struct node *next = x->next;
			for (j = 0; j < strlen(x->s); j++)
				sum = sum * 31 + (unsigned char)x->s[j];
			for (j = 0; j < x->n; j++)
				sum += (unsigned long)x->arr[j];
			free(x->s);
			free(x->arr);
			free(x);
			x = next;
		}
	}
	sums[t] = sum;
	return NULL;
}

/* A list of @n strings that main built, for a thread that only frees. */
static struct node *build(int n, int salt)
{
	struct node *head = NULL, *x;
	char buf[64];
	int i;

	for (i = 0; i < n; i++) {
		x = calloc(1, sizeof(*x));
		snprintf(buf, sizeof(buf), "main-%d-%d", salt, i * 7919);
		x->s = strdup(buf);
		x->next = head;
		head = x;
	}
	return head;
}

static atomic_int drained;

/* Frees list @arg and mallocs nothing: its sum, the lengths it saw. */
static void *drain(void *arg)
{
	struct node *x = arg, *next;
	unsigned long sum = 0;

	for (; x; x = next) {
		next = x->next;
		sum += strlen(x->s);
		free(x->s);
		free(x);
	}
	atomic_fetch_add(&drained, 1);
	return (void *)sum;
}

/* Two joined threads and eight detached ones drain lists main built. */
static unsigned long drain_lists(void)
{
	pthread_attr_t detached;
	pthread_t th[2], t;
	unsigned long sum = 0;
	void *part;
	int i;

	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, drain, build(20000, i));
	for (i = 0; i < 8; i++)
		while (pthread_create(&t, &detached, drain, build(2000, 2 + i)))
			sched_yield();
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], &part);
		sum += (unsigned long)part;
	}
	while (atomic_load(&drained) < 10)
		sched_yield();
	return sum;
}

int main(void)
{
	pthread_t th[NT];
	unsigned long total = 0;
	void *big, *al;
	long t;

	pthread_barrier_init(&bar, NULL, NT);
	for (t = 0; t < NT; t++)
		pthread_create(&th[t], NULL, run, (void *)t);
	for (t = 0; t < NT; t++) {
		pthread_join(th[t], NULL);
		total ^= sums[t];
		printf("thread %ld: %lu\n", t, sums[t]);
	}
	big = malloc(1 << 20);
	if (posix_memalign(&al, 64, 100) || ((size_t)al & 63))
		return 1;
	free(al);
	free(big);
	printf("total %lu\n", total);
	printf("drained %lu\n", drain_lists());
	return 0;
}
