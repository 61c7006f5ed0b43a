// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_libc_start - threads whose first request over 512 bytes (glibc's)
 * comes at the same moment, in fresh processes: each must exit cleanly.
 * glibc starts its allocator on its first call, not thread-safely; karena
 * starts it at load (init.c). Meaningful where nothing else calls glibc's
 * malloc first: the ASan build, and programs under the malloc shim. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

#define THREADS	8
#define RUNS	100

static pthread_barrier_t start;

static void *first_large(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	karena_free(karena_malloc(4000));
	return NULL;
}

static int child(void)
{
	pthread_t t[THREADS];
	int i;

	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, first_large, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	int i, status, bad = 0;
	pid_t pid;

	if (argc > 1)
		return child();
	for (i = 0; i < RUNS; i++) {
		pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "child", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "# run %d: status %#x\n", i, status);
			bad++;
		}
	}
	ok(!bad, "%d fresh processes, %d threads each making their first "
	   "large request at once: all exit cleanly (%d did not)", RUNS,
	   THREADS, bad);
	return tap_done();
}
