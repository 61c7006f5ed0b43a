// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_options - the KARENA_* variables (options.c) and the backend's
 * fallback (backend.c), each in a fresh run of this program with the
 * variables set: booleans take 1/0, yes/no, true/false, on/off in any
 * case; an invalid value gets one warning naming the variable and what it
 * accepts, and the default; KARENA_VERBOSE=1 prints the options in force;
 * in automatic mode a device that opens but does not answer
 * KARENA_IOC_INFO (/dev/null, a regular file), or answers it for pages
 * other than 4 KiB, is passed over for mmap with one warning; forced, it
 * is not.
 */
#include <stdarg.h>
#include <sys/syscall.h>
#include <linux/karena.h>

#include "tap.h"
#include "init.h"
#include "options.h"

/*
 * A module on a kernel of other pages, faked: with KARENA_TEST_PAGE_SIZE
 * set, KARENA_IOC_INFO answers as such a module would. The library is
 * linked into this program statically, so its ioctl() calls this one.
 */
int ioctl(int fd, unsigned long request, ...)
{
	const char *page_size = getenv("KARENA_TEST_PAGE_SIZE");
	struct karena_info *info;
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request != KARENA_IOC_INFO || !page_size)
		return (int)syscall(SYS_ioctl, fd, request, arg);
	info = arg;
	memset(info, 0, sizeof(*info));
	info->abi_version = KARENA_ABI_VERSION;
	info->page_size = (__u32)strtoul(page_size, NULL, 0);
	info->arena_size = 256 << 10;
	info->max_arenas = 1024;
	return 0;
}

/* The child: allocate, then report the options in force on stderr. */
static int show_child(void)
{
	void *p = karena_malloc(16);

	fprintf(stderr, "in force: debug=%d show_stats=%d keep=%u "
		"purge_ms=%u purge_thread=%u verbose=%u arena=%zu backend=%s "
		"malloc=%s\n", kr_debug, kr.show_stats, kr.keep_arenas,
		kr.purge_ms, kr.purge_thread, kr_opt.verbose, kr.arena_size,
		karena_backend(), p ? "ok" : "failed");
	karena_free(p);
	return p ? 0 : 1;
}

/* A forced kernel backend on a device that is not karena's. */
static int nomem_child(void)
{
	void *p;

	errno = 0;
	p = karena_malloc(16);
	return !p && errno == ENOMEM && !strcmp(karena_backend(), "kernel") ?
	       0 : 1;
}

static const char *self;
static char err[8192];

