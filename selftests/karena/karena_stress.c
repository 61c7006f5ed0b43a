// SPDX-License-Identifier: GPL-2.0
/*
 * karena_stress - races at the edges of karena.ko, bounded to about a
 * minute under TCG:
 *
 *   fork_storm_hold      waves of children and grandchildren of a process
 *                        holding arenas, some killed mid-way; every copy
 *                        is counted and released, the parent's data kept
 *   limits_many_procs    processes of two uids grab arenas at once against
 *                        per-process, per-uid and global limits: never
 *                        above a limit, every denial has the errno of the
 *                        limit that was reached, counters exact
 *   exit_rmmod_race      grants and releases racing with SIGKILL and with
 *                        delete_module(), which fails with EWOULDBLOCK or
 *                        EBUSY every time; nothing leaks
 *   rmmod_last_release   delete_module() succeeds only once the last
 *                        process holding an arena is gone; the module is
 *                        then loaded again with its parameters
 *
 * Needs root and the module loaded, otherwise SKIP; rmmod_last_release
 * also needs the module file (/karena/karena.ko in the test VM, or
 * $KARENA_KO) and nobody else using the module.
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/karena.h>
#include "kselftest_harness.h"
#include "karena_util.h"

static double elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - t0->tv_sec + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A shared anonymous page for results from children. */
static void *shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE(stress) {
	int fd;
	size_t size;
	long long base_granted;
	long long saved[NR_LIMITS];
};

FIXTURE_SETUP(stress)
{
	struct karena_info info;
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SETUP_SKIP("cannot open " DEV ": %s", strerror(errno));
	if (geteuid() != 0)
		SETUP_SKIP("needs root to change the module's limits");
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, ioctl(self->fd, KARENA_IOC_INFO, &info));
	self->size = info.arena_size;
	save_limits(self->saved);
	self->base_granted = ctr("arenas_granted");
}

