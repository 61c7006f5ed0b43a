// SPDX-License-Identifier: GPL-2.0
/*
 * karena_grant_test - kselftests for grants of several arenas and for the
 * per-file arena size (KARENA_IOC_SET_ARENA_SIZE).
 *
 * What is checked: every errno of KARENA_IOC_SET_ARENA_SIZE and of the
 * mmap lengths it governs, each bad argument on its own; EBUSY once a
 * file has granted (and not after a refused mmap); an mmap of n arenas is
 * one grant, aligned, zero, counted as n in sysfs and KARENA_IOC_INFO,
 * refused whole at each limit with that limit's errno, released as n;
 * splits inside it refused; KARENA_IOC_RETURN_PAGES across its arenas;
 * fork copies of it; the largest grant (refused whole only when memory is
 * short); grants with 64 KiB, 1 MiB and 4 MiB file arenas,
 * counted in module arenas (DIV_ROUND_UP(bytes, module arena size)) and
 * zero again after reuse.
 *
 * Needs root (limits are lowered through /sys/module/karena/parameters and
 * restored after each test) and the module loaded; otherwise SKIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

static int set_size(int fd, __u64 size)
{
	struct karena_arena_size as = { .arena_size = size };

	return ioctl(fd, KARENA_IOC_SET_ARENA_SIZE, &as);
}

/* The byte that page @i of a pattern @salt holds: never zero. */
static unsigned char page_byte(size_t i, int salt)
{
	return ((i + salt) & 0xff) | 1;
}

/* Fill each page of [p, p + len) with a byte naming the page. */
static void fill_pages(unsigned char *p, size_t len, size_t page, int salt)
{
	size_t i;

	for (i = 0; i < len; i += page)
		memset(p + i, page_byte(i / page, salt), page);
}

/* Pages [first, first + len / page) of that pattern are at p. */
static int pages_filled_from(const unsigned char *p, size_t first, size_t len,
			     size_t page, int salt)
{
	size_t i;

	for (i = 0; i < len; i += page)
		if (!all_bytes(p + i, page, page_byte(first + i / page, salt)))
			return 0;
	return 1;
}

static int pages_filled(const unsigned char *p, size_t len, size_t page,
			int salt)
{
	return pages_filled_from(p, 0, len, page, salt);
}

FIXTURE(grants) {
	int fd;
	size_t module;		/* the module's arena size: the unit */
	size_t page;
	long long base_granted;
	long long saved[NR_LIMITS];
};

FIXTURE_SETUP(grants)
{
	struct karena_info in;

	OPEN_DEVICE_OR_SKIP(self->fd);
	if (geteuid() != 0)
		SETUP_SKIP("needs root to change the module's limits");
	ASSERT_EQ(0, get_info(self->fd, &in));
	self->module = in.module_arena_size;
	ASSERT_EQ(ctr("arena_size"), (long long)self->module);
	self->page = sysconf(_SC_PAGESIZE);
	save_limits(self->saved);
	self->base_granted = ctr("arenas_granted");
}

FIXTURE_TEARDOWN(grants)
{
	restore_limits(self->saved);
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- KARENA_IOC_SET_ARENA_SIZE: each bad argument, its errno ---- */

TEST_F(grants, set_arena_size_errnos)
{
	static const __u64 bad_sizes[] = {
		0, 4096, 32 << 10, (64 << 10) - 1, 96 << 10, 3 << 20,
		(4 << 20) + 4096, 8 << 20, 1ULL << 32, 1ULL << 63, ~0ULL,
	};
	struct karena_arena_size as;
	struct karena_info in;
	unsigned int i;

	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, set_size(self->fd, bad_sizes[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("size %#llx",
						 (unsigned long long)bad_sizes[i]);
	}

	memset(&as, 0, sizeof(as));
	as.arena_size = 1 << 20;
	as.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_SET_ARENA_SIZE, &as));
	EXPECT_EQ(EINVAL, errno);
	as.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_SET_ARENA_SIZE, &as));
	EXPECT_EQ(EINVAL, errno);
	as.flags = 0;
	as.__pad = 1;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_SET_ARENA_SIZE, &as));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_SET_ARENA_SIZE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_SET_ARENA_SIZE, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	/* none of that changed the size */
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(self->module, in.arena_size);

	/* both ends of the range, and changing it again before a grant */
	EXPECT_EQ(0, set_size(self->fd, KARENA_ARENA_SIZE_MIN));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(KARENA_ARENA_SIZE_MIN, in.arena_size);
	EXPECT_EQ(self->module, in.module_arena_size);
	EXPECT_EQ(0, set_size(self->fd, KARENA_ARENA_SIZE_MAX));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(KARENA_ARENA_SIZE_MAX, in.arena_size);
}

