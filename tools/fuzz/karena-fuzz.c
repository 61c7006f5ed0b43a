// SPDX-License-Identifier: GPL-2.0
/*
 * karena-fuzz: a bounded, seeded syscall fuzzer for /dev/karena.
 *
 * Several processes (--procs), each with several threads (--threads), run
 * random sequences of open/close/mmap/munmap/mprotect/mremap/madvise/ioctl/
 * fork/exit on the device. After every step the outcome is checked against
 * the contract of DESIGN.md section 3 and the uapi header:
 *
 *   - a grant (MAP_SHARED, n arenas of the file's arena size, offset 0, RW)
 *     succeeds, or is denied with EDQUOT (only when a per-process/uid limit
 *     is set; in a single-threaded process exactly when the grant's module
 *     arenas would pass max_arenas_per_process) or ENOMEM; the address is
 *     aligned to the file's arena size, every byte reads zero and the grant
 *     is one VMA named /dev/karena in /proc/self/maps;
 *   - KARENA_IOC_SET_ARENA_SIZE: a bad size, flags or __pad gives EINVAL,
 *     a bad pointer EFAULT, a valid size EBUSY once the file has granted
 *     (or may have, through a fork child) and success before; INFO then
 *     reports the size and later grants use it;
 *   - a wrong length, a non-zero offset or MAP_PRIVATE gives EINVAL,
 *     PROT_EXEC gives EPERM/EACCES (the kernel's own checks add EBADF,
 *     EACCES, EOPNOTSUPP, EOVERFLOW, ENOMEM where they apply first);
 *   - a partial munmap, a partial mprotect that changes the protection,
 *     mremap (grow, shrink, move, part) and flag-changing madvise on part of
 *     an arena are refused (EINVAL, EFAULT for mremap) and leave the arena
 *     whole and its data intact; any refused operation leaves every arena
 *     of the thread intact;
 *   - KARENA_IOC_INFO reports the ABI version, page size, the file's and
 *     the module's arena size and, in a single-threaded process, exactly
 *     the module arenas it holds; a non-zero
 *     "in" field gives EINVAL and writes nothing; a bad pointer EFAULT;
 *   - KARENA_IOC_RETURN_PAGES zeroes exactly the range it is given and
 *     refuses (EINVAL) unaligned, empty, overflowing or foreign ranges;
 *   - unknown ioctl commands give ENOTTY;
 *   - a fork child sees the parent's arenas as they were at fork, private:
 *     writes on either side (to some arenas, the others left shared) never
 *     show on the other; MADV_DONTFORK arenas
 *     are absent in the child; arenas are released on exit and on SIGKILL;
 *   - once everything has exited the sysfs counters balance
 *     (arenas_granted == grants - releases, back to the value before the
 *     run; arenas_shared back to its value before the run: no grant is
 *     left holding an arena shared with a process that exited).
 *
 * That each limit denies exactly at the limit is a test, not a fuzz
 * target: selftests/karena/karena_limits_test.c.
 *
 * Every thread's sequence is a function of --seed, the process and thread
 * index alone, so `--procs 1 --threads 1 --seed S` replays a run exactly.
 * Output is TAP; the first failing step is named with its seed, process,
 * thread, step number and the last steps before it. Exit status 0 iff every
 * check held.
 *
 *   karena-fuzz [--seed S] [--ops N] [--procs P] [--threads T]
 *               [--max-time SEC] [--device PATH] [-v]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/karena.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef MAP_SYNC
#define MAP_SYNC		0x80000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MADV_COLD
#define MADV_COLD		20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

#define MAX_FDS		4	/* open descriptors per thread */
#define MAX_ARENAS	8	/* grants one thread holds at most */
#define LOG_STEPS	8	/* steps kept for the failure report */
#define MAX_PAGES	1024	/* pages per grant kept (4 MiB, 4 KiB pages) */
#define SYSFS		"/sys/class/misc/karena/"

/* ---- configuration, fixed before any process or thread starts ---- */

static struct {
	uint64_t seed;
	long ops;		/* total over every thread of every process */
	int procs, threads;
	int max_time;		/* seconds, 0 = none */
	int verbose;
	const char *device;
	size_t arena;		/* the module's arena size: the unit of counts */
	size_t page;
	bool quota_possible;	/* a per-process or per-uid limit is set */
	long per_process;	/* per-process limit in force, 0 = none */
	struct timespec start;
} cfg = {
	.ops = 2000, .procs = 2, .threads = 2, .device = "/dev/karena",
};

/*
 * State shared by every process of the run (MAP_SHARED anonymous): the first
 * failure wins the message slot; ops_done counts steps.
 */
struct shared {
	int claim;		/* set by the first fail(), before msg */
	int failed;		/* set once msg is complete */
	long ops_done;
	long enomem_grants;
	long edquot_grants;
	long fork_copies_seen;
	long copy_sigbus;	/* fork children that met a failed copy */
	char msg[4096];
};
static struct shared *sh;

/* ---- per-thread state ---- */

/* What KARENA_IOC_SET_ARENA_SIZE may answer on a descriptor. */
enum size_state {
	SIZE_FREE,		/* no grant through it yet: the size may change */
	SIZE_FIXED,		/* a grant was made through it: EBUSY */
	SIZE_UNKNOWN,		/* a fork child may have granted through it */
};

struct fdent {
	int fd;			/* -1 = free slot */
	int mode;		/* O_RDWR, O_RDONLY or O_WRONLY */
	size_t size;		/* its arena size (only this thread sets it) */
	enum size_state size_state;
};

/* One grant: n arenas of its file's size, len bytes in all. */
struct arena {
	char *addr;		/* NULL = free slot */
	size_t len;		/* bytes, at most MAX_PAGES pages */
	int fd;			/* the descriptor it was mapped from, -1 once closed */
	int prot;		/* protection now */
	bool maywrite;		/* mapped from an O_RDWR descriptor */
	bool dontfork;		/* MADV_DONTFORK is in force */
	bool inherited;		/* a fork child's copy of its parent's arena */
	uint64_t tag;		/* the pattern written on every page */
	uint64_t zmap[MAX_PAGES / 64];	/* pages known to read zero instead */
	uint64_t umap[MAX_PAGES / 64];	/* pages that may read zero or tag */
};

struct thread {
	uint64_t rng;
	int proc, thr;
	bool child;		/* a fork child running a short burst */
	long step, nsteps;
	struct fdent fds[MAX_FDS];
	struct arena ar[MAX_ARENAS];
	char log[LOG_STEPS][160];
	char *cur;		/* description of the step in progress */
	char *ro_page;		/* a read-only page of zeroes */
	char *none_page;	/* a PROT_NONE page */
};

static __thread struct thread *self;

/*
 * Address-space lock of one process. MAP_FIXED and MREMAP_FIXED ops reserve
 * a range, aim into it and give it back whole afterwards; a failed op may
 * have left a hole in it. They hold this for writing from reservation to
 * release, and every other mmap/mremap of the fuzzer holds it for reading,
 * so no thread's mapping can land in such a hole and be unmapped with it.
 */
static pthread_rwlock_t as_lock = PTHREAD_RWLOCK_INITIALIZER;

/* ---- random numbers (splitmix64) ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(struct thread *t)
{
	t->rng += 0x9e3779b97f4a7c15ULL;
	return mix(t->rng);
}

/* uniform in [0, n) */
static uint64_t below(struct thread *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static bool chance(struct thread *t, int percent)
{
	return (int)below(t, 100) < percent;
}

/* ---- reporting ---- */

static double elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - cfg.start.tv_sec) +
	       (now.tv_nsec - cfg.start.tv_nsec) / 1e9;
}

/*
 * Record the first failure of the run (in any process) and end this
 * process: exit_group takes every thread with it. Only async-signal-safe
 * calls besides vsnprintf, which is safe for the formats used here.
 */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail(struct thread *t, const char *fmt, ...)
{
	char buf[sizeof(sh->msg)];
	size_t n;
	va_list ap;
	int i;

	n = snprintf(buf, sizeof(buf),
		     "seed=%" PRIu64 " proc %d thread %d%s step %ld: %s: ",
		     cfg.seed, t ? t->proc : -1, t ? t->thr : -1,
		     t && t->child ? " (fork child)" : "", t ? t->step : -1L,
		     t && t->cur ? t->cur : "setup");
	va_start(ap, fmt);
	if (n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (t && n < sizeof(buf)) {
		n += snprintf(buf + n, sizeof(buf) - n, "\n# previous steps:");
		for (i = 1; i <= LOG_STEPS && n < sizeof(buf); i++) {
			long s = t->step - i;

			if (s < 0)
				break;
			n += snprintf(buf + n, sizeof(buf) - n, "\n#   %ld: %s",
				      s, t->log[s % LOG_STEPS]);
		}
	}
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	buf[n] = 0;
	if (__sync_bool_compare_and_swap(&sh->claim, 0, 1)) {
		memcpy(sh->msg, buf, n + 1);
		__sync_synchronize();
		sh->failed = 1;
	} else {
		/* another thread is writing the first failure: let it finish
		 * before exit_group takes it down */
		for (i = 0; i < 1000 && !sh->failed; i++)
			usleep(1000);
	}
	_exit(1);
}

/* A fork child's exit status when an inherited arena faulted with SIGBUS:
 * the documented outcome of a copy that could not be made. */
#define EXIT_COPY_SIGBUS	42

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int i;

	(void)uc;
	for (i = 0; sig == SIGBUS && self && self->child && i < MAX_ARENAS; i++) {
		struct arena *a = &self->ar[i];

		if (a->addr && a->inherited && (char *)si->si_addr >= a->addr &&
		    (char *)si->si_addr < a->addr + a->len)
			_exit(EXIT_COPY_SIGBUS);
	}
	fail(self, "unexpected %s at %p (si_code %d)",
	     sig == SIGBUS ? "SIGBUS" : "SIGSEGV", si->si_addr, si->si_code);
}

