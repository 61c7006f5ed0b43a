// SPDX-License-Identifier: GPL-2.0
/*
 * karena_test - kselftests for karena.ko (/dev/karena).
 *
 * Every documented behaviour at the boundary: the device and its ioctls
 * (values, ENOTTY, EINVAL for non-zero "in" fields), grants (alignment,
 * zero fill, MAP_POPULATE residency), every denial with its errno and
 * counter, run-time parameter validation, release on munmap and exit,
 * zeroing across processes, zeroing after writes by every path (fork
 * copy, process_vm_writev, /proc/PID/mem, read(), MADV_DONTNEED, pages
 * handed back, read before written), fork isolation, consistent fork snapshots of
 * a multithreaded parent, MADV_DONTFORK, failed fork copies (SIGBUS,
 * counted), refused splits/mremap/exec, counters under fork and thread
 * storms, rmmod refused while in use, KARENA_IOC_RETURN_PAGES
 * (bad ranges, zero after, neighbours kept, fork, concurrent faults).
 *
 * Needs root (the limits are lowered through /sys/module/karena/parameters
 * and restored after each test) and the module loaded; otherwise SKIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

/* ---- helpers ---- */

/* Run fn(arg) in a child; return its wait status. */
static int in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* ---- fixture: an open device, its info, and the limits to restore ---- */

FIXTURE(karena) {
	int fd;
	size_t size;
	size_t page;
	long long base_granted;
	long long saved[NR_LIMITS];
	struct karena_info info;
};

FIXTURE_SETUP(karena)
{
	OPEN_DEVICE_OR_SKIP(self->fd);
	if (geteuid() != 0)
		SETUP_SKIP("needs root to change the module's limits");
	ASSERT_EQ(0, get_info(self->fd, &self->info));
	self->size = self->info.arena_size;
	self->page = sysconf(_SC_PAGESIZE);
	save_limits(self->saved);
	self->base_granted = ctr("arenas_granted");
}

FIXTURE_TEARDOWN(karena)
{
	restore_limits(self->saved);
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- the device and its ioctls ---- */

TEST_F(karena, info_values)
{
	struct karena_info *in = &self->info;

	EXPECT_EQ(KARENA_ABI_VERSION, in->abi_version);
	EXPECT_EQ(self->page, in->page_size);
	EXPECT_EQ(ctr("arena_size"), (long long)in->arena_size);
	EXPECT_EQ(0, in->arena_size & (in->arena_size - 1));
	EXPECT_LE(64 * 1024, in->arena_size);
	EXPECT_GE(4096 * 1024, in->arena_size);
	EXPECT_EQ(param("max_arenas"), (long long)in->max_arenas);
	EXPECT_EQ(param("max_arenas_per_process"),
		  (long long)in->max_arenas_per_process);
	EXPECT_EQ(param("max_arenas_per_uid"), (long long)in->max_arenas_per_uid);
	EXPECT_EQ(0, in->arenas_held);
	EXPECT_EQ(0, in->flags);
	/* a file that set no size of its own grants the module's arenas */
	EXPECT_EQ(in->arena_size, in->module_arena_size);
	EXPECT_EQ(0, in->reserved[0] | in->reserved[1] | in->reserved[2]);
}

TEST_F(karena, info_usage)
{
	struct karena_info in;
	void *a, *b;

	a = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(2, in.arenas_held);
	EXPECT_EQ(2, in.arenas_peak);
	munmap(a, self->size);
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(1, in.arenas_held);
	EXPECT_EQ(2, in.arenas_peak);
	munmap(b, self->size);
}

TEST_F(karena, ioctl_unknown_enotty)
{
	char buf[256] = { 0 };

	EXPECT_EQ(-1, ioctl(self->fd, _IO(KARENA_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR('x', 0, struct karena_info), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* same number, wrong size: a different command */
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(KARENA_IOC_MAGIC, 0x00, __u64), buf));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(karena, info_in_fields_einval)
{
	struct karena_info in;
	int i;

	memset(&in, 0, sizeof(in));
	in.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_INFO, &in));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, in.abi_version);	/* nothing written */

	memset(&in, 0, sizeof(in));
	in.__pad = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_INFO, &in));
	EXPECT_EQ(EINVAL, errno);

	memset(&in, 0, sizeof(in));
	in.module_arena_size = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_INFO, &in));
	EXPECT_EQ(EINVAL, errno);

	for (i = 0; i < 3; i++) {
		memset(&in, 0, sizeof(in));
		in.reserved[i] = 1ULL << 63;
		EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_INFO, &in));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(karena, sysfs_files)
{
	static const char * const files[] = {
		"arena_size", "arenas_reserved", "arenas_free",
		"arenas_granted", "arenas_granted_peak", "grants", "releases",
		"denials_quota", "denials_nomem", "fork_copies",
		"fork_copy_failures", "pages_returned", "fault_failures",
		"orphaned_pages", "arenas_shared",
	};
	unsigned int i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		TH_LOG("%s = %lld", files[i], ctr(files[i]));
		EXPECT_LE(0, ctr(files[i]));
	}
	EXPECT_EQ((long long)self->size, ctr("arena_size"));
	EXPECT_LE(ctr("arenas_granted"), ctr("arenas_granted_peak"));
	EXPECT_LE(ctr("arenas_free") + ctr("arenas_granted"),
		  ctr("arenas_reserved"));
	EXPECT_TRUE(check_invariant());
}

/* ---- grants ---- */

FIXTURE(grant) {
	int fd;
	size_t size;
	size_t page;
};

FIXTURE_VARIANT(grant) {
	int populate;
};

FIXTURE_VARIANT_ADD(grant, lazy) {
	.populate = 0,
};

FIXTURE_VARIANT_ADD(grant, populate) {
	.populate = 1,
};