FIXTURE_TEARDOWN(stress)
{
	restore_limits(self->saved);
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- fork storm ---- */

#define FS_ARENAS	3

/* In a child: check the inherited copies, write our own mark, maybe fork. */
static int fs_child(unsigned char **a, size_t size, int depth, int seed)
{
	pid_t pid = 0;
	int i, st;

	for (i = 0; i < FS_ARENAS; i++)
		if (a[i][0] != 'A' + i || a[i][size - 1] != 'a' + i)
			return 10 + depth;
	if (depth == 0) {
		pid = fork();
		if (pid < 0)
			return 20;
		if (pid == 0)
			_exit(fs_child(a, size, 1, seed * 7));
	}
	/* our writes never reach the parent or the grandchild */
	for (i = 0; i < FS_ARENAS; i++)
		a[i][size / 2] = (unsigned char)seed;
	usleep((seed % 5) * 2000);
	for (i = 0; i < FS_ARENAS; i++)
		if (a[i][size / 2] != (unsigned char)seed ||
		    a[i][0] != 'A' + i)
			return 30;
	if (pid > 0) {
		if (waitpid(pid, &st, 0) != pid)
			return 40;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			return 41;
	}
	return 0;
}

TEST_F_TIMEOUT(stress, fork_storm_hold, 120)
{
	long long grants, releases, copies, fails;
	int wave, i, st, bad = 0, killed = 0, spawned = 0, orphans = 0;
	unsigned char *a[FS_ARENAS];
	struct timespec t0;
	pid_t pids[8];

	/*
	 * A grandchild whose parent was killed lives on, holding its copies,
	 * for a few ms: as a subreaper we inherit and reap it before counting.
	 */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	for (i = 0; i < FS_ARENAS; i++) {
		a[i] = grant(self->fd, self->size, MAP_POPULATE);
		ASSERT_NE(MAP_FAILED, a[i]);
		memset(a[i], 'A' + i, self->size / 2);
		memset(a[i] + self->size / 2, 'a' + i, self->size / 2);
		a[i][0] = 'A' + i;
	}
	grants = ctr("grants");
	releases = ctr("releases");
	copies = ctr("fork_copies");
	fails = ctr("fork_copy_failures");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (wave = 0; wave < 12 && elapsed(&t0) < 12; wave++) {
		for (i = 0; i < 8; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0)
				_exit(fs_child(a, self->size, 0, wave * 8 + i));
			spawned++;
		}
		/* kill two of each wave wherever they are */
		kill(pids[wave % 8], SIGKILL);
		kill(pids[(wave + 3) % 8], SIGKILL);
		for (i = 0; i < 8; i++) {
			ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
				killed++;
			else if (!WIFEXITED(st) || WEXITSTATUS(st))
				bad++;
		}
	}
	while (waitpid(-1, &st, 0) > 0)
		orphans++;
	ASSERT_EQ(ECHILD, errno);
	TH_LOG("%d children in %d waves, %d killed, %d orphans reaped, "
	       "%lld copies", spawned, wave, killed, orphans,
	       ctr("fork_copies") - copies);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(fails, ctr("fork_copy_failures"));
	/*
	 * Each child got all three arenas; a grandchild may have got fewer
	 * (a SIGKILL stops dup_mmap() midway, and the grants made are
	 * released). Nothing but fork children's grants was made, and each
	 * of their arenas copied at most the one page its process wrote.
	 */
	EXPECT_LE(spawned * FS_ARENAS, ctr("grants") - grants);
	EXPECT_LE(ctr("fork_copies") - copies, ctr("grants") - grants);
	EXPECT_EQ(ctr("grants") - grants, ctr("releases") - releases);
	EXPECT_EQ(self->base_granted + FS_ARENAS, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	for (i = 0; i < FS_ARENAS; i++) {
		EXPECT_EQ('A' + i, a[i][0]);
		EXPECT_EQ('A' + i, a[i][self->size / 2 - 1]);
		EXPECT_EQ('a' + i, a[i][self->size / 2]);
		munmap(a[i], self->size);
	}
	/* nothing is lost: every arena is free or granted */
	EXPECT_EQ(0, wait_scrubbed());
}

/* ---- many processes against the limits ---- */

#define LM_UIDS		2
#define LM_PER_UID	4
#define LM_PROCS	(LM_UIDS * LM_PER_UID)
#define LM_TRIES	5
#define LM_PROC_LIMIT	3
#define LM_UID_LIMIT	5
#define LM_GLOBAL	8	/* above base_granted */

struct lm_proc {
	int held;
	int quota;		/* EDQUOT while holding fewer than the limit */
	int quota_at_limit;	/* EDQUOT while holding the process limit */
	int nomem;
	int other;
	int nomem_at_limit;	/* ENOMEM while holding the process limit */
};

struct lm_shared {
	struct lm_proc p[LM_PROCS];
	atomic_int ready;
	atomic_int over;
};

static void lm_child(struct lm_shared *sh, int idx, int fd, size_t size,
		     int go, int done)
{
	struct lm_proc *me = &sh->p[idx];
	uid_t uid = 60001 + idx / LM_PER_UID;
	char c;
	int k;

	if (setresuid(uid, uid, uid))
		_exit(2);
	atomic_fetch_add(&sh->ready, 1);
	if (read(go, &c, 1) < 0)	/* EOF: everybody starts at once */
		_exit(3);
	for (k = 0; k < LM_TRIES; k++) {
		unsigned char *p = grant(fd, size, 0);

		if (p != MAP_FAILED) {
			p[k] = 1;
			me->held++;
		} else if (errno == EDQUOT) {
			if (me->held >= LM_PROC_LIMIT)
				me->quota_at_limit++;
			else
				me->quota++;
		} else if (errno == ENOMEM) {
			if (me->held >= LM_PROC_LIMIT)
				me->nomem_at_limit++;
			me->nomem++;
		} else {
			me->other++;
		}
	}
	atomic_fetch_add(&sh->ready, 1);
	if (read(done, &c, 1) < 0)	/* hold until the parent has looked */
		_exit(4);
	_exit(0);
}

struct lm_watch {
	long long limit;
	atomic_int stop;
	atomic_long over, samples;
};

static void *lm_watcher(void *v)
{
	struct lm_watch *w = v;

	while (!w->stop) {
		if (ctr("arenas_granted") > w->limit)
			w->over++;
		w->samples++;
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, limits_many_procs, 120)
{
	struct lm_shared *sh = shared(sizeof(*sh));
	struct lm_watch w = { 0 };
	long long global = self->base_granted + LM_GLOBAL;
	int round, rounds = 0, i, u, st, errors = 0;
	pthread_t watcher;
	struct timespec t0;

	ASSERT_NE(NULL, sh);
	ASSERT_EQ(0, set_param("max_arenas_per_process", LM_PROC_LIMIT));
	ASSERT_EQ(0, set_param("max_arenas_per_uid", LM_UID_LIMIT));
	ASSERT_EQ(0, set_param("max_arenas", global));
	w.limit = global;
	ASSERT_EQ(0, pthread_create(&watcher, NULL, lm_watcher, &w));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < 25 && elapsed(&t0) < 15; round++) {
		long long dq = ctr("denials_quota"), dn = ctr("denials_nomem");
		long long granted, held = 0, quota = 0, nomem = 0;
		int uid_total[LM_UIDS] = { 0 };
		int go[2], done[2];
		pid_t pids[LM_PROCS];

		memset(sh, 0, sizeof(*sh));
		ASSERT_EQ(0, pipe(go));
		ASSERT_EQ(0, pipe(done));
		for (i = 0; i < LM_PROCS; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0) {
				close(go[1]);
				close(done[1]);
				lm_child(sh, i, self->fd, self->size, go[0],
					 done[0]);
			}
		}
		close(go[0]);
		close(done[0]);
		while (atomic_load(&sh->ready) < LM_PROCS)
			usleep(1000);
		close(go[1]);
		while (atomic_load(&sh->ready) < 2 * LM_PROCS)
			usleep(1000);

		/* everybody holds what it got: look */
		granted = ctr("arenas_granted");
		for (i = 0; i < LM_PROCS; i++) {
			struct lm_proc *p = &sh->p[i];

			held += p->held;
			quota += p->quota + p->quota_at_limit;
			nomem += p->nomem;
			uid_total[i / LM_PER_UID] += p->held;
			if (p->other || p->nomem_at_limit ||
			    p->held > LM_PROC_LIMIT ||
			    p->held + p->quota + p->quota_at_limit +
			    p->nomem != LM_TRIES)
				errors++;
		}
		for (i = 0; i < LM_PROCS; i++) {
			struct lm_proc *p = &sh->p[i];

			u = i / LM_PER_UID;
			/* EDQUOT below the process limit: the uid was full */
			if (p->quota && uid_total[u] != LM_UID_LIMIT)
				errors++;
			/* ENOMEM: the system limit was reached */
			if (p->nomem && granted != global)
				errors++;
		}
		for (u = 0; u < LM_UIDS; u++)
			if (uid_total[u] > LM_UID_LIMIT)
				errors++;
		if (granted != self->base_granted + held || granted > global)
			errors++;
		if (ctr("denials_quota") - dq != quota ||
		    ctr("denials_nomem") - dn != nomem)
			errors++;
		if (errors) {
			TH_LOG("round %d: granted %lld (global %lld) held %lld uids %d/%d",
			       round, granted, global, held, uid_total[0],
			       uid_total[1]);
			for (i = 0; i < LM_PROCS; i++)
				TH_LOG("  proc %d: held %d quota %d/%d nomem %d/%d other %d",
				       i, sh->p[i].held, sh->p[i].quota,
				       sh->p[i].quota_at_limit, sh->p[i].nomem,
				       sh->p[i].nomem_at_limit, sh->p[i].other);
		}

		close(done[1]);
		for (i = 0; i < LM_PROCS; i++) {
			ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				errors++;
		}
		rounds++;
		if (errors)
			break;
	}
	w.stop = 1;
	pthread_join(watcher, NULL);
	TH_LOG("%d rounds of %d processes, %ld samples", rounds, LM_PROCS,
	       (long)w.samples);
	EXPECT_EQ(0, errors);
	EXPECT_EQ(0, w.over);
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_TRUE(check_invariant());
	/* nothing is lost: every arena is free or granted */
	EXPECT_EQ(0, wait_scrubbed());
	munmap(sh, sizeof(*sh));
}