static void __attribute__((format(printf, 2, 3)))
note(struct thread *t, const char *fmt, ...)
{
	char *slot = t->log[t->step % LOG_STEPS];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(slot, sizeof(t->log[0]), fmt, ap);
	va_end(ap);
	t->cur = slot;
	if (cfg.verbose)
		fprintf(stderr, "# p%d t%d%s %ld: %s\n", t->proc, t->thr,
			t->child ? "c" : "", t->step, slot);
}

static const char *ename(int e)
{
	static const struct { int e; const char *n; } names[] = {
		{ 0, "success" }, { EINVAL, "EINVAL" }, { EPERM, "EPERM" },
		{ EACCES, "EACCES" }, { ENOMEM, "ENOMEM" },
		{ EDQUOT, "EDQUOT" }, { EFAULT, "EFAULT" },
		{ ENOTTY, "ENOTTY" }, { EBADF, "EBADF" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { EOVERFLOW, "EOVERFLOW" },
		{ EAGAIN, "EAGAIN" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
		{ EBUSY, "EBUSY" }, { ENOSPC, "ENOSPC" }, { EMFILE, "EMFILE" },
	};
	static __thread char other[16];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].n;
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

/* A set of errnos: bit e set means e is allowed (all errnos used are < 128). */
struct eset {
	uint64_t b[2];
};

static void eadd(struct eset *s, int e)
{
	if (e > 0 && e < 128)
		s->b[e / 64] |= 1ULL << (e % 64);
}

static bool ehas(const struct eset *s, int e)
{
	return e > 0 && e < 128 && (s->b[e / 64] >> (e % 64)) & 1;
}

static bool eempty(const struct eset *s)
{
	return !s->b[0] && !s->b[1];
}

static void eprint(const struct eset *s, char *buf, size_t len)
{
	size_t n = 0;
	int e;

	buf[0] = 0;
	for (e = 1; e < 128 && n < len; e++)
		if (ehas(s, e))
			n += snprintf(buf + n, len - n, "%s%s", n ? "/" : "",
				      ename(e));
}

/* ---- the device, sysfs ---- */

static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 0);
}

static int info(int fd, struct karena_info *ki)
{
	memset(ki, 0, sizeof(*ki));
	return ioctl(fd, KARENA_IOC_INFO, ki) ? -errno : 0;
}

/* ---- arenas: pattern, checks ---- */

static uint64_t page_word(uint64_t tag, size_t i)
{
	return tag ^ (i * 0x9e3779b97f4a7c15ULL);
}

/* Write the arena's tag on the first and last word of every page. */
static void fill(struct arena *a, uint64_t tag)
{
	size_t i, words = cfg.page / 8;

	tag |= 1;	/* tag 0 means "never written: reads zero" */
	a->tag = tag;
	memset(a->zmap, 0, sizeof(a->zmap));
	memset(a->umap, 0, sizeof(a->umap));
	for (i = 0; i < a->len / cfg.page; i++) {
		uint64_t *p = (uint64_t *)(a->addr + i * cfg.page);

		p[0] = page_word(tag, i);
		p[words - 1] = ~page_word(tag, i);
	}
}

static bool page_is_zero(const char *p)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < cfg.page / 8; i++)
		if (w[i])
			return false;
	return true;
}

static bool page_intact(const struct arena *a, size_t i)
{
	const uint64_t *p = (const uint64_t *)(a->addr + i * cfg.page);

	bool zero = p[0] == 0 && p[cfg.page / 8 - 1] == 0;

	if (!a->tag || (a->zmap[i / 64] >> (i % 64) & 1))
		return zero;
	if ((a->umap[i / 64] >> (i % 64) & 1) && zero)
		return true;
	return p[0] == page_word(a->tag, i) &&
	       p[cfg.page / 8 - 1] == ~page_word(a->tag, i);
}

/*
 * Check the arena's pattern; pages in [zlo, zhi) must be all zero instead,
 * or (maybe_zero) either zero or intact.
 */
static void verify_range(struct thread *t, const struct arena *a, size_t zlo,
			 size_t zhi, bool maybe_zero, const char *why)
{
	size_t i, n = a->len / cfg.page;

	if (!(a->prot & PROT_READ))
		return;
	for (i = 0; i < n; i++) {
		const char *p = a->addr + i * cfg.page;
		bool in = i >= zlo && i < zhi;

		if (in && !maybe_zero && !page_is_zero(p))
			fail(t, "%s: arena %p page %zu should read zero, reads %#" PRIx64,
			     why, a->addr, i, *(const uint64_t *)p);
		if (in && !maybe_zero) {
			((struct arena *)a)->zmap[i / 64] |= 1ULL << (i % 64);
			continue;
		}
		if (in && maybe_zero && page_intact(a, i))
			continue;
		if (in && maybe_zero && page_is_zero(p)) {
			((struct arena *)a)->zmap[i / 64] |= 1ULL << (i % 64);
			continue;
		}
		if (!in && !page_intact(a, i))
			fail(t, "%s: arena %p page %zu lost its data (%#" PRIx64 ", want %#" PRIx64 ")",
			     why, a->addr, i, *(const uint64_t *)p,
			     page_word(a->tag, i));
		if (in && maybe_zero)
			fail(t, "%s: arena %p page %zu is neither its data nor zero",
			     why, a->addr, i);
	}
}

static void verify(struct thread *t, const struct arena *a, const char *why)
{
	verify_range(t, a, 0, 0, false, why);
}

static void verify_all(struct thread *t, const char *why)
{
	int i;

	for (i = 0; i < MAX_ARENAS; i++)
		if (t->ar[i].addr)
			verify(t, &t->ar[i], why);
}

static void check_zero(struct thread *t, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += cfg.page)
		if (!page_is_zero(p + i))
			fail(t, "fresh arena %p: page %zu does not read zero", p,
			     i / cfg.page);
}

/*
 * The grant must be exactly one VMA [addr, addr + len) of /dev/karena:
 * no refused operation may have split, moved or shrunk it.
 */
static void check_vma(struct thread *t, const char *addr, size_t len,
		      const char *why)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	char line[512];
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || e <= lo || s >= hi)
			continue;
		if (s != lo || e != hi || !strstr(line, "karena")) {
			line[strcspn(line, "\n")] = 0;
			fclose(f);
			fail(t, "%s: arena %p is no longer one /dev/karena VMA: '%s'",
			     why, addr, line);
		}
		found++;
	}
	fclose(f);
	if (found != 1)
		fail(t, "%s: arena %p: %d VMAs in /proc/self/maps, want 1", why,
		     addr, found);
}

/* Module arenas behind a grant of @len bytes: what it counts as. */
static size_t units(size_t len)
{
	return (len + cfg.arena - 1) / cfg.arena;
}

/* Is @len n arenas of @size, 1 <= n <= KARENA_GRANT_MAX_ARENAS? */
static bool grant_len_ok(size_t len, size_t size)
{
	return len && len % size == 0 && len / size <= KARENA_GRANT_MAX_ARENAS;
}

/* Module arenas the thread holds (what INFO and the limits count). */
static int held(const struct thread *t)
{
	int i, n = 0;

	for (i = 0; i < MAX_ARENAS; i++)
		if (t->ar[i].addr)
			n += units(t->ar[i].len);
	return n;
}

static int nr_grants(const struct thread *t)
{
	int i, n = 0;

	for (i = 0; i < MAX_ARENAS; i++)
		n += t->ar[i].addr != NULL;
	return n;
}

static struct arena *pick_arena(struct thread *t)
{
	int i, n = nr_grants(t), k;

	if (!n)
		return NULL;
	k = below(t, n);
	for (i = 0; i < MAX_ARENAS; i++)
		if (t->ar[i].addr && !k--)
			return &t->ar[i];
	return NULL;
}

static struct arena *free_arena_slot(struct thread *t)
{
	int i;

	for (i = 0; i < MAX_ARENAS; i++)
		if (!t->ar[i].addr)
			return &t->ar[i];
	return NULL;
}

