// SPDX-License-Identifier: GPL-2.0
/*
 * karena_acct_test - kselftests for karena.ko's accounting: every granted
 * page counted, charged and limited, and refused without the OOM killer.
 *
 *   memcg_charged_grants      granted arenas are charged to the grantee's
 *                             memory cgroup (memory.current grows by them),
 *                             a grant beyond memory.max fails with ENOMEM
 *                             (counted, no OOM killer), and memory.current
 *                             goes back on release
 *   memcg_charges_metadata    the module's structures for a grant (each
 *                             arena's slot array, the grant's table) are
 *                             charged to the grantee's cgroup too
 *   memcg_fork_copy_charged   a fork child's arenas share the parent's
 *                             pages (charged to whoever allocated them:
 *                             the fork adds little), and each page the
 *                             child writes is a copy charged to its cgroup
 *   refill_over_memcg_sigbus  a fault on a page handed back with
 *                             KARENA_IOC_RETURN_PAGES, in a memory cgroup
 *                             at its memory.max, is a counted SIGBUS, and
 *                             no OOM killer runs
 *   cow_over_memcg_sigbus     a copy on write that the writer's memory
 *                             cgroup, at its memory.max, cannot pay for is
 *                             a counted SIGBUS (fork_copy_failures), and no
 *                             OOM killer runs
 *   pinned_pages_stay_charged an arena released while a pipe holds some
 *                             of its pages (vmsplice) stays granted and
 *                             counted against the limits (orphaned_pages),
 *                             until the pipe is closed
 *   return_keeps_pinned       KARENA_IOC_RETURN_PAGES does not hand back a
 *                             page that a pipe holds
 *   default_per_uid_limit     loaded without parameters, the module limits
 *                             one uid to half of max_arenas: an unprivileged
 *                             user's grants stop there with EDQUOT
 *   netlink_own_uid_only      without CAP_SYS_ADMIN a HOLDER_GET dump lists
 *                             only the caller's uid's holders (with it,
 *                             every holder), and joining the "monitor"
 *                             group fails with EPERM
 *
 * The memory cgroup tests run a child in a cgroup v2 group of their own
 * (cgroup2 is mounted at /sys/fs/cgroup if it is not mounted anywhere);
 * they SKIP, saying why, on a kernel without the memory controller. The
 * children report through their exit status only: a pipe write would be
 * charged to the full cgroup too.
 *
 * Needs root (cgroups, the module's limits, other uids) and the module
 * loaded; otherwise SKIP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

/* SKIP() from a FIXTURE_SETUP (see karena_test.c for why _exit(255)). */
#define SETUP_SKIP(fmt, ...) SKIP(_exit(255), fmt, ##__VA_ARGS__)

/* ---- cgroup v2 ---- */

#define CG_MOUNT	"/sys/fs/cgroup"

static char cg_root[256];

/* Write @val to @dir/@file; 0 or the errno. */
static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return write_str(path, val);
}

static long long cg_read(const char *dir, const char *file)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return read_ll(path);
}

/* The value of @key in the flat-keyed @dir/@file (memory.events), or -1. */
static long long cg_key(const char *dir, const char *file, const char *key)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return read_key(path, key, ' ');
}

/*
 * Find (or mount) the cgroup v2 hierarchy and enable the memory controller
 * for its children. NULL and a reason in @why when the kernel cannot.
 */
static const char *cg_memory_root(const char **why)
{
	char line[512], dev[128], dir[256], type[64];
	char ctl[256] = "";
	FILE *f;
	int fd;

	if (cg_root[0])
		return cg_root;
	f = fopen("/proc/self/mounts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(cg_root, sizeof(cg_root), "%s", dir);
			break;
		}
	if (f)
		fclose(f);
	if (!cg_root[0]) {
		if (mount("cgroup2", CG_MOUNT, "cgroup2", 0, NULL)) {
			*why = errno == ENODEV ? "the kernel has no cgroup v2" :
						 "cannot mount cgroup2";
			return NULL;
		}
		snprintf(cg_root, sizeof(cg_root), CG_MOUNT);
	}
	snprintf(line, sizeof(line), "%s/cgroup.controllers", cg_root);
	fd = open(line, O_RDONLY);
	if (fd >= 0) {
		if (read(fd, ctl, sizeof(ctl) - 1) < 0)
			ctl[0] = 0;
		close(fd);
	}
	if (!strstr(ctl, "memory")) {
		*why = "the kernel has no memory cgroup controller";
		cg_root[0] = 0;
		return NULL;
	}
	if (cg_write(cg_root, "cgroup.subtree_control", "+memory")) {
		*why = "cannot enable the memory controller";
		cg_root[0] = 0;
		return NULL;
	}
	return cg_root;
}

/* A fresh child group @name of the root, memory controller on; 0 or errno. */
static int cg_create(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", cg_root, name);
	rmdir(path);
	if (mkdir(path, 0755))
		return errno;
	return 0;
}

/* Move the calling process into @dir. */
static int cg_enter(const char *dir)
{
	return cg_write(dir, "cgroup.procs", "0");
}