/* ---- grant/release against exit and rmmod ---- */

struct rr_watch {
	atomic_int stop;
	atomic_long tries, wrong;
	atomic_int last_errno;
};

static void *rr_rmmod(void *v)
{
	struct rr_watch *w = v;

	while (!w->stop) {
		long r = syscall(SYS_delete_module, "karena", O_NONBLOCK);

		w->tries++;
		if (r == 0 || (errno != EWOULDBLOCK && errno != EBUSY)) {
			w->wrong++;
			w->last_errno = r ? errno : 0;
		}
		usleep(500);
	}
	return NULL;
}

static void rr_child(int fd, size_t size, int seed)
{
	unsigned char *held[2] = { NULL, NULL };
	int i;

	for (i = 0; ; i++) {
		int slot = (i + seed) & 1;
		unsigned char *p;

		if (held[slot]) {
			if (munmap(held[slot], size))
				_exit(5);
			held[slot] = NULL;
		}
		p = grant(fd, size, (i & 3) ? 0 : MAP_POPULATE);
		if (p == MAP_FAILED) {
			if (errno != ENOMEM && errno != EDQUOT)
				_exit(6);
			continue;
		}
		p[(i * 4096) % size] = 1;
		held[slot] = p;
	}
}

TEST_F_TIMEOUT(stress, exit_rmmod_race, 120)
{
	long long grants = ctr("grants"), releases = ctr("releases");
	struct rr_watch w = { 0 };
	int i, st, bad = 0, kills = 0;
	struct timespec t0;
	pthread_t racer;
	pid_t pids[6];

	/* tight enough that denials happen too */
	ASSERT_EQ(0, set_param("max_arenas", self->base_granted + 8));
	ASSERT_EQ(0, pthread_create(&racer, NULL, rr_rmmod, &w));
	for (i = 0; i < 6; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			rr_child(self->fd, self->size, i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed(&t0) < 10) {
		i = kills % 6;
		usleep(20000 + (kills % 7) * 5000);
		kill(pids[i], SIGKILL);
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		if (!WIFSIGNALED(st))
			bad++;
		kills++;
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			rr_child(self->fd, self->size, kills);
	}
	for (i = 0; i < 6; i++) {
		kill(pids[i], SIGKILL);
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
	}
	w.stop = 1;
	pthread_join(racer, NULL);
	TH_LOG("%d kills, %lld grants, %ld rmmod attempts", kills,
	       ctr("grants") - grants, (long)w.tries);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, w.wrong) TH_LOG("delete_module: errno %d", w.last_errno);
	EXPECT_LT(0, w.tries);
	EXPECT_EQ(self->base_granted, ctr("arenas_granted"));
	EXPECT_EQ(ctr("grants") - grants, ctr("releases") - releases);
	EXPECT_TRUE(check_invariant());
	/* nothing is lost: every arena is free or granted */
	EXPECT_EQ(0, wait_scrubbed());
	EXPECT_EQ(0, access("/sys/module/karena", F_OK));
}

