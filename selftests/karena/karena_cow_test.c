// SPDX-License-Identifier: GPL-2.0
/*
 * karena_cow_test - kselftests for copy on write of a fork child's arenas.
 *
 * A fork child's arenas share the parent's pages until either side
 * writes; the writer gets a private copy (counted in fork_copies), unless
 * no one else holds the page any more. What is checked: a child that only
 * reads copies nothing and takes little memory (MemAvailable, counters);
 * each side's writes stay its own, with one copy per page written while
 * shared and none after the other side let go; three sharers (a fork of a
 * fork); KARENA_IOC_RETURN_PAGES on shared pages, by either side; both
 * exit orders, with the first one's arenas scrubbed before the other reads
 * (a shared page is never zeroed under its other user); the accounting
 * of pages that a pipe still holds (orphans, orphaned_pages) with shared
 * pages: a grant released while a child shares its pages is no orphan,
 * the last slot to hold a spliced page accounts it, whatever the order
 * and even when both sides let go at once; processes writing, handing back
 * and reading shared pages all at once, a fork of a fork among them; a
 * grant never forked keeps writable PTEs (MAP_POPULATE saves every
 * first-write fault), a forked one faults on each first write; a write
 * while another thread keeps reading the same shared page gets its copy.
 * Arenas shared whole (arenas_shared): a child that only reads allocates
 * no arena; the first write of a side takes it an arena of its own, and
 * the others keep sharing (two children and a writing parent; a
 * KARENA_IOC_RETURN_PAGES in a child); a fork of a fork whose middle
 * process exits first; both exit orders with pages spliced by each side;
 * an arena with pages pinned for DMA (an AF_XDP umem) is the child's own
 * from the fork, its pinned pages copied.
 *
 * Needs root (limits are saved and restored, reserve counters read) and
 * the module loaded; otherwise SKIP.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_xdp.h>
#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

/* A grant of @len bytes, each of them @c; MAP_FAILED if refused. */
static unsigned char *grant_filled(int fd, size_t len, unsigned char c)
{
	unsigned char *p = grant(fd, len, 0);

	if (p != MAP_FAILED)
		memset(p, c, len);
	return p;
}

/* Give page 0 of @p to a new pipe @pipefd (vmsplice takes a reference). */
static int splice_page(int pipefd[2], unsigned char *p, size_t pg)
{
	struct iovec iov = { p, pg };

	if (pipe(pipefd))
		return -1;
	return vmsplice(pipefd[1], &iov, 1, 0) == (ssize_t)pg ? 0 : -1;
}

/*
 * A grant of @len bytes, each of them @c, at *@p; with @pipefd, its page 0
 * given to a new pipe; then fork. fork()'s value, or -1 if a step failed.
 */
static pid_t filled_fork(int fd, size_t len, unsigned char c,
			 unsigned char **p, int pipefd[2])
{
	*p = grant_filled(fd, len, c);
	if (*p == MAP_FAILED)
		return -1;
	if (pipefd && splice_page(pipefd, *p, sysconf(_SC_PAGESIZE)))
		return -1;
	return fork();
}

/* One byte over a pipe: a step of the other side is done. */
static int signal_step(int fd)
{
	return write(fd, "s", 1) == 1 ? 0 : -1;
}