FIXTURE_SETUP(grant)
{
	struct karena_info in;

	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SETUP_SKIP("karena.ko is not loaded (%s)", strerror(errno));
	ASSERT_EQ(0, get_info(self->fd, &in));
	self->size = in.arena_size;
	self->page = sysconf(_SC_PAGESIZE);
}

FIXTURE_TEARDOWN(grant)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(grant, aligned_zero_resident)
{
	size_t npages = self->size / self->page, i, resident = 0;
	long long grants = ctr("grants"), granted = ctr("arenas_granted");
	long long releases = ctr("releases");
	unsigned char *vec = calloc(npages, 1);
	unsigned char *p;
	char maps[64], line[512];
	int found = 0;
	FILE *f;

	p = grant(self->fd, self->size, variant->populate ? MAP_POPULATE : 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p & (self->size - 1));
	EXPECT_EQ(grants + 1, ctr("grants"));
	EXPECT_EQ(granted + 1, ctr("arenas_granted"));

	ASSERT_EQ(0, mincore(p, self->size, vec));
	for (i = 0; i < npages; i++)
		resident += vec[i] & 1;
	EXPECT_EQ(variant->populate ? npages : 0, resident);

	EXPECT_TRUE(all_bytes(p, self->size, 0));
	memset(p, 0x5a, self->size);
	EXPECT_TRUE(all_bytes(p, self->size, 0x5a));

	/* /proc/self/maps names the device */
	snprintf(maps, sizeof(maps), "%lx-", (unsigned long)p);
	f = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, maps, strlen(maps)) && strstr(line, DEV))
			found = 1;
	fclose(f);
	EXPECT_TRUE(found);

	ASSERT_EQ(0, munmap(p, self->size));
	EXPECT_EQ(releases + 1, ctr("releases"));
	EXPECT_EQ(granted, ctr("arenas_granted"));
	free(vec);
}

TEST_F(grant, many_distinct_aligned)
{
	unsigned char *p[16];
	int i, j;

	for (i = 0; i < 16; i++) {
		p[i] = grant(self->fd, self->size,
			     variant->populate ? MAP_POPULATE : 0);
		ASSERT_NE(MAP_FAILED, p[i]);
		ASSERT_EQ(0, (uintptr_t)p[i] & (self->size - 1));
		p[i][0] = i;
		p[i][self->size - 1] = i;
	}
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(i, p[i][0]);
		EXPECT_EQ(i, p[i][self->size - 1]);
		for (j = 0; j < i; j++)
			EXPECT_NE(p[i], p[j]);
	}
	for (i = 0; i < 16; i++)
		EXPECT_EQ(0, munmap(p[i], self->size));
}

