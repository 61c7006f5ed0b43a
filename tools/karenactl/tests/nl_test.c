// SPDX-License-Identifier: GPL-2.0
/*
 * nl_test - the karena generic netlink family, tested from userspace
 * (inside the test VM, as root, karena.ko loaded). TAP output.
 *
 *   nl_test                  run every test
 *   nl_test --json FILE      check that FILE is one JSON value per line
 *                            and print each scalar as path=value (used by
 *                            tools/tests/karenactl.sh on karenactl --json)
 *   nl_test --as-nobody CMD  run CMD as uid/gid 65534, no capabilities
 *
 * Tests: GET against sysfs and against what this process was granted; a
 * HOLDER_GET dump over 200 children spanning many batches (each pid once),
 * NLM_F_DUMP_INTR when holders change mid-dump, and a fork child that has
 * not touched its arena copy listed under its pid; SET refused without
 * CAP_SYS_ADMIN and, as root, seen by the next grant; the monitor group's
 * events in order; malformed requests refused with the errno of the
 * kernel's strict validation, and a burst of random ones survived.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nl.h"

#define DEV	  "/dev/karena"
#define SYSFS	  "/sys/class/misc/karena/"
#define NCHILDREN 200

static int t_num, t_failed;
static struct kn_sock S;
static uint64_t arena_size;

static void t_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++t_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!ok)
		t_failed++;
}

static void t_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++t_num, name, why);
	fflush(stdout);
}

static void t_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- helpers ---- */

static int64_t sysfs_u64(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

struct state {
	bool have[KARENA_A_MAX + 1];
	uint64_t v[KARENA_A_MAX + 1];
};

static int state_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	struct state *st = data;
	int i;

	if (kn_parse(nlh, tb, KARENA_A_MAX) < 0)
		return MNL_CB_ERROR;
	for (i = 1; i <= KARENA_A_MAX; i++) {
		if (tb[i] && mnl_attr_validate(tb[i], MNL_TYPE_U64) == 0) {
			st->have[i] = true;
			st->v[i] = mnl_attr_get_u64(tb[i]);
		}
	}
	return MNL_CB_OK;
}

static int get_state(struct kn_sock *s, struct state *st)
{
	memset(st, 0, sizeof(*st));
	return kn_call(s, kn_msg(s, 0, KARENA_CMD_GET, NLM_F_ACK), state_cb, st);
}

static int set_limit(struct kn_sock *s, int attr, uint64_t val)
{
	struct nlmsghdr *nlh = kn_msg(s, 0, KARENA_CMD_SET, NLM_F_ACK);

	mnl_attr_put_u64(nlh, attr, val);
	return kn_call(s, nlh, NULL, NULL);
}

struct holders {
	uint32_t pid[4 * NCHILDREN];
	uint64_t arenas[4 * NCHILDREN];
	int n;
};

static int holder_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	const struct nlattr *hb[KARENA_HOLDER_A_MAX + 1];
	struct holders *hs = data;

	if (kn_parse(nlh, tb, KARENA_A_MAX) < 0 || !tb[KARENA_A_HOLDER] ||
	    kn_parse_nested(tb[KARENA_A_HOLDER], hb, KARENA_HOLDER_A_MAX) < 0)
		return MNL_CB_ERROR;
	if (hs->n < (int)(sizeof(hs->pid) / sizeof(hs->pid[0]))) {
		hs->pid[hs->n] = kn_u32(hb[KARENA_HOLDER_A_PID]);
		hs->arenas[hs->n] = kn_u64(hb[KARENA_HOLDER_A_ARENAS]);
	}
	hs->n++;
	return MNL_CB_OK;
}

static int dump_holders(struct kn_sock *s, struct holders *hs)
{
	hs->n = 0;
	return kn_call(s, kn_msg(s, 0, KARENA_CMD_HOLDER_GET, NLM_F_DUMP), holder_cb, hs);
}

