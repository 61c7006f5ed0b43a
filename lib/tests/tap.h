/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tap.h - a tiny TAP producer and helpers shared by the test programs.
 * Each test program is standalone: it takes the backend from the
 * environment (KARENA_BACKEND, KARENA_DEVICE) and prints
 *	ok N - name | not ok N - name | ok N - name # SKIP reason
 * then the plan, and exits non-zero if any case failed.
 */
#ifndef KARENA_TAP_H
#define KARENA_TAP_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <karena.h>
#include "test_hooks.h"

#define TAP_UNUSED __attribute__((unused))
static int tap_n, tap_failed;

static void *tap_free_in_thread(void *p)
{
	karena_free(p);
	return NULL;
}

/* karena_free(@p) on a thread of its own, which is not @p's heap's owner */
TAP_UNUSED static void free_elsewhere(void *p)
{
	pthread_t t;

	pthread_create(&t, NULL, tap_free_in_thread, p);
	pthread_join(t, NULL);
}

__attribute__((format(printf, 2, 3)))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

TAP_UNUSED static void skip(const char *name, const char *reason)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, name, reason);
	fflush(stdout);
}

static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

TAP_UNUSED static int invariants(void)
{
	return karena__check(stderr) == 0;
}

/* The module's max_arenas_per_process (tests that lower it, as root). */
#define MAX_ARENAS_PARAM "/sys/module/karena/parameters/max_arenas_per_process"

/* Its value, or -1 if it cannot be read. */
TAP_UNUSED static long read_param(void)
{
	char buf[32] = "";
	int fd = open(MAX_ARENAS_PARAM, O_RDONLY);
	ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return r > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Set it to @v: 0, or -1 if it cannot be written. */
TAP_UNUSED static int write_param(long v)
{
	char buf[32];
	int fd = open(MAX_ARENAS_PARAM, O_WRONLY), n;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", v);
	n = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return n;
}

TAP_UNUSED static int is_kernel(void)
{
	return !strcmp(karena_backend(), "kernel");
}

/*
 * Run this program again as `self MODE` with extra environment
 * ("NAME=VALUE", NULL-terminated), collecting its stderr in @err.
 * Returns the wait status.
 */
TAP_UNUSED static int run_self(const char *self, const char *mode, const char **env,
		    char *err, size_t errlen)
{
	int fds[2], status = 0;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		for (; env && *env; env++)
			putenv((char *)*env);
		execl(self, self, mode, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got + 1 < errlen &&
	       (r = read(fds[0], err + got, errlen - got - 1)) > 0)
		got += (size_t)r;
	err[got] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return status;
}

/*
 * Does `self MODE`, run with @debug ("KARENA_DEBUG=...") in its
 * environment, abort (SIGABRT) with both @needle and @also on stderr?
 * When not, its stderr is printed as a TAP comment.
 */
TAP_UNUSED static int aborts_with(const char *self, const char *mode,
				  const char *debug, const char *needle,
				  const char *also)
{
	const char *env[] = { debug, NULL };
	char err[4096];
	int st = run_self(self, mode, env, err, sizeof(err));
	int aborted = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
		      strstr(err, needle) && strstr(err, also);

	if (!aborted)
		fprintf(stderr, "# stderr was: %s\n", err);
	return aborted;
}

#endif