TEST_F(grant, bad_requests)
{
	long long denials = ctr("denials_quota") + ctr("denials_nomem");
	size_t sz = self->size;
	void *p, *q;

	errno = 0;
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz / 2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz * 3 / 2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz - self->page, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, sz, PROT_READ | PROT_WRITE,
				   MAP_SHARED, self->fd, self->page));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, sz, PROT_READ | PROT_WRITE,
				   MAP_SHARED, self->fd, sz));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, sz, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED,
		 self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_TRUE(errno == EPERM || errno == EACCES);

	/* MAP_FIXED: only an arena-aligned address */
	q = mmap(NULL, sz * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	q = (void *)(((uintptr_t)q + sz - 1) & ~(uintptr_t)(sz - 1));
	p = mmap((char *)q + self->page, sz, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(q, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, 0);
	EXPECT_EQ(q, p);
	EXPECT_TRUE(all_bytes(p, sz, 0));
	EXPECT_EQ(0, munmap(p, sz));

	/* bad shapes are not denials */
	EXPECT_EQ(denials, ctr("denials_quota") + ctr("denials_nomem"));
}

TEST_F(grant, refused_operations)
{
	long long granted = ctr("arenas_granted");
	size_t sz = self->size, pg = self->page;
	unsigned char *p, *r;

	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x77, sz);

	/* partial munmap / mprotect would split the arena */
	EXPECT_EQ(-1, munmap(p, pg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(p + sz - pg, pg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(p + pg, pg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p, pg, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p + pg, pg, PROT_NONE));
	EXPECT_EQ(EINVAL, errno);

	/* executing from it, even after the fact */
	EXPECT_EQ(-1, mprotect(p, sz, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);

	/* mremap: grow, shrink, move */
	r = mremap(p, sz, sz * 2, 0);
	EXPECT_EQ(MAP_FAILED, r);
	EXPECT_TRUE(errno == EFAULT || errno == EINVAL || errno == ENOMEM);
	r = mremap(p, sz, sz * 2, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, r);
	EXPECT_TRUE(errno == EFAULT || errno == EINVAL);
	r = mremap(p, sz, sz / 2, 0);
	EXPECT_EQ(MAP_FAILED, r);
	EXPECT_EQ(EINVAL, errno);
	r = mmap(NULL, sz * 2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);
	r = (void *)(((uintptr_t)r + sz - 1) & ~(uintptr_t)(sz - 1));
	EXPECT_EQ(MAP_FAILED, mremap(p, sz, sz, MREMAP_MAYMOVE | MREMAP_FIXED, r));
	EXPECT_EQ(EINVAL, errno);

	/* the arena is intact and still counted once */
	EXPECT_TRUE(all_bytes(p, sz, 0x77));
	EXPECT_EQ(granted + 1, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());

	/* whole-arena mprotect is fine */
	EXPECT_EQ(0, mprotect(p, sz, PROT_READ));
	EXPECT_EQ(0x77, p[sz / 2]);
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_EQ(granted, ctr("arenas_granted"));
}

/* ---- denials and limits ---- */

TEST_F(karena, deny_process_limit_edquot)
{
	long long dq = ctr("denials_quota");
	struct karena_info in;
	void *p[3];

	ASSERT_EQ(0, set_param("max_arenas_per_process", 2));
	p[0] = grant(self->fd, self->size, 0);
	p[1] = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, p[0]);
	ASSERT_NE(MAP_FAILED, p[1]);
	p[2] = grant(self->fd, self->size, 0);
	EXPECT_EQ(MAP_FAILED, p[2]);
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(dq + 1, ctr("denials_quota"));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(1, in.denials);
	EXPECT_EQ(2, in.arenas_held);
	EXPECT_EQ(2, in.max_arenas_per_process);

	/* freeing one makes room again */
	munmap(p[0], self->size);
	p[2] = grant(self->fd, self->size, 0);
	EXPECT_NE(MAP_FAILED, p[2]);
	munmap(p[1], self->size);
	munmap(p[2], self->size);
}

TEST_F(karena, deny_uid_limit_edquot)
{
	long long dq = ctr("denials_quota");
	int go[2], done[2];
	char c = 0;
	pid_t pid;
	void *p;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	/* every arena granted now is root's, like ours */
	ASSERT_EQ(0, set_param("max_arenas_per_uid", self->base_granted + 2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* same uid, another process: holds one arena */
		void *q = grant(self->fd, self->size, 0);

		c = q == MAP_FAILED ? 'F' : 'K';
		if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(1, read(go[0], &c, 1));
	ASSERT_EQ('K', c);
	p = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, self->size, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(dq + 1, ctr("denials_quota"));
	ASSERT_EQ(1, write(done[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	/* the child's arena went back: room for one more */
	EXPECT_NE(MAP_FAILED, grant(self->fd, self->size, 0));
	munmap(p, self->size);
}

TEST_F(karena, deny_global_limit_enomem)
{
	long long dn = ctr("denials_nomem");
	void *p[2];

	ASSERT_EQ(0, set_param("max_arenas", self->base_granted + 2));
	p[0] = grant(self->fd, self->size, 0);
	p[1] = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, p[0]);
	ASSERT_NE(MAP_FAILED, p[1]);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, self->size, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(dn + 1, ctr("denials_nomem"));
	EXPECT_EQ(self->base_granted + 2, ctr("arenas_granted"));
	munmap(p[0], self->size);
	munmap(p[1], self->size);
	EXPECT_TRUE(check_invariant());
}

TEST_F(karena, param_validation)
{
	static const char * const bad[] = {
		"abc", "-1", "1x", "99999999999999999999",
		"18446744073709551615",
	};
	unsigned int i, j;
	long long before;

	for (i = 0; i < NR_LIMITS; i++) {
		before = param(limit_names[i]);
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			EXPECT_EQ(EINVAL, set_param_str(limit_names[i], bad[j]))
				TH_LOG("%s=\"%s\"", limit_names[i], bad[j]);
			EXPECT_EQ(before, param(limit_names[i]));
		}
	}
	/* max_arenas must be at least 1; nothing can exceed RAM */
	before = param("max_arenas");
	EXPECT_EQ(EINVAL, set_param("max_arenas", 0));
	EXPECT_EQ(EINVAL, set_param("max_arenas", 1LL << 40));
	EXPECT_EQ(EINVAL, set_param("reserve_arenas", 1LL << 40));
	EXPECT_EQ(EINVAL, set_param("max_arenas_per_uid", 1LL << 40));
	EXPECT_EQ(before, param("max_arenas"));
	EXPECT_EQ(self->saved[0], param("reserve_arenas"));

	/* arena_kb is read-only after load */
	before = param("arena_kb");
	EXPECT_NE(0, set_param("arena_kb", 64));
	EXPECT_EQ(before, param("arena_kb"));

	/* good values are taken and shown */
	EXPECT_EQ(0, set_param("max_arenas_per_process", 5));
	EXPECT_EQ(5, param("max_arenas_per_process"));
	EXPECT_EQ(0, set_param_str("max_arenas_per_uid", "0x10"));
	EXPECT_EQ(16, param("max_arenas_per_uid"));
}

TEST_F(karena, reserve_resize)
{
	EXPECT_EQ(0, set_param("reserve_arenas", 4));
	EXPECT_EQ(0, wait_ctr("arenas_free", 4, 5000));
	EXPECT_EQ(0, set_param("reserve_arenas", 20));
	EXPECT_EQ(0, wait_ctr("arenas_free", 20, 5000));
	EXPECT_EQ(ctr("arenas_reserved"),
		  ctr("arenas_free") + ctr("arenas_granted"));
}

/* ---- release and zeroing ---- */

struct fill_arg {
	int fd;
	size_t size;
	int n;
	int unmap;
};

static void fill_and_leave(void *v)
{
	struct fill_arg *a = v;
	int i;

	for (i = 0; i < a->n; i++) {
		void *p = grant(a->fd, a->size, 0);

		if (p == MAP_FAILED)
			_exit(1);
		memset(p, 0xa5, a->size);
		if (a->unmap)
			munmap(p, a->size);
	}
}

TEST_F(karena, release_on_exit)
{
	struct fill_arg a = { self->fd, self->size, 5, 0 };
	long long releases = ctr("releases");
	int st;

	st = in_child(fill_and_leave, &a);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(releases + 5, ctr("releases"));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
}

TEST_F_TIMEOUT(karena, zero_across_processes, 120)
{
	struct fill_arg a = { self->fd, self->size, 24, 0 };
	int n = 24 + (int)param("reserve_arenas") + 8, i, st, dirty = 0;
	unsigned char **p;

	if (n > param("max_arenas") - self->base_granted)
		n = param("max_arenas") - self->base_granted;
	p = calloc(n, sizeof(*p));

	/* the reserve holds freshly scrubbed arenas first, then ours */
	st = in_child(fill_and_leave, &a);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	a.unmap = 1;
	st = in_child(fill_and_leave, &a);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	usleep(200 * 1000);
	for (i = 0; i < n; i++) {
		p[i] = grant(self->fd, self->size, i & 1 ? MAP_POPULATE : 0);
		ASSERT_NE(MAP_FAILED, p[i]);
		if (!all_bytes(p[i], self->size, 0))
			dirty++;
	}
	EXPECT_EQ(0, dirty);
	for (i = 0; i < n; i++)
		munmap(p[i], self->size);
	free(p);
}

/*
 * The worker clears only the pages of an arena that were ever mapped into
 * a user PTE or put in its slot by a fork. Write into arenas by every path
 * there is, most of them to pages the owner never touched through its own
 * PTEs: a helper process's process_vm_writev() and /proc/PID/mem write,
 * read() from a pipe, a write then MADV_DONTNEED, pages handed back and
 * written again, and a page the parent wrote and a fork child shared
 * without touching it (the child's arena goes first: the page, still the
 * parent's, must be replaced there, not zeroed). Release them all, and
 * every arena granted next (the whole reserve, which now holds the
 * released ones, as their page frames show) reads as zero.
 */
#define SC_ARENAS	5	/* A..E in the parent, and a spare */

static unsigned long long pfn_of(int pagemap, const void *addr, size_t pg)
{
	unsigned long long e = 0;

	if (pread(pagemap, &e, sizeof(e), (uintptr_t)addr / pg * sizeof(e)) !=
	    sizeof(e) || !(e >> 63))
		return 0;
	return e & ((1ULL << 55) - 1);
}

/*
 * Wait until the reserve is exactly @reserve free arenas and nothing is
 * dirty, twice 100 ms apart, so that a worker run queued meanwhile (which
 * could grow or shrink it) is over too.
 */
static int wait_reserve(long long reserve, long long granted)
{
	int i, calm = 0;

	for (i = 0; i < 500 && calm < 2; i++) {
		if (ctr("arenas_free") == reserve &&
		    ctr("arenas_reserved") == reserve + granted)
			calm++;
		else
			calm = 0;
		usleep(calm ? 100 * 1000 : 10 * 1000);
	}
	return calm == 2 ? 0 : -1;
}

struct sc_req {
	uintptr_t addr;
	size_t len;
	int use_mem;	/* /proc/PID/mem, else process_vm_writev() */
};

/* The helper: write what the parent asks into the parent, then answer. */
static void sc_helper(int in, int out, pid_t parent)
{
	static unsigned char buf[65536];
	struct sc_req r;
	char path[64];
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/mem", parent);
	while (read(in, &r, sizeof(r)) == sizeof(r)) {
		struct iovec l = { buf, r.len }, rv = { (void *)r.addr, r.len };
		int fd;

		memset(buf, r.use_mem ? 0x3e : 0x5d, r.len);
		if (!r.use_mem) {
			ok = process_vm_writev(parent, &l, 1, &rv, 1, 0) ==
				(ssize_t)r.len;
			/* CONFIG_CROSS_MEMORY_ATTACH=n (the debug kernel) */
			r.use_mem = !ok && errno == ENOSYS;
		}
		if (r.use_mem) {
			fd = open(path, O_RDWR);
			ok = fd >= 0 && pwrite(fd, buf, r.len, r.addr) ==
				(ssize_t)r.len;
			if (fd >= 0)
				close(fd);
		}
		if (write(out, &ok, sizeof(ok)) != sizeof(ok))
			break;
	}
	_exit(0);
}

TEST_F_TIMEOUT(karena, scrub_every_write_path, 120)
{
	size_t sz = self->size, pg = self->page, npg = sz / pg, i, j;
	int req[2], ans[2], data[2], pagemap, ok, st, n, reused = 0;
	unsigned long long *dirty_pfn;
	unsigned char *a[SC_ARENAS], **p, *spare;
	unsigned int ndirty = 0;
	const int reserve = 16;
	struct sc_req r;
	pid_t helper, child;

	if (npg < 8)
		SKIP(return, "arenas of fewer than 8 pages");
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_LE(0, pagemap);
	dirty_pfn = calloc(SC_ARENAS * npg, sizeof(*dirty_pfn));
	ASSERT_NE(NULL, dirty_pfn);

	/*
	 * A full reserve of 16: A, and the child's arena back in it, then
	 * B..E and a spare (held to the end) leave 11, more than half, so
	 * the worker is not run to refill it (which would make the reserve
	 * full again and the released arenas surplus: freed, never granted
	 * again).
	 */
	ASSERT_EQ(0, set_param("reserve_arenas", reserve));
	ASSERT_EQ(0, wait_reserve(reserve, self->base_granted));

	ASSERT_EQ(0, pipe(req));
	ASSERT_EQ(0, pipe(ans));
	ASSERT_EQ(0, pipe(data));
	helper = fork();		/* before any arena: it copies none */
	ASSERT_LE(0, helper);
	if (helper == 0) {
		close(req[1]);
		close(ans[0]);
		sc_helper(req[0], ans[1], getppid());
	}
	close(req[0]);
	close(ans[1]);

	/* A: page 1 by our PTE, shared with a fork child that leaves first */
	a[0] = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, a[0]);
	memset(a[0] + pg, 0xa1, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[0] + pg, pg);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		/* its own page 3 only; page 1 stays shared */
		memset(a[0] + 3 * pg, 0xc3, pg);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &st, 0));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* its arena is scrubbed and back in the reserve, page 1 replaced */
	ASSERT_EQ(0, wait_reserve(reserve, self->base_granted + 1));
	spare = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, spare);
	for (i = 1; i < SC_ARENAS; i++) {
		a[i] = grant(self->fd, sz, 0);
		ASSERT_NE(MAP_FAILED, a[i]);
	}

	/* B: page 2 by the helper's process_vm_writev() (else /proc/PID/mem) */
	r = (struct sc_req){ (uintptr_t)(a[1] + 2 * pg), pg, 0 };
	ASSERT_EQ(sizeof(r), write(req[1], &r, sizeof(r)));
	ASSERT_EQ(sizeof(ok), read(ans[0], &ok, sizeof(ok)));
	EXPECT_TRUE(ok);
	/* C: page 4 by the helper's write to /proc/PID/mem */
	r = (struct sc_req){ (uintptr_t)(a[2] + 4 * pg), pg, 1 };
	ASSERT_EQ(sizeof(r), write(req[1], &r, sizeof(r)));
	ASSERT_EQ(sizeof(ok), read(ans[0], &ok, sizeof(ok)));
	EXPECT_TRUE(ok);
	close(req[1]);
	ASSERT_EQ(helper, waitpid(helper, &st, 0));
	/* D: page 6 by read() from a pipe (copy_to_user) */
	memset(a[4] + 7 * pg, 0x77, 16);	/* borrow E's page 7 as a buffer */
	ASSERT_EQ(16, write(data[1], a[4] + 7 * pg, 16));
	ASSERT_EQ(16, read(data[0], a[3] + 6 * pg, 16));
	/* E: page 5 written then dropped from the PTE; page 7 above */
	memset(a[4] + 5 * pg, 0xe5, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[4] + 5 * pg, pg);
	ASSERT_EQ(0, madvise(a[4] + 5 * pg, pg, MADV_DONTNEED));
	/* and, in E too, pages handed back, one of them written again */
	memset(a[4], 0xee, 4 * pg);
	ASSERT_EQ(0, return_pages(self->fd, a[4], 4 * pg, NULL));
	memset(a[4] + 2 * pg, 0xef, pg);
	/* and page 6 read first: that fault maps it writable already */
	EXPECT_EQ(0, *(volatile unsigned char *)(a[4] + 6 * pg));
	memset(a[4] + 6 * pg, 0xe6, pg);

	/* every write landed where it was meant to */
	EXPECT_TRUE(all_bytes(a[1] + 2 * pg, pg, 0x5d));
	EXPECT_TRUE(all_bytes(a[2] + 4 * pg, pg, 0x3e));
	EXPECT_TRUE(all_bytes(a[3] + 6 * pg, 16, 0x77));
	EXPECT_TRUE(all_bytes(a[4] + 5 * pg, pg, 0xe5));
	EXPECT_TRUE(all_bytes(a[4] + 2 * pg, pg, 0xef));
	EXPECT_TRUE(all_bytes(a[4] + 6 * pg, pg, 0xe6));
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[1] + 2 * pg, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[2] + 4 * pg, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[3] + 6 * pg, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[4] + 7 * pg, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[4] + 2 * pg, pg);
	dirty_pfn[ndirty++] = pfn_of(pagemap, a[4] + 6 * pg, pg);
	for (i = 0; i < ndirty; i++)
		EXPECT_NE(0, dirty_pfn[i]) TH_LOG("no pfn for dirty page %zu", i);

	/*
	 * Release the five: the worker, not run since the reserve was full,
	 * finds them with 11 free and keeps them.
	 */
	for (i = 0; i < SC_ARENAS; i++)
		munmap(a[i], sz);
	ASSERT_EQ(0, wait_reserve(reserve, self->base_granted + 1));

	/* the whole reserve and then some: every byte is zero */
	n = reserve + 4;
	p = calloc(n, sizeof(*p));
	ASSERT_NE(NULL, p);
	for (i = 0; i < (size_t)n; i++) {
		p[i] = grant(self->fd, sz, i & 1 ? MAP_POPULATE : 0);
		ASSERT_NE(MAP_FAILED, p[i]);
		EXPECT_TRUE(all_bytes(p[i], sz, 0)) TH_LOG("arena %zu", i);
		for (j = 0; j < npg; j++) {
			unsigned long long pfn = pfn_of(pagemap, p[i] + j * pg,
							pg);
			unsigned int k;

			for (k = 0; pfn && k < ndirty; k++)
				reused += pfn == dirty_pfn[k];
		}
	}
	/*
	 * Every byte above read as zero, which is the contract. That the
	 * dirtied page frames themselves came back shows the scrub, not a
	 * replacement page, made them zero: on an idle guest all of them
	 * do, but on a loaded debug guest 1 to 5 of the 8 were seen to come
	 * back, varying from run to run (the others' arenas went elsewhere
	 * or their pages were replaced, both zero as well; the cause is not
	 * pinned down). So the scrub must have been seen at least once, and
	 * the count is logged.
	 */
	EXPECT_LE(1, reused);
	TH_LOG("%d of %u dirtied pages granted again", reused, ndirty);
	for (i = 0; i < (size_t)n; i++)
		munmap(p[i], sz);
	munmap(spare, sz);
	free(p);
	free(dirty_pfn);
	close(pagemap);
	EXPECT_TRUE(check_invariant());
}