static struct fdent *pick_fd(struct thread *t)
{
	int i, n = 0, k;

	for (i = 0; i < MAX_FDS; i++)
		n += t->fds[i].fd >= 0;
	if (!n)
		return NULL;
	k = below(t, n);
	for (i = 0; i < MAX_FDS; i++)
		if (t->fds[i].fd >= 0 && !k--)
			return &t->fds[i];
	return NULL;
}

/*
 * Take a new grant of @len bytes through @f into the thread's table after
 * a successful mmap; one too large to track is checked and given back.
 */
static void adopt(struct thread *t, char *p, size_t len, struct fdent *f,
		  int prot)
{
	struct arena *a = free_arena_slot(t);
	size_t size = f ? f->size : cfg.arena;

	if (f)
		f->size_state = SIZE_FIXED;
	if ((uintptr_t)p % size)
		fail(t, "granted arena %p is not aligned to the arena size %#zx",
		     p, size);
	if (prot & PROT_READ)
		check_zero(t, p, len);
	check_vma(t, p, len, "new arena");
	if (!a || len > MAX_PAGES * cfg.page) {
		if (munmap(p, len))
			fail(t, "munmap of surplus arena %p: %s", p, ename(errno));
		return;
	}
	a->addr = p;
	a->len = len;
	a->fd = f ? f->fd : -1;
	a->prot = prot;
	a->maywrite = f && f->mode == O_RDWR;
	a->dontfork = false;
	a->inherited = false;
	a->tag = 0;
	memset(a->zmap, 0, sizeof(a->zmap));
	memset(a->umap, 0, sizeof(a->umap));
	if (prot & PROT_WRITE)
		fill(a, rnd(t));
}

/* Wrap a syscall's result: 0 or -errno. */
static int res(long ret)
{
	return ret == -1 ? errno : 0;
}

static void expect(struct thread *t, int err, const struct eset *allowed,
		   bool success_ok, const char *what)
{
	char want[256];

	if (!err && success_ok)
		return;
	if (err && ehas(allowed, err))
		return;
	eprint(allowed, want, sizeof(want));
	fail(t, "%s: got %s, want %s%s%s", what, ename(err),
	     success_ok ? "success" : "", success_ok && !eempty(allowed) ? " or " : "",
	     want);
}

static void release_arena(struct thread *t, struct arena *a)
{
	if (munmap(a->addr, a->len))
		fail(t, "munmap of whole arena %p: %s", a->addr, ename(errno));
	a->addr = NULL;
}

/* ---- operations ---- */

static void op_open(struct thread *t)
{
	static const int modes[] = { O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDWR,
				     O_RDWR, O_RDONLY, O_WRONLY };
	int mode = modes[below(t, 8)], fd, i;
	int flags = mode | (chance(t, 50) ? O_CLOEXEC : 0);

	for (i = 0; i < MAX_FDS; i++)
		if (t->fds[i].fd < 0)
			break;
	note(t, "open(%s, %s)", cfg.device,
	     mode == O_RDWR ? "O_RDWR" : mode == O_RDONLY ? "O_RDONLY" : "O_WRONLY");
	if (i == MAX_FDS)
		return;
	fd = open(cfg.device, flags);
	if (fd < 0) {
		struct eset ok = { 0 };

		eadd(&ok, EMFILE);
		eadd(&ok, ENFILE);
		if (mode != O_RDWR) {
			eadd(&ok, EACCES);
			eadd(&ok, EPERM);
			eadd(&ok, EINVAL);
		}
		expect(t, errno, &ok, false, "open");
		return;
	}
	t->fds[i].fd = fd;
	t->fds[i].mode = mode;
	t->fds[i].size = cfg.arena;
	t->fds[i].size_state = SIZE_FREE;
}

static void op_close(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	int i;

	note(t, "close(%d)", f ? f->fd : -1);
	if (!f)
		return;
	if (close(f->fd))
		fail(t, "close: %s", ename(errno));
	for (i = 0; i < MAX_ARENAS; i++)
		if (t->ar[i].addr && t->ar[i].fd == f->fd)
			t->ar[i].fd = -1;
	f->fd = -1;
}

/*
 * A valid grant of n arenas of the file's size (n * size at most MAX_PAGES
 * pages), with optional harmless flags and an unaligned hint.
 */
static void op_mmap(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	int prot = chance(t, 85) ? PROT_READ | PROT_WRITE : PROT_READ;
	int flags = MAP_SHARED, err;
	struct eset ok = { 0 };
	bool success_ok = true;
	void *hint = NULL, *p;
	size_t len = 0, max_n;

	if (chance(t, 25))
		flags |= MAP_POPULATE;
	if (chance(t, 10))
		flags |= MAP_NORESERVE;
	if (chance(t, 10))
		flags = (flags & ~MAP_SHARED) | MAP_SHARED_VALIDATE;
	if (chance(t, 20))
		hint = (void *)(uintptr_t)((0x100000000ULL + below(t, 1ULL << 44)) &
					   ~(cfg.page - 1));
	if (f) {
		max_n = MAX_PAGES * cfg.page / f->size;
		if (max_n > 4)
			max_n = 4;
		len = (1 + below(t, max_n ? max_n : 1)) * f->size;
	}
	note(t, "mmap(%p, %zu arenas of %#zx, %s, %#x, fd %d (%s), 0)", hint,
	     f ? len / f->size : 0, f ? f->size : 0,
	     prot & PROT_WRITE ? "RW" : "R", flags, f ? f->fd : -1,
	     !f ? "-" : f->mode == O_RDWR ? "rw" : f->mode == O_RDONLY ? "ro" : "wo");
	if (!f || !free_arena_slot(t))
		return;
	pthread_rwlock_rdlock(&as_lock);
	p = mmap(hint, len, prot, flags, f->fd, 0);
	err = p == MAP_FAILED ? errno : 0;
	pthread_rwlock_unlock(&as_lock);
	/* the kernel's own checks */
	if (f->mode == O_WRONLY || (f->mode == O_RDONLY && (prot & PROT_WRITE)))
		eadd(&ok, EACCES), success_ok = false;
	if (prot == PROT_READ) {
		/* a read-only grant is not in the contract: either is fine */
		eadd(&ok, EINVAL);
		eadd(&ok, EACCES);
		eadd(&ok, EPERM);
	}
	eadd(&ok, ENOMEM);
	if (cfg.quota_possible)
		eadd(&ok, EDQUOT);
	if (f->mode == O_RDONLY)	/* the module may refuse a read-only open */
		eadd(&ok, EINVAL), eadd(&ok, EPERM);
	if (!err && !success_ok) {
		munmap(p, len);
		fail(t, "mmap succeeded, want %s", "EACCES");
	}
	expect(t, err, &ok, true, "grant");
	if (err == ENOMEM)
		__sync_fetch_and_add(&sh->enomem_grants, 1);
	if (err == EDQUOT)
		__sync_fetch_and_add(&sh->edquot_grants, 1);
	/* single thread, per-process limit: EDQUOT exactly past the limit */
	if (cfg.threads == 1 && !t->child && cfg.per_process && prot != PROT_READ &&
	    f->mode == O_RDWR) {
		long after = held(t) + (long)units(len);

		if (after > cfg.per_process && err != EDQUOT)
			fail(t, "holding %d + %zu of max_arenas_per_process=%ld: got %s, want EDQUOT",
			     held(t), units(len), cfg.per_process, ename(err));
		if (after <= cfg.per_process && err == EDQUOT)
			fail(t, "holding %d + %zu of max_arenas_per_process=%ld: EDQUOT within the limit",
			     held(t), units(len), cfg.per_process);
	}
	if (err) {
		verify_all(t, "after a denied grant");
		return;
	}
	adopt(t, p, len, f, prot);
}

