// SPDX-License-Identifier: GPL-2.0
/*
 * karena_pressure - karena.ko under memory pressure. Meant for a VM with
 * little RAM (tools/vm/run --mem 256M -- selftests/karena/karena_pressure);
 * with more than 512 MiB of RAM every test is skipped, so the normal suite
 * can run it harmlessly.
 *
 *   reserve_too_big_at_load  a reserve_arenas that the available memory
 *                            cannot hold makes the load fail with ENOMEM
 *                            (not clamped, nobody OOM-killed); a small one
 *                            loads under the same pressure
 *   grants_enomem            with memory nearly gone, grants fail with
 *                            ENOMEM (counted), fork copies fail (counted,
 *                            SIGBUS in the child), and the OOM killer never
 *                            runs
 *
 * A "hog" child takes anonymous memory (there is no swap in the VM) so that
 * MemAvailable is where the test wants it. Needs root and the module
 * loaded; reserve_too_big_at_load also needs the module file
 * (/karena/karena.ko or $KARENA_KO) and unloads and reloads the module.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

#define MAX_MEM_KB	(512 * 1024)

/* How many times the kernel log says the OOM killer ran. */
static int oom_kills(void)
{
	/*
	 * The log buffer is allocated and touched on the first call, made
	 * before memory runs short: reading the log into fresh pages under
	 * pressure would itself fault in anonymous memory and invoke the OOM
	 * killer it is counting. It is a shared mapping: the hog, forked
	 * after that call, would otherwise share its pages copy on write,
	 * and the next read would need a copy of each, at the time memory is
	 * gone (it did, on 6.1: the OOM killer took the hog).
	 */
	static char *buf;
	static int size;
	int len, n = 0;
	char *p;

	if (!buf) {
		size = klogctl(10 /* SIZE_BUFFER */, NULL, 0);
		if (size <= 0)
			return 0;
		buf = mmap(NULL, size + 1, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED) {
			buf = NULL;
			return 0;
		}
		memset(buf, 0, size + 1);
	}
	len = klogctl(3 /* READ_ALL */, buf, size);
	buf[len > 0 ? len : 0] = 0;
	for (p = buf; (p = strstr(p, "invoked oom-killer")); p++)
		n++;
	return n;
}

/* A child holding @kb KiB of touched anonymous memory until killed. */
static pid_t hog(long long kb)
{
	int ready[2];
	pid_t pid;
	char c;

	if (kb <= 0)
		return 0;
	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		size_t len = (size_t)kb * 1024;
		char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t i;

		if (m == MAP_FAILED)
			_exit(1);
		for (i = 0; i < len; i += 4096)
			m[i] = 1;
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
}

/* Alive and ours: not OOM-killed. */
static int hog_alive(pid_t pid)
{
	int st;

	return pid <= 0 || waitpid(pid, &st, WNOHANG) == 0;
}

static void hog_stop(pid_t pid)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* Take memory until about @left_kb KiB stay available. */
static pid_t hog_leaving(long long left_kb)
{
	return hog(meminfo("MemAvailable") - left_kb);
}

TEST(reserve_too_big_at_load)
{
	long long total = meminfo("MemTotal"), saved[NR_LIMITS];
	long long arena_kb = param("arena_kb"), half;
	const char *ko = module_file();
	char args[512], orig[512];
	int ooms, err;
	pid_t h;

	if (total < 0 || total > MAX_MEM_KB)
		SKIP(return, "needs a VM with at most 512 MiB (--mem 256M)");
	if (geteuid() != 0 || !ko || arena_kb <= 0)
		SKIP(return, "needs root, a loaded karena and its .ko file");
	err = unload_module_saving(saved, orig, sizeof(orig), arena_kb);
	if (err)
		SKIP(return, "karena is in use: %s", strerror(err));

	/* half of RAM: valid, but only a quarter stays available */
	half = total / arena_kb / 2;
	ooms = oom_kills();
	h = hog_leaving(total / 4);
	ASSERT_LE(0, h);
	TH_LOG("MemTotal %lld KiB, MemAvailable %lld KiB, reserve_arenas=%lld (%lld KiB)",
	       total, meminfo("MemAvailable"), half, half * arena_kb);
	snprintf(args, sizeof(args), "arena_kb=%lld reserve_arenas=%lld",
		 arena_kb, half);
	err = load_module(ko, args);
	EXPECT_EQ(ENOMEM, err);
	if (!err)
		syscall(SYS_delete_module, "karena", O_NONBLOCK);
	EXPECT_NE(0, access("/sys/module/karena", F_OK));

	/* a reserve that fits loads under the same pressure */
	snprintf(args, sizeof(args), "arena_kb=%lld reserve_arenas=4", arena_kb);
	EXPECT_EQ(0, load_module(ko, args));
	EXPECT_EQ(4, ctr("arenas_free"));
	EXPECT_EQ(0, syscall(SYS_delete_module, "karena", O_NONBLOCK));

	EXPECT_TRUE(hog_alive(h));
	EXPECT_EQ(ooms, oom_kills());
	hog_stop(h);
	ASSERT_EQ(0, load_module(ko, orig)) TH_LOG("reload with %s", orig);
}