TEST_F(grants, set_arena_size_ebusy_after_grant)
{
	size_t sz = 1 << 20;
	struct karena_info in;
	int other;
	void *p;

	ASSERT_EQ(0, set_size(self->fd, sz));

	/* a refused mmap does not fix the size */
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz + self->page, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, set_size(self->fd, sz));

	p = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, set_size(self->fd, 2 * sz));
	EXPECT_EQ(EBUSY, errno);
	/* the same size is a change too late as well */
	EXPECT_EQ(-1, set_size(self->fd, sz));
	EXPECT_EQ(EBUSY, errno);
	/* a bad size is still EINVAL first */
	EXPECT_EQ(-1, set_size(self->fd, 3));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, munmap(p, sz));

	/* and stays so after the grant is gone */
	EXPECT_EQ(-1, set_size(self->fd, 2 * sz));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(sz, in.arena_size);

	/* another open file of the same process is its own */
	other = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, get_info(other, &in));
	EXPECT_EQ(self->module, in.arena_size);
	EXPECT_EQ(0, set_size(other, 2 * sz));
	ASSERT_EQ(0, get_info(other, &in));
	EXPECT_EQ(2 * sz, in.arena_size);
	close(other);
}

/* ---- an mmap of n arenas: one grant ---- */

TEST_F(grants, multi_bad_lengths)
{
	long long denials = ctr("denials_quota") + ctr("denials_nomem");
	size_t sz = self->module;
	unsigned char *p;

	/* not a whole number of arenas */
	EXPECT_EQ(MAP_FAILED, grant(self->fd, 3 * sz + self->page, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, 2 * sz - self->page, 0));
	EXPECT_EQ(EINVAL, errno);
	/* one arena more than a grant may have */
	EXPECT_EQ(MAP_FAILED,
		  grant(self->fd, (size_t)(KARENA_GRANT_MAX_ARENAS + 1) * sz, 0));
	EXPECT_EQ(EINVAL, errno);
	/* bad shapes are not denials */
	EXPECT_EQ(denials, ctr("denials_quota") + ctr("denials_nomem"));

	/* no split inside a grant, not even at an arena boundary */
	p = grant(self->fd, 3 * sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, munmap(p, sz));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(p + sz, sz));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(p + 2 * sz, sz));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p + sz, sz, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, 3 * sz, 2 * sz, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, 3 * sz, 4 * sz, MREMAP_MAYMOVE));
	EXPECT_EQ(self->base_granted + 3, ctr("arenas_granted"));
	EXPECT_EQ(0, munmap(p, 3 * sz));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
}

TEST_F(grants, multi_counted_aligned_zero_released)
{
	long long grants = ctr("grants"), releases = ctr("releases");
	size_t sz = self->module, n = 5, len = n * sz;
	struct karena_info in;
	unsigned char *p;

	p = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, (uintptr_t)p & (sz - 1));
	EXPECT_EQ(grants + n, ctr("grants"));
	EXPECT_EQ(self->base_granted + n, ctr("arenas_granted"));
	EXPECT_LE(self->base_granted + n, ctr("arenas_granted_peak"));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(n, in.arenas_held);
	EXPECT_EQ(n, in.arenas_peak);

	EXPECT_TRUE(all_bytes(p, len, 0));
	fill_pages(p, len, self->page, 7);
	EXPECT_TRUE(pages_filled(p, len, self->page, 7));

	ASSERT_EQ(0, munmap(p, len));
	EXPECT_EQ(releases + n, ctr("releases"));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(0, in.arenas_held);
	EXPECT_EQ(n, in.arenas_peak);
	EXPECT_TRUE(check_invariant());

	/* the pages written come back zero in the next grant */
	p = grant(self->fd, len, MAP_POPULATE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all_bytes(p, len, 0));
	EXPECT_EQ(0, munmap(p, len));
}