/* Set memory.max of @dir to its memory.current plus @extra bytes. */
static int cg_limit_to_current(const char *dir, long long extra)
{
	char val[32];

	snprintf(val, sizeof(val), "%lld",
		 cg_read(dir, "memory.current") + extra);
	return cg_write(dir, "memory.max", val);
}

/*
 * A child that the parent steps through: bytes on @go from the parent to
 * the child, on @done from the child back. fork_stepped() leaves each side
 * with its own ends only: the child reads go[0] and writes done[1], the
 * parent writes go[1] and reads done[0].
 */
struct steps {
	int go[2];
	int done[2];
};

/* fork()'s value, or -1 if the pipes or the fork failed. */
static pid_t fork_stepped(struct steps *st)
{
	pid_t pid;

	if (pipe(st->go) || pipe(st->done))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(st->go[1]);
		close(st->done[0]);
	} else if (pid > 0) {
		close(st->go[0]);
		close(st->done[1]);
	}
	return pid;
}

/* Read a byte from @fd; 0 if one came. */
static int wait_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

/* Wait for @pid, which has nothing left to do; its wait status or -1. */
static int reap(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* ---- fixture: root, the module, a memory cgroup, saved limits ---- */

FIXTURE(acct) {
	int fd;
	size_t size;
	size_t page;
	long long saved[NR_LIMITS];
	char cg[512];
	int have_cg;
};

FIXTURE_SETUP(acct)
{
	struct karena_info in = { 0 };
	const char *why = NULL;
	char name[64];

	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SETUP_SKIP("karena.ko is not loaded (%s)", strerror(errno));
	if (geteuid() != 0)
		SETUP_SKIP("needs root (cgroups, limits, other uids)");
	ASSERT_EQ(0, ioctl(self->fd, KARENA_IOC_INFO, &in));
	self->size = in.arena_size;
	self->page = sysconf(_SC_PAGESIZE);
	save_limits(self->saved);
	self->have_cg = 0;
	if (cg_memory_root(&why)) {
		snprintf(name, sizeof(name), "karena-acct-%d", getpid());
		ASSERT_EQ(0, cg_create(name, self->cg, sizeof(self->cg)));
		self->have_cg = 1;
	} else {
		snprintf(self->cg, sizeof(self->cg), "%s", why);
	}
}

FIXTURE_TEARDOWN(acct)
{
	restore_limits(self->saved);
	if (self->have_cg)
		rmdir(self->cg);
	if (self->fd >= 0)
		close(self->fd);
}

#define NEED_MEMCG() do {						\
	if (!self->have_cg)						\
		SKIP(return, "%s", self->cg);				\
} while (0)

/* ---- memory cgroup charging of grants ---- */

#define CHARGED_ARENAS	8
/*
 * The memory controller's per-CPU charge stock, MEMCG_CHARGE_BATCH pages:
 * counted in memory.current, taken from without checking memory.max. The
 * child runs on one CPU, so that there is one stock to allow for.
 */
#define STOCK_PAGES	64

/*
 * Wait for the child of @st to be ready, let it take one step and wait for
 * it: how much memory.current of @cg grew in that step (and in *@base,
 * memory.current before it), or -1 if the child failed.
 */
static long long step_growth(struct steps *st, const char *cg,
			     long long *base)
{
	if (wait_byte(st->done[0]))
		return -1;
	*base = cg_read(cg, "memory.current");
	if (write(st->go[1], "g", 1) != 1 || wait_byte(st->done[0]))
		return -1;
	return cg_read(cg, "memory.current") - *base;
}

/* Run on CPU 0 only (one charge stock), in the cgroup @cg; 0 or -1. */
static int cg_enter_one_cpu(const char *cg)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	return sched_setaffinity(0, sizeof(one), &one) || cg_enter(cg) ? -1 : 0;
}

/* Of the CHARGED_ARENAS of charged_child()'s step 1, one grant of these. */
#define CHARGED_TOGETHER	4

/*
 * In the cgroup @cg, step by step, each step started by a byte on @go and
 * ended by one on @done: (1) take CHARGED_ARENAS arenas, CHARGED_TOGETHER
 * of them in one grant, the others one by one; (2) take more until
 * refused; (3) give them all back. Exit status: the number of extra
 * arenas step 2 got before an ENOMEM, 250 for another errno, 251+ if the
 * set-up failed. Step 2 writes nothing until the refusal is undone: at
 * memory.max any charge but the arena's could wake the OOM killer.
 */