/* ---- fork ---- */

TEST_F(karena, fork_isolation)
{
	long long copies = ctr("fork_copies"), grants = ctr("grants");
	int to_child[2], to_parent[2];
	size_t sz = self->size;
	unsigned char *p, *lazy;
	char c;
	pid_t pid;
	int st;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	p = grant(self->fd, sz, 0);
	lazy = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, lazy);
	memset(p, 'P', sz);
	lazy[sz / 2] = 'L';	/* one page touched, the rest not */

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* the child sees a copy of the parent's arena at fork */
		if (!all_bytes(p, sz, 'P') || lazy[sz / 2] != 'L' || lazy[0])
			_exit(10);
		memset(p, 'C', sz);
		lazy[0] = 'C';
		if (write(to_parent[1], "c", 1) != 1 ||
		    read(to_child[0], &c, 1) != 1)
			_exit(11);
		/* the parent's writes after fork stay out of our copy */
		if (!all_bytes(p, sz, 'C') || lazy[sz / 2] != 'L')
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* the child's writes stay out of the parent's arena */
	EXPECT_TRUE(all_bytes(p, sz, 'P'));
	EXPECT_EQ(0, lazy[0]);
	memset(p, 'Q', sz);
	lazy[sz / 2] = 'M';
	ASSERT_EQ(1, write(to_child[1], "p", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	/*
	 * Copies on write: every page of p by the child (the parent still
	 * held them), lazy's shared page by the parent (the child still held
	 * it), and lazy's first page by the child: its read mapped the
	 * parent's page (zero, untouched) read-only, so the write after it
	 * copies that page as any other shared one. The parent's writes to p
	 * found its pages its own again.
	 */
	EXPECT_EQ(copies + sz / self->page + 2, ctr("fork_copies"));
	EXPECT_EQ(grants + 2 + 2, ctr("grants"));
	EXPECT_EQ(self->base_granted + 2, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	munmap(p, sz);
	munmap(lazy, sz);
}

static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	got_sig = sig;
	_exit(sig);
}

TEST_F(karena, madv_dontfork)
{
	long long copies = ctr("fork_copies"), grants;
	size_t sz = self->size;
	unsigned char *p;
	pid_t pid;
	int st;

	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	grants = ctr("grants");
	p[0] = 1;
	ASSERT_EQ(0, madvise(p, sz, MADV_DONTFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		signal(SIGSEGV, on_sig);
		signal(SIGBUS, on_sig);
		(void)*(volatile unsigned char *)p;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(SIGSEGV, WEXITSTATUS(st));
	EXPECT_EQ(grants, ctr("grants"));

	/* MADV_DOFORK: the child gets the arena again (shared: it only reads) */
	ASSERT_EQ(0, madvise(p, sz, MADV_DOFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(p[0] == 1 ? 0 : 3);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(grants + 1, ctr("grants"));
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_TRUE(check_invariant());
	munmap(p, sz);
}

TEST_F(karena, fork_copy_failure_sigbus)
{
	long long fails = ctr("fork_copy_failures");
	long long copies = ctr("fork_copies");
	unsigned char *p;
	pid_t pid;
	int st;

	p = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 9;
	/* no room for the child's copy */
	ASSERT_EQ(0, set_param("max_arenas", ctr("arenas_granted")));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		signal(SIGBUS, on_sig);
		signal(SIGSEGV, on_sig);
		(void)*(volatile unsigned char *)p;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(SIGBUS, WEXITSTATUS(st));
	EXPECT_EQ(fails + 1, ctr("fork_copy_failures"));
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_EQ(9, p[0]);	/* the parent is unaffected */
	EXPECT_TRUE(check_invariant());
	munmap(p, self->size);
}

TEST_F_TIMEOUT(karena, fork_storm_quota, 120)
{
	long long copies = ctr("fork_copies"), fails = ctr("fork_copy_failures");
	long long limit = self->base_granted + 24, grants;
	int nchild = 16, i, st, bad = 0, own = 0;
	unsigned char *p[2];
	pid_t pids[16];

	ASSERT_EQ(0, set_param("max_arenas", limit));
	ASSERT_EQ(0, set_param("max_arenas_per_process", 4));
	for (i = 0; i < 2; i++) {
		p[i] = grant(self->fd, self->size, 0);
		ASSERT_NE(MAP_FAILED, p[i]);
		memset(p[i], 'A' + i, self->page);
	}
	grants = ctr("grants");
	for (i = 0; i < nchild; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			int k, n = 0;

			/* take what the limits allow, then check and leave */
			for (k = 0; k < 8; k++) {
				void *q = grant(self->fd, self->size, 0);

				if (q == MAP_FAILED) {
					if (errno != EDQUOT && errno != ENOMEM)
						_exit(20);
					continue;
				}
				n++;
			}
			if (n > 4 || ctr("arenas_granted") > limit)
				_exit(21);
			usleep(10000);
			_exit(100 + n);	/* the arenas it was granted itself */
		}
	}
	for (i = 0; i < nchild; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		if (!WIFEXITED(st) || WEXITSTATUS(st) < 100)
			bad++;
		else
			own += WEXITSTATUS(st) - 100;
	}
	EXPECT_EQ(0, bad);
	/* each child's two inherited arenas: granted at fork, or refused */
	EXPECT_EQ(nchild * 2, ctr("grants") - grants - own +
		  ctr("fork_copy_failures") - fails);
	/* nobody wrote an inherited arena: nothing was copied */
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_EQ(self->base_granted + 2, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	EXPECT_EQ('A', p[0][0]);
	munmap(p[0], self->size);
	munmap(p[1], self->size);
}

/*
 * The child's copy is a snapshot of one moment for each parent thread: a
 * thread that writes cells in a fixed order across several arenas (and
 * across pages of each) is seen by the child to have written a prefix of
 * its writes, as with anonymous memory. Each writer stores its sequence
 * number into its cells in order, so the child must see, per thread,
 * values that never increase along the cells and drop by at most one.
 * Before the parent's PTEs were zapped in open(), writers kept writing to
 * arenas whose copy was already made, and the cells disagreed.
 */
#define FC_ARENAS	4
#define FC_THREADS	3
#define FC_CELLS	12

struct fc_writer {
	volatile uint64_t *cell[FC_CELLS];
	atomic_int *stop;
	pthread_t thread;
};

static void *fc_write(void *v)
{
	struct fc_writer *w = v;
	uint64_t seq;
	int c;

	for (seq = 1; !atomic_load_explicit(w->stop, memory_order_relaxed);
	     seq++) {
		for (c = 0; c < FC_CELLS; c++)
			*w->cell[c] = seq;
		/* keep the compiler from merging iterations */
		atomic_signal_fence(memory_order_seq_cst);
	}
	return NULL;
}

/* In the child: 0 if every writer's cells form a prefix of its writes. */
static int fc_check(struct fc_writer *w)
{
	int t, c;

	for (t = 0; t < FC_THREADS; t++) {
		uint64_t first = *w[t].cell[0], prev = first;

		for (c = 1; c < FC_CELLS; c++) {
			uint64_t v = *w[t].cell[c];

			if (v > prev || first - v > 1)
				return 1;
			prev = v;
		}
	}
	return 0;
}

TEST_F_TIMEOUT(karena, fork_consistent_snapshot, 180)
{
	struct fc_writer w[FC_THREADS];
	size_t sz = self->size, pages = sz / self->page;
	unsigned char *a[FC_ARENAS];
	int forks = 0, bad = 0, other = 0, t, c, st;
	atomic_int stop = 0;
	struct timespec t0, now;
	pid_t pid;

	for (c = 0; c < FC_ARENAS; c++) {
		a[c] = grant(self->fd, sz, MAP_POPULATE);
		ASSERT_NE(MAP_FAILED, a[c]);
	}
	/* cells hop between arenas and pages, back and forth in address */
	for (t = 0; t < FC_THREADS; t++) {
		w[t].stop = &stop;
		for (c = 0; c < FC_CELLS; c++) {
			unsigned char *arena = a[(c * 3) % FC_ARENAS];
			size_t pg = (c * 5 + t) % pages;

			w[t].cell[c] = (volatile uint64_t *)
				(arena + pg * self->page + t * 64);
		}
	}
	for (t = 0; t < FC_THREADS; t++)
		ASSERT_EQ(0, pthread_create(&w[t].thread, NULL, fc_write,
					    &w[t]));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(fc_check(w) ? 3 : 0);
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
			bad++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			other++;
		forks++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (forks < 400 && now.tv_sec - t0.tv_sec < 8);

	atomic_store(&stop, 1);
	for (t = 0; t < FC_THREADS; t++)
		pthread_join(w[t].thread, NULL);
	TH_LOG("%d forks, %d inconsistent snapshots", forks, bad);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, other);
	EXPECT_TRUE(check_invariant());
	for (c = 0; c < FC_ARENAS; c++)
		munmap(a[c], sz);
}

/* ---- thread storm ---- */

struct storm {
	int fd;
	size_t size;
	long long limit;
	atomic_int stop;
	atomic_long ok, enomem, other, over;
};

static void *storm_thread(void *v)
{
	struct storm *s = v;
	unsigned char *prev = NULL;
	int i;

	/* hold two at a time: six threads want twelve, the limit is five */
	for (i = 0; i < 300; i++) {
		unsigned char *p = grant(s->fd, s->size, 0);

		if (p == MAP_FAILED) {
			if (errno == ENOMEM)
				s->enomem++;
			else
				s->other++;
			continue;
		}
		s->ok++;
		p[i % s->size] = 1;
		if (prev)
			munmap(prev, s->size);
		prev = p;
	}
	if (prev)
		munmap(prev, s->size);
	return NULL;
}

static void *storm_watch(void *v)
{
	struct storm *s = v;

	while (!s->stop)
		if (ctr("arenas_granted") > s->limit)
			s->over++;
	return NULL;
}

TEST_F_TIMEOUT(karena, thread_storm_counters, 300)
{
	struct storm s = { .fd = self->fd, .size = self->size };
	long long grants = ctr("grants"), releases = ctr("releases");
	long long dn = ctr("denials_nomem");
	pthread_t t[6], w;
	int i;

	s.limit = self->base_granted + 5;
	ASSERT_EQ(0, set_param("max_arenas", s.limit));
	ASSERT_EQ(0, pthread_create(&w, NULL, storm_watch, &s));
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, storm_thread, &s));
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	s.stop = 1;
	pthread_join(w, NULL);

	TH_LOG("ok %ld enomem %ld", (long)s.ok, (long)s.enomem);
	EXPECT_EQ(0, s.other);
	EXPECT_EQ(0, s.over);
	EXPECT_EQ(6 * 300, s.ok + s.enomem);
	EXPECT_EQ(s.ok, ctr("grants") - grants);
	EXPECT_EQ(s.ok, ctr("releases") - releases);
	EXPECT_EQ(s.enomem, ctr("denials_nomem") - dn);
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
}

/* ---- rmmod ---- */

TEST_F(karena, rmmod_refused_while_in_use)
{
	void *p = grant(self->fd, self->size, 0);
	int fd2;

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "karena", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);

	/* the mapping alone pins it */
	fd2 = dup(self->fd);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-1, syscall(SYS_delete_module, "karena", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	close(fd2);
	EXPECT_EQ(-1, syscall(SYS_delete_module, "karena", O_NONBLOCK));
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	EXPECT_EQ(0, munmap(p, self->size));
	EXPECT_EQ(0, access("/sys/module/karena", F_OK));
}

/* ---- KARENA_IOC_RETURN_PAGES ---- */

TEST_F(karena, return_pages_bad_ranges)
{
	size_t sz = self->size, pg = self->page;
	struct karena_return_pages rp;
	unsigned char *p, *anon;
	int other;

	p = grant(self->fd, sz, MAP_POPULATE);
	ASSERT_NE(MAP_FAILED, p);
	anon = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);

#define EXPECT_RP_EINVAL(a, l) do {					\
		errno = 0;						\
		EXPECT_EQ(-1, return_pages(self->fd, (void *)(a), (l), NULL)); \
		EXPECT_EQ(EINVAL, errno);				\
	} while (0)

	EXPECT_RP_EINVAL(p + 1, pg);		/* unaligned start */
	EXPECT_RP_EINVAL(p, pg + 1);		/* unaligned length */
	EXPECT_RP_EINVAL(p, 0);			/* empty */
	EXPECT_RP_EINVAL(p + pg, sz);		/* runs past the arena */
	EXPECT_RP_EINVAL(p, sz + pg);
	EXPECT_RP_EINVAL(p - pg, 2 * pg);	/* starts before it */
	EXPECT_RP_EINVAL(anon, pg);		/* not an arena */
	EXPECT_RP_EINVAL(-(uintptr_t)pg, 2 * pg);	/* overflows */
	EXPECT_RP_EINVAL(p, -(uintptr_t)pg);
	EXPECT_RP_EINVAL(0, pg);

	memset(&rp, 0, sizeof(rp));
	rp.addr = (uintptr_t)p;
	rp.len = pg;
	rp.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(EINVAL, errno);
	rp.flags = 0;
	rp.__pad = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(EINVAL, errno);

	/* through another open file description: not this file's arena */
	other = open(DEV, O_RDWR);
	ASSERT_LE(0, other);
	errno = 0;
	EXPECT_EQ(-1, return_pages(other, p, pg, NULL));
	EXPECT_EQ(EINVAL, errno);
	close(other);
	munmap(anon, pg);
	munmap(p, sz);
}