static int wait_step(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

FIXTURE(cow) {
	int fd;
	size_t size;		/* the module's arena size */
	size_t page;
	long long base_granted;
	long long saved[NR_LIMITS];
	int up[2], down[2];	/* child -> parent, parent -> child */
};

FIXTURE_SETUP(cow)
{
	OPEN_DEVICE_OR_SKIP(self->fd);
	if (geteuid() != 0)
		SETUP_SKIP("needs root to read and restore the module's limits");
	self->size = ctr("arena_size");
	self->page = sysconf(_SC_PAGESIZE);
	save_limits(self->saved);
	self->base_granted = ctr("arenas_granted");
	ASSERT_EQ(0, pipe(self->up));
	ASSERT_EQ(0, pipe(self->down));
}

FIXTURE_TEARDOWN(cow)
{
	restore_limits(self->saved);
	if (self->fd >= 0)
		close(self->fd);
}

/* Wait for @pid and say whether it exited with 0. */
static int child_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

/*
 * A child that reads every byte of 32 MiB of arenas copies nothing, and
 * what it takes from the system is page tables and bookkeeping, not the
 * heap: less than a quarter of it (about 1% in fact).
 */
TEST_F_TIMEOUT(cow, reads_share, 60)
{
	size_t len = 32 << 20, i;
	long long copies, avail;
	unsigned long sum = 0;
	unsigned char *p;
	pid_t pid;

	if (len / self->size > KARENA_GRANT_MAX_ARENAS)
		SKIP(return, "arenas too small for one 32 MiB grant");
	p = grant_filled(self->fd, len, 'r');
	ASSERT_NE(MAP_FAILED, p);
	/* the worker's refill of the reserve must not count as the child's */
	ASSERT_EQ(0, wait_ctr("arenas_free", param("reserve_arenas"), 5000));
	ASSERT_EQ(0, wait_scrubbed());
	copies = ctr("fork_copies");
	avail = meminfo("MemAvailable");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < len; i += self->page)
			sum += p[i] + p[i + self->page - 1];
		if (sum != (unsigned long)'r' * 2 * (len / self->page))
			_exit(1);
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(2);
		_exit(all_bytes(p, len, 'r') ? 0 : 3);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	TH_LOG("MemAvailable %lld KiB less with the reading child",
	       avail - meminfo("MemAvailable"));
	EXPECT_LT(avail - meminfo("MemAvailable"), (long long)(len >> 10) / 4);
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_EQ(self->base_granted + 2 * len / self->size,
		  ctr("arenas_granted"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_TRUE(all_bytes(p, len, 'r'));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/*
 * Each side writes one half while the other still holds it: one copy per
 * page written, and neither sees the other's writes. Once the child is
 * gone (and its arena scrubbed), the parent's writes copy nothing.
 */
TEST_F(cow, writes_private)
{
	size_t sz = self->size, half = sz / 2, npg = sz / self->page;
	long long copies = ctr("fork_copies");
	unsigned char *p;
	pid_t pid;

	pid = filled_fork(self->fd, sz, 'o', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memset(p, 'c', half);
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(1);
		_exit(all_bytes(p, half, 'c') && all_bytes(p + half, half, 'o') ?
		      0 : 2);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_TRUE(all_bytes(p, sz, 'o'));
	memset(p + half, 'p', half);
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_TRUE(all_bytes(p, half, 'o'));
	EXPECT_TRUE(all_bytes(p + half, half, 'p'));

	/* the child's half is ours alone now: written in place */
	ASSERT_EQ(0, wait_scrubbed());
	memset(p, 'q', half);
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	EXPECT_TRUE(all_bytes(p, half, 'q'));
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_TRUE(check_invariant());
}

/* write_while_read's grant, its size and page, and its readers' state. */
static struct {
	unsigned char *p;
	size_t size, page;
	atomic_int spinning, done;
} wwr;

/* A reader: reads every page of the grant, over and over, until done. */
static void *read_pages(void *arg)
{
	size_t i;

	while (!atomic_load(&wwr.done)) {
		for (i = 0; i < wwr.size; i += wwr.page)
			(void)*(volatile unsigned char *)(wwr.p + i);
		atomic_fetch_add(&wwr.spinning, 1);
	}
	return NULL;
}

#define WWR_READERS	3

/*
 * One read-modify-write instruction. Where it faults as a read and then
 * as a write (QEMU TCG does), its read maps the shared page again after
 * every retry of its write.
 */
static void add_one(unsigned char *b)
{
#if defined(__x86_64__) || defined(__i386__)
	asm volatile("addb $1, %0" : "+m" (*b));
#else
	__atomic_fetch_add(b, 1, __ATOMIC_RELAXED);
#endif
}

/*
 * In the child, threads keep reading every page of a shared grant while
 * another adds one to a byte of each page with one instruction. A read
 * fault (a reader's, or the instruction's own read) maps the shared page
 * again; each write must get its copy all the same (a write once zapped
 * its PTE and retried, and the read that mapped the shared page back in
 * between made it retry again, forever).
 */
TEST_F(cow, write_while_read)
{
	long long copies = ctr("fork_copies");
	size_t npg = self->size / self->page, i;
	pthread_t reader[WWR_READERS];
	unsigned char *p;
	pid_t pid;
	int t;

	pid = filled_fork(self->fd, self->size, 'r', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		wwr.p = p;
		wwr.size = self->size;
		wwr.page = self->page;
		for (t = 0; t < WWR_READERS; t++)
			if (pthread_create(&reader[t], NULL, read_pages, NULL))
				_exit(1);
		while (atomic_load(&wwr.spinning) < WWR_READERS)
			;
		for (i = 0; i < self->size; i += self->page)
			add_one(p + i);
		atomic_store(&wwr.done, 1);
		for (t = 0; t < WWR_READERS; t++)
			pthread_join(reader[t], NULL);
		_exit(p[0] == 's' && p[self->size - self->page] == 's' ? 0 : 2);
	}
	EXPECT_TRUE(child_ok(pid));
	EXPECT_TRUE(all_bytes(p, self->size, 'r'));
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	EXPECT_EQ(0, munmap(p, self->size));
	EXPECT_TRUE(check_invariant());
}

/*
 * A fork of a fork: three arenas share page 0. The grandchild writes it
 * (a copy), then the child (a copy), then the parent, who holds the only
 * reference left and writes in place. The other pages stay shared by all
 * three and read the same everywhere.
 */
TEST_F(cow, fork_of_fork)
{
	size_t sz = self->size, pg = self->page;
	long long copies = ctr("fork_copies");
	int up2[2], down2[2];
	unsigned char *p;
	pid_t pid;

	ASSERT_EQ(0, pipe(up2));
	ASSERT_EQ(0, pipe(down2));
	pid = filled_fork(self->fd, sz, 'f', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pid_t gpid = fork();

		if (gpid < 0)
			_exit(1);
		if (gpid == 0) {
			memset(p, 'g', pg);
			if (signal_step(up2[1]) || wait_step(down2[0]))
				_exit(1);
			_exit(all_bytes(p, pg, 'g') &&
			      all_bytes(p + pg, sz - pg, 'f') ? 0 : 2);
		}
		if (wait_step(up2[0]) || !all_bytes(p, sz, 'f'))
			_exit(3);
		memset(p, 'c', pg);
		if (signal_step(self->up[1]) || wait_step(self->down[0]) ||
		    signal_step(down2[1]) || !child_ok(gpid))
			_exit(4);
		_exit(all_bytes(p, pg, 'c') &&
		      all_bytes(p + pg, sz - pg, 'f') ? 0 : 5);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_TRUE(all_bytes(p, sz, 'f'));
	EXPECT_EQ(copies + 2, ctr("fork_copies"));
	memset(p, 'p', pg);
	EXPECT_EQ(copies + 2, ctr("fork_copies"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_TRUE(all_bytes(p, pg, 'p'));
	EXPECT_TRUE(all_bytes(p + pg, sz - pg, 'f'));
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_TRUE(check_invariant());
}

/*
 * KARENA_IOC_RETURN_PAGES on shared pages hands back only the caller's
 * slots: the child returns the first half, the parent the second, and
 * each still reads the other half as it was. Pages written afterwards are
 * nobody else's: no copy is made.
 */
TEST_F(cow, return_pages_shared)
{
	size_t sz = self->size, half = sz / 2;
	long long copies = ctr("fork_copies");
	long long returned = ctr("pages_returned");
	unsigned char *p;
	pid_t pid;

	pid = filled_fork(self->fd, sz, 'd', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (return_pages(self->fd, p, half, NULL) ||
		    !all_bytes(p, half, 0) || !all_bytes(p + half, half, 'd'))
			_exit(1);
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(2);
		/* the parent returned its second half: ours is intact */
		if (!all_bytes(p, half, 0) || !all_bytes(p + half, half, 'd'))
			_exit(3);
		memset(p, 'C', sz);
		_exit(all_bytes(p, sz, 'C') ? 0 : 4);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_TRUE(all_bytes(p, sz, 'd'));
	ASSERT_EQ(0, return_pages(self->fd, p + half, half, NULL));
	EXPECT_TRUE(all_bytes(p, half, 'd'));
	EXPECT_TRUE(all_bytes(p + half, half, 0));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(returned + (long long)(sz / self->page),
		  ctr("pages_returned"));
	/* the child wrote its pages after we let go of them: no copies */
	EXPECT_EQ(copies, ctr("fork_copies"));
	memset(p, 'P', sz);
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_TRUE(all_bytes(p, sz, 'P'));
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_TRUE(check_invariant());
}

/* ---- arenas shared whole since a fork (arenas_shared) ---- */

/* Are the first @at of @len bytes at @p all @a, and the rest all @b? */
static int split_reads(const unsigned char *p, size_t at, size_t len,
		       unsigned char a, unsigned char b)
{
	return all_bytes(p, at, a) && all_bytes(p + at, len - at, b);
}

/*
 * A child that only reads keeps the parent's arenas themselves: no arena
 * is allocated for it (arenas_shared counts its four, and arenas_reserved
 * = free + granted with nothing waiting: the module holds no arena beyond
 * those), no page is copied. Its first write takes one arena of its own
 * (one page copied); its exit lets go of the other three. The parent then
 * writes everything in place.
 */
TEST_F(cow, reader_keeps_arenas_shared)
{
	size_t len = 4 * self->size;
	long long shared = ctr("arenas_shared");
	long long copies = ctr("fork_copies");
	unsigned char *p;
	pid_t pid;

	pid = filled_fork(self->fd, len, 'r', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (!all_bytes(p, len, 'r') || signal_step(self->up[1]) ||
		    wait_step(self->down[0]))
			_exit(1);
		p[0] = 'w';
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(2);
		_exit(split_reads(p, 1, len, 'w', 'r') ? 0 : 3);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_EQ(shared + 4, ctr("arenas_shared"));
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_EQ(self->base_granted + 8, ctr("arenas_granted"));
	EXPECT_EQ(0, wait_scrubbed());

	ASSERT_EQ(0, signal_step(self->down[1]));
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_EQ(shared + 3, ctr("arenas_shared"));
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	EXPECT_TRUE(all_bytes(p, len, 'r'));

	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(shared, ctr("arenas_shared"));
	memset(p, 'p', len);
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	EXPECT_TRUE(all_bytes(p, len, 'p'));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/* Child @i of parent_writes_children_share, on its own pair of pipes. */
static void sharing_child(unsigned char *p, size_t len, int i, int up,
			  int down)
{
	int ok;

	if (!all_bytes(p, len, 'a') || signal_step(up) || wait_step(down))
		_exit(1);
	/* the parent wrote its first arena: ours reads as at fork */
	if (!all_bytes(p, len, 'a'))
		_exit(2);
	if (i == 0)
		p[0] = 'c';
	if (signal_step(up) || wait_step(down))
		_exit(3);
	if (i == 0)
		ok = split_reads(p, 1, len, 'c', 'a');
	else
		ok = all_bytes(p, len, 'a');
	_exit(ok ? 0 : 4);
}

/*
 * Two children share the parent's two arenas (three grants each). The
 * parent's write of its first arena gives it an arena of its own, every
 * page of it copied, and leaves the children sharing theirs, which still
 * reads as at fork. A write of the first child then gives it an arena of
 * its own (one page copied), and the second child still reads the old
 * data.
 */
TEST_F(cow, parent_writes_children_share)
{
	size_t sz = self->size, len = 2 * sz, npg = sz / self->page;
	long long shared = ctr("arenas_shared");
	long long copies = ctr("fork_copies");
	int up[2][2], down[2][2], i;
	unsigned char *p;
	pid_t pids[2];

	p = grant_filled(self->fd, len, 'a');
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pipe(up[i]));
		ASSERT_EQ(0, pipe(down[i]));
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			sharing_child(p, len, i, up[i][1], down[i][0]);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, wait_step(up[i][0]));
	EXPECT_EQ(shared + 4, ctr("arenas_shared"));
	EXPECT_EQ(copies, ctr("fork_copies"));

	memset(p, 'P', sz);
	EXPECT_EQ(shared + 3, ctr("arenas_shared"));
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	EXPECT_TRUE(split_reads(p, sz, len, 'P', 'a'));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, signal_step(down[i][1]));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, wait_step(up[i][0]));
	EXPECT_EQ(shared + 2, ctr("arenas_shared"));
	EXPECT_EQ(copies + (long long)npg + 1, ctr("fork_copies"));

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, signal_step(down[i][1]));
		EXPECT_TRUE(child_ok(pids[i])) TH_LOG("child %d", i);
	}
	EXPECT_EQ(shared, ctr("arenas_shared"));
	EXPECT_TRUE(split_reads(p, sz, len, 'P', 'a'));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/*
 * KARENA_IOC_RETURN_PAGES of a whole arena in a child that shares it:
 * the child takes an arena of its own and hands every page back (its
 * slots only); its other arena stays shared. The parent reads everything
 * as before and, the child's slots gone, writes in place.
 */
TEST_F(cow, return_pages_child_shares)
{
	size_t sz = self->size, len = 2 * sz, npg = sz / self->page;
	long long shared = ctr("arenas_shared");
	long long copies = ctr("fork_copies");
	long long returned = ctr("pages_returned");
	unsigned char *p;
	pid_t pid;

	pid = filled_fork(self->fd, len, 'd', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (return_pages(self->fd, p, sz, NULL))
			_exit(1);
		if (!split_reads(p, sz, len, 0, 'd') ||
		    signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_EQ(shared + 1, ctr("arenas_shared"));
	EXPECT_EQ(returned + (long long)npg, ctr("pages_returned"));
	EXPECT_TRUE(all_bytes(p, len, 'd'));
	memset(p, 'P', sz);
	EXPECT_EQ(copies, ctr("fork_copies"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(shared, ctr("arenas_shared"));
	EXPECT_TRUE(split_reads(p, sz, len, 'P', 'd'));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/*
 * A fork of a fork whose middle process exits first: the parent and the
 * grandchild hold both arenas. The parent's write takes an arena of its
 * own (one page copied); the grandchild, which then holds the first arena
 * alone, reads what was there at fork and writes in place.
 */
TEST_F(cow, fork_of_fork_middle_exits)
{
	size_t len = 2 * self->size, pg = self->page;
	long long shared = ctr("arenas_shared");
	long long copies = ctr("fork_copies");
	unsigned char *p;
	pid_t mid;
	char res;

	mid = filled_fork(self->fd, len, 'f', &p, NULL);
	ASSERT_LE(0, mid);
	if (mid == 0) {
		pid_t pid = fork();

		if (pid < 0)
			_exit(1);
		if (pid == 0) {
			if (wait_step(self->down[0]))
				_exit(2);
			res = all_bytes(p, len, 'f') ? 'r' : 'R';
			memset(p, 'g', pg);
			if (res == 'r' && split_reads(p, pg, len, 'g', 'f'))
				res = 'w';
			_exit(write(self->up[1], &res, 1) == 1 ? 0 : 3);
		}
		_exit(0);
	}
	EXPECT_TRUE(child_ok(mid));
	EXPECT_EQ(shared + 2, ctr("arenas_shared"));
	EXPECT_EQ(self->base_granted + 4, ctr("arenas_granted"));
	memset(p, 'p', pg);
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	EXPECT_EQ(shared + 1, ctr("arenas_shared"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	ASSERT_EQ(1, read(self->up[0], &res, 1));
	EXPECT_EQ('w', res);
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted + 2, 5000));
	EXPECT_EQ(shared, ctr("arenas_shared"));
	EXPECT_TRUE(split_reads(p, pg, len, 'p', 'f'));
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_TRUE(check_invariant());
}

/*
 * Pin @len bytes at @p for DMA as a device would, for as long as the
 * returned socket is open: an AF_XDP umem (pin_user_pages() with
 * FOLL_LONGTERM | FOLL_WRITE, which a grant never forked allows). -1 with
 * errno EAFNOSUPPORT when the kernel has no AF_XDP sockets.
 */
static int pin_for_dma(void *p, size_t len, size_t pg)
{
	struct xdp_umem_reg reg = {
		.addr = (uintptr_t)p, .len = len, .chunk_size = pg,
	};
	int xsk = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (xsk < 0)
		return -1;
	if (setsockopt(xsk, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) {
		close(xsk);
		return -2;
	}
	return xsk;
}

/*
 * A page pinned for DMA at fork is copied for the child, as anonymous
 * memory does, so that a write through the pin stays the parent's: the
 * parent's first arena, pinned whole, is the child's own at fork (every
 * page copied, not shared); its second arena is shared as any other. The
 * parent then writes its pinned arena in place and copies the shared one.
 */
TEST_F(cow, pinned_copied_at_fork)
{
	size_t sz = self->size, len = 2 * sz, npg = sz / self->page;
	long long shared = ctr("arenas_shared");
	long long copies;
	unsigned char *p;
	int xsk;
	pid_t pid;

	p = grant_filled(self->fd, len, 'x');
	ASSERT_NE(MAP_FAILED, p);
	xsk = pin_for_dma(p, sz, self->page);
	if (xsk == -1 && errno == EAFNOSUPPORT)
		SKIP(goto out, "no AF_XDP sockets (CONFIG_XDP_SOCKETS) to pin pages with");
	ASSERT_LE(0, xsk) TH_LOG("AF_XDP umem: %s", strerror(errno));
	copies = ctr("fork_copies");

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(1);
		_exit(all_bytes(p, len, 'x') ? 0 : 2);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	EXPECT_EQ(shared + 1, ctr("arenas_shared"));
	memset(p, 'P', sz);
	EXPECT_EQ(copies + (long long)npg, ctr("fork_copies"));
	memset(p + sz, 'P', sz);
	EXPECT_EQ(copies + 2 * (long long)npg, ctr("fork_copies"));
	EXPECT_EQ(shared, ctr("arenas_shared"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_TRUE(all_bytes(p, len, 'P'));
	close(xsk);
out:
	EXPECT_EQ(0, munmap(p, len));
	/* the umem may let go of its pins after the close: an orphan till then */
	EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted, 5000));
	EXPECT_TRUE(check_invariant());
}

/*
 * The parent goes first: a middle process grants, fills, forks and exits;
 * once its arena is scrubbed, the grandchild still reads what it shared
 * (the scrub replaced the shared page, never zeroed it), then writes it in
 * place (its reference is the only one). The child going first is in
 * writes_private.
 */
TEST_F(cow, parent_exits_first)
{
	size_t sz = self->size;
	long long copies = ctr("fork_copies");
	unsigned char *p;
	pid_t mid;
	char res;

	mid = fork();
	ASSERT_LE(0, mid);
	if (mid == 0) {
		pid_t pid;

		p = grant_filled(self->fd, sz, 'm');
		if (p == MAP_FAILED)
			_exit(1);
		pid = fork();
		if (pid < 0)
			_exit(2);
		if (pid == 0) {
			/* wait for the test to see our parent's arena scrubbed */
			if (wait_step(self->down[0]))
				_exit(3);
			res = all_bytes(p, sz, 'm') ? 'r' : 'R';
			memset(p, 'g', sz);
			if (res == 'r' && all_bytes(p, sz, 'g'))
				res = 'w';
			_exit(write(self->up[1], &res, 1) == 1 ? 0 : 4);
		}
		_exit(0);
	}
	EXPECT_TRUE(child_ok(mid));
	EXPECT_EQ(0, wait_scrubbed());
	EXPECT_EQ(self->base_granted + 1, ctr("arenas_granted"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	ASSERT_EQ(1, read(self->up[0], &res, 1));
	EXPECT_EQ('w', res);
	/* its pages were its own once the parent's arena was scrubbed */
	EXPECT_EQ(copies, ctr("fork_copies"));
	EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted, 5000));
	EXPECT_TRUE(check_invariant());
}

/*
 * A grant released while a fork child still shares its pages is released
 * at once: the pages the child holds are the child's to account, not a
 * pin that would make the parent's grant an orphan. The child reads them
 * intact, and its exit gives its arenas back.
 */
TEST_F(cow, release_shared_not_orphan)
{
	size_t len = 4 * self->size;
	long long orphaned = ctr("orphaned_pages");
	long long releases;
	unsigned char *p;
	pid_t pid;

	pid = filled_fork(self->fd, len, 's', &p, NULL);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(1);
		_exit(all_bytes(p, len, 's') ? 0 : 2);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	releases = ctr("releases");
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(releases + 4, ctr("releases"));
	EXPECT_EQ(orphaned, ctr("orphaned_pages"));
	EXPECT_EQ(self->base_granted + 4, ctr("arenas_granted"));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_EQ(orphaned, ctr("orphaned_pages"));
	EXPECT_TRUE(check_invariant());
}

/* Read a page from @fd into @buf: is every byte of it @c? */
static int pipe_reads(int fd, unsigned char *buf, size_t pg, unsigned char c)
{
	return read(fd, buf, pg) == (ssize_t)pg && all_bytes(buf, pg, c);
}

/*
 * A page spliced into a pipe before the fork: the child writes it (a
 * copy, the page still being the parent's too), so the parent's slot is
 * the last to hold it: the parent's munmap makes its grant an orphan,
 * still granted and counted, until the pipe lets go. The pipe reads what
 * the page held: nobody wrote it while it was shared.
 */
TEST_F(cow, vmsplice_writer_leaves)
{
	size_t sz = self->size, pg = self->page;
	long long copies = ctr("fork_copies");
	long long orphaned = ctr("orphaned_pages");
	unsigned char *p, *buf;
	int pipefd[2];
	pid_t pid;

	buf = malloc(pg);
	ASSERT_NE(NULL, buf);
	pid = filled_fork(self->fd, sz, 'v', &p, pipefd);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memset(p, 'c', pg);
		if (signal_step(self->up[1]) || wait_step(self->down[0]))
			_exit(1);
		_exit(all_bytes(p, pg, 'c') ? 0 : 2);
	}
	ASSERT_EQ(0, wait_step(self->up[0]));
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_EQ(orphaned + 1, ctr("orphaned_pages"));
	EXPECT_EQ(self->base_granted + 2, ctr("arenas_granted"));
	EXPECT_TRUE(pipe_reads(pipefd[0], buf, pg, 'v'));
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, wait_ctr("orphaned_pages", orphaned, 5000));
	EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted + 1, 5000));
	ASSERT_EQ(0, signal_step(self->down[1]));
	EXPECT_TRUE(child_ok(pid));
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	free(buf);
}

/*
 * The same page, but the parent lets go first without writing: its grant
 * is released at once (the child still holds the page), and the child's
 * exit makes the child's grant the orphan. Then the other way round: a
 * page that only the child's slot holds is written in place, as in a
 * grant never forked, so the pipe reads the child's write.
 */
TEST_F(cow, vmsplice_last_holder_accounts)
{
	size_t sz = self->size, pg = self->page;
	long long copies = ctr("fork_copies");
	long long orphaned = ctr("orphaned_pages");
	unsigned char *p, *buf;
	int pipefd[2], round;
	pid_t pid;

	buf = malloc(pg);
	ASSERT_NE(NULL, buf);
	for (round = 0; round < 2; round++) {
		pid = filled_fork(self->fd, sz, 'v', &p, pipefd);
		ASSERT_LE(0, pid);
		if (pid == 0) {
			if (signal_step(self->up[1]) ||
			    wait_step(self->down[0]))
				_exit(1);
			if (round)
				memset(p, 'w', pg);
			_exit(all_bytes(p, pg, round ? 'w' : 'v') ? 0 : 2);
		}
		ASSERT_EQ(0, wait_step(self->up[0]));
		EXPECT_EQ(0, munmap(p, sz));
		EXPECT_EQ(orphaned, ctr("orphaned_pages"));
		EXPECT_EQ(self->base_granted + 1, ctr("arenas_granted"));
		ASSERT_EQ(0, signal_step(self->down[1]));
		EXPECT_TRUE(child_ok(pid));
		/* its write found the page its own: no copy */
		EXPECT_EQ(copies, ctr("fork_copies"));
		EXPECT_EQ(orphaned + 1, ctr("orphaned_pages"));
		EXPECT_EQ(self->base_granted + 1, ctr("arenas_granted"));
		EXPECT_TRUE(pipe_reads(pipefd[0], buf, pg, round ? 'w' : 'v'));
		close(pipefd[0]);
		close(pipefd[1]);
		EXPECT_EQ(0, wait_ctr("orphaned_pages", orphaned, 5000));
		EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted,
				      5000));
	}
	EXPECT_TRUE(check_invariant());
	free(buf);
}

#define RACE_ROUNDS	40

/*
 * Both sides let go of a spliced, shared page at once, round after round:
 * the child exits while the parent unmaps. Whichever goes last, exactly
 * one grant is left holding the page, orphaned with it, never none (the
 * page would live on in nobody's count) and never both.
 */
TEST_F_TIMEOUT(cow, vmsplice_both_release, 120)
{
	size_t sz = self->size;
	long long orphaned = ctr("orphaned_pages");
	int pipefd[2], round, both = 0;
	unsigned char *p;
	pid_t pid;

	for (round = 0; round < RACE_ROUNDS; round++) {
		pid = filled_fork(self->fd, sz, 'b', &p, pipefd);
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(wait_step(self->down[0]) ? 1 : 0);
		ASSERT_EQ(0, signal_step(self->down[1]));
		EXPECT_EQ(0, munmap(p, sz));
		EXPECT_TRUE(child_ok(pid));
		if (ctr("orphaned_pages") != orphaned + 1 ||
		    ctr("arenas_granted") != self->base_granted + 1)
			both++;
		close(pipefd[0]);
		close(pipefd[1]);
		ASSERT_EQ(0, wait_ctr("orphaned_pages", orphaned, 5000));
		ASSERT_EQ(0, wait_ctr("arenas_granted", self->base_granted,
				      5000));
	}
	EXPECT_EQ(0, both);
	EXPECT_TRUE(check_invariant());
}

/*
 * The process that grants and forks (run here by a middle process, so
 * that either side can go first) splices page 0 of the arena it shares
 * with its child into @pa, the child page 1 into @pb; each says so on
 * @up, then waits: the parent on @down_parent, the child on @down_child.
 */
static void splicing_parent(int fd, size_t sz, size_t pg, int pa, int pb,
			    int up, int down_parent, int down_child)
{
	struct iovec iov;
	unsigned char *p;
	pid_t pid;

	p = grant(fd, sz, 0);
	if (p == MAP_FAILED)
		_exit(1);
	memset(p, 'a', pg);
	memset(p + pg, 'b', sz - pg);
	pid = fork();
	if (pid < 0)
		_exit(2);
	iov.iov_base = pid ? p : p + pg;
	iov.iov_len = pg;
	if (vmsplice(pid ? pa : pb, &iov, 1, 0) != (ssize_t)pg)
		_exit(3);
	if (signal_step(up) || wait_step(pid ? down_parent : down_child))
		_exit(4);
	_exit(0);
}

/*
 * Both exit orders of a parent and a child that share an arena and have
 * each spliced one of its pages into a pipe (the splices read the shared
 * arena, which stays shared): the first to go lets go of the arena and is
 * released at once; the last is the orphan, with both spliced pages, until
 * the pipes let go. The pipes read what the pages held.
 */
TEST_F_TIMEOUT(cow, vmsplice_shared_exit_orders, 60)
{
	size_t sz = self->size, pg = self->page;
	long long orphaned = ctr("orphaned_pages");
	long long shared = ctr("arenas_shared");
	long long base = self->base_granted;
	int pa[2], pb[2], down_child[2], round;
	unsigned char *buf;
	pid_t mid;

	buf = malloc(pg);
	ASSERT_NE(NULL, buf);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, pipe(pa));
		ASSERT_EQ(0, pipe(pb));
		ASSERT_EQ(0, pipe(down_child));
		mid = fork();
		ASSERT_LE(0, mid);
		if (mid == 0)
			splicing_parent(self->fd, sz, pg, pa[1], pb[1],
					self->up[1], self->down[0],
					down_child[0]);
		ASSERT_EQ(0, wait_step(self->up[0]));
		ASSERT_EQ(0, wait_step(self->up[0]));
		EXPECT_EQ(shared + 1, ctr("arenas_shared"));
		EXPECT_EQ(base + 2, ctr("arenas_granted"));
		if (round == 0) {
			ASSERT_EQ(0, signal_step(self->down[1]));
			EXPECT_TRUE(child_ok(mid));
		} else {
			ASSERT_EQ(0, signal_step(down_child[1]));
			EXPECT_EQ(0, wait_ctr("arenas_granted", base + 1, 5000));
		}
		EXPECT_EQ(shared, ctr("arenas_shared"));
		EXPECT_EQ(orphaned, ctr("orphaned_pages"));
		EXPECT_EQ(base + 1, ctr("arenas_granted"));
		if (round == 0) {
			ASSERT_EQ(0, signal_step(down_child[1]));
		} else {
			ASSERT_EQ(0, signal_step(self->down[1]));
			EXPECT_TRUE(child_ok(mid));
		}
		EXPECT_EQ(0, wait_ctr("orphaned_pages", orphaned + 2, 5000))
			TH_LOG("round %d", round);
		EXPECT_EQ(base + 1, ctr("arenas_granted"));
		EXPECT_TRUE(pipe_reads(pa[0], buf, pg, 'a'));
		EXPECT_TRUE(pipe_reads(pb[0], buf, pg, 'b'));
		close(pa[0]);
		close(pa[1]);
		close(pb[0]);
		close(pb[1]);
		close(down_child[0]);
		close(down_child[1]);
		EXPECT_EQ(0, wait_ctr("orphaned_pages", orphaned, 5000));
		EXPECT_EQ(0, wait_ctr("arenas_granted", base, 5000));
	}
	EXPECT_TRUE(check_invariant());
	free(buf);
}

#define STORM_PROCS	4	/* the parent and three children */
#define STORM_ROUNDS	200
#define STORM_PAGES	256	/* at most, of one arena */

/*
 * What one process of cow_storm does to the shared grant @p of @npg pages
 * (@pg bytes each), in which it expects page i to hold @want[i] bytes:
 * rounds of writing its own byte @me to a page, handing a page back, or
 * checking every page against @want, which it keeps up to date. Returns
 * 0, or the round + 1 at which something went wrong.
 */
static int storm_side(int fd, unsigned char *p, size_t npg, size_t pg,
		      unsigned char me, unsigned char *want, unsigned int seed)
{
	size_t i, k;
	int r;

	for (r = 0; r <= STORM_ROUNDS; r++) {
		seed = seed * 1103515245 + 12345;
		i = (seed >> 8) % npg;
		switch (r == STORM_ROUNDS ? 3 : (seed >> 4) % 4) {
		case 0:
		case 1:
			memset(p + i * pg, me, pg);
			want[i] = me;
			break;
		case 2:
			if (return_pages(fd, p + i * pg, pg, NULL))
				return r + 1;
			want[i] = 0;
			break;
		default:
			for (k = 0; k < npg; k++)
				if (!all_bytes(p + k * pg, pg, want[k]))
					return r + 1;
		}
	}
	return 0;
}

/*
 * Child @i of cow_storm: its rounds, and child 1 then writes page 0 and
 * forks a grandchild that storms on from there while the child goes on
 * too (a fork of a fork, with both sides writing). Exits with 0, or what
 * went wrong.
 */
static void storm_child(int fd, unsigned char *p, size_t npg, size_t pg,
			int i, int go)
{
	unsigned char want[STORM_PAGES];
	pid_t g;
	int r;

	memset(want, 'o', npg);
	if (wait_step(go))
		_exit(100);
	r = storm_side(fd, p, npg, pg, 'a' + i, want, i);
	if (r || i != 1)
		_exit(r);
	memset(p, 'x', pg);
	want[0] = 'x';
	g = fork();
	if (g < 0)
		_exit(101);
	if (g == 0) {
		memset(p, 'y', pg);
		want[0] = 'y';
		_exit(storm_side(fd, p, npg, pg, 'g', want, 77) ? 102 : 0);
	}
	r = storm_side(fd, p, npg, pg, 'z', want, 78);
	_exit(r || !child_ok(g) ? 103 : 0);
}

/*
 * A parent and its children write, hand back and read the pages they
 * share, all at once; a grandchild forked from a child that has written
 * some joins in. Every process sees only its own writes (and what the
 * pages held when it was forked), the children exit while the others go
 * on, and once all are gone every arena is back, no orphan is left, and
 * the counters add up: each copy is of a page written while shared, so
 * there are at most as many as writes, and the parent's first write,
 * made while every child holds the page, is one.
 */
TEST_F_TIMEOUT(cow, cow_storm, 180)
{
	size_t sz = self->size, pg = self->page, npg = sz / pg;
	long long orphaned = ctr("orphaned_pages");
	long long copies = ctr("fork_copies");
	long long fails = ctr("fork_copy_failures");
	unsigned char want[STORM_PAGES];
	pid_t pids[STORM_PROCS];
	unsigned char *p;
	int i, r;

	if (npg > STORM_PAGES)
		npg = STORM_PAGES;
	p = grant_filled(self->fd, sz, 'o');
	ASSERT_NE(MAP_FAILED, p);
	for (i = 1; i < STORM_PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			storm_child(self->fd, p, npg, pg, i, self->down[0]);
	}
	memset(want, 'o', npg);
	memset(p, 'P', pg);
	want[0] = 'P';
	EXPECT_EQ(copies + 1, ctr("fork_copies"));
	for (i = 1; i < STORM_PROCS; i++)
		ASSERT_EQ(0, signal_step(self->down[1]));
	r = storm_side(self->fd, p, npg, pg, 'p', want, 99);
	EXPECT_EQ(0, r) TH_LOG("the parent went wrong in round %d", r);
	for (i = 1; i < STORM_PROCS; i++)
		EXPECT_TRUE(child_ok(pids[i])) TH_LOG("child %d", i);
	EXPECT_EQ(0, munmap(p, sz));
	EXPECT_EQ(0, wait_ctr("arenas_granted", self->base_granted, 5000));
	EXPECT_EQ(orphaned, ctr("orphaned_pages"));
	EXPECT_EQ(fails, ctr("fork_copy_failures"));
	EXPECT_GE(copies + (long long)(STORM_PROCS + 1) * STORM_ROUNDS + 3,
		  ctr("fork_copies"));
	EXPECT_TRUE(check_invariant());
}

/* Minor page faults of this process so far. */
static long minor_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_minflt;
}

/*
 * Only a forked grant pays for copy on write: writes to a MAP_POPULATE
 * grant never forked take no fault at all (its PTEs are writable), while
 * after a fork every first write to a page faults (read-only PTEs).
 */
TEST_F(cow, populate_unforked_writes_no_fault)
{
	size_t sz = self->size, npg = sz / self->page, i;
	unsigned char *p;
	long before;
	pid_t pid;

	p = grant(self->fd, sz, MAP_POPULATE);
	ASSERT_NE(MAP_FAILED, p);
	before = minor_faults();
	for (i = 0; i < sz; i += self->page)
		p[i] = 1;
	/* a fault or two of our own stack or code may come in between */
	EXPECT_GT(4, minor_faults() - before);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	EXPECT_TRUE(child_ok(pid));
	before = minor_faults();
	for (i = 0; i < sz; i += self->page)
		p[i] = 2;
	EXPECT_LE((long)npg, minor_faults() - before);
	EXPECT_EQ(0, munmap(p, sz));
}

TEST_HARNESS_MAIN