static void charged_child(const char *cg, int go, int done, size_t size)
{
	void *a[CHARGED_ARENAS + 16];
	size_t len[CHARGED_ARENAS + 16];
	int fd, i, n, got, extra = 0, err = 0;

	if (cg_enter_one_cpu(cg))
		_exit(254);
	fd = open(DEV, O_RDWR);
	if (fd < 0 || write(done, "0", 1) != 1 || wait_byte(go))
		_exit(253);
	for (n = 0, got = 0; got < CHARGED_ARENAS; n++) {
		len[n] = (n ? 1 : CHARGED_TOGETHER) * size;
		a[n] = grant(fd, len[n], 0);
		if (a[n] == MAP_FAILED)
			_exit(252);
		got += len[n] / size;
	}
	if (write(done, "1", 1) != 1 || wait_byte(go))
		_exit(251);
	while (n < CHARGED_ARENAS + 16) {
		len[n] = size;
		a[n] = grant(fd, size, 0);
		if (a[n] == MAP_FAILED) {
			err = errno;
			break;
		}
		n++;
		extra++;
	}
	for (i = 0; i < n; i++)
		munmap(a[i], len[i]);
	if (write(done, "2", 1) != 1 || wait_byte(go))
		_exit(251);
	_exit(err == ENOMEM ? extra : 250);
}