TEST_F(karena, return_pages_zero_after)
{
	size_t sz = self->size, pg = self->page, i;
	long long total = ctr("pages_returned");
	struct karena_info in;
	unsigned char *p;
	__u64 n = 0;

	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x3c, sz);
	ASSERT_EQ(0, return_pages(self->fd, p + 2 * pg, 4 * pg, &n));
	EXPECT_EQ(4, n);
	for (i = 0; i < sz / pg; i++) {
		int returned = i >= 2 && i < 6;

		EXPECT_TRUE(all_bytes(p + i * pg, pg, returned ? 0 : 0x3c))
			TH_LOG("page %zu", i);
	}
	EXPECT_EQ(total + 4, ctr("pages_returned"));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(4, in.pages_returned);

	/* refaulted pages are writable and can be handed back again */
	memset(p + 2 * pg, 0x11, pg);
	ASSERT_EQ(0, return_pages(self->fd, p, sz, &n));
	EXPECT_EQ(sz / pg, n);
	EXPECT_TRUE(all_bytes(p, sz, 0));
	EXPECT_EQ(self->base_granted + 1, ctr("arenas_granted"));
	munmap(p, sz);
	EXPECT_TRUE(check_invariant());
}

TEST_F(karena, return_pages_fork)
{
	size_t sz = self->size, pg = self->page;
	int to_child[2], to_parent[2], st;
	unsigned char *p;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x42, sz);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		__u64 n;

		/* wait for the parent's return; our copy keeps its data */
		if (read(to_child[0], &c, 1) != 1)
			_exit(10);
		if (!all_bytes(p, sz, 0x42))
			_exit(11);
		if (return_pages(self->fd, p, 8 * pg, &n) || n != 8)
			_exit(12);
		if (!all_bytes(p, 8 * pg, 0) ||
		    !all_bytes(p + 8 * pg, sz - 8 * pg, 0x42))
			_exit(13);
		if (write(to_parent[1], "c", 1) != 1)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(0, return_pages(self->fd, p + sz - 4 * pg, 4 * pg, NULL));
	ASSERT_EQ(1, write(to_child[1], "p", 1));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* the child's return did not touch our arena */
	EXPECT_TRUE(all_bytes(p, sz - 4 * pg, 0x42));
	EXPECT_TRUE(all_bytes(p + sz - 4 * pg, 4 * pg, 0));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	munmap(p, sz);
}