TEST_F(grants, multi_largest_grant)
{
	size_t sz = 64 << 10, len = (size_t)KARENA_GRANT_MAX_ARENAS * sz;
	long long units = (len + self->module - 1) / self->module;
	long long fresh, need_kb, avail_kb = meminfo("MemAvailable");
	long long denials = ctr("denials_nomem");
	unsigned char *p;

	/*
	 * The bound itself (64 KiB arenas: 256 MiB at most) is granted
	 * whenever the memory is there with the module's headroom (1/32 of
	 * RAM) and a margin of 16 MiB; without it (a small or debug VM) it
	 * may be refused, and then whole, with ENOMEM.
	 */
	fresh = units > ctr("arenas_free") ? units - ctr("arenas_free") : 0;
	need_kb = fresh * (long long)(self->module / 1024) +
		  meminfo("MemTotal") / 32;
	ASSERT_EQ(0, set_size(self->fd, sz));
	/* max_arenas may not exceed RAM: then the grant cannot fit at all */
	if (set_param("max_arenas", self->base_granted + units) == EINVAL)
		need_kb = meminfo("MemTotal");
	/* the per-uid default (half of max_arenas) is not what is tested */
	ASSERT_EQ(0, set_param("max_arenas_per_uid", 0));
	p = grant(self->fd, len, 0);
	if (p == MAP_FAILED) {
		TH_LOG("refused: MemAvailable %lld KiB, %lld KiB needed",
		       avail_kb, need_kb);
		EXPECT_LT(avail_kb, need_kb + 16384);
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(denials + 1, ctr("denials_nomem"));
		EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
		EXPECT_TRUE(check_invariant());
		return;
	}
	EXPECT_EQ(0, (uintptr_t)p & (sz - 1));
	EXPECT_EQ(self->base_granted + units, ctr("arenas_granted"));
	p[0] = 1;
	p[len - 1] = 2;
	EXPECT_EQ(0, p[len / 2]);
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
}