TEST_F(acct, memcg_charged_grants)
{
	long long denials = ctr("denials_nomem");
	long long stock = STOCK_PAGES * self->page;
	long long base, grown, back;
	struct steps st;
	int status;
	pid_t pid;

	NEED_MEMCG();
	pid = fork_stepped(&st);
	ASSERT_LE(0, pid);
	if (pid == 0)
		charged_child(self->cg, st.go[0], st.done[1], self->size);

	grown = step_growth(&st, self->cg, &base);
	ASSERT_LE(0, grown);
	TH_LOG("memory.current %lld, +%lld for %d arenas of %zu bytes",
	       base, grown, CHARGED_ARENAS, self->size);
	/* the stock may have held some pages already, or kept some more */
	EXPECT_LE(CHARGED_ARENAS * (long long)self->size - stock, grown);
	EXPECT_GE(CHARGED_ARENAS * (long long)self->size + 2 * stock, grown);

	/* room for two and a half arenas more (and the stock) */
	ASSERT_EQ(0, cg_limit_to_current(self->cg, 2 * self->size +
					 self->size / 2));
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	ASSERT_EQ(0, wait_byte(st.done[0]));
	back = cg_read(self->cg, "memory.current");
	EXPECT_GE(base + stock, back)
		TH_LOG("memory.current %lld after every arena went back", back);
	EXPECT_LT(denials, ctr("denials_nomem"));
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	status = reap(pid);
	ASSERT_TRUE(WIFEXITED(status));
	TH_LOG("%d more arenas granted under memory.max", WEXITSTATUS(status));
	/* 2.5 arenas of room, and at most one more in the stock */
	EXPECT_LE(2, WEXITSTATUS(status));
	EXPECT_GE(3, WEXITSTATUS(status));
	EXPECT_EQ(0, cg_key(self->cg, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_key(self->cg, "memory.events", "oom"));
}

/*
 * In the cgroup @cg: take CHARGED_ARENAS arenas and write to them, say so
 * on @done, wait for @go, fork a child that holds them (shared), says so
 * on @done, waits for @go, writes every page of them (a copy each), says
 * so and waits for @go (then both exit). Exit status: 0, or where the
 * set-up failed.
 */
static void forking_child(const char *cg, int go, int done, size_t size)
{
	char *a[CHARGED_ARENAS];
	pid_t pid;
	int fd, n;

	if (cg_enter_one_cpu(cg))
		_exit(1);
	fd = open(DEV, O_RDWR);
	for (n = 0; n < CHARGED_ARENAS; n++) {
		a[n] = grant(fd, size, 0);
		if (a[n] == MAP_FAILED)
			_exit(2);
		memset(a[n], n + 1, size);
	}
	if (write(done, "1", 1) != 1 || wait_byte(go))
		_exit(3);
	pid = fork();
	if (pid == 0) {
		if (write(done, "2", 1) != 1 || wait_byte(go))
			_exit(4);
		for (n = 0; n < CHARGED_ARENAS; n++)
			memset(a[n], 0x40 + n, size);
		_exit(write(done, "3", 1) != 1 || wait_byte(go) ? 6 : 0);
	}
	_exit(pid < 0 ? 5 : WEXITSTATUS(reap(pid)));
}

/* Arenas in the one grant of memcg_charges_metadata. */
#define METADATA_ARENAS	64

/*
 * In the cgroup @cg: say on @done that the device is open, wait for @go,
 * take one grant of METADATA_ARENAS arenas, say so, wait for @go, give it
 * back. Exit status 0, or where it failed.
 */
static void metadata_child(const char *cg, int go, int done, size_t size)
{
	void *a;
	int fd;

	if (cg_enter_one_cpu(cg))
		_exit(4);
	fd = open(DEV, O_RDWR);
	if (fd < 0 || write(done, "0", 1) != 1 || wait_byte(go))
		_exit(3);
	a = grant(fd, METADATA_ARENAS * size, 0);
	if (a == MAP_FAILED)
		_exit(2);
	if (write(done, "1", 1) != 1 || wait_byte(go))
		_exit(1);
	munmap(a, METADATA_ARENAS * size);
	_exit(0);
}

/*
 * slab_unreclaimable of @cg once it is at least @want, or its value after
 * 10 s: memory.stat is flushed on a read after enough updates, and every
 * 2 s whatever the updates (a read can race with that flush).
 */
static long long slab_reaching(const char *cg, long long want)
{
	long long v = -1;
	int i;

	for (i = 0; i < 100; i++) {
		v = cg_key(cg, "memory.stat", "slab_unreclaimable");
		if (v < 0 || v >= want)
			break;
		usleep(100 * 1000);
	}
	return v;
}

/*
 * The module's own structures for a grant are charged to the grantee's
 * cgroup too, as kernel memory: each arena's slot array (a page pointer
 * and a bit per page: 512 bytes and more with 256 KiB arenas) and the
 * grant's table of arenas. A grant of METADATA_ARENAS arenas must add at
 * least their slot arrays to memory.stat's slab_unreclaimable.
 */
TEST_F(acct, memcg_charges_metadata)
{
	long long before, after, want;
	struct steps st;
	int status;
	pid_t pid;

	NEED_MEMCG();
	pid = fork_stepped(&st);
	ASSERT_LE(0, pid);
	if (pid == 0)
		metadata_child(self->cg, st.go[0], st.done[1], self->size);
	ASSERT_EQ(0, wait_byte(st.done[0]));
	before = cg_key(self->cg, "memory.stat", "slab_unreclaimable");
	ASSERT_LE(0, before);
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	ASSERT_EQ(0, wait_byte(st.done[0]));
	want = before + METADATA_ARENAS * (long long)(self->size /
						      self->page * 8);
	after = slab_reaching(self->cg, want);
	TH_LOG("slab_unreclaimable %lld -> %lld for %d arenas of %zu bytes",
	       before, after, METADATA_ARENAS, self->size);
	EXPECT_LE(want, after);
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	status = reap(pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status 0x%x", status);
}

/*
 * Charging at fork and on write: a fork child's arenas share its
 * parent's pages, which stay charged to whoever allocated them, so the
 * fork itself adds far less than the heap to memory.current (page tables
 * and the like); each page the child then writes is a copy charged to
 * its cgroup, so its writes add the heap, and fork_copies counts every
 * page.
 */
TEST_F(acct, memcg_fork_copy_charged)
{
	long long copies = ctr("fork_copies");
	long long stock = STOCK_PAGES * self->page;
	long long heap = CHARGED_ARENAS * (long long)self->size;
	long long before, grown;
	struct steps st;
	int status;
	pid_t pid;

	NEED_MEMCG();
	pid = fork_stepped(&st);
	ASSERT_LE(0, pid);
	if (pid == 0)
		forking_child(self->cg, st.go[0], st.done[1], self->size);
	grown = step_growth(&st, self->cg, &before);
	ASSERT_LE(0, grown);
	TH_LOG("fork: memory.current +%lld for %d shared arenas of %zu bytes",
	       grown, CHARGED_ARENAS, self->size);
	EXPECT_EQ(copies, ctr("fork_copies"));
	/* nothing of the heap: what a fork costs, and the stock */
	EXPECT_GT(heap / 2, grown);

	before = cg_read(self->cg, "memory.current");
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	ASSERT_EQ(0, wait_byte(st.done[0]));
	grown = cg_read(self->cg, "memory.current") - before;
	TH_LOG("child's writes: memory.current +%lld", grown);
	EXPECT_EQ(copies + heap / (long long)self->page, ctr("fork_copies"));
	/* the copies, less what the stock held already */
	EXPECT_LE(heap - stock, grown);
	EXPECT_GE(heap + 2 * stock + heap / 8, grown);
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	status = reap(pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %d", status);
}

/* ---- the refill fault ---- */

static sigjmp_buf refill_jmp;

static void refill_on_sigbus(int sig)
{
	siglongjmp(refill_jmp, 1);
}

/*
 * Write the 64 KiB of stack below the caller's frame now, so that what
 * runs there later (a SIGBUS frame, siglongjmp(), waitpid() storing its
 * status) finds every page present and the caller's own, none still
 * shared copy on write with the parent of a fork: at memory.max such a
 * page is charged like anonymous memory, by the OOM killer if need be.
 * Out of line, so that the buffer lies below the caller's stack pointer,
 * and kept by the empty asm: a compiler may drop stores to a local array
 * that is never read (gcc -O2 removed this whole function once).
 */
static __attribute__((noinline)) void prefault_stack(void)
{
	char buf[64 * 1024];

	memset(buf, 1, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
}

/*
 * Pages the refill test hands back and touches again: more than the
 * memory controller's per-CPU charge stock (MEMCG_CHARGE_BATCH, 64 pages),
 * which memory.current counts but a charge takes from without checking
 * memory.max, can hold, and more than the quarter arena of room it has.
 */
#define REFILL_PAGES	512

/*
 * Say so on @ready, wait for the parent's byte on @go (memory.max set just
 * above memory.current), then write a byte of every page of the @n arenas
 * @a of @size bytes. Exits with 0 at the first SIGBUS, 255 if every page
 * could be written, 250 if the handshake failed.
 * From the byte on @go on, the only charges are the arena pages' (the
 * module's, which never invoke the OOM killer): everything else written
 * later was written before (the stack, refill_jmp) and the program is
 * linked with -z now, so that the first siglongjmp() and _exit() write
 * no GOT entry (a page shared with the parent of the fork) and push no
 * lazy binder's frame.
 */
static void touch_until_sigbus(volatile char **a, size_t n, size_t size,
			       size_t page, int ready, int go)
{
	size_t i, j;
	char c;

	prefault_stack();
	signal(SIGBUS, refill_on_sigbus);
	if (sigsetjmp(refill_jmp, 1))
		_exit(0);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(250);
	for (i = 0; i < n; i++)
		for (j = 0; j < size; j += page)
			a[i][j] = 1;
	_exit(255);
}

/*
 * The writer's parent in the copy-on-write test, which holds the pages
 * the child copies: make its stack its own (prefault_stack()), tell the
 * child so on @held and only then wait for it, so that nothing it does
 * after the child's ready byte (memory.max is set then) is charged.
 * Exits with the child's exit status, 249 if it was killed.
 */
static __attribute__((noinline, noreturn)) void
hold_until_reaped(pid_t pid, int held)
{
	int st;

	prefault_stack();
	if (write(held, "h", 1) != 1)
		_exit(250);
	st = reap(pid);
	_exit(st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 249);
}

/*
 * In the cgroup @cg: take arenas for REFILL_PAGES pages and write them;
 * then either (@cow false) hand every page back, or (@cow true) fork a
 * child that goes on (every page shared with us; it reads every page
 * first, which maps it read-only and makes its page tables, and waits
 * for hold_until_reaped() to be set). Say so (a byte on
 * @ready), wait for the parent to set memory.max just above
 * memory.current (a byte on @go), then write every page again: refills,
 * or copies on write, charged to the cgroup. Exit status (the child's,
 * passed on): 0 at the SIGBUS, 255 if every page could be had, another
 * value if the set-up failed.
 */
static void memcg_writer(const char *cg, int ready, int go, size_t size,
			 size_t page, bool cow)
{
	size_t n = (REFILL_PAGES * page + size - 1) / size;
	volatile char *a[REFILL_PAGES];
	size_t i, j;
	int fd, held[2];
	pid_t pid;

	if (cg_enter(cg))
		_exit(254);
	fd = open(DEV, O_RDWR);
	if (fd < 0)
		_exit(253);
	for (i = 0; i < n; i++) {
		a[i] = grant(fd, size, MAP_POPULATE);
		if (a[i] == MAP_FAILED)
			_exit(252);
		memset((char *)a[i], 0x5a, size);
		if (!cow && return_pages(fd, (void *)a[i], size, NULL))
			_exit(251);
	}
	if (cow && pipe(held))
		_exit(251);
	pid = cow ? fork() : 0;
	if (pid < 0)
		_exit(251);
	if (pid > 0)
		hold_until_reaped(pid, held[1]);
	if (cow) {
		/* the page tables, charged without __GFP_RETRY_MAYFAIL */
		for (i = 0; i < n; i++)
			for (j = 0; j < size; j += page)
				(void)a[i][j];
		if (wait_byte(held[0]))
			_exit(250);
	}
	touch_until_sigbus(a, n, size, page, ready, go);
}

/*
 * Run memcg_writer(@cow) in the cgroup @cg until it is ready, give it room
 * for a quarter of an arena's pages and nothing else, and check that its
 * writes then end in a SIGBUS counted in @counter, with no OOM killer.
 */
static void sigbus_over_memcg(struct __test_metadata *_metadata,
			      const char *cg, size_t size, size_t page,
			      bool cow, const char *counter)
{
	long long failures = ctr(counter);
	struct steps st;
	int status;
	pid_t pid;

	pid = fork_stepped(&st);
	ASSERT_LE(0, pid);
	if (pid == 0)
		memcg_writer(cg, st.done[1], st.go[0], size, page, cow);
	ASSERT_EQ(0, wait_byte(st.done[0]));
	ASSERT_EQ(0, cg_limit_to_current(cg, size / 4));
	TH_LOG("memory.max %lld, memory.current %lld once it was set",
	       cg_read(cg, "memory.max"), cg_read(cg, "memory.current"));
	ASSERT_EQ(1, write(st.go[1], "g", 1));
	status = reap(pid);

	ASSERT_TRUE(WIFEXITED(status))
		TH_LOG("child killed by signal %d; memory.events: oom %lld, "
		       "oom_kill %lld, max %lld; memory.current %lld",
		       WTERMSIG(status), cg_key(cg, "memory.events", "oom"),
		       cg_key(cg, "memory.events", "oom_kill"),
		       cg_key(cg, "memory.events", "max"),
		       cg_read(cg, "memory.current"));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child status %d (255: every page was served over memory.max)",
		       WEXITSTATUS(status));
	EXPECT_LT(failures, ctr(counter));
	EXPECT_EQ(0, cg_key(cg, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_key(cg, "memory.events", "oom"));
}

TEST_F(acct, refill_over_memcg_sigbus)
{
	NEED_MEMCG();
	sigbus_over_memcg(_metadata, self->cg, self->size, self->page,
			  false, "fault_failures");
}

TEST_F(acct, cow_over_memcg_sigbus)
{
	NEED_MEMCG();
	sigbus_over_memcg(_metadata, self->cg, self->size, self->page,
			  true, "fork_copy_failures");
}

/* ---- pinned pages ---- */

#define SPLICED	4	/* pages of an arena given to a pipe */

/* Give SPLICED pages at @a to a new pipe @p (vmsplice takes references). */
static int splice_pages(int p[2], char *a, size_t page)
{
	struct iovec iov[SPLICED];
	int i;

	if (pipe(p))
		return -1;
	for (i = 0; i < SPLICED; i++) {
		iov[i].iov_base = a + i * page;
		iov[i].iov_len = page;
	}
	return vmsplice(p[1], iov, SPLICED, 0) == (ssize_t)(SPLICED * page) ?
	       0 : -1;
}

TEST_F(acct, pinned_pages_stay_charged)
{
	long long orphaned = ctr("orphaned_pages");
	long long granted = ctr("arenas_granted");
	long long releases = ctr("releases");
	long long denials = ctr("denials_quota");
	char *a, buf[64];
	void *b;
	int p[2];

	ASSERT_EQ(0, set_param("max_arenas_per_process", 1));
	a = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, a);
	memset(a, 0x6b, self->size);
	ASSERT_EQ(0, splice_pages(p, a, self->page));
	ASSERT_EQ(0, munmap(a, self->size));

	/* the pipe keeps SPLICED pages: the arena stays granted, counted */
	EXPECT_EQ(orphaned + SPLICED, ctr("orphaned_pages"));
	EXPECT_EQ(granted + 1, ctr("arenas_granted"));
	EXPECT_EQ(releases, ctr("releases"));
	EXPECT_TRUE(check_invariant());
	/* the per-process limit counts it: a second arena is refused */
	b = grant(self->fd, self->size, 0);
	EXPECT_EQ(MAP_FAILED, b);
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(denials + 1, ctr("denials_quota"));
	/* the pipe still reads the data written through the arena */
	ASSERT_EQ(sizeof(buf), read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(0x6b, buf[0]);
	EXPECT_EQ(0x6b, buf[sizeof(buf) - 1]);

	/*
	 * The pipe lets go: the grant that the limit would refuse looks at the
	 * orphans first, releases the arena and succeeds.
	 */
	close(p[0]);
	close(p[1]);
	b = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, b) TH_LOG("grant after the pipe closed: %s",
					strerror(errno));
	EXPECT_EQ(orphaned, ctr("orphaned_pages"));
	EXPECT_EQ(releases + 1, ctr("releases"));
	EXPECT_EQ(granted + 1, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	munmap(b, self->size);
	EXPECT_EQ(granted, ctr("arenas_granted"));
}

#define GRANT_ARENAS	4	/* arenas of the grant one pinned page keeps */

/*
 * A grant of several arenas whose last arena has pages in a pipe: the
 * whole grant stays charged (it is released as a whole), and goes once
 * the pipe lets go.
 */
TEST_F(acct, pinned_grant_stays_charged_whole)
{
	size_t len = GRANT_ARENAS * self->size;
	long long orphaned = ctr("orphaned_pages");
	long long granted = ctr("arenas_granted");
	long long releases = ctr("releases");
	char *a;
	void *b;
	int p[2];

	ASSERT_EQ(0, set_param("max_arenas_per_process", GRANT_ARENAS));
	a = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, a);
	memset(a, 0x5a, len);
	ASSERT_EQ(0, splice_pages(p, a + len - self->size, self->page));
	ASSERT_EQ(0, munmap(a, len));

	EXPECT_EQ(orphaned + SPLICED, ctr("orphaned_pages"));
	EXPECT_EQ(granted + GRANT_ARENAS, ctr("arenas_granted"));
	EXPECT_EQ(releases, ctr("releases"));
	EXPECT_TRUE(check_invariant());
	b = grant(self->fd, self->size, 0);
	EXPECT_EQ(MAP_FAILED, b);
	EXPECT_EQ(EDQUOT, errno);

	close(p[0]);
	close(p[1]);
	b = grant(self->fd, len, 0);
	ASSERT_NE(MAP_FAILED, b) TH_LOG("grant after the pipe closed: %s",
					strerror(errno));
	EXPECT_EQ(orphaned, ctr("orphaned_pages"));
	EXPECT_EQ(releases + GRANT_ARENAS, ctr("releases"));
	EXPECT_EQ(granted + GRANT_ARENAS, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	munmap(b, len);
	EXPECT_EQ(granted, ctr("arenas_granted"));
}

TEST_F(acct, return_keeps_pinned)
{
	size_t pages = self->size / self->page;
	long long returned_ctr = ctr("pages_returned");
	__u64 returned = 0;
	char *a, buf[64];
	int p[2];

	a = grant(self->fd, self->size, MAP_POPULATE);
	ASSERT_NE(MAP_FAILED, a);
	memset(a, 0x3c, self->size);
	ASSERT_EQ(0, splice_pages(p, a, self->page));

	ASSERT_EQ(0, return_pages(self->fd, a, self->size, &returned));
	EXPECT_EQ(pages - SPLICED, returned);
	EXPECT_EQ(returned_ctr + pages - SPLICED, ctr("pages_returned"));
	/* the kept pages are still the arena's, data and all */
	EXPECT_EQ(0x3c, a[0]);
	EXPECT_EQ(0x3c, a[(SPLICED - 1) * self->page]);
	EXPECT_EQ(0, a[SPLICED * self->page]);
	ASSERT_EQ(sizeof(buf), read(p[0], buf, sizeof(buf)));
	EXPECT_EQ(0x3c, buf[0]);
	close(p[0]);
	close(p[1]);

	/* the pipe is gone: now they go back too */
	ASSERT_EQ(0, return_pages(self->fd, a, SPLICED * self->page,
				  &returned));
	EXPECT_EQ(SPLICED, returned);
	munmap(a, self->size);
	EXPECT_EQ(0, ctr("orphaned_pages"));
}

/* ---- safe defaults ---- */

/*
 * As OTHER_UID: take arenas until refused. Exit status: 0 if the refusal
 * was EDQUOT after exactly @limit grants, 1 otherwise, 2 if set-up failed.
 */
static void grant_until_refused(size_t size, long long limit)
{
	long long n = 0;
	int fd;

	if (setgid(65534) || setuid(65534))
		_exit(2);
	fd = open(DEV, O_RDWR);
	if (fd < 0)
		_exit(2);
	while (n <= limit && grant(fd, size, 0) != MAP_FAILED)
		n++;
	_exit(n == limit && errno == EDQUOT ? 0 : 1);
}

TEST(default_per_uid_limit)
{
	long long saved[NR_LIMITS], arena_kb = param("arena_kb");
	long long max_arenas, per_uid;
	const char *ko = module_file();
	char orig[512];
	int status, err;
	pid_t pid;

	if (geteuid() != 0 || !ko || arena_kb <= 0)
		SKIP(return, "needs root, a loaded karena and its .ko file");
	err = unload_module_saving(saved, orig, sizeof(orig), arena_kb);
	if (err)
		SKIP(return, "karena is in use: %s", strerror(err));

	ASSERT_EQ(0, load_module(ko, ""));
	max_arenas = param("max_arenas");
	per_uid = param("max_arenas_per_uid");
	TH_LOG("defaults: max_arenas %lld, max_arenas_per_uid %lld, per process %lld",
	       max_arenas, per_uid, param("max_arenas_per_process"));
	EXPECT_LT(0, per_uid);
	EXPECT_EQ(max_arenas / 2, per_uid);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		grant_until_refused(ctr("arena_size"), per_uid);
	status = reap(pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("uid 65534 was not stopped with EDQUOT at %lld arenas",
		       per_uid);

	/* the child's exit released every arena; load the module as it was */
	EXPECT_EQ(0, ctr("arenas_granted"));
	ASSERT_EQ(0, syscall(SYS_delete_module, "karena", O_NONBLOCK));
	ASSERT_EQ(0, load_module(ko, orig)) TH_LOG("reload with %s", orig);
}

/* ---- who sees whom: the generic netlink family ---- */

/* A family "karena" socket: the family and "monitor" group ids. */
struct genl {
	struct mnl_socket *nl;
	unsigned int seq;
	__u16 family;
	__u32 monitor;
	char buf[32768];
};

/* Holders seen by one dump: how many, and how many of a given uid. */
struct holders_seen {
	__u32 uid;
	int total;
	int of_uid;
};

static int genl_grp_cb(const struct nlattr *a, void *data)
{
	struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1] = { 0 };
	struct genl *g = data;
	const struct nlattr *x;

	mnl_attr_for_each_nested(x, a)
		if (mnl_attr_get_type(x) <= CTRL_ATTR_MCAST_GRP_MAX)
			tb[mnl_attr_get_type(x)] = (struct nlattr *)x;
	if (tb[CTRL_ATTR_MCAST_GRP_NAME] && tb[CTRL_ATTR_MCAST_GRP_ID] &&
	    !strcmp(mnl_attr_get_str(tb[CTRL_ATTR_MCAST_GRP_NAME]),
		    KARENA_GENL_MCGRP_MONITOR))
		g->monitor = mnl_attr_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
	return MNL_CB_OK;
}

static int genl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct genl *g = data;
	const struct nlattr *a, *grp;

	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			g->family = mnl_attr_get_u16(a);
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
			mnl_attr_for_each_nested(grp, a)
				genl_grp_cb(grp, g);
	}
	return MNL_CB_OK;
}

/* Send a request of @cmd with @flags; run @cb on every reply. */
static int genl_request(struct genl *g, __u16 family, __u8 cmd, __u16 flags,
			mnl_cb_t cb, void *data)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(g->buf);
	struct genlmsghdr *gh;
	unsigned int portid = mnl_socket_get_portid(g->nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++g->seq;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = cmd;
	gh->version = KARENA_GENL_VERSION;
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(g->nl, g->buf, sizeof(g->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(g->buf, n, g->seq, portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

/* Open a socket and look the family up; 0 or -errno. */
static int genl_open(struct genl *g)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *gh;
	unsigned int portid;
	ssize_t n;
	int ret;

	memset(g, 0, sizeof(*g));
	g->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!g->nl || mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	portid = mnl_socket_get_portid(g->nl);
	nlh = mnl_nlmsg_put_header(g->buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++g->seq;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = CTRL_CMD_GETFAMILY;
	gh->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, KARENA_GENL_NAME);
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(g->nl, g->buf, sizeof(g->buf));
	if (n < 0)
		return -errno;
	ret = mnl_cb_run(g->buf, n, g->seq, portid, genl_family_cb, g);
	return ret < 0 ? -errno : 0;
}

static void genl_close(struct genl *g)
{
	if (g->nl)
		mnl_socket_close(g->nl);
}

static int holder_cb(const struct nlmsghdr *nlh, void *data)
{
	struct holders_seen *seen = data;
	const struct nlattr *a, *h;

	mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
		if (mnl_attr_get_type(a) != KARENA_A_HOLDER)
			continue;
		seen->total++;
		mnl_attr_for_each_nested(h, a)
			if (mnl_attr_get_type(h) == KARENA_HOLDER_A_UID &&
			    mnl_attr_get_u32(h) == seen->uid)
				seen->of_uid++;
	}
	return MNL_CB_OK;
}

/* Dump the holders into @seen (counting those of seen->uid); 0 or -errno. */
static int dump_holders(struct genl *g, struct holders_seen *seen)
{
	seen->total = 0;
	seen->of_uid = 0;
	return genl_request(g, g->family, KARENA_CMD_HOLDER_GET, NLM_F_DUMP,
			    holder_cb, seen);
}

static int join_monitor(struct genl *g)
{
	int grp = g->monitor;

	return mnl_socket_setsockopt(g->nl, NETLINK_ADD_MEMBERSHIP, &grp,
				     sizeof(grp)) ? errno : 0;
}

#define OTHER_UID	65534

/*
 * As OTHER_UID (setuid() leaves no capabilities), holding an arena: dump
 * the holders and try to join "monitor", then wait for the parent's dump
 * (a byte on @go). Exit status: a bit for each failure.
 */
#define SAW_FOREIGN	1	/* a holder of another uid was listed */
#define MISSED_OWN	2	/* our own holder was not listed */
#define JOINED		4	/* joining "monitor" did not fail with EPERM */
#define SETUP_FAILED	8

static void unprivileged_child(int fd, size_t size, int ready, int go)
{
	struct holders_seen seen = { .uid = OTHER_UID };
	struct genl g;
	int st = 0;
	char c;

	if (setgid(OTHER_UID) || setuid(OTHER_UID) ||
	    grant(fd, size, 0) == MAP_FAILED || genl_open(&g) ||
	    !g.family || !g.monitor || dump_holders(&g, &seen))
		_exit(SETUP_FAILED);
	if (seen.total != seen.of_uid)
		st |= SAW_FOREIGN;
	if (seen.of_uid < 1)
		st |= MISSED_OWN;
	if (join_monitor(&g) != EPERM)
		st |= JOINED;
	genl_close(&g);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		st |= SETUP_FAILED;
	_exit(st);
}

TEST_F(acct, netlink_own_uid_only)
{
	struct holders_seen seen = { .uid = OTHER_UID };
	struct steps st;
	struct genl g;
	int status;
	void *a;
	pid_t pid;

	ASSERT_EQ(0, genl_open(&g)) TH_LOG("no generic netlink family karena");
	ASSERT_NE(0, g.family);
	/* a holder of uid 0, which the other uid must not see */
	a = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, a);
	/* no fork copy: the child's holder is made by its grant as OTHER_UID */
	ASSERT_EQ(0, madvise(a, self->size, MADV_DONTFORK));

	pid = fork_stepped(&st);
	ASSERT_LE(0, pid);
	if (pid == 0)
		unprivileged_child(self->fd, self->size, st.done[1], st.go[0]);
	/* the child holds an arena as OTHER_UID until we write to go */
	EXPECT_EQ(0, wait_byte(st.done[0]));

	/* with CAP_SYS_ADMIN: everyone, both uids, and the group */
	EXPECT_EQ(0, dump_holders(&g, &seen));
	EXPECT_LE(1, seen.of_uid);
	EXPECT_LT(seen.of_uid, seen.total);
	EXPECT_EQ(0, join_monitor(&g));
	genl_close(&g);

	EXPECT_EQ(1, write(st.go[1], "g", 1));
	status = reap(pid);
	munmap(a, self->size);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status) & SETUP_FAILED);
	EXPECT_EQ(0, WEXITSTATUS(status) & SAW_FOREIGN)
		TH_LOG("uid %d saw holders of other uids", OTHER_UID);
	EXPECT_EQ(0, WEXITSTATUS(status) & MISSED_OWN);
	EXPECT_EQ(0, WEXITSTATUS(status) & JOINED)
		TH_LOG("uid %d could join the monitor group", OTHER_UID);
}

TEST_HARNESS_MAIN
