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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <karena.h>
#include "internal.h"

#define TAP_UNUSED __attribute__((unused))
static int tap_n, tap_failed;

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

#endif