/* A grant of n arenas past a limit is refused whole, with its errno. */
TEST_F(grants, multi_refused_whole_process_limit)
{
	long long dq = ctr("denials_quota"), grants = ctr("grants");
	size_t sz = self->module;
	struct karena_info in;
	unsigned char *p, *q;

	ASSERT_EQ(0, set_param("max_arenas_per_process", 3));
	EXPECT_EQ(MAP_FAILED, grant(self->fd, 4 * sz, 0));
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(dq + 1, ctr("denials_quota"));
	EXPECT_EQ(grants, ctr("grants"));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(0, in.arenas_held);
	EXPECT_EQ(1, in.denials);

	p = grant(self->fd, 2 * sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* 2 held + 2 asked > 3: nothing of it is granted */
	EXPECT_EQ(MAP_FAILED, grant(self->fd, 2 * sz, 0));
	EXPECT_EQ(EDQUOT, errno);
	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(2, in.arenas_held);
	EXPECT_EQ(2, in.denials);
	/* exactly up to the limit is fine */
	q = grant(self->fd, sz, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(self->base_granted + 3, ctr("arenas_granted"));
	EXPECT_EQ(0, munmap(q, sz));
	EXPECT_EQ(0, munmap(p, 2 * sz));
	EXPECT_TRUE(check_invariant());
}

/*
 * With @limit at 3 arenas more than are granted now (every one of them
 * root's, like ours): 2 + 2 is refused whole with @err, counted once in
 * @counter, and 3 at once fit.
 */
static void refused_whole_at(struct __test_metadata *_metadata, int fd,
			     size_t sz, long long base, const char *limit,
			     int err, const char *counter)
{
	long long denials = ctr(counter);
	unsigned char *p;

	ASSERT_EQ(0, set_param(limit, base + 3));
	p = grant(fd, 2 * sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(MAP_FAILED, grant(fd, 2 * sz, 0));
	EXPECT_EQ(err, errno);
	EXPECT_EQ(denials + 1, ctr(counter));
	EXPECT_EQ(base + 2, ctr("arenas_granted"));
	EXPECT_EQ(0, munmap(p, 2 * sz));
	p = grant(fd, 3 * sz, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(base + 3, ctr("arenas_granted"));
	EXPECT_EQ(0, munmap(p, 3 * sz));
	EXPECT_TRUE(check_invariant());
}

TEST_F(grants, multi_refused_whole_uid_limit)
{
	refused_whole_at(_metadata, self->fd, self->module, self->base_granted,
			 "max_arenas_per_uid", EDQUOT, "denials_quota");
}

TEST_F(grants, multi_refused_whole_global_limit)
{
	refused_whole_at(_metadata, self->fd, self->module, self->base_granted,
			 "max_arenas", ENOMEM, "denials_nomem");
}

/* ---- pages handed back, fork ---- */

TEST_F(grants, multi_return_pages_across_arenas)
{
	size_t sz = self->module, pg = self->page, len = 3 * sz;
	struct karena_return_pages rp;
	unsigned char *p;

	p = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pages(p, len, pg, 3);

	/* the last two pages of arena 0 and the first two of arena 1 */
	memset(&rp, 0, sizeof(rp));
	rp.addr = (uintptr_t)(p + sz - 2 * pg);
	rp.len = 4 * pg;
	ASSERT_EQ(0, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(4, rp.returned);
	EXPECT_TRUE(all_bytes(p + sz - 2 * pg, 4 * pg, 0));
	EXPECT_TRUE(pages_filled(p, sz - 2 * pg, pg, 3));
	EXPECT_TRUE(pages_filled_from(p + sz + 2 * pg, sz / pg + 2,
				      len - sz - 2 * pg, pg, 3));

	/* the whole grant at once (reading the four refilled them) */
	rp.addr = (uintptr_t)p;
	rp.len = len;
	ASSERT_EQ(0, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(len / pg, rp.returned);
	ASSERT_EQ(0, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(0, rp.returned);
	EXPECT_TRUE(all_bytes(p, len, 0));

	/* one page past the grant */
	rp.addr = (uintptr_t)(p + len - pg);
	rp.len = 2 * pg;
	EXPECT_EQ(-1, ioctl(self->fd, KARENA_IOC_RETURN_PAGES, &rp));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, munmap(p, len));
}

/*
 * Fork with @p, a grant of @len bytes (@units module arenas): the child
 * sees its contents, holds @units arenas of its own (INFO) and writes
 * them; the parent's stay as they were; grants and releases (at the
 * child's exit) count @units, fork_copies every page the child wrote.
 */
static void fork_copy_check(struct __test_metadata *_metadata, int fd,
			    unsigned char *p, size_t len, size_t page,
			    long long units)
{
	long long copies = ctr("fork_copies"), grants = ctr("grants");
	long long releases = ctr("releases"), granted = ctr("arenas_granted");
	int status;
	pid_t pid;

	fill_pages(p, len, page, 11);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct karena_info in;

		if (!pages_filled(p, len, page, 11))
			_exit(1);
		if (get_info(fd, &in) || in.arenas_held != (__u64)units)
			_exit(2);
		fill_pages(p, len, page, 12);
		_exit(pages_filled(p, len, page, 12) ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* the child read every page (shared), then wrote it (a copy each) */
	EXPECT_EQ(copies + (long long)(len / page), ctr("fork_copies"));
	EXPECT_EQ(grants + units, ctr("grants"));
	EXPECT_EQ(releases + units, ctr("releases"));
	EXPECT_EQ(granted, ctr("arenas_granted"));
	/* the child's writes never reached the parent */
	EXPECT_TRUE(pages_filled(p, len, page, 11));
	EXPECT_TRUE(check_invariant());
}

TEST_F(grants, multi_fork_copy)
{
	size_t len = 3 * self->module;
	unsigned char *p;

	p = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	fork_copy_check(_metadata, self->fd, p, len, self->page, 3);
	EXPECT_EQ(0, munmap(p, len));
}

TEST_F(grants, multi_fork_copy_refused_whole)
{
	long long failures = ctr("fork_copy_failures");
	size_t sz = self->module, n = 3, len = n * sz;
	unsigned char *p;
	int status;
	pid_t pid;

	p = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	/* room for the parent's 3 and 2 more, not for a copy of 3 */
	ASSERT_EQ(0, set_param("max_arenas", self->base_granted + n + 2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* nothing of the copy was made: the first touch is SIGBUS */
		signal(SIGBUS, SIG_DFL);
		*(volatile unsigned char *)(p + len - 1) = 1;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	EXPECT_EQ(failures + n, ctr("fork_copy_failures"));
	EXPECT_EQ(self->base_granted + n, ctr("arenas_granted"));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/* ---- files with arenas of their own size ---- */

FIXTURE(filesize) {
	int fd;
	size_t module;
	size_t page;
	long long base_granted;
};

FIXTURE_VARIANT(filesize) {
	size_t size;
};

FIXTURE_VARIANT_ADD(filesize, kib64) {
	.size = 64 << 10,
};

FIXTURE_VARIANT_ADD(filesize, mib1) {
	.size = 1 << 20,
};

FIXTURE_VARIANT_ADD(filesize, mib4) {
	.size = 4 << 20,
};

FIXTURE_SETUP(filesize)
{
	struct karena_info in;

	OPEN_DEVICE_OR_SKIP(self->fd);
	ASSERT_EQ(0, get_info(self->fd, &in));
	self->module = in.module_arena_size;
	self->page = sysconf(_SC_PAGESIZE);
	self->base_granted = ctr("arenas_granted");
	ASSERT_EQ(0, set_size(self->fd, variant->size));
}

FIXTURE_TEARDOWN(filesize)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* Module arenas behind a grant of @len bytes. */
static long long units(size_t len, size_t module)
{
	return (len + module - 1) / module;
}

TEST_F(filesize, grant_counted_in_module_arenas)
{
	size_t sz = variant->size, len;
	long long grants = ctr("grants"), releases = ctr("releases");
	struct karena_info in;
	unsigned char *p;
	int n;

	ASSERT_EQ(0, get_info(self->fd, &in));
	EXPECT_EQ(sz, in.arena_size);
	EXPECT_EQ(self->module, in.module_arena_size);

	for (n = 1; n <= 3; n++) {
		len = n * sz;
		p = grant(self->fd, len, n == 2 ? MAP_POPULATE : 0);
		ASSERT_NE(MAP_FAILED, p) TH_LOG("%d arenas of %zu", n, sz);
		EXPECT_EQ(0, (uintptr_t)p & (sz - 1));
		EXPECT_EQ(self->base_granted + units(len, self->module),
			  ctr("arenas_granted"));
		EXPECT_EQ(grants + units(len, self->module), ctr("grants"));
		ASSERT_EQ(0, get_info(self->fd, &in));
		EXPECT_EQ(units(len, self->module), in.arenas_held);
		EXPECT_TRUE(all_bytes(p, len, 0));
		fill_pages(p, len, self->page, n);
		EXPECT_TRUE(pages_filled(p, len, self->page, n));
		ASSERT_EQ(0, munmap(p, len));
		EXPECT_EQ(releases + units(len, self->module), ctr("releases"));
		EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
		grants = ctr("grants");
		releases = ctr("releases");
		EXPECT_TRUE(check_invariant());
	}
	/* the size stays */
	EXPECT_EQ(-1, set_size(self->fd, sz == (1 << 20) ? 2 << 20 : 1 << 20));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(filesize, lengths_of_other_sizes_refused)
{
	size_t sz = variant->size;

	/* the module's arena is a length of this file only if it fits */
	if (self->module % sz) {
		EXPECT_EQ(MAP_FAILED, grant(self->fd, self->module, 0));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz + self->page, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, grant(self->fd, sz / 2, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED,
		  grant(self->fd, (size_t)(KARENA_GRANT_MAX_ARENAS + 1) * sz, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(filesize, fork_copy_and_reuse_zero)
{
	size_t sz = variant->size, len = 2 * sz;
	unsigned char *p;

	p = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, p);
	fork_copy_check(_metadata, self->fd, p, len, self->page,
			units(len, self->module));
	ASSERT_EQ(0, munmap(p, len));

	/* again, with MAP_POPULATE: every page of the grant is zero */
	p = grant(self->fd, len, MAP_POPULATE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all_bytes(p, len, 0));
	ASSERT_EQ(0, munmap(p, len));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
}

TEST_HARNESS_MAIN