static void *grant(int fd)
{
	void *p = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void set_timeout(struct kn_sock *s, int sec)
{
	struct timeval tv = {.tv_sec = sec};

	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- GET ---- */

static const struct {
	int attr;
	const char *file;
} sysfs_map[] = {
	{KARENA_A_ARENA_SIZE, "arena_size"},
	{KARENA_A_ARENAS_RESERVED, "arenas_reserved"},
	{KARENA_A_ARENAS_GRANTED, "arenas_granted"},
	{KARENA_A_ARENAS_GRANTED_PEAK, "arenas_granted_peak"},
	{KARENA_A_GRANTS, "grants"},
	{KARENA_A_RELEASES, "releases"},
	{KARENA_A_DENIALS_QUOTA, "denials_quota"},
	{KARENA_A_DENIALS_NOMEM, "denials_nomem"},
	{KARENA_A_FORK_COPIES, "fork_copies"},
	{KARENA_A_FORK_COPY_FAILURES, "fork_copy_failures"},
	{KARENA_A_PAGES_RETURNED, "pages_returned"},
	{KARENA_A_FAULT_FAILURES, "fault_failures"},
	{KARENA_A_ORPHANED_PAGES, "orphaned_pages"},
	{KARENA_A_ARENAS_SHARED, "arenas_shared"},
};

static void test_get(void)
{
	static const int held = 5;
	struct state before, st;
	struct holders *hs;
	char path[256];
	void *p[held];
	bool ok = true;
	size_t i;
	int fd, n, mine = 0;
	int64_t v;

	t_result(get_state(&S, &st) == 0 && st.have[KARENA_A_ARENA_SIZE] &&
			 st.have[KARENA_A_MAX_ARENAS] && st.have[KARENA_A_RESERVE_ARENAS] &&
			 st.have[KARENA_A_FAULT_FAILURES],
		 "GET returns the counters and the limits");

	/* Nothing moves while we compare (no other process uses karena). */
	for (i = 0; i < sizeof(sysfs_map) / sizeof(sysfs_map[0]); i++) {
		snprintf(path, sizeof(path), SYSFS "%s", sysfs_map[i].file);
		v = sysfs_u64(path);
		if (v < 0 || (uint64_t)v != st.v[sysfs_map[i].attr]) {
			t_diag("%s: sysfs %lld, netlink %llu", sysfs_map[i].file, (long long)v,
			       (unsigned long long)st.v[sysfs_map[i].attr]);
			ok = false;
		}
	}
	t_result(ok, "GET agrees with every sysfs file");

	ok = true;
	v = sysfs_u64("/sys/module/karena/parameters/max_arenas");
	ok &= v >= 0 && (uint64_t)v == st.v[KARENA_A_MAX_ARENAS];
	v = sysfs_u64("/sys/module/karena/parameters/max_arenas_per_process");
	ok &= v >= 0 && (uint64_t)v == st.v[KARENA_A_MAX_ARENAS_PER_PROCESS];
	v = sysfs_u64("/sys/module/karena/parameters/max_arenas_per_uid");
	ok &= v >= 0 && (uint64_t)v == st.v[KARENA_A_MAX_ARENAS_PER_UID];
	v = sysfs_u64("/sys/module/karena/parameters/reserve_arenas");
	ok &= v >= 0 && (uint64_t)v == st.v[KARENA_A_RESERVE_ARENAS];
	t_result(ok, "GET's limits agree with the module parameters");

	before = st;
	fd = open(DEV, O_RDWR);
	for (n = 0; fd >= 0 && n < held; n++) {
		p[n] = grant(fd);
		if (!p[n])
			break;
		memset(p[n], 1, 1);
	}
	if (get_state(&S, &st) < 0 || n != held) {
		t_result(false, "GET counts the %d arenas this test was granted (granted %d: %s)",
			 held, n, strerror(errno));
	} else {
		v = sysfs_u64(SYSFS "arenas_granted");
		t_result(st.v[KARENA_A_ARENAS_GRANTED] ==
					 before.v[KARENA_A_ARENAS_GRANTED] + held &&
				 st.v[KARENA_A_GRANTS] == before.v[KARENA_A_GRANTS] + held &&
				 (uint64_t)v == st.v[KARENA_A_ARENAS_GRANTED],
			 "GET and sysfs count the %d arenas this test was granted", held);
	}
	hs = calloc(1, sizeof(*hs));
	if (hs && dump_holders(&S, hs) == 0) {
		for (i = 0; i < (size_t)hs->n; i++)
			if (hs->pid[i] == (uint32_t)getpid())
				mine += hs->arenas[i] == (uint64_t)held ? 1 : 100;
	}
	t_result(mine == 1, "the dump shows this process once, holding %d arenas", held);
	free(hs);
	while (n-- > 0)
		munmap(p[n], arena_size);
	if (fd >= 0)
		close(fd);
	t_result(get_state(&S, &st) == 0 &&
			 st.v[KARENA_A_ARENAS_GRANTED] == before.v[KARENA_A_ARENAS_GRANTED] &&
			 st.v[KARENA_A_RELEASES] == before.v[KARENA_A_RELEASES] + held,
		 "GET counts the releases");
}

/* ---- HOLDER_GET ---- */

/*
 * A child that holds one arena, says so on @ready and waits for @hold to
 * reach EOF; @other is the write end of @hold, closed in the child.
 */
static pid_t spawn_holder(int ready, int hold, int other)
{
	pid_t pid = fork();
	char c = 1;
	int fd;

	if (pid)
		return pid;
	close(other);
	fd = open(DEV, O_RDWR);
	if (fd < 0 || !grant(fd))
		c = 0;
	if (write(ready, &c, 1) != 1)
		_exit(1);
	while (read(hold, &c, 1) > 0)
		;
	_exit(0);
}

static void test_dump(void)
{
	struct holders *hs = calloc(1, sizeof(*hs));
	int ready[2], hold[2], i, j, got = 0, tries = 0, ret;
	pid_t pids[NCHILDREN];
	struct kn_sock small;
	bool ok;
	char c;

	if (!hs || pipe(ready) || pipe(hold)) {
		t_result(false, "set up the dump test");
		return;
	}
	for (i = 0; i < NCHILDREN; i++) {
		pids[i] = spawn_holder(ready[1], hold[0], hold[1]);
		if (pids[i] < 0)
			break;
	}
	close(hold[0]);
	close(ready[1]);
	for (j = 0; j < i; j++)
		if (read(ready[0], &c, 1) == 1 && c)
			got++;
	t_result(i == NCHILDREN && got == NCHILDREN,
		 "%d children each hold an arena (%d started, %d granted)", NCHILDREN, i, got);

	/*
	 * A fresh socket that reads 8 KiB at a time: the kernel then fills
	 * at most 8 KiB per batch, so 200 holders take many dumpit calls.
	 */
	ret = kn_open_size(&small, 8192);
	if (ret < 0) {
		t_result(false, "open a socket: %s", strerror(-ret));
		goto out;
	}
	do {
		ret = dump_holders(&small, hs);
	} while (ret == 0 && small.dump_intr && ++tries < 10);
	ok = ret == 0 && !small.dump_intr;
	for (j = 0; ok && j < i; j++) {
		int seen = 0, k;

		for (k = 0; k < hs->n; k++)
			seen += hs->pid[k] == (uint32_t)pids[j] && hs->arenas[k] == 1;
		if (seen != 1) {
			t_diag("pid %d seen %d times", pids[j], seen);
			ok = false;
		}
	}
	t_result(ok,
		 "the dump lists each of the %d children exactly once (%d holders, %u reads, %d "
		 "retries)",
		 NCHILDREN, hs->n, small.nr_recv, tries);
	t_result(small.nr_recv >= 3, "the dump spanned several batches (%u reads)", small.nr_recv);
	kn_close(&small);

	/*
	 * NLM_F_DUMP_INTR: start a dump, read its first batch, make a new
	 * holder come and go, read the rest: some message must be flagged.
	 */
	ret = kn_open_size(&small, 8192);
	if (ret == 0) {
		struct nlmsghdr *nlh = kn_msg(&small, 0, KARENA_CMD_HOLDER_GET, NLM_F_DUMP);
		bool intr = false, done = false;
		int extra[2];
		ssize_t n;
		pid_t pid;

		mnl_socket_sendto(small.nl, nlh, nlh->nlmsg_len);
		n = mnl_socket_recvfrom(small.nl, small.buf, 8192);
		if (pipe(extra) == 0) {
			close(extra[1]); /* the child exits at once */
			pid = spawn_holder(-1, extra[0], -1);
			waitpid(pid, NULL, 0);
			close(extra[0]);
		}
		while (n > 0 && !done) {
			const struct nlmsghdr *h = (void *)small.buf;
			int len = n;

			for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
				intr |= !!(h->nlmsg_flags & NLM_F_DUMP_INTR);
				done |= h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR;
			}
			if (!done)
				n = mnl_socket_recvfrom(small.nl, small.buf, 8192);
		}
		t_result(done && intr,
			 "a holder that comes and goes mid-dump sets NLM_F_DUMP_INTR");
		kn_close(&small);
	} else {
		t_result(false, "open a socket: %s", strerror(-ret));
	}
out:
	close(hold[1]);
	for (j = 0; j < i; j++)
		waitpid(pids[j], NULL, 0);
	close(ready[0]);
	free(hs);
}

/*
 * A fork child that has not touched its copy of an arena: its holder was
 * made by the copy, before the child had a pid, and the child has done
 * nothing since that would tell the module who it is. The dump must list
 * it under its pid all the same, not as 0.
 */
static void test_dump_fork_child(void)
{
	struct holders *hs = calloc(1, sizeof(*hs));
	int fd = open(DEV, O_RDWR), hold[2], seen = 0, k;
	void *a = fd >= 0 ? grant(fd) : NULL;
	pid_t pid = -1;
	char c;

	if (!hs || !a || pipe(hold)) {
		t_result(false, "set up the fork-child dump test");
		goto out;
	}
	memset(a, 1, 64);
	pid = fork();
	if (pid == 0) {
		close(hold[1]);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(hold[0]);
	if (pid > 0 && dump_holders(&S, hs) == 0)
		for (k = 0; k < hs->n; k++)
			seen += hs->pid[k] == (uint32_t)pid && hs->arenas[k] == 1;
	t_result(seen == 1,
		 "a fork child that has not touched its arena copy is listed under its pid (%d), "
		 "seen %d times among %d holders", pid, seen, hs->n);
	close(hold[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
out:
	if (a)
		munmap(a, arena_size);
	if (fd >= 0)
		close(fd);
	free(hs);
}

/* ---- SET ---- */

static void test_set(void)
{
	struct state st, orig;
	int fd, status, ret;
	void *a, *b, *c;
	pid_t pid;

	if (get_state(&S, &orig) < 0) {
		t_result(false, "GET before SET");
		return;
	}
	if (geteuid() != 0) {
		t_skip("SET as root", "not root");
		return;
	}

	pid = fork();
	if (pid == 0) {
		struct kn_sock s;

		if (setgid(65534) || setuid(65534) || kn_open(&s) < 0)
			_exit(10);
		/* Reading is for everyone; changing needs CAP_SYS_ADMIN. */
		if (get_state(&s, &st) < 0)
			_exit(11);
		ret = set_limit(&s, KARENA_A_MAX_ARENAS_PER_PROCESS, 1);
		_exit(ret == -EPERM ? 0 : 12);
	}
	waitpid(pid, &status, 0);
	t_result(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "uid 65534 without capabilities can GET but SET fails with EPERM (status %d)",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	get_state(&S, &st);
	t_result(st.v[KARENA_A_MAX_ARENAS_PER_PROCESS] == orig.v[KARENA_A_MAX_ARENAS_PER_PROCESS],
		 "the refused SET changed nothing");

	ret = set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS, 2);
	get_state(&S, &st);
	t_result(ret == 0 && st.v[KARENA_A_MAX_ARENAS_PER_PROCESS] == 2 &&
			 sysfs_u64("/sys/module/karena/parameters/max_arenas_per_process") == 2,
		 "root sets max_arenas_per_process=2; GET and the parameter show it");

	fd = open(DEV, O_RDWR);
	a = grant(fd);
	b = grant(fd);
	c = grant(fd);
	t_result(a && b && !c && errno == EDQUOT,
		 "the next grants see it: two granted, the third fails with EDQUOT");
	if (a)
		munmap(a, arena_size);
	if (b)
		munmap(b, arena_size);
	if (c)
		munmap(c, arena_size);
	close(fd);

	ret = set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS,
			orig.v[KARENA_A_MAX_ARENAS_PER_PROCESS]);
	t_result(ret == 0, "the limit is restored");

	/* Several limits in one SET; a bad one among them changes none. */
	{
		struct nlmsghdr *nlh = kn_msg(&S, 0, KARENA_CMD_SET, NLM_F_ACK);

		mnl_attr_put_u64(nlh, KARENA_A_MAX_ARENAS_PER_UID, 7);
		mnl_attr_put_u64(nlh, KARENA_A_MAX_ARENAS, KARENA_LIMIT_MAX_VALUE);
		char msg[sizeof(S.ext_msg)];
		uint32_t offs;

		ret = kn_call(&S, nlh, NULL, NULL);
		memcpy(msg, S.ext_msg, sizeof(msg));
		offs = S.ext_offs;
		get_state(&S, &st);
		t_result(ret == -EINVAL && msg[0] && offs &&
				 st.v[KARENA_A_MAX_ARENAS_PER_UID] ==
					 orig.v[KARENA_A_MAX_ARENAS_PER_UID],
			 "a SET with one impossible value fails with EINVAL, says why (\"%s\", "
			 "offset %u) and changes nothing",
			 msg, offs);
	}
}

/* SET both per-process and per-uid limits to @v in one message. */
static int set_pair(struct kn_sock *s, uint64_t v)
{
	struct nlmsghdr *nlh = kn_msg(s, 0, KARENA_CMD_SET, NLM_F_ACK);

	mnl_attr_put_u64(nlh, KARENA_A_MAX_ARENAS_PER_PROCESS, v);
	mnl_attr_put_u64(nlh, KARENA_A_MAX_ARENAS_PER_UID, v);
	return kn_call(s, nlh, NULL, NULL);
}

/*
 * A SET of several limits is one change: while a child flips both limits
 * between two values, one SET at a time, no GET may see them differ.
 */
static void test_set_atomic(void)
{
	struct state orig, st;
	long gets = 0, torn = 0;
	int status = -1, ret;
	pid_t pid;

	if (geteuid() != 0) {
		t_skip("a SET is all or nothing", "not root");
		return;
	}
	if (get_state(&S, &orig) < 0 || set_pair(&S, 1000) < 0) {
		t_result(false, "GET and SET before the atomicity test");
		return;
	}
	pid = fork();
	if (pid < 0) {
		t_result(false, "fork for the atomicity test: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		struct kn_sock s;
		int i;

		if (kn_open(&s) < 0)
			_exit(10);
		for (i = 0; i < 4000; i++)
			if (set_pair(&s, i & 1 ? 1000 : 2000) < 0)
				_exit(11);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (get_state(&S, &st) < 0) {
			waitpid(pid, &status, 0);
			gets = 0;	/* a failed GET fails the test */
			break;
		}
		gets++;
		torn += st.v[KARENA_A_MAX_ARENAS_PER_PROCESS] !=
			st.v[KARENA_A_MAX_ARENAS_PER_UID];
	}
	t_result(WIFEXITED(status) && WEXITSTATUS(status) == 0 && gets > 0 &&
			 torn == 0,
		 "4000 SETs of two limits against %ld GETs: %ld saw half a SET",
		 gets, torn);

	ret = set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS,
			orig.v[KARENA_A_MAX_ARENAS_PER_PROCESS]);
	ret = ret ?: set_limit(&S, KARENA_A_MAX_ARENAS_PER_UID,
			       orig.v[KARENA_A_MAX_ARENAS_PER_UID]);
	t_result(ret == 0, "both limits are restored");
}

/* ---- monitor ---- */

struct events {
	uint32_t type[64], reason[64], pid[64];
	uint64_t seq[64];
	int n;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[KARENA_A_MAX + 1];
	const struct nlattr *eb[KARENA_EVENT_A_MAX + 1];
	const struct nlattr *hb[KARENA_HOLDER_A_MAX + 1];
	struct events *ev = data;
	struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	if (g->cmd != KARENA_CMD_EVENT || kn_parse(nlh, tb, KARENA_A_MAX) < 0 ||
	    !tb[KARENA_A_EVENT] || !tb[KARENA_A_HOLDER] ||
	    kn_parse_nested(tb[KARENA_A_EVENT], eb, KARENA_EVENT_A_MAX) < 0 ||
	    kn_parse_nested(tb[KARENA_A_HOLDER], hb, KARENA_HOLDER_A_MAX) < 0 || ev->n == 64)
		return MNL_CB_ERROR;
	ev->type[ev->n] = kn_u32(eb[KARENA_EVENT_A_TYPE]);
	ev->reason[ev->n] = kn_u32(eb[KARENA_EVENT_A_REASON]);
	ev->seq[ev->n] = kn_u64(eb[KARENA_EVENT_A_SEQ]);
	ev->pid[ev->n] = kn_u32(hb[KARENA_HOLDER_A_PID]);
	ev->n++;
	return MNL_CB_OK;
}

static void test_monitor(void)
{
	static const uint32_t want[] = {
		KARENA_EVENT_GRANT, KARENA_EVENT_FORK_COPY, KARENA_EVENT_RELEASE,
		KARENA_EVENT_DENY,  KARENA_EVENT_RELEASE,
	};
	const int nwant = sizeof(want) / sizeof(want[0]);
	struct events ev = {0};
	struct state orig;
	struct kn_sock m;
	bool ok;
	void *a, *b;
	pid_t pid;
	int fd, i;

	if (kn_open(&m) < 0 || kn_join_monitor(&m) < 0) {
		t_result(false, "join the monitor group");
		return;
	}
	set_timeout(&m, 5);
	get_state(&S, &orig);

	fd = open(DEV, O_RDWR);
	a = grant(fd); /* GRANT */
	pid = fork();  /* FORK_COPY */
	if (pid == 0)
		_exit(0); /* RELEASE (the child's copy) */
	waitpid(pid, NULL, 0);
	set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS, 1);
	b = grant(fd); /* DENY, process limit */
	set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS, orig.v[KARENA_A_MAX_ARENAS_PER_PROCESS]);
	if (a)
		munmap(a, arena_size); /* RELEASE */
	if (b)
		munmap(b, arena_size);
	close(fd);

	while (ev.n < nwant && kn_recv_events(&m, event_cb, &ev) == 0)
		;
	ok = ev.n == nwant && a && !b;
	for (i = 0; ok && i < nwant; i++) {
		ok &= ev.type[i] == want[i];
		ok &= i == 0 || ev.seq[i] == ev.seq[i - 1] + 1;
	}
	ok = ok && ev.pid[0] == (uint32_t)getpid() && ev.pid[3] == (uint32_t)getpid() &&
	     ev.reason[3] == KARENA_DENY_PROCESS_LIMIT && ev.pid[4] == (uint32_t)getpid() &&
	     ev.reason[0] == KARENA_DENY_NONE;
	for (i = 0; i < ev.n; i++)
		t_diag("event seq %llu type %u reason %u pid %u", (unsigned long long)ev.seq[i],
		       ev.type[i], ev.reason[i], ev.pid[i]);
	t_result(ok, "the monitor sees grant, fork copy, release, deny (process limit), release, "
		     "in order, seq +1 each");

	/* Nothing else is pending. */
	set_timeout(&m, 1);
	i = ev.n;
	kn_recv_events(&m, event_cb, &ev);
	t_result(ev.n == i, "no other event was sent");
	kn_close(&m);
}

/* ---- malformed requests ---- */

struct req {
	struct nlmsghdr nlh;
	struct genlmsghdr g;
	char attrs[256];
};

static struct nlmsghdr *req_start(struct req *r, uint8_t cmd, uint16_t flags)
{
	memset(r, 0, sizeof(*r));
	r->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->nlh.nlmsg_type = S.family;
	r->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->nlh.nlmsg_seq = ++S.seq;
	r->g.cmd = cmd;
	r->g.version = KARENA_GENL_VERSION;
	return &r->nlh;
}

static void put_raw(struct nlmsghdr *nlh, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (void *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static int send_req(struct nlmsghdr *nlh)
{
	return kn_call_raw(&S, nlh, nlh->nlmsg_len, nlh->nlmsg_seq, NULL, NULL);
}

static void expect(int got, int want, const char *what)
{
	t_result(got == -want, "%s: %s (got %s%s%s%s)", what, strerror(want),
		 got ? strerror(-got) : "success", S.ext_msg[0] ? ", \"" : "", S.ext_msg,
		 S.ext_msg[0] ? "\"" : "");
}

static void test_malformed(void)
{
	uint64_t big = KARENA_LIMIT_MAX_VALUE + 1, zero = 0, one = 1;
	uint32_t small = 1;
	struct state before, after;
	struct nlmsghdr *nlh;
	struct req r;
	int i, ret, crashes = 0;

	get_state(&S, &before);

	nlh = req_start(&r, KARENA_CMD_GET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS, &one, 8);
	expect(send_req(nlh), EINVAL, "GET with an attribute");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS + 100, &one, 8);
	expect(send_req(nlh), EINVAL, "SET with an unknown attribute type");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_GRANTS, &one, 8);
	expect(send_req(nlh), EINVAL, "SET with a read-only attribute");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS_PER_PROCESS, &small, 4);
	expect(send_req(nlh), EINVAL, "SET with a u32 where a u64 belongs");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS_PER_UID, &big, 8);
	expect(send_req(nlh), ERANGE, "SET with a value above U32_MAX");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS, &zero, 8);
	expect(send_req(nlh), ERANGE, "SET max_arenas=0");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	expect(send_req(nlh), EINVAL, "SET with no attribute");

	nlh = req_start(&r, 99, 0);
	expect(send_req(nlh), EOPNOTSUPP, "an unknown command");

	nlh = req_start(&r, KARENA_CMD_EVENT, 0);
	expect(send_req(nlh), EOPNOTSUPP, "EVENT as a request");

	nlh = req_start(&r, KARENA_CMD_HOLDER_GET, 0);
	expect(send_req(nlh), EOPNOTSUPP, "HOLDER_GET without NLM_F_DUMP");

	nlh = req_start(&r, KARENA_CMD_GET, NLM_F_DUMP);
	expect(send_req(nlh), EOPNOTSUPP, "GET as a dump");

	nlh = req_start(&r, KARENA_CMD_GET, NLM_F_REPLACE);
	expect(send_req(nlh), EINVAL, "GET with NLM_F_REPLACE");

	nlh = req_start(&r, KARENA_CMD_GET, 0);
	r.g.reserved = 1;
	expect(send_req(nlh), EINVAL, "a non-zero genlmsghdr.reserved");

	nlh = req_start(&r, KARENA_CMD_GET, 0);
	nlh->nlmsg_len = NLMSG_LENGTH(2);
	expect(send_req(nlh), EINVAL, "a truncated genetlink header");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS, &one, 8);
	((struct nlattr *)r.attrs)->nla_len = 2;
	expect(send_req(nlh), EINVAL, "an attribute shorter than its header");

	nlh = req_start(&r, KARENA_CMD_SET, 0);
	put_raw(nlh, KARENA_A_MAX_ARENAS, &one, 8);
	((struct nlattr *)r.attrs)->nla_len = 200;
	expect(send_req(nlh), EINVAL, "an attribute longer than the message");

	/* Random requests: whatever comes back, the kernel must survive. */
	srandom(12345);
	set_timeout(&S, 2);
	for (i = 0; i < 3000; i++) {
		int len = random() % 64, k;

		nlh = req_start(&r, random() % 8, random() & 1 ? NLM_F_DUMP : 0);
		if (random() % 4 == 0)
			r.g.version = random();
		for (k = 0; k < len; k++)
			r.attrs[k] = random();
		nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + len;
		if (r.g.cmd == KARENA_CMD_SET && (random() % 8))
			continue; /* mostly leave the limits alone */
		ret = send_req(nlh);
		if (ret == -EAGAIN) /* no answer within 2 s */
			crashes++;
	}
	set_timeout(&S, 0);
	t_result(crashes == 0 && get_state(&S, &after) == 0,
		 "3000 random requests: every one answered, GET still works");
	t_result(after.v[KARENA_A_MAX_ARENAS] == before.v[KARENA_A_MAX_ARENAS] ||
			 set_limit(&S, KARENA_A_MAX_ARENAS, before.v[KARENA_A_MAX_ARENAS]) == 0,
		 "limits intact (or restored) after the random requests");
	set_limit(&S, KARENA_A_MAX_ARENAS_PER_PROCESS, before.v[KARENA_A_MAX_ARENAS_PER_PROCESS]);
	set_limit(&S, KARENA_A_MAX_ARENAS_PER_UID, before.v[KARENA_A_MAX_ARENAS_PER_UID]);
	set_limit(&S, KARENA_A_RESERVE_ARENAS, before.v[KARENA_A_RESERVE_ARENAS]);
}