/* Arenas grants_enomem gives back before its fork: the child's page tables. */
#define ROOM_ARENAS	16

TEST(grants_enomem)
{
	long long total = meminfo("MemTotal"), saved[NR_LIMITS];
	long long arena_kb = param("arena_kb"), dn, fails, base;
	int fd, i, n = 0, ooms, st, enomem = 0, other = 0;
	unsigned char **held;
	size_t size;
	pid_t h, pid;

	if (total < 0 || total > MAX_MEM_KB)
		SKIP(return, "needs a VM with at most 512 MiB (--mem 256M)");
	fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0 || geteuid() != 0 || arena_kb <= 0)
		SKIP(return, "needs root and karena loaded");
	save_limits(saved);
	size = arena_kb * 1024;
	/* shared, as oom_kills()'s buffer, so that no write to it is a copy */
	held = mmap(NULL, (total / arena_kb + 1) * sizeof(*held),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, held);

	/* no reserve to fall back on, no limit but memory */
	ASSERT_EQ(0, set_param("reserve_arenas", 0));
	ASSERT_EQ(0, set_param("max_arenas", total / arena_kb));
	ASSERT_EQ(0, set_param("max_arenas_per_process", 0));
	ASSERT_EQ(0, set_param("max_arenas_per_uid", 0));
	EXPECT_EQ(0, wait_ctr("arenas_free", 0, 2000));
	base = ctr("arenas_granted");
	dn = ctr("denials_nomem");
	fails = ctr("fork_copy_failures");
	ooms = oom_kills();

	h = hog_leaving(total / 8);
	ASSERT_LE(0, h);
	TH_LOG("MemAvailable %lld KiB with the hog", meminfo("MemAvailable"));
	for (i = 0; i < total / arena_kb; i++) {
		unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_POPULATE, fd, 0);

		if (p == MAP_FAILED) {
			if (errno == ENOMEM)
				enomem++;
			else
				other++;
			/* keep asking: every answer must be a clean ENOMEM */
			if (enomem + other >= 5)
				break;
			continue;
		}
		p[size - 1] = 1;
		held[n++] = p;
	}
	TH_LOG("%d arenas granted, then %d ENOMEM; MemAvailable %lld KiB",
	       n, enomem, meminfo("MemAvailable"));
	EXPECT_EQ(0, other);
	EXPECT_EQ(5, enomem);
	EXPECT_EQ(dn + enomem, ctr("denials_nomem"));
	EXPECT_EQ(base + n, ctr("arenas_granted"));

	/*
	 * A fork child shares what the parent holds (or, refused by
	 * max_arenas, has nothing): it cannot copy it all on write. Its
	 * reads need no arena memory; writing all of it ends in a SIGBUS,
	 * never the OOM killer. Its reads do need page tables, which the
	 * kernel allocates as for anonymous memory (GFP_KERNEL, and the OOM
	 * killer when there is none): give back a few arenas first, and wait
	 * until the module has freed them (no reserve), so that the grants
	 * taken to the headroom leave room for those. (MemAvailable counts
	 * reclaimable slab that a small guest cannot always reclaim, so the
	 * headroom alone is not that room.)
	 */
	for (i = 0; i < ROOM_ARENAS && n > 1; i++)
		munmap(held[--n], size);
	EXPECT_EQ(0, wait_scrubbed());
	EXPECT_EQ(0, wait_ctr("arenas_free", 0, 5000));
	if (n) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			for (i = 0; i < n; i++)
				(void)*(volatile unsigned char *)held[i];
			for (i = 0; i < n; i++)
				memset(held[i], 2, size);
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS)
			TH_LOG("child status 0x%x", st);
		EXPECT_LT(fails, ctr("fork_copy_failures"));
	}

	EXPECT_TRUE(hog_alive(h));
	EXPECT_EQ(ooms, oom_kills());
	for (i = 0; i < n; i++)
		munmap(held[i], size);
	hog_stop(h);
	EXPECT_EQ(base, ctr("arenas_granted"));
	restore_limits(saved);
	munmap(held, (total / arena_kb + 1) * sizeof(*held));
	close(fd);
}

TEST_HARNESS_MAIN
