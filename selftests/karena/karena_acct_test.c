// SPDX-License-Identifier: GPL-2.0
/*
 * karena_acct_test - kselftests for karena.ko's accounting: every granted
 * page counted, charged and limited, and refused without the OOM killer.
 *
 *   refill_over_memcg_sigbus  a fault on a page handed back with
 *                             KARENA_IOC_RETURN_PAGES, in a memory cgroup
 *                             at its memory.max, is a counted SIGBUS, and
 *                             no OOM killer runs
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
#include <sys/wait.h>
#include <unistd.h>

#include "../../kmod/uapi/karena.h"
#include "kselftest_harness.h"
#include "karena_util.h"

/* SKIP() from a FIXTURE_SETUP (see karena_test.c for why _exit(255)). */
#define SETUP_SKIP(fmt, ...) SKIP(_exit(255), fmt, ##__VA_ARGS__)

static int return_pages(int fd, void *addr, size_t len, __u64 *returned)
{
	struct karena_return_pages rp = {
		.addr = (uintptr_t)addr,
		.len = len,
	};
	int ret = ioctl(fd, KARENA_IOC_RETURN_PAGES, &rp);

	if (!ret && returned)
		*returned = rp.returned;
	return ret;
}

/* ---- cgroup v2 ---- */

#define CG_MOUNT	"/sys/fs/cgroup"

static char cg_root[256];

/* Write @val to @dir/@file; 0 or the errno. */
static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[640];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = errno;
	close(fd);
	return ret;
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
	char path[640], line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
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

/* ---- item: the refill fault ---- */

static sigjmp_buf refill_jmp;

static void refill_on_sigbus(int sig)
{
	siglongjmp(refill_jmp, 1);
}

/* Touch ~64 KiB of stack now, so that the SIGBUS frame needs no charge. */
static void prefault_stack(void)
{
	volatile char buf[64 * 1024];

	memset((char *)buf, 1, sizeof(buf));
}

/*
 * Pages the refill test hands back and touches again: more than the
 * memory controller's per-CPU charge stock (MEMCG_CHARGE_BATCH, 64 pages),
 * which memory.current counts but a charge takes from without checking
 * memory.max, can hold, and more than the quarter arena of room it has.
 */
#define REFILL_PAGES	512

/*
 * In the cgroup @cg: take arenas for REFILL_PAGES pages, touch them, hand
 * every page back, say so (a byte on @ready), wait for the parent to set
 * memory.max just above memory.current (a byte on @go), then touch the
 * pages again. Exit status: 0 at the SIGBUS, 255 if every page could be
 * touched, another value if the set-up failed.
 */
static void refill_child(const char *cg, int ready, int go, size_t size,
			 size_t page)
{
	size_t n = (REFILL_PAGES * page + size - 1) / size;
	volatile char *a[REFILL_PAGES];
	size_t i, j;
	char c;
	int fd;

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
		if (return_pages(fd, (void *)a[i], size, NULL))
			_exit(251);
	}
	prefault_stack();
	signal(SIGBUS, refill_on_sigbus);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(250);
	if (sigsetjmp(refill_jmp, 1))
		_exit(0);
	for (i = 0; i < n; i++)
		for (j = 0; j < size; j += page)
			a[i][j] = 1;
	_exit(255);
}

TEST_F(acct, refill_over_memcg_sigbus)
{
	long long failures = ctr("fault_failures");
	int go[2], ready[2], status;
	pid_t pid;
	char c;

	NEED_MEMCG();
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		refill_child(self->cg, ready[1], go[0], self->size, self->page);
	}
	close(go[0]);
	close(ready[1]);
	/* the child is in the group, its pages handed back */
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	/* room for a quarter of the arena's pages and nothing else */
	ASSERT_EQ(0, cg_limit_to_current(self->cg, self->size / 4));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	status = reap(pid);

	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child killed by signal %d",
					      WTERMSIG(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child status %d (255: every refill fault was served over memory.max)",
		       WEXITSTATUS(status));
	EXPECT_LT(failures, ctr("fault_failures"));
	EXPECT_EQ(0, cg_key(self->cg, "memory.events", "oom_kill"));
	EXPECT_EQ(0, cg_key(self->cg, "memory.events", "oom"));
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
	int ready[2], go[2], status;
	struct genl g;
	void *a;
	pid_t pid;
	char c;

	ASSERT_EQ(0, genl_open(&g)) TH_LOG("no generic netlink family karena");
	ASSERT_NE(0, g.family);
	/* a holder of uid 0, which the other uid must not see */
	a = grant(self->fd, self->size, 0);
	ASSERT_NE(MAP_FAILED, a);
	/* no fork copy: the child's holder is made by its grant as OTHER_UID */
	ASSERT_EQ(0, madvise(a, self->size, MADV_DONTFORK));

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		unprivileged_child(self->fd, self->size, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	/* the child holds an arena as OTHER_UID until we write to go */
	EXPECT_EQ(1, read(ready[0], &c, 1));

	/* with CAP_SYS_ADMIN: everyone, both uids, and the group */
	EXPECT_EQ(0, dump_holders(&g, &seen));
	EXPECT_LE(1, seen.of_uid);
	EXPECT_LT(seen.of_uid, seen.total);
	EXPECT_EQ(0, join_monitor(&g));
	genl_close(&g);

	EXPECT_EQ(1, write(go[1], "g", 1));
	close(go[1]);
	close(ready[0]);
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