/* ---- --json: a minimal JSON checker for karenactl's output ---- */

struct js {
	const char *p;
	char path[256];
};

static void js_ws(struct js *j)
{
	while (isspace((unsigned char)*j->p))
		j->p++;
}

static int js_value(struct js *j);

static int js_string(struct js *j, char *out, size_t outlen)
{
	size_t n = 0;

	if (*j->p++ != '"')
		return -1;
	while (*j->p != '"') {
		char c = *j->p;

		if (!c || (unsigned char)c < 0x20)
			return -1;
		if (c == '\\') {
			j->p++;
			if (*j->p == 'u') {
				for (int k = 1; k <= 4; k++)
					if (!isxdigit((unsigned char)j->p[k]))
						return -1;
				j->p += 4;
				c = '?';
			} else if (strchr("\"\\/bfnrt", *j->p)) {
				c = *j->p;
			} else {
				return -1;
			}
		}
		if (out && n + 1 < outlen)
			out[n++] = c;
		j->p++;
	}
	j->p++;
	if (out)
		out[n] = '\0';
	return 0;
}

static int js_scalar_print(struct js *j, const char *start)
{
	printf("%s=%.*s\n", j->path, (int)(j->p - start), start);
	return 0;
}

static int js_value(struct js *j)
{
	size_t plen = strlen(j->path);
	const char *start;
	char key[64];
	int idx = 0;

	js_ws(j);
	start = j->p;
	if (*j->p == '{' || *j->p == '[') {
		bool obj = *j->p == '{';

		j->p++;
		js_ws(j);
		if (*j->p == (obj ? '}' : ']')) {
			j->p++;
			return 0;
		}
		for (;;) {
			js_ws(j);
			if (obj) {
				if (js_string(j, key, sizeof(key)) < 0)
					return -1;
				js_ws(j);
				if (*j->p++ != ':')
					return -1;
			} else {
				snprintf(key, sizeof(key), "%d", idx++);
			}
			snprintf(j->path + plen, sizeof(j->path) - plen, "%s%s", plen ? "." : "",
				 key);
			if (js_value(j) < 0)
				return -1;
			j->path[plen] = '\0';
			js_ws(j);
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p++ != (obj ? '}' : ']'))
				return -1;
			return 0;
		}
	}
	if (*j->p == '"') {
		if (js_string(j, NULL, 0) < 0)
			return -1;
		return js_scalar_print(j, start);
	}
	if (*j->p == '-' || isdigit((unsigned char)*j->p)) {
		j->p++;
		while (isdigit((unsigned char)*j->p) || strchr(".eE+-", *j->p))
			j->p++;
		if (*j->p && !strchr(",}] \t\r\n", *j->p))
			return -1;
		return js_scalar_print(j, start);
	}
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
		j->p += 4;
		return js_scalar_print(j, start);
	}
	if (!strncmp(j->p, "false", 5)) {
		j->p += 5;
		return js_scalar_print(j, start);
	}
	return -1;
}