/* Run the child @mode with @env; its stderr in err. True if it exited 0. */
static int run(const char *mode, const char **env)
{
	int st = run_self(self, mode, env, err, sizeof(err));

	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static unsigned count(const char *needle)
{
	const char *s = err;
	unsigned n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static int has(const char *needle)
{
	return strstr(err, needle) != NULL;
}

static void booleans(void)
{
	static const char *words[][2] = {
		{ "KARENA_DEBUG=1", "debug=1" }, { "KARENA_DEBUG=0", "debug=0" },
		{ "KARENA_DEBUG=yes", "debug=1" }, { "KARENA_DEBUG=no", "debug=0" },
		{ "KARENA_DEBUG=true", "debug=1" },
		{ "KARENA_DEBUG=false", "debug=0" },
		{ "KARENA_DEBUG=on", "debug=1" }, { "KARENA_DEBUG=off", "debug=0" },
		{ "KARENA_DEBUG=YES", "debug=1" }, { "KARENA_DEBUG=Off", "debug=0" },
		{ "KARENA_DEBUG=", "debug=0" },
	};
	unsigned i, good = 0, n = sizeof(words) / sizeof(words[0]);

	for (i = 0; i < n; i++) {
		const char *env[] = { words[i][0], NULL };

		if (run("show", env) && has(words[i][1]) && !count("karena:"))
			good++;
		else
			printf("# %s: %s", words[i][0], err);
	}
	ok(good == n, "KARENA_DEBUG accepts 1/0, yes/no, true/false, on/off "
	   "in any case, and empty as unset, without a warning (%u of %u)",
	   good, n);
}

static void invalid(void)
{
	const char *maybe[] = { "KARENA_DEBUG=maybe", NULL };
	const char *kb3[] = { "KARENA_BACKEND=mmap", "KARENA_ARENA_KB=3", NULL };
	const char *kb128[] = { "KARENA_BACKEND=mmap", "KARENA_ARENA_KB=128",
				NULL };
	const char *all[] = { "KARENA_SHOW_STATS=2", "KARENA_KEEP_ARENAS=-1",
			      "KARENA_PURGE_MS=12x",
			      "KARENA_PURGE_THREAD=maybe",
			      "KARENA_VERBOSE=loud", "KARENA_BACKEND=foo",
			      NULL };
	const char *good[] = { "KARENA_KEEP_ARENAS=3", "KARENA_PURGE_MS=0",
			       "KARENA_PURGE_THREAD=off",
			       "KARENA_SHOW_STATS=no", NULL };
	static const char *names[] = { "KARENA_SHOW_STATS=\"2\"",
		"KARENA_KEEP_ARENAS=\"-1\"", "KARENA_PURGE_MS=\"12x\"",
		"KARENA_PURGE_THREAD=\"maybe\"", "KARENA_VERBOSE=\"loud\"",
		"KARENA_BACKEND=\"foo\"" };
	unsigned i, named = 0;

	ok(run("show", maybe) && count("not valid") == 1 &&
	   has("KARENA_DEBUG=\"maybe\" is not valid") &&
	   has("yes/no") && has("on/off") && has("debug=0"),
	   "KARENA_DEBUG=maybe: one warning naming it and the accepted "
	   "values; the default (0) is used");
	ok(run("show", kb3) && count("not valid") == 1 &&
	   has("KARENA_ARENA_KB=\"3\"") && has("power of two from 64 to 4096") &&
	   has("arena=262144"),
	   "KARENA_ARENA_KB=3: one warning; arenas of the default 256 KiB");
	ok(run("show", kb128) && !count("karena:") && has("arena=131072"),
	   "KARENA_ARENA_KB=128: arenas of 128 KiB, no warning");
	ok(run("show", all), "six invalid variables: the program runs");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		named += count(names[i]) == 1;
	ok(count("not valid") == 6 && named == 6 &&
	   has("show_stats=0 keep=1 purge_ms=100 purge_thread=1 verbose=0"),
	   "... one warning for each, naming it (%u of 6), and the defaults "
	   "in force", named);
	ok(run("show", good) && !count("karena:") &&
	   has("keep=3 purge_ms=0 purge_thread=0"),
	   "valid values are taken without a warning");
}

static void verbose(void)
{
	const char *env[] = { "KARENA_VERBOSE=1", "KARENA_PURGE_MS=250", NULL };
	static const char *want[] = { "KARENA_BACKEND=", "KARENA_ARENA_KB=",
		"KARENA_DEBUG=0", "KARENA_SHOW_STATS=0", "KARENA_KEEP_ARENAS=1",
		"KARENA_PURGE_MS=250", "KARENA_PURGE_THREAD=1",
		"KARENA_VERBOSE=1" };
	unsigned i, found = 0;
	char line[64];

	ok(run("show", env), "KARENA_VERBOSE=1: the program runs");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		found += has(want[i]);
	snprintf(line, sizeof(line), "karena: backend %s, arena ",
		 karena_backend());
	ok(count("karena: backend ") == 1 && has(line) &&
	   found == sizeof(want) / sizeof(want[0]),
	   "... prints one line with the backend, the arena size and every "
	   "option in force (%u of %zu)", found,
	   sizeof(want) / sizeof(want[0]));
}

static void fallback(const char *device, const char *what)
{
	char dev[300];
	const char *env[] = { "KARENA_BACKEND=", dev, NULL };
	const char *forced[] = { "KARENA_BACKEND=kernel", dev, NULL };

	snprintf(dev, sizeof(dev), "KARENA_DEVICE=%s", device);
	ok(run("show", env) && has("backend=mmap malloc=ok") &&
	   count("karena:") == 1 && has(device) &&
	   has("does not answer KARENA_IOC_INFO") && has("using the mmap"),
	   "automatic backend, KARENA_DEVICE %s: one warning naming it, and "
	   "mmap serves", what);
	ok(run("nomem", forced) && count("karena:") == 1 && has(device) &&
	   has("ENOMEM"),
	   "KARENA_BACKEND=kernel, KARENA_DEVICE %s: no fallback; arena "
	   "allocations fail with ENOMEM after one message", what);
}

/* /dev/null answering KARENA_IOC_INFO for 16 KiB pages. */
static void other_page_size(void)
{
	const char *env[] = { "KARENA_BACKEND=", "KARENA_DEVICE=/dev/null",
			      "KARENA_TEST_PAGE_SIZE=16384", NULL };
	const char *forced[] = { "KARENA_BACKEND=kernel",
				 "KARENA_DEVICE=/dev/null",
				 "KARENA_TEST_PAGE_SIZE=16384", NULL };

	ok(run("show", env) && has("backend=mmap malloc=ok") &&
	   count("karena:") == 1 && has("pages of 16384") &&
	   has("4 KiB pages") && has("using the mmap"),
	   "automatic backend, a module of 16 KiB pages: one warning naming "
	   "the page size, and mmap serves");
	ok(run("nomem", forced) && count("karena:") == 1 &&
	   has("pages of 16384") && has("ENOMEM"),
	   "KARENA_BACKEND=kernel, a module of 16 KiB pages: no fallback; "
	   "arena allocations fail with ENOMEM after one message");
}

int main(int argc, char **argv)
{
	char file[] = "/tmp/karena-not-a-device.XXXXXX";
	int fd;

	if (argc > 1 && !strcmp(argv[1], "show"))
		return show_child();
	if (argc > 1 && !strcmp(argv[1], "nomem"))
		return nomem_child();
	self = argv[0];

	booleans();
	invalid();
	verbose();
	fallback("/dev/null", "/dev/null");
	other_page_size();
	fd = mkstemp(file);
	if (fd >= 0) {
		close(fd);
		fallback(file, "a regular file");
		unlink(file);
	} else {
		ok(0, "create a regular file in /tmp");
	}
	return tap_done();
}