struct rp_race {
	unsigned char *p;
	size_t pg;
	int idx;
	atomic_int stop;
	atomic_long bad;
	atomic_long loops;
};

/* Each thread owns a few pages: what it reads is its last value or zero. */
static void *rp_writer(void *v)
{
	struct rp_race *r = v;
	unsigned int val = 1;
	int k;

	while (!r->stop) {
		for (k = 0; k < 4; k++) {
			volatile unsigned int *w = (void *)(r->p +
				(size_t)(r->idx * 4 + k) * r->pg + 64 * k);
			unsigned int seen;

			*w = val;
			seen = *w;
			if (seen != val && seen != 0)
				r->bad++;
		}
		val = val % 1000000 + 1;
		r->loops++;
	}
	return NULL;
}

TEST_F_TIMEOUT(karena, return_pages_concurrent_faults, 300)
{
	size_t sz = self->size, pg = self->page;
	struct rp_race r[4];
	pthread_t t[4];
	unsigned char *p;
	long bad = 0;
	int i, k;

	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p + 16 * pg, 0x99, sz - 16 * pg);
	for (i = 0; i < 4; i++) {
		r[i] = (struct rp_race){ .p = p, .pg = pg, .idx = i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, rp_writer, &r[i]));
	}
	for (k = 0; k < 2000; k++) {
		__u64 n;

		ASSERT_EQ(0, return_pages(self->fd, p + (k % 4) * 4 * pg,
					  4 * pg, &n));
		if (k % 500 == 0)
			ASSERT_EQ(0, return_pages(self->fd, p, 16 * pg, &n));
	}
	for (i = 0; i < 4; i++) {
		r[i].stop = 1;
		pthread_join(t[i], NULL);
		bad += r[i].bad;
	}
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, return_pages(self->fd, p, 16 * pg, NULL));
	EXPECT_TRUE(all_bytes(p, 16 * pg, 0));
	EXPECT_TRUE(all_bytes(p + 16 * pg, sz - 16 * pg, 0x99));
	munmap(p, sz);
	EXPECT_TRUE(check_invariant());
}

TEST_HARNESS_MAIN