/* mmap with at least one bad argument. */
static void op_mmap_bad(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	size_t A = f ? f->size : cfg.arena, P = cfg.page, len = A, glen;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED, fd, err;
	off_t off = 0;
	struct eset ok = { 0 };
	bool shape_ok;
	void *p, *addr = NULL;
	char *resv = NULL;
	int fixed = 0;	/* 1 aligned in reservation, 2 unaligned, 3 over arena+page */
	struct arena *victim = NULL;

	fd = f ? f->fd : -1;
	switch (below(t, 6)) {
	case 0: {	/* wrong length */
		static const int64_t lens[] = { 0, 1, -1, -2, 2, 3, 4, 5, 6 };

		switch (lens[below(t, 9)]) {
		case 0: len = 0; break;
		case 1: len = P; break;
		case -1: len = A - P; break;
		case -2: len = A - 1 - below(t, P - 1); break;
		case 2: len = A + P; break;
		case 3: len = 2 * A; break;
		case 4: len = A / 2; break;
		case 5: len = (1 + below(t, 4 * A / P)) * P; break;
		default: len = (size_t)1 << 47; break;
		}
		/* n arenas, 1 <= n <= KARENA_GRANT_MAX_ARENAS, is a grant */
		if (len && len % A == 0 && len / A <= KARENA_GRANT_MAX_ARENAS)
			len += P;
		break;
	}
	case 1: {	/* non-zero offset */
		static const off_t offs[] = { 1, 2, 3, 4, 5 };

		switch (offs[below(t, 5)]) {
		case 1: off = P; break;
		case 2: off = A; break;
		case 3: off = (1 + below(t, 1 << 20)) * P; break;
		case 4: off = 1 + below(t, P - 1); break;
		default: off = -(off_t)P; break;
		}
		break;
	}
	case 2:		/* private, no type, validate with unknown flags */
		switch (below(t, 4)) {
		case 0: flags = MAP_PRIVATE; break;
		case 1: flags = MAP_PRIVATE | MAP_POPULATE; break;
		case 2: flags = 0; break;
		default: flags = MAP_SHARED_VALIDATE | MAP_SYNC; break;
		}
		break;
	case 3:		/* executable */
		switch (below(t, 3)) {
		case 0: prot |= PROT_EXEC; break;
		case 1: prot = PROT_READ | PROT_EXEC; break;
		default: prot = PROT_EXEC; break;
		}
		break;
	case 4:		/* bad descriptor */
		fd = chance(t, 50) ? -1 : 1000 + (int)below(t, 1000);
		break;
	default:	/* MAP_FIXED */
		fixed = 1 + below(t, 3);
		if (fixed == 3 && !(victim = pick_arena(t)))
			fixed = 1;
		break;
	}
	/* sometimes two faults at once */
	if (chance(t, 15))
		flags = MAP_PRIVATE;
	if (chance(t, 15))
		prot |= PROT_EXEC;

	if (fixed == 1 || fixed == 2)
		pthread_rwlock_wrlock(&as_lock);
	else
		pthread_rwlock_rdlock(&as_lock);
	if (fixed == 1 || fixed == 2) {
		resv = mmap(NULL, 3 * A, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (resv == MAP_FAILED)
			fail(t, "reserving address space: %s", ename(errno));
		addr = (void *)(((uintptr_t)resv + A - 1) & ~(A - 1));
		if (fixed == 2)
			addr = (char *)addr + P * (1 + below(t, A / P - 1));
	} else if (fixed == 3) {
		addr = victim->addr + P * (1 + below(t, victim->len / P - 1));
	}
	if (fixed)
		flags |= chance(t, 70) ? MAP_FIXED : MAP_FIXED_NOREPLACE;

	note(t, "bad mmap(%p, %#zx, %#x, %#x, fd %d, %#llx)", addr, len, prot,
	     flags, fd, (unsigned long long)off);

	/* what each fault may answer; mmap rounds the length up to pages */
	shape_ok = true;
	glen = (len + P - 1) & ~(P - 1);
	if (!grant_len_ok(glen, A)) {
		eadd(&ok, EINVAL);
		if (len == 0 || len >= ((size_t)1 << 46))
			eadd(&ok, ENOMEM), eadd(&ok, EOVERFLOW);
		shape_ok = false;
	}
	if (off) {
		eadd(&ok, EINVAL);
		if (off < 0 || off >= (off_t)1 << 40)
			eadd(&ok, EOVERFLOW);
		shape_ok = false;
	}
	if ((flags & MAP_TYPE) == MAP_PRIVATE || (flags & MAP_TYPE) == 0) {
		eadd(&ok, EINVAL);
		shape_ok = false;
	}
	if ((flags & MAP_TYPE) == MAP_SHARED_VALIDATE && (flags & MAP_SYNC)) {
		eadd(&ok, EOPNOTSUPP);
		eadd(&ok, EINVAL);
		shape_ok = false;
	}
	if (prot & PROT_EXEC) {
		eadd(&ok, EPERM);
		eadd(&ok, EACCES);
		shape_ok = false;
	}
	if (prot == PROT_EXEC || prot == (PROT_READ | PROT_EXEC)) {
		/* not writable: a read-only grant may be refused with EINVAL */
		eadd(&ok, EINVAL);
	}
	if (fd != (f ? f->fd : -1) || fd < 0) {
		eadd(&ok, EBADF);
		shape_ok = false;
	} else if (f->mode != O_RDWR) {
		eadd(&ok, EACCES);
		eadd(&ok, EINVAL);
		eadd(&ok, EPERM);
	}
	if (fixed == 2 || fixed == 3) {
		eadd(&ok, EINVAL);	/* not aligned */
		eadd(&ok, ENOMEM);	/* the kernel could not unmap part of an arena */
		eadd(&ok, EEXIST);	/* MAP_FIXED_NOREPLACE */
		shape_ok = false;
	}
	if (fixed == 1) {
		eadd(&ok, EEXIST);	/* MAP_FIXED_NOREPLACE over the reservation */
		eadd(&ok, EINVAL);	/* MAP_FIXED is not in the contract */
		eadd(&ok, ENOMEM);
	}
	if (cfg.quota_possible)
		eadd(&ok, EDQUOT);
	if (shape_ok)
		eadd(&ok, ENOMEM);

	p = mmap(addr, len, prot, flags, fd, off);
	err = p == MAP_FAILED ? errno : 0;
	if (!err) {
		/* only a valid grant may succeed: a length that rounds up to
		 * the arena, or MAP_FIXED at an aligned free address */
		if (!(fixed <= 1 && shape_ok && f && f->mode == O_RDWR)) {
			char want[256];

			munmap(p, len);
			eprint(&ok, want, sizeof(want));
			fail(t, "mmap succeeded (at %p), want %s", p, want);
		}
		if (fixed && p != addr)
			fail(t, "MAP_FIXED grant at %p landed at %p", addr, p);
	} else {
		expect(t, err, &ok, false, "bad mmap");
	}
	if (resv && !err) {
		/* give back the reservation around the new arena */
		char *a = addr;

		if (a > resv)
			munmap(resv, a - resv);
		if (a + A < resv + 3 * A)
			munmap(a + A, resv + 3 * A - (a + A));
	} else if (resv) {
		munmap(resv, 3 * A);	/* whole: nobody mapped into it (as_lock) */
	}
	pthread_rwlock_unlock(&as_lock);
	if (!err)
		adopt(t, p, glen, f, prot);
	if (victim)
		check_vma(t, victim->addr, victim->len, "after MAP_FIXED into an arena");
	verify_all(t, "after a refused mmap");
}

static void op_munmap(struct thread *t)
{
	struct arena *a = pick_arena(t);

	note(t, "munmap(%p, arena)", a ? a->addr : NULL);
	if (a)
		release_arena(t, a);
}

static void op_munmap_part(struct thread *t)
{
	struct arena *a = pick_arena(t);
	size_t n, lo, cnt;
	char *start;
	size_t len;
	struct eset ok = { 0 };

	if (!a) {
		note(t, "partial munmap: no arena");
		return;
	}
	n = a->len / cfg.page;
	lo = below(t, n);
	cnt = 1 + below(t, n - lo);
	if (lo == 0 && cnt == n)
		cnt--, lo += cnt == 0 ? 0 : 1;
	if (!cnt)
		cnt = 1, lo = 1;
	start = a->addr + lo * cfg.page;
	len = cnt * cfg.page;
	if (chance(t, 10))
		len -= cfg.page / 2;	/* rounds up: still partial */
	note(t, "munmap(%p + %zu pages, %#zx) of arena %p", start, lo, len, a->addr);
	eadd(&ok, EINVAL);
	expect(t, res(munmap(start, len)), &ok, false, "partial munmap");
	check_vma(t, a->addr, a->len, "after partial munmap");
	verify(t, a, "after partial munmap");
}

static void op_mprotect(struct thread *t)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC,
		PROT_READ,
	};
	struct arena *a = pick_arena(t);
	int prot = prots[below(t, 8)], err;
	size_t n, lo = 0, cnt;
	bool whole = chance(t, 50);
	struct eset ok = { 0 };

	if (!a) {
		note(t, "mprotect: no arena");
		return;
	}
	n = cnt = a->len / cfg.page;
	if (!whole) {
		lo = below(t, n);
		cnt = 1 + below(t, n - lo);
		if (lo == 0 && cnt == n)
			cnt = n - 1, lo = 1;
	}
	note(t, "mprotect(arena %p + %zu pages, %zu pages, %#x) (prot now %#x)",
	     a->addr, lo, cnt, prot, a->prot);
	err = res(mprotect(a->addr + lo * cfg.page, cnt * cfg.page, prot));
	if (prot & PROT_EXEC) {
		eadd(&ok, EACCES);
		eadd(&ok, EPERM);
		if (!whole)
			eadd(&ok, EINVAL);
		expect(t, err, &ok, false, "mprotect with PROT_EXEC");
	} else if ((prot & PROT_WRITE) && !a->maywrite) {
		eadd(&ok, EACCES);
		if (!whole)
			eadd(&ok, EINVAL);
		expect(t, err, &ok, false, "mprotect to write a read-only grant");
	} else if (!whole && prot != a->prot) {
		eadd(&ok, EINVAL);
		expect(t, err, &ok, false, "partial mprotect (would split)");
	} else {
		/* whole arena, or no change: the contract allows it */
		expect(t, err, &ok, true, "mprotect of the whole arena");
		if (whole)
			a->prot = prot;
	}
	check_vma(t, a->addr, a->len, "after mprotect");
	verify(t, a, "after mprotect");
	if (a->prot == (PROT_READ | PROT_WRITE) && (!a->tag || chance(t, 50)))
		fill(a, rnd(t));
}

