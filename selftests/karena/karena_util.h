/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the karena kselftests: where the module's files are,
 * reading counters and parameters, setting a parameter (returning the errno
 * of a refused write), writing a file, reading a keyed value, waiting for
 * the asynchronous reserve worker, one grant, KARENA_IOC_INFO, comparing
 * bytes, /proc/meminfo, the counter invariant, finding karena.ko for a
 * reload, KARENA_IOC_RETURN_PAGES, and (after kselftest_harness.h)
 * skipping from a fixture's setup.
 */
#ifndef KARENA_SELFTEST_UTIL_H
#define KARENA_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/karena.h>

#define DEV		"/dev/karena"
#define SYSFS		"/sys/class/misc/karena/"
#define PARAMS		"/sys/module/karena/parameters/"

/* The run-time limits, in the order tests save and restore them. */
static const char * const limit_names[] = {
	"reserve_arenas", "max_arenas", "max_arenas_per_process",
	"max_arenas_per_uid",
};
#define NR_LIMITS	4

static inline long long read_ll(const char *path)
{
	char buf[64] = "";
	long long v = -1;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtoll(buf, NULL, 0);
	close(fd);
	return v;
}

static inline long long ctr(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), SYSFS "%s", name);
	return read_ll(path);
}

static inline long long param(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	return read_ll(path);
}

/* Write @val to the file @path; 0 or the errno of the open or write. */
static inline int write_str(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = errno;
	close(fd);
	return ret;
}

/*
 * The number after "@key@sep" at the start of a line of @path (the format
 * of /proc/meminfo with ':', of memory.events with ' '), or -1.
 */
static inline long long read_key(const char *path, const char *key, char sep)
{
	char line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == sep) {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Write a parameter; 0 or the errno of the write. */
static inline int set_param_str(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	return write_str(path, val);
}

static inline int set_param(const char *name, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return set_param_str(name, buf);
}

/* Poll a counter until it equals @want (the reserve worker is async). */
static inline int wait_ctr(const char *name, long long want, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (; ms > 0; ms -= 10) {
		if (ctr(name) == want)
			return 0;
		nanosleep(&ts, NULL);
	}
	return ctr(name) == want ? 0 : -1;
}

static inline void *grant(int fd, size_t size, int flags)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | flags,
		    fd, 0);
}

static inline int get_info(int fd, struct karena_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, KARENA_IOC_INFO, info);
}

/* Every byte of [p, p + n) is c. */
static inline int all_bytes(const void *p, size_t n, unsigned char c)
{
	const unsigned char *b = p;

	/* b[0] == c and every byte equals the next one */
	return n == 0 || (b[0] == c && !memcmp(b, b + 1, n - 1));
}

/* A /proc/meminfo value in KiB, or -1. */
static inline long long meminfo(const char *key)
{
	return read_key("/proc/meminfo", key, ':');
}

static inline int check_invariant(void)
{
	return ctr("arenas_granted") == ctr("grants") - ctr("releases");
}

static inline const char *module_file(void)
{
	static const char * const cand[] = {
		"/karena/karena.ko", "kmod/karena.ko", "../../kmod/karena.ko",
	};
	const char *env = getenv("KARENA_KO");
	unsigned int i;

	if (env && !access(env, R_OK))
		return env;
	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (!access(cand[i], R_OK))
			return cand[i];
	return NULL;
}

/* Load the module file @ko with the parameters @args; 0 or the errno. */
static inline int load_module(const char *ko, const char *args)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return errno;
	ret = syscall(SYS_finit_module, fd, args, 0) ? errno : 0;
	close(fd);
	return ret;
}

/* The parameters that load the module again as it is (see save_limits()). */
static inline void limits_args(char *buf, size_t size, long long arena_kb,
			       const long long saved[NR_LIMITS])
{
	snprintf(buf, size,
		 "arena_kb=%lld reserve_arenas=%lld max_arenas=%lld max_arenas_per_process=%lld max_arenas_per_uid=%lld",
		 arena_kb, saved[0], saved[1], saved[2], saved[3]);
}

/* KARENA_IOC_RETURN_PAGES of [addr, addr + len); *returned if not NULL. */
static inline int return_pages(int fd, void *addr, size_t len,
			       __u64 *returned)
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

/* Read every limit of limit_names[] into @saved (-1 where unreadable). */
static inline void save_limits(long long saved[NR_LIMITS])
{
	int i;

	for (i = 0; i < NR_LIMITS; i++)
		saved[i] = param(limit_names[i]);
}

/* Write back what save_limits() read, skipping what it could not. */
static inline void restore_limits(const long long saved[NR_LIMITS])
{
	int i;

	for (i = 0; i < NR_LIMITS; i++)
		if (saved[i] >= 0)
			set_param(limit_names[i], saved[i]);
}

/*
 * Unload the module, to load it again with other parameters: first save
 * its limits in @saved and, in @orig, the parameters that load it again as
 * it was (limits_args()). 0, or the errno of the unload (module in use).
 */
static inline int unload_module_saving(long long saved[NR_LIMITS],
				       char *orig, size_t size,
				       long long arena_kb)
{
	save_limits(saved);
	limits_args(orig, size, arena_kb, saved);
	return syscall(SYS_delete_module, "karena", O_NONBLOCK) ? errno : 0;
}

/*
 * Wait (up to 5 s, polling state) until no released arena waits for the
 * worker: every arena the module has is granted or free. 0, or -1.
 */
static inline int wait_scrubbed(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500; i++) {
		if (ctr("arenas_reserved") ==
		    ctr("arenas_granted") + ctr("arenas_free"))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * SKIP() from a FIXTURE_SETUP: 6.1's kselftest_harness.h would still run the
 * test body after it, so leave the test's child with the status its parent
 * reads as "skipped" (255, what the harness itself uses).
 */
#define SETUP_SKIP(fmt, ...) SKIP(_exit(255), fmt, ##__VA_ARGS__)

/* In a FIXTURE_SETUP: open the device into @fd, or skip saying why not. */
#define OPEN_DEVICE_OR_SKIP(fd) do {					\
	(fd) = open(DEV, O_RDWR | O_CLOEXEC);				\
	if ((fd) < 0 && (errno == ENOENT || errno == ENODEV))		\
		SETUP_SKIP("karena.ko is not loaded (%s)", strerror(errno)); \
	if ((fd) < 0 && errno == EACCES)				\
		SETUP_SKIP("no permission to open " DEV);		\
	ASSERT_LE(0, (fd));						\
} while (0)
#endif

#endif /* KARENA_SELFTEST_UTIL_H */
