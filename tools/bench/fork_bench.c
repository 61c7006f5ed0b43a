// SPDX-License-Identifier: GPL-2.0
/*
 * fork_bench: what a fork costs a process that holds a large heap in
 * arenas, against the same heap in anonymous memory. Run inside the test
 * VM with karena.ko loaded (tools/bench/vm-bench.sh); without /dev/karena
 * it measures the anonymous side only.
 *
 * For each size (MiB) and mode, the parent maps the heap, writes every
 * page, and then:
 *
 *	fork_exit_ms   fork(), the child _exit()s at once, waitpid(): the
 *	               median of `reps` rounds, the heap written again
 *	               before each (so that every fork finds it all mapped)
 *	child_kib      MemAvailable before the fork less MemAvailable while
 *	               a child that has read one byte of every page is alive:
 *	               the memory a child that only reads takes
 *
 *	karena  one grant of the whole heap from /dev/karena (MAP_SHARED)
 *	anon    mmap(MAP_PRIVATE | MAP_ANONYMOUS): with transparent huge
 *	        pages where the kernel gives them (fork copies one entry per
 *	        2 MiB)
 *	anon4k  the same with MADV_NOHUGEPAGE: 4 KiB pages, as arenas have
 *
 *	fork_bench [mib=64,256,1024] [reps=5]
 *	-> bench=fork mode=karena mib=64 fork_exit_ms=... child_kib=...
 *
 * A heap needs max_arenas of twice its arenas (the parent's and the
 * child's grant); vm-bench.sh raises the limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "common.h"
#include <linux/karena.h>
#include "../../selftests/karena/karena_util.h"	/* meminfo() */

static int dev_fd = -1;
static size_t page_size;

static void write_pages(char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i += page_size)
		p[i] = c;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median time of `reps` fork + exit + wait rounds, in ms. */
static double fork_exit_ms(char *p, size_t len, int reps)
{
	double *t = xmalloc(reps * sizeof(*t)), med;

	for (int r = 0; r < reps; r++) {
		int st;
		double t0;
		pid_t pid;

		write_pages(p, len, (char)r);
		/* the previous child's arenas are freed by the module's worker */
		sleep_s(0.2);
		t0 = now_s();
		pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &st, 0) != pid) {
			perror("waitpid");
			exit(1);
		}
		t[r] = (now_s() - t0) * 1e3;
	}
	qsort(t, reps, sizeof(*t), cmp_double);
	med = t[reps / 2];
	free(t);
	return med;
}

/* KiB of MemAvailable that a child reading every page takes. */
static long long child_kib(char *p, size_t len)
{
	int up[2], down[2];
	long long before, after;
	char c = 0;
	pid_t pid;

	if (pipe(up) || pipe(down)) {
		perror("pipe");
		exit(1);
	}
	write_pages(p, len, 'r');
	sleep_s(0.5);
	before = meminfo("MemAvailable");
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		volatile char sum = 0;

		for (size_t i = 0; i < len; i += page_size)
			sum += p[i];
		(void)sum;
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (read(up[0], &c, 1) != 1) {
		fprintf(stderr, "fork_bench: the reading child died\n");
		exit(1);
	}
	after = meminfo("MemAvailable");
	if (write(down[1], "x", 1) != 1 || waitpid(pid, NULL, 0) != pid) {
		perror("child");
		exit(1);
	}
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	return before - after;
}

static void run(const char *mode, size_t mib, int reps)
{
	int karena = !strcmp(mode, "karena");
	int small = !strcmp(mode, "anon4k");
	size_t len = mib << 20;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 karena ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS,
		 karena ? dev_fd : -1, 0);
	if (p == MAP_FAILED) {
		printf("bench=fork mode=%s mib=%zu error=%s\n", mode, mib,
		       strerror(errno));
		return;
	}
	if (small && madvise(p, len, MADV_NOHUGEPAGE))
		perror("madvise(MADV_NOHUGEPAGE)");
	write_pages(p, len, 1);
	printf("bench=fork mode=%s mib=%zu fork_exit_ms=%.2f", mode, mib,
	       fork_exit_ms(p, len, reps));
	fflush(stdout);
	printf(" child_kib=%lld\n", child_kib(p, len));
	fflush(stdout);
	munmap(p, len);
	sleep_s(0.5);
}

int main(int argc, char **argv)
{
	static const char *const keys[] = { "mib", "reps", NULL };
	const char *sizes;
	int reps;

	check_params(argc, argv, keys, "[mib=64,256,1024] [reps=5]");
	sizes = param_str("mib", "64,256,1024", argc, argv);
	reps = (int)param_num("reps", 5, argc, argv);
	if (reps < 1)
		reps = 1;
	page_size = sysconf(_SC_PAGESIZE);
	dev_fd = open("/dev/karena", O_RDWR | O_CLOEXEC);
	for (const char *s = sizes; *s; s += strcspn(s, ",") + !!s[strcspn(s, ",")]) {
		size_t mib = strtoul(s, NULL, 10);

		if (!mib)
			continue;
		run("anon", mib, reps);
		run("anon4k", mib, reps);
		if (dev_fd >= 0)
			run("karena", mib, reps);
	}
	return 0;
}