/* ---- rmmod once the last holder is gone ---- */

TEST(rmmod_last_release)
{
	const char *ko = module_file();
	long long saved[NR_LIMITS], arena_kb = param("arena_kb");
	int i, fd, kfd, st, go[2], failures = 0, wrong = 0;
	char args[512], c;
	pid_t pids[4];
	unsigned char *p;
	size_t size;
	long r;

	if (geteuid() != 0 || !ko || arena_kb < 0)
		SKIP(return, "needs root, a loaded karena and its .ko file");
	save_limits(saved);
	size = arena_kb * 1024;
	fd = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = grant(fd, size, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x5a, 4096);
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			close(go[1]);
			close(fd);
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			usleep(50000 * (i + 1));
			/* our copy is still there, whatever rmmod tried */
			_exit(p[4095] == 0x5a && p[4096] == 0 ? 0 : 3);
		}
	}
	close(go[0]);
	/* the parent lets go: only the children's copies pin the module */
	munmap(p, size);
	close(fd);
	r = syscall(SYS_delete_module, "karena", O_NONBLOCK);
	if (r == 0 || (errno != EWOULDBLOCK && errno != EBUSY)) {
		close(go[1]);
		for (i = 0; i < 4; i++)
			waitpid(pids[i], &st, 0);
		if (r)
			SKIP(return, "delete_module: %s", strerror(errno));
		ASSERT_TRUE(0) TH_LOG("karena unloaded under its holders");
	}
	close(go[1]);
	for (;;) {
		r = syscall(SYS_delete_module, "karena", O_NONBLOCK);
		if (r == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EBUSY) {
			wrong++;
			break;
		}
		failures++;
		usleep(2000);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	TH_LOG("unloaded after %d refusals", failures);
	EXPECT_EQ(0, wrong);

	/* load it again as it was */
	limits_args(args, sizeof(args), arena_kb, saved);
	kfd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kfd);
	ASSERT_EQ(0, syscall(SYS_finit_module, kfd, args, 0))
		TH_LOG("reload %s %s: %s", ko, args, strerror(errno));
	close(kfd);
	for (i = 0; i < 100 && access(DEV, F_OK); i++)
		usleep(10000);
	fd = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = grant(fd, size, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, p[0]);
	EXPECT_EQ(1, ctr("grants"));
	munmap(p, size);
	close(fd);
	EXPECT_EQ(0, wait_ctr("arenas_granted", 0, 1000));
}

TEST_HARNESS_MAIN
