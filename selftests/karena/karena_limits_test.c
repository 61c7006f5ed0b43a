// SPDX-License-Identifier: GPL-2.0
/*
 * karena_limits_test - kselftests: each limit denies exactly at the limit.
 *
 * One arena at a time is mapped until a grant is refused: with
 * max_arenas_per_process at 3, three grants and then EDQUOT, and one more
 * after one is released; with max_arenas_per_uid at 4 and another process
 * of the same uid holding 2, two grants and then EDQUOT, and two more once
 * that process is killed; with max_arenas at the arenas granted now + 2,
 * two grants and then ENOMEM. Each refusal is counted (denials_quota,
 * denials_nomem), and a value that is not a number is refused.
 *
 * Needs root (the limits are set through /sys/module/karena/parameters
 * and restored after each test), the module loaded, and no other process
 * of root holding arenas; otherwise SKIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

#define MAX_GRAB	8

FIXTURE(limits) {
	int fd;
	size_t arena;		/* the module's arena size: one arena a grant */
	long long saved[NR_LIMITS];
};

FIXTURE_SETUP(limits)
{
	struct karena_info in;

	OPEN_DEVICE_OR_SKIP(self->fd);
	if (geteuid() != 0 || access(PARAMS "max_arenas_per_process", W_OK))
		SETUP_SKIP("needs root and writable module parameters");
	ASSERT_EQ(0, get_info(self->fd, &in));
	self->arena = in.module_arena_size;
	save_limits(self->saved);
}

FIXTURE_TEARDOWN(limits)
{
	restore_limits(self->saved);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Map one arena at a time, touching each, until one is refused or @max
 * are held; return how many were granted, with the refusal's errno in *@err
 * (0 if none was refused).
 */
static int grab(int fd, size_t arena, char **out, int max, int *err)
{
	int n;

	*err = 0;
	for (n = 0; n < max; n++) {
		out[n] = grant(fd, arena, 0);
		if (out[n] == MAP_FAILED) {
			*err = errno;
			break;
		}
		out[n][0] = 1;
	}
	return n;
}

TEST_F(limits, process_limit_exact)
{
	long long quota = ctr("denials_quota");
	char *p[MAX_GRAB];
	int n, err;

	ASSERT_EQ(0, set_param("max_arenas_per_process", 3));
	n = grab(self->fd, self->arena, p, MAX_GRAB, &err);
	EXPECT_EQ(3, n);
	EXPECT_EQ(EDQUOT, err);
	ASSERT_LE(2, n);
	EXPECT_EQ(0, munmap(p[1], self->arena));
	n = grab(self->fd, self->arena, p, MAX_GRAB, &err);
	EXPECT_EQ(1, n) TH_LOG("after one release");
	EXPECT_EQ(EDQUOT, err);
	EXPECT_LE(quota + 2, ctr("denials_quota"));
}

TEST_F(limits, uid_limit_exact)
{
	long long quota = ctr("denials_quota");
	int n, err, status, pfd[2];
	char *p[MAX_GRAB];
	char held = 0;
	pid_t pid;

	ASSERT_EQ(0, set_param("max_arenas_per_process", 0));
	ASSERT_EQ(0, set_param("max_arenas_per_uid", 4));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {	/* a second process of the same uid holds 2 */
		held = grab(self->fd, self->arena, p, 2, &err);
		if (write(pfd[1], &held, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	EXPECT_EQ(1, read(pfd[0], &held, 1));
	EXPECT_EQ(2, held) TH_LOG("the other process's grants");
	n = grab(self->fd, self->arena, p, MAX_GRAB, &err);
	kill(pid, SIGKILL);
	EXPECT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(2, n) TH_LOG("with 2 held by another process");
	EXPECT_EQ(EDQUOT, err);
	/* the other process's arenas are back: two more now */
	n = grab(self->fd, self->arena, p, MAX_GRAB, &err);
	EXPECT_EQ(2, n) TH_LOG("after the other process died");
	EXPECT_EQ(EDQUOT, err);
	EXPECT_LE(quota + 2, ctr("denials_quota"));
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(limits, global_limit_exact)
{
	long long nomem = ctr("denials_nomem");
	long long granted = ctr("arenas_granted");
	char *p[MAX_GRAB];
	int n, err;

	ASSERT_LE(0, granted);
	ASSERT_EQ(0, set_param("max_arenas_per_process", 0));
	ASSERT_EQ(0, set_param("max_arenas_per_uid", 0));
	ASSERT_EQ(0, set_param("max_arenas", granted + 2));
	n = grab(self->fd, self->arena, p, MAX_GRAB, &err);
	EXPECT_EQ(2, n);
	EXPECT_EQ(ENOMEM, err);
	EXPECT_LE(nomem + 1, ctr("denials_nomem"));
}

TEST_F(limits, not_a_number_refused)
{
	EXPECT_NE(0, set_param_str("max_arenas_per_process", "banana\n"));
}

TEST_HARNESS_MAIN