static void op_mremap(struct thread *t)
{
	struct arena *a = pick_arena(t);
	size_t A = a ? a->len : cfg.arena, P = cfg.page, olen = A, nlen = A;
	char *old, *resv = NULL, *target = NULL;
	int flags = 0, kind;
	struct eset ok = { 0 };
	void *p;
	int err;

	if (!a) {
		note(t, "mremap: no arena");
		return;
	}
	old = a->addr;
	kind = below(t, 7);
	switch (kind) {
	case 0: nlen = 2 * A; flags = MREMAP_MAYMOVE; break;	/* grow, may move */
	case 1: nlen = A + P; break;				/* grow in place */
	case 2: nlen = A / 2; break;				/* shrink */
	case 3: flags = MREMAP_MAYMOVE | MREMAP_FIXED; break;	/* move */
	case 4: flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP; break;
	case 5:							/* move a part */
		old = a->addr + P * below(t, A / P);
		olen = nlen = P;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		break;
	default: nlen = 4 * A; flags = MREMAP_MAYMOVE | MREMAP_FIXED; break;
	}
	if (flags & MREMAP_FIXED)
		pthread_rwlock_wrlock(&as_lock);
	else
		pthread_rwlock_rdlock(&as_lock);
	if (flags & MREMAP_FIXED) {
		resv = mmap(NULL, 6 * A, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (resv == MAP_FAILED)
			fail(t, "reserving address space: %s", ename(errno));
		target = (char *)(((uintptr_t)resv + A - 1) & ~(A - 1));
	}
	note(t, "mremap(%p, %#zx, %#zx, %#x, %p) of arena %p", old, olen, nlen,
	     flags, target, a->addr);
	p = mremap(old, olen, nlen, flags, target);
	err = p == MAP_FAILED ? errno : 0;
	if (resv)
		munmap(resv, 6 * A);	/* whole: nobody mapped into it (as_lock) */
	pthread_rwlock_unlock(&as_lock);
	eadd(&ok, EINVAL);
	eadd(&ok, EFAULT);
	if (kind == 2 && !err) {
		/* shrinking to a size the kernel sees as a no-op is impossible here */
		fail(t, "shrinking mremap succeeded: the arena was split");
	}
	if (!err) {
		/* Refused by the contract: keep track of where the memory went so
		 * that the rest of the run stays sane, then fail. */
		fail(t, "mremap succeeded (now at %p), want EINVAL/EFAULT", p);
	}
	expect(t, err, &ok, false, "mremap");
	check_vma(t, a->addr, a->len, "after mremap");
	verify_all(t, "after a refused mremap");
}

static void op_madvise(struct thread *t)
{
	static const int advs[] = {
		MADV_DONTNEED, MADV_WILLNEED, MADV_DONTFORK, MADV_DOFORK,
		MADV_DONTFORK, MADV_DOFORK, MADV_DONTDUMP, MADV_DODUMP,
		MADV_REMOVE, MADV_FREE, MADV_COLD, MADV_PAGEOUT,
		MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_MERGEABLE, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_RANDOM, MADV_SEQUENTIAL, MADV_NORMAL, -1,
	};
	struct arena *a = pick_arena(t);
	int adv = advs[below(t, sizeof(advs) / sizeof(advs[0]))], err;
	size_t n, lo = 0, cnt;
	bool whole = chance(t, 60), destructive;

	if (!a) {
		note(t, "madvise: no arena");
		return;
	}
	n = cnt = a->len / cfg.page;
	/* any other number, but not MADV_HWPOISON (100) or MADV_SOFT_OFFLINE
	 * (101): as root they inject memory errors into the arena's pages */
	if (adv < 0) {
		adv = 24 + below(t, 200);
		if (adv == 100 || adv == 101)
			adv = 102;
	}
	if (!whole) {
		lo = below(t, n);
		cnt = 1 + below(t, n - lo);
		whole = lo == 0 && cnt == n;
	}
	note(t, "madvise(arena %p + %zu pages, %zu pages, %d)%s", a->addr, lo,
	     cnt, adv, a->dontfork ? " (dontfork)" : "");
	err = res(madvise(a->addr + lo * cfg.page, cnt * cfg.page, adv));
	/* Any errno is fine; what must hold afterwards is checked below. */
	if (!err && !whole && ((adv == MADV_DONTFORK && !a->dontfork) ||
			       (adv == MADV_DOFORK && a->dontfork)))
		fail(t, "partial madvise %s succeeded: it must split the VMA",
		     adv == MADV_DONTFORK ? "MADV_DONTFORK" : "MADV_DOFORK");
	if (!err && whole && adv == MADV_DONTFORK)
		a->dontfork = true;
	if (!err && whole && adv == MADV_DOFORK)
		a->dontfork = false;
	check_vma(t, a->addr, a->len, "after madvise");
	destructive = adv == MADV_DONTNEED || adv == MADV_REMOVE ||
		      adv == MADV_FREE || adv == MADV_PAGEOUT;
	if (destructive && !err && !(a->prot & PROT_READ)) {
		size_t i;

		for (i = lo; i < lo + cnt; i++)
			a->umap[i / 64] |= 1ULL << (i % 64);
	}
	if (a->prot & PROT_READ) {
		verify_range(t, a, lo, destructive && !err ? lo + cnt : lo, true,
			     "after madvise");
		if (destructive && a->tag && (a->prot & PROT_WRITE))
			fill(a, a->tag);
	}
}

static void op_touch(struct thread *t)
{
	struct arena *a = pick_arena(t);

	note(t, "touch arena %p (prot %#x)", a ? a->addr : NULL, a ? a->prot : 0);
	if (!a)
		return;
	verify(t, a, "touch");
	if (a->prot == (PROT_READ | PROT_WRITE))
		fill(a, rnd(t));
}

/* @f: the descriptor asked, whose arena size INFO reports */
static void check_info(struct thread *t, const struct karena_info *ki,
		       const struct fdent *f, const char *why)
{
	int i;

	if (ki->abi_version != KARENA_ABI_VERSION || ki->page_size != cfg.page ||
	    ki->arena_size != f->size)
		fail(t, "%s: abi %u page %u arena %llu, want %d %zu %zu", why,
		     ki->abi_version, ki->page_size,
		     (unsigned long long)ki->arena_size, KARENA_ABI_VERSION,
		     cfg.page, f->size);
	if (ki->arenas_peak < ki->arenas_held)
		fail(t, "%s: peak %llu < held %llu", why,
		     (unsigned long long)ki->arenas_peak,
		     (unsigned long long)ki->arenas_held);
	if (ki->flags || ki->__pad)
		fail(t, "%s: flags/__pad not zero on output", why);
	if (ki->module_arena_size != cfg.arena)
		fail(t, "%s: module_arena_size %llu, want %zu", why,
		     (unsigned long long)ki->module_arena_size, cfg.arena);
	for (i = 0; i < 3; i++)
		if (ki->reserved[i])
			fail(t, "%s: reserved[%d] = %llu on output", why, i,
			     (unsigned long long)ki->reserved[i]);
	if (cfg.threads == 1 && ki->arenas_held != (uint64_t)held(t))
		fail(t, "%s: arenas_held %llu, the process holds %d", why,
		     (unsigned long long)ki->arenas_held, held(t));
}

static void op_ioctl_info(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	struct karena_info ki, before;
	struct eset ok = { 0 };
	int kind = below(t, 6), err;
	void *arg = &ki;

	if (!f) {
		note(t, "ioctl INFO: no fd");
		return;
	}
	memset(&ki, 0, sizeof(ki));
	switch (kind) {
	case 0: case 1:
		note(t, "ioctl(%d, INFO)", f->fd);
		break;
	case 2: {	/* random "in" fields, everything else poisoned */
		memset(&ki, 0xa5, sizeof(ki));
		ki.flags = below(t, 2) ? (uint32_t)rnd(t) : 0;
		ki.__pad = below(t, 2) ? (uint32_t)rnd(t) : 0;
		ki.module_arena_size = chance(t, 30) ? rnd(t) : 0;
		for (int i = 0; i < 3; i++)
			ki.reserved[i] = chance(t, 30) ? rnd(t) : 0;
		note(t, "ioctl(%d, INFO, flags %#x pad %#x module_arena_size %llx reserved %llx/%llx/%llx)",
		     f->fd, ki.flags, ki.__pad, (unsigned long long)ki.module_arena_size,
		     (unsigned long long)ki.reserved[0], (unsigned long long)ki.reserved[1],
		     (unsigned long long)ki.reserved[2]);
		break;
	}
	case 3: {
		static const uintptr_t bad[] = { 0, 1, 4096, (uintptr_t)-4096,
						 0xffff880000000000ULL };

		arg = (void *)bad[below(t, 5)];
		note(t, "ioctl(%d, INFO, %p)", f->fd, arg);
		break;
	}
	case 4:
		arg = t->ro_page;
		note(t, "ioctl(%d, INFO, read-only page)", f->fd);
		break;
	default:	/* straddling a PROT_NONE page */
		arg = t->none_page - sizeof(ki) + 8 * (1 + below(t, sizeof(ki) / 8 - 1));
		note(t, "ioctl(%d, INFO, struct ending %td bytes into a PROT_NONE page)",
		     f->fd, (char *)arg + sizeof(ki) - t->none_page);
		break;
	}
	before = ki;
	err = res(ioctl(f->fd, KARENA_IOC_INFO, arg));
	if (kind <= 1) {
		expect(t, err, &ok, true, "INFO");
		check_info(t, &ki, f, "INFO");
	} else if (kind == 2) {
		/* the "in" fields as sent: a success overwrites the outputs */
		bool in_bad = before.flags || before.__pad ||
			      before.module_arena_size || before.reserved[0] ||
			      before.reserved[1] || before.reserved[2];

		if (in_bad) {
			eadd(&ok, EINVAL);
			expect(t, err, &ok, false, "INFO with non-zero in fields");
			if (memcmp(&ki, &before, sizeof(ki)))
				fail(t, "INFO refused with EINVAL but wrote the struct");
		} else {
			/* only the poisoned "out" fields: they are outputs, success */
			expect(t, err, &ok, true, "INFO over a poisoned struct");
			check_info(t, &ki, f, "INFO over a poisoned struct");
		}
	} else {
		eadd(&ok, EFAULT);
		expect(t, err, &ok, false, "INFO with a bad pointer");
	}
}

/* An ioctl command no part of the kernel answers before the driver. */
static unsigned long unknown_cmd(struct thread *t)
{
	/* 'T' tty/FIO*, 'X' freeze, 'f' fs, 0x94 clone/dedupe, 0 FIBMAP,
	 * 0x15 sysfs path, 0x12 block: the VFS handles some of those. */
	static const unsigned char vfs_types[] = { 'T', 'X', 'f', 0x94, 0, 0x15, 0x12 };
	unsigned long cmd;

	for (;;) {
		unsigned int dir = below(t, 4), type, nr = below(t, 256);
		unsigned int size = below(t, 3) ? below(t, 1 << 14) : sizeof(struct karena_info);
		bool vfs = false;
		size_t i;

		type = chance(t, 40) ? KARENA_IOC_MAGIC : below(t, 256);
		for (i = 0; i < sizeof(vfs_types); i++)
			vfs |= type == vfs_types[i];
		cmd = _IOC(dir, type, nr, size);
		if (vfs || cmd == KARENA_IOC_INFO || cmd == KARENA_IOC_RETURN_PAGES ||
		    cmd == KARENA_IOC_SET_ARENA_SIZE)
			continue;
		return cmd;
	}
}

static void op_ioctl_unknown(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	unsigned long cmd = unknown_cmd(t);
	uint64_t buf[64];
	struct eset ok = { 0 };
	void *arg;
	size_t i;

	for (i = 0; i < 64; i++)
		buf[i] = rnd(t);
	arg = chance(t, 50) ? (void *)buf : (void *)(uintptr_t)rnd(t);
	note(t, "ioctl(%d, %#lx, %p)", f ? f->fd : -1, cmd, arg);
	if (!f)
		return;
	eadd(&ok, ENOTTY);
	expect(t, res(ioctl(f->fd, cmd, arg)), &ok, false, "unknown ioctl");
}

/*
 * KARENA_IOC_SET_ARENA_SIZE: a valid size (EBUSY once the file has
 * granted), or one bad argument (EINVAL, EFAULT for the pointer). Not in a
 * fork child: the open file is its parent's too.
 */
static void op_set_size(struct thread *t)
{
	struct fdent *f = pick_fd(t);
	struct karena_arena_size as = { 0 };
	int kind = below(t, 8), err;
	struct eset ok = { 0 };
	void *arg = &as;
	bool good = false;

	as.arena_size = KARENA_ARENA_SIZE_MIN << below(t, 7);
	switch (kind) {
	case 0: case 1: case 2: case 3:
		good = true;
		break;
	case 4: {	/* not a power of two, or out of range */
		static const uint64_t bad[] = {
			0, 1, 4096, KARENA_ARENA_SIZE_MIN / 2,
			KARENA_ARENA_SIZE_MIN + 4096, 3 * KARENA_ARENA_SIZE_MIN,
			KARENA_ARENA_SIZE_MAX * 2, 1ULL << 40, ~0ULL,
		};

		as.arena_size = chance(t, 70) ? bad[below(t, 9)] : rnd(t) | 1;
		break;
	}
	case 5:
		as.flags = 1U << below(t, 32);
		break;
	case 6:
		as.__pad = 1 + (uint32_t)below(t, 0xffffffffU);
		break;
	default: {
		static const uintptr_t bad[] = { 0, 1, 4096, (uintptr_t)-4096 };

		arg = chance(t, 50) ? (void *)bad[below(t, 4)] :
				      (void *)(t->none_page - 8);
		break;
	}
	}
	note(t, "ioctl(%d, SET_ARENA_SIZE, size %#llx flags %#x pad %#x%s) (%s)",
	     f ? f->fd : -1, (unsigned long long)as.arena_size, as.flags,
	     as.__pad, arg == &as ? "" : ", bad pointer",
	     !f ? "-" : f->size_state == SIZE_FREE ? "free" :
	     f->size_state == SIZE_FIXED ? "granted" : "maybe granted");
	if (!f || t->child)
		return;
	err = res(ioctl(f->fd, KARENA_IOC_SET_ARENA_SIZE, arg));
	if (arg != &as) {
		eadd(&ok, EFAULT);
		expect(t, err, &ok, false, "SET_ARENA_SIZE with a bad pointer");
	} else if (!good) {
		eadd(&ok, EINVAL);
		expect(t, err, &ok, false, "SET_ARENA_SIZE with a bad argument");
	} else if (f->size_state == SIZE_FIXED) {
		eadd(&ok, EBUSY);
		expect(t, err, &ok, false, "SET_ARENA_SIZE after a grant");
	} else {
		if (f->size_state == SIZE_UNKNOWN)
			eadd(&ok, EBUSY);
		expect(t, err, &ok, true, "SET_ARENA_SIZE before any grant");
		if (!err)
			f->size = as.arena_size;
		f->size_state = err ? SIZE_FIXED : SIZE_FREE;
	}
	if (cfg.threads == 1) {
		struct karena_info ki;

		if (!info(f->fd, &ki))
			check_info(t, &ki, f, "INFO after SET_ARENA_SIZE");
	}
}

static void op_return_pages(struct thread *t)
{
	struct arena *a = pick_arena(t);
	size_t n = a ? a->len / cfg.page : 0, P = cfg.page, lo, cnt;
	struct karena_return_pages rp;
	struct karena_info k0, k1;
	struct eset ok = { 0 };
	struct fdent *f;
	int kind = below(t, 10), err, fd;
	bool valid = false;
	void *arg = &rp;

	if (!a) {
		note(t, "RETURN_PAGES: no arena");
		return;
	}
	fd = a->fd;
	if (fd < 0 || chance(t, 5)) {
		f = pick_fd(t);
		if (!f) {
			note(t, "RETURN_PAGES: no fd");
			return;
		}
		fd = f->fd;
	}
	lo = below(t, n);
	cnt = 1 + below(t, n - lo);
	memset(&rp, 0, sizeof(rp));
	rp.addr = (uintptr_t)a->addr + lo * P;
	rp.len = cnt * P;
	switch (kind) {
	case 0: rp.addr += 1 + below(t, P - 1); break;		/* unaligned addr */
	case 1: rp.len = 0; break;				/* empty */
	case 2: rp.len -= 1 + below(t, P - 1); if (!rp.len) rp.len = 1; break;
	case 3: rp.len = (n - lo + 1 + below(t, n)) * P; break;	/* past the end */
	case 4: rp.len = -(uint64_t)P; break;			/* overflow */
	case 5:							/* not an arena */
		rp.addr = chance(t, 50) ? (uintptr_t)t->ro_page :
					  0xffff888000000000ULL;
		rp.len = P;
		break;
	case 6:
		if (chance(t, 50))
			rp.flags = 1u << below(t, 32);
		else
			rp.__pad = 1 + (uint32_t)below(t, 0xffffffff);
		break;
	case 7:
		arg = chance(t, 50) ? NULL : (void *)t->none_page;
		break;
	default:
		valid = fd == a->fd;
		break;
	}
	note(t, "ioctl(%d, RETURN_PAGES, {%#llx (arena %p + %zu pages), %#llx, %#x, %#x})%s",
	     fd, (unsigned long long)rp.addr, a->addr, lo, (unsigned long long)rp.len,
	     rp.flags, rp.__pad, arg == &rp ? "" : " bad pointer");
	if (cfg.threads == 1)
		info(fd, &k0);
	err = res(ioctl(fd, KARENA_IOC_RETURN_PAGES, arg));
	if (arg != &rp) {
		eadd(&ok, EFAULT);
		expect(t, err, &ok, false, "RETURN_PAGES with a bad pointer");
	} else if (!valid) {
		eadd(&ok, EINVAL);
		expect(t, err, &ok, false, fd == a->fd ?
		       "RETURN_PAGES with a bad range" :
		       "RETURN_PAGES on a range mapped through another descriptor");
	} else {
		if (!(a->prot & PROT_WRITE)) {
			/* not in the contract for a read-only mapping */
			eadd(&ok, EINVAL);
			eadd(&ok, EACCES);
			eadd(&ok, EPERM);
		}
		expect(t, err, &ok, true, "RETURN_PAGES");
		if (!err && rp.returned > cnt)
			fail(t, "RETURN_PAGES returned %llu pages of %zu",
			     (unsigned long long)rp.returned, cnt);
		if (!err && cfg.threads == 1 && !info(fd, &k1) &&
		    k1.pages_returned - k0.pages_returned != rp.returned)
			fail(t, "pages_returned grew by %llu, RETURN_PAGES said %llu",
			     (unsigned long long)(k1.pages_returned - k0.pages_returned),
			     (unsigned long long)rp.returned);
		if (!err && !(a->prot & PROT_READ)) {
			size_t i;

			for (i = lo; i < lo + cnt; i++)
				a->zmap[i / 64] |= 1ULL << (i % 64);
		}
		if (!err && (a->prot & PROT_READ)) {
			size_t i;

			for (i = lo; i < lo + cnt; i++)
				if (!page_is_zero(a->addr + i * P))
					fail(t, "page %zu of arena %p not zero after RETURN_PAGES",
					     i, a->addr);
			verify_range(t, a, lo, lo + cnt, false,
				     "outside RETURN_PAGES");
			if (a->prot & PROT_WRITE)
				fill(a, rnd(t));
		}
		check_vma(t, a->addr, a->len, "after RETURN_PAGES");
		return;
	}
	verify_all(t, "after a refused RETURN_PAGES");
}

static void run_ops(struct thread *t, long n, bool may_fork);

/*
 * fork: the child checks that it sees the parent's arenas as they were
 * (the parent overwrites some of its own meanwhile, copying the pages it
 * shares with the child), that DONTFORK arenas are gone, writes its own
 * pattern into some of them (the others stay shared with the parent
 * through the burst), runs a short burst and exits in one of three ways.
 * The parent then checks that its arenas kept its own pattern.
 */
static void op_fork(struct thread *t)
{
	int how = below(t, 3), status, i;
	long copies0 = read_long(SYSFS "fork_copy_failures");
	uint64_t child_rng = rnd(t);
	pid_t pid;

	note(t, "fork (child then %s)", how == 0 ? "exits holding its arenas" :
	     how == 1 ? "unmaps and exits" : "is killed");
	pid = fork();
	if (pid < 0) {
		if (errno == EAGAIN || errno == ENOMEM)
			return;
		fail(t, "fork: %s", ename(errno));
	}
	if (pid == 0) {
		unsigned char vec;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* another thread may have held it at fork: only we run here */
		pthread_rwlock_init(&as_lock, NULL);
		t->child = true;
		t->rng = child_rng;
		for (i = 0; i < MAX_ARENAS; i++) {
			struct arena *a = &t->ar[i];

			if (!a->addr)
				continue;
			if (a->dontfork) {
				if (!mincore(a->addr, cfg.page, &vec) || errno != ENOMEM)
					fail(t, "MADV_DONTFORK arena %p is mapped in the child",
					     a->addr);
				a->addr = NULL;
				continue;
			}
			a->inherited = true;
			check_vma(t, a->addr, a->len, "fork child");
			verify(t, a, "fork child: the parent's data at fork");
			if (a->prot == (PROT_READ | PROT_WRITE) && chance(t, 60))
				fill(a, rnd(t));
		}
		if (cfg.threads == 1) {
			struct fdent *f = pick_fd(t);
			struct karena_info ki;

			if (f && !info(f->fd, &ki))
				check_info(t, &ki, f, "INFO in the fork child");
		}
		run_ops(t, 10 + below(t, 20), false);
		verify_all(t, "fork child after its burst");
		if (how == 1)
			for (i = 0; i < MAX_ARENAS; i++)
				if (t->ar[i].addr)
					release_arena(t, &t->ar[i]);
		if (how == 2)
			raise(SIGKILL);
		_exit(0);
	}
	/* the child may have granted through our descriptors, fixing their
	 * arena size (an open file is shared across fork) */
	for (i = 0; i < MAX_FDS; i++)
		if (t->fds[i].fd >= 0 && t->fds[i].size_state == SIZE_FREE)
			t->fds[i].size_state = SIZE_UNKNOWN;
	/* parent: change some of its arenas while the child reads its own */
	for (i = 0; i < MAX_ARENAS; i++)
		if (t->ar[i].addr && t->ar[i].prot == (PROT_READ | PROT_WRITE) &&
		    chance(t, 60))
			fill(&t->ar[i], rnd(t));
	if (waitpid(pid, &status, 0) != pid)
		fail(t, "waitpid: %s", ename(errno));
	if (sh->failed)
		fail(t, "the fork child failed");
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_COPY_SIGBUS) {
		/* documented: a copy that could not be made faults with SIGBUS,
		 * and the failure is counted */
		if (read_long(SYSFS "fork_copy_failures") <= copies0)
			fail(t, "fork child got SIGBUS on an inherited arena, but fork_copy_failures did not grow");
		__sync_fetch_and_add(&sh->copy_sigbus, 1);
	} else if (how == 2 ? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) :
			      !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fail(t, "fork child ended with status %#x (%s %d)", status,
		     WIFSIGNALED(status) ? "signal" : "exit",
		     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	__sync_fetch_and_add(&sh->fork_copies_seen, 1);
	verify_all(t, "parent after its fork child ran");
}

/* A short-lived process that takes arenas and dies holding them. */
static void op_exit_child(struct thread *t)
{
	int n = 1 + below(t, 4), kill_it = chance(t, 50), status, pfd[2];
	uint64_t tag = rnd(t);
	pid_t pid;
	char c;

	note(t, "child takes %d arenas and %s", n, kill_it ? "is SIGKILLed" : "exits");
	if (pipe(pfd))
		fail(t, "pipe: %s", ename(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		int fd, i;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(cfg.device, O_RDWR);
		close(pfd[0]);
		for (i = 0; fd >= 0 && i < n; i++) {
			/* every other grant is of two arenas */
			size_t len = (i & 2 ? 2 : 1) * cfg.arena, j;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_SHARED | (i & 1 ? MAP_POPULATE : 0), fd, 0);

			if (p == MAP_FAILED)
				break;
			for (j = 0; j < len; j += cfg.page)
				*(uint64_t *)(p + j) = tag;
		}
		if (c = 1, write(pfd[1], &c, 1) != 1)
			_exit(2);
		if (kill_it)
			pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		c = 0;
	close(pfd[0]);
	if (kill_it)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		fail(t, "waitpid: %s", ename(errno));
	if (kill_it ? !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) :
		      !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail(t, "arena-holding child ended with status %#x", status);
}

enum {
	OP_OPEN, OP_CLOSE, OP_MMAP, OP_MMAP_BAD, OP_MUNMAP, OP_MUNMAP_PART,
	OP_MPROTECT, OP_MREMAP, OP_MADVISE, OP_TOUCH, OP_INFO, OP_IOCTL_UNKNOWN,
	OP_RETURN_PAGES, OP_SET_SIZE, OP_FORK, OP_EXIT_CHILD, NR_OPS
};

static const struct {
	void (*fn)(struct thread *t);
	int weight;
} ops[NR_OPS] = {
	[OP_OPEN]		= { op_open, 6 },
	[OP_CLOSE]		= { op_close, 3 },
	[OP_MMAP]		= { op_mmap, 16 },
	[OP_MMAP_BAD]		= { op_mmap_bad, 10 },
	[OP_MUNMAP]		= { op_munmap, 9 },
	[OP_MUNMAP_PART]	= { op_munmap_part, 5 },
	[OP_MPROTECT]		= { op_mprotect, 6 },
	[OP_MREMAP]		= { op_mremap, 5 },
	[OP_MADVISE]		= { op_madvise, 6 },
	[OP_TOUCH]		= { op_touch, 6 },
	[OP_INFO]		= { op_ioctl_info, 5 },
	[OP_IOCTL_UNKNOWN]	= { op_ioctl_unknown, 5 },
	[OP_RETURN_PAGES]	= { op_return_pages, 6 },
	[OP_SET_SIZE]		= { op_set_size, 4 },
	[OP_FORK]		= { op_fork, 2 },
	[OP_EXIT_CHILD]		= { op_exit_child, 1 },
};

static void run_ops(struct thread *t, long n, bool may_fork)
{
	int total = 0, i;
	long end = t->step + n;

	for (i = 0; i < NR_OPS; i++)
		total += ops[i].weight;
	for (; t->step < end; t->step++) {
		int r = below(t, total);

		if (sh->failed)
			_exit(1);
		if (cfg.max_time && !t->child && elapsed() > cfg.max_time)
			break;
		for (i = 0; r >= ops[i].weight; i++)
			r -= ops[i].weight;
		if (!may_fork && (i == OP_FORK || i == OP_EXIT_CHILD))
			i = OP_TOUCH;
		ops[i].fn(t);
		t->cur = NULL;
		if (!t->child)
			__sync_fetch_and_add(&sh->ops_done, 1);
	}
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	int i;

	self = t;
	pthread_rwlock_rdlock(&as_lock);
	t->ro_page = mmap(NULL, cfg.page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->none_page = mmap(NULL, 2 * cfg.page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->ro_page == MAP_FAILED || t->none_page == MAP_FAILED)
		fail(t, "mmap of helper pages: %s", ename(errno));
	pthread_rwlock_unlock(&as_lock);
	t->none_page += cfg.page;
	if (mprotect(t->none_page, cfg.page, PROT_NONE))
		fail(t, "mprotect of a helper page: %s", ename(errno));
	for (i = 0; i < MAX_FDS; i++)
		t->fds[i].fd = -1;
	run_ops(t, t->nsteps, true);
	/* half the threads clean up, the others leave it to process exit */
	if (chance(t, 50)) {
		t->cur = "cleanup";
		for (i = 0; i < MAX_ARENAS; i++)
			if (t->ar[i].addr) {
				verify(t, &t->ar[i], "cleanup");
				release_arena(t, &t->ar[i]);
			}
		for (i = 0; i < MAX_FDS; i++)
			if (t->fds[i].fd >= 0)
				close(t->fds[i].fd);
	}
	return NULL;
}

static int worker(int proc)
{
	pthread_t tid[64];
	struct thread *ts;
	long per = cfg.ops / (cfg.procs * cfg.threads);
	int i;

	ts = calloc(cfg.threads, sizeof(*ts));
	if (!ts)
		return 1;
	for (i = 0; i < cfg.threads; i++) {
		ts[i].proc = proc;
		ts[i].thr = i;
		ts[i].rng = mix(cfg.seed ^ mix(proc * 1000003ULL + i));
		ts[i].nsteps = per + (proc == 0 && i == 0 ?
				      cfg.ops - per * cfg.procs * cfg.threads : 0);
	}
	for (i = 1; i < cfg.threads; i++)
		if (pthread_create(&tid[i], NULL, thread_main, &ts[i]))
			fail(NULL, "pthread_create failed");
	thread_main(&ts[0]);
	for (i = 1; i < cfg.threads; i++)
		pthread_join(tid[i], NULL);
	return 0;
}

/*
 * arenas_granted == grants - releases, and back to `want` (if >= 0);
 * arenas_shared back to `want_shared` (no grant holds another's arena)
 */
static int counters_balance(long want, long want_shared, char *msg, size_t len)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		long g = read_long(SYSFS "arenas_granted");
		long gr = read_long(SYSFS "grants");
		long rel = read_long(SYSFS "releases");
		long shared = read_long(SYSFS "arenas_shared");

		if (g < 0 || gr < 0 || rel < 0 || shared < 0)
			return -1;
		if (g == gr - rel && (want < 0 || g == want) &&
		    shared == want_shared)
			return 0;
		if (tries == 49)
			return snprintf(msg, len, "arenas_granted %ld, grants %ld - releases %ld = %ld, want %ld; arenas_shared %ld, want %ld",
					g, gr, rel, gr - rel, want, shared,
					want_shared), 1;
		usleep(100000);
	}
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: karena-fuzz [--seed S] [--ops N] [--procs P] [--threads T]\n"
		   "                   [--max-time SEC] [--device PATH] [-v]\n");
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
	bool seeded = false;
	struct karena_info ki;
	char msg[4096];
	int i, fd, status, failed = 0, ret, tn = 0;
	long base, base_shared;
	pid_t *pids;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-v")) {
			cfg.verbose = 1;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--seed"))
			cfg.seed = strtoull(v, NULL, 0), seeded = true;
		else if (!strcmp(a, "--ops"))
			cfg.ops = strtol(v, NULL, 0);
		else if (!strcmp(a, "--procs"))
			cfg.procs = atoi(v);
		else if (!strcmp(a, "--threads"))
			cfg.threads = atoi(v);
		else if (!strcmp(a, "--max-time"))
			cfg.max_time = atoi(v);
		else if (!strcmp(a, "--device"))
			cfg.device = v;
		else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (cfg.procs < 1 || cfg.procs > 64 || cfg.threads < 1 || cfg.threads > 64 ||
	    cfg.ops < 1) {
		usage(stderr);
		return 2;
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.seed = mix(ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ getpid());
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &cfg.start);
	cfg.page = sysconf(_SC_PAGESIZE);
	printf("TAP version 13\n");
	printf("# karena-fuzz --seed %" PRIu64 " --ops %ld --procs %d --threads %d%s\n",
	       cfg.seed, cfg.ops, cfg.procs, cfg.threads,
	       cfg.max_time ? " (with --max-time)" : "");

	fd = open(cfg.device, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("1..0 # SKIP cannot open %s: %s\n", cfg.device, strerror(errno));
		return 0;
	}
	ret = info(fd, &ki);
	if (ret) {
		printf("1..1\nnot ok 1 - KARENA_IOC_INFO: %s\n", strerror(-ret));
		return 1;
	}
	close(fd);
	cfg.arena = ki.arena_size;
	if (!cfg.arena || cfg.arena % cfg.page || cfg.arena & (cfg.arena - 1) ||
	    cfg.arena / cfg.page > MAX_PAGES) {
		printf("1..1\nnot ok 1 - arena size %zu is not a power-of-two multiple of the page\n",
		       cfg.arena);
		return 1;
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	printf("1..2\n");
	base = read_long(SYSFS "arenas_granted");
	base_shared = read_long(SYSFS "arenas_shared");

	/* the limits in force for the random phase */
	fd = open(cfg.device, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && !info(fd, &ki)) {
		cfg.per_process = ki.max_arenas_per_process;
		cfg.quota_possible = ki.max_arenas_per_process || ki.max_arenas_per_uid;
	}
	if (fd >= 0)
		close(fd);

	/* 1: the random sequences */
	pids = calloc(cfg.procs, sizeof(*pids));
	for (i = 0; i < cfg.procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(worker(i));
		}
		if (pids[i] < 0) {
			snprintf(sh->msg, sizeof(sh->msg), "fork of worker %d: %s", i,
				 strerror(errno));
			sh->claim = sh->failed = 1;
			break;
		}
	}
	for (i = 0; i < cfg.procs; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &status, 0) != pids[i])
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (!sh->claim) {
			snprintf(sh->msg, sizeof(sh->msg), "worker %d ended with %s %d", i,
				 WIFSIGNALED(status) ? "signal" : "status",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			sh->claim = sh->failed = 1;
		}
	}
	if (sh->failed) {
		char *nl = strchr(sh->msg, '\n');

		if (nl)
			*nl = 0;
		printf("not ok %d - fuzz seed=%" PRIu64 " ops=%ld: %s\n", ++tn, cfg.seed,
		       sh->ops_done, sh->msg);
		if (nl)
			printf("%s\n", nl + 1);
		printf("# replay one thread: karena-fuzz --seed %" PRIu64 " --ops %ld --procs 1 --threads 1\n",
		       cfg.seed, cfg.ops / (cfg.procs * cfg.threads));
		failed = 1;
	} else {
		printf("ok %d - fuzz seed=%" PRIu64 " ops=%ld procs=%d threads=%d\n", ++tn,
		       cfg.seed, sh->ops_done, cfg.procs, cfg.threads);
	}
	printf("# %.1fs, %ld grants denied ENOMEM, %ld EDQUOT, %ld forks (%ld met a failed copy)\n",
	       elapsed(), sh->enomem_grants, sh->edquot_grants, sh->fork_copies_seen,
	       sh->copy_sigbus);

	/* 2: every arena came back */
	ret = counters_balance(base, base_shared, msg, sizeof(msg));
	if (ret < 0) {
		printf("ok %d - counters balance # SKIP no %s\n", ++tn, SYSFS);
	} else if (ret) {
		printf("not ok %d - counters balance after the run: %s\n", ++tn, msg);
		failed = 1;
	} else {
		printf("ok %d - counters balance: arenas_granted back to %ld, == grants - releases; arenas_shared back to %ld\n",
		       ++tn, base, base_shared);
	}
	return failed;
}