/* Each line of @file must be exactly one JSON value; line N's scalars are
 * printed as N.path=value when there are several lines, path=value else. */
static int json_check(const char *file)
{
	char line[1 << 16];
	int lineno = 0, nlines = 0;
	FILE *f = fopen(file, "r");

	if (!f) {
		perror(file);
		return 2;
	}
	while (fgets(line, sizeof(line), f))
		nlines++;
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		struct js j = {.p = line};

		if (nlines > 1)
			snprintf(j.path, sizeof(j.path), "%d", lineno);
		lineno++;
		if (js_value(&j) < 0) {
			fprintf(stderr, "%s:%d: not valid JSON near '%.20s'\n", file, lineno, j.p);
			fclose(f);
			return 1;
		}
		js_ws(&j);
		if (*j.p) {
			fprintf(stderr, "%s:%d: trailing text '%.20s'\n", file, lineno, j.p);
			fclose(f);
			return 1;
		}
	}
	fclose(f);
	return lineno ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct state st;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--json"))
		return json_check(argv[2]);
	if (argc > 2 && !strcmp(argv[1], "--as-nobody")) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			perror("setuid(65534)");
			return 2;
		}
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		return 127;
	}

	ret = kn_open(&S);
	if (ret == -ENOENT) {
		printf("1..0 # SKIP karena module is not loaded\n");
		return 0;
	}
	if (ret < 0) {
		printf("not ok 1 - open a generic netlink socket: %s\n", strerror(-ret));
		return 1;
	}
	t_result(S.mcgrp_monitor != 0, "the family \"%s\" has the multicast group \"%s\"",
		 KARENA_GENL_NAME, KARENA_GENL_MCGRP_MONITOR);
	if (get_state(&S, &st) < 0 || !st.v[KARENA_A_ARENA_SIZE]) {
		t_result(false, "GET the arena size");
		return 1;
	}
	arena_size = st.v[KARENA_A_ARENA_SIZE];

	test_get();
	test_dump();
	test_dump_fork_child();
	test_set();
	test_set_atomic();
	test_monitor();
	test_malformed();

	kn_close(&S);
	printf("1..%d\n", t_num);
	return t_failed ? 1 : 0;
}
