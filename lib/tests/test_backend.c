// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_backend - backend choice and failure: KARENA_BACKEND=kernel with no
 * device fails clearly (NULL + ENOMEM, one message); with the kernel
 * backend, arenas are aligned and a denial returns NULL + ENOMEM without
 * aborting (needs root: lowers max_arenas_per_process for a moment). */
#include <fcntl.h>
#include <sys/ioctl.h>

#include <linux/karena.h>
#include "tap.h"
#include "arena.h"
#include "init.h"

#define PARAM MAX_ARENAS_PARAM

static int nodevice_child(void)
{
	void *p;

	errno = 0;
	p = karena_malloc(32);
	if (p || errno != ENOMEM || strcmp(karena_backend(), "kernel"))
		return 1;
	errno = 0;
	p = karena_malloc(100000);	/* medium: arenas too */
	if (p || errno != ENOMEM)
		return 2;
	errno = 0;
	p = karena_malloc(1 << 20);	/* large: a grant of its own */
	if (p || errno != ENOMEM)
		return 3;
	return 0;
}

static void denial_test(void)
{
	struct karena_info info;
	struct karena_stats st0, st;
	long old;
	void **v;
	size_t n = 0, max = 1 << 22;
	int fd, err = 0;

	if (!is_kernel()) {
		skip("a kernel denial returns NULL + ENOMEM", "backend is mmap");
		return;
	}
	old = read_param();
	if (old < 0 || geteuid() != 0) {
		skip("a kernel denial returns NULL + ENOMEM",
		     "needs root and " PARAM);
		return;
	}
	fd = open(getenv("KARENA_DEVICE") ? getenv("KARENA_DEVICE") : "/dev/karena",
		  O_RDWR);
	memset(&info, 0, sizeof(info));
	if (fd < 0 || ioctl(fd, KARENA_IOC_INFO, &info)) {
		ok(0, "KARENA_IOC_INFO works");
		return;
	}
	karena_stats(&st0);
	if (write_param((long)info.arenas_held + 1) < 0) {
		skip("a kernel denial returns NULL + ENOMEM", "cannot write " PARAM);
		return;
	}
	v = malloc(max * sizeof(*v));
	for (n = 0; n < max; n++) {
		errno = 0;
		v[n] = karena_malloc(256);
		if (!v[n]) {
			err = errno;
			break;
		}
	}
	karena_stats(&st);
	ok(n < max && err == ENOMEM, "a denial: NULL with ENOMEM after %zu blocks", n);
	ok(st.arenas_denied > st0.arenas_denied, "the denial is counted (%zu)",
	   st.arenas_denied);
	while (n)
		karena_free(v[--n]);
	write_param(old);
	v[0] = karena_malloc(256);
	ok(v[0] != NULL, "allocation works again once the limit is restored");
	karena_free(v[0]);
	free(v);
	close(fd);
	ok(invariants(), "invariants after the denial");
}

int main(int argc, char **argv)
{
	const char *env[] = { "KARENA_BACKEND=kernel",
			      "KARENA_DEVICE=/nonexistent/karena", NULL };
	char err[4096];
	void *p;
	int st;

	if (argc > 1 && !strcmp(argv[1], "nodevice"))
		return nodevice_child();

	st = run_self(argv[0], "nodevice", env, err, sizeof(err));
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "KARENA_BACKEND=kernel without a device: small, medium and large "
	   "allocations fail with ENOMEM, no abort (child exit %d)",
	   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	ok(strstr(err, "/nonexistent/karena") && strstr(err, "modprobe karena"),
	   "... and one message names the device and says to load the module");

	p = karena_malloc(64);
	ok(p && ((uintptr_t)arena_base(arena_of(p)) & (kr.arena_size - 1)) == 0 &&
	   karena__is_ours(arena_of(p)),
	   "%s backend: arenas are aligned to %zu bytes", karena_backend(),
	   kr.arena_size);
	karena_free(p);
	denial_test();
	return tap_done();
}
