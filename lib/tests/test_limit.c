// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_limit - the kernel's limits hold for the whole heap: with
 * max_arenas_per_process = N, a program under LD_PRELOAD=libkarena-malloc.so
 * that mallocs 4 KiB, 64 KiB or 1 MiB blocks in a loop gets NULL with
 * errno ENOMEM once N arenas' worth is in use, and mallocs again once it
 * has freed them. Needs the module and root (it lowers the parameter for
 * the helper's run and restores it); the VM suite runs it. */
#include <libgen.h>

#include "tap.h"
#include "init.h"

#define PARAM MAX_ARENAS_PARAM
#define LIMIT 8

/* Run limit_prog SIZE under the preload; fill *blocks, *err, *again. */
static int run_prog(const char *dir, size_t size, size_t *blocks, int *err,
		    int *again)
{
	char cmd[4096], line[256] = "";
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "LD_PRELOAD=%s/../libkarena-malloc.so "
		 "KARENA_BACKEND=kernel %s/limit_prog %zu 100000", dir, dir,
		 size);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	st = pclose(f);
	if (sscanf(line, "blocks=%zu errno=%d again=%d", blocks, err,
		   again) != 3) {
		fprintf(stderr, "# %s: printed \"%s\", status %#x\n", cmd,
			line, st);
		return -1;
	}
	return st;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	char self[4096];
	const char *dir;
	size_t arena, i;
	long old;

	(void)argc;
	snprintf(self, sizeof(self), "%s", argv[0]);
	dir = dirname(self);
	if (!is_kernel()) {
		skip("limits hold for 4 KiB, 64 KiB and 1 MiB blocks",
		     "the kernel backend (module loaded) is not in use");
		return tap_done();
	}
	old = read_param();
	if (old < 0 || geteuid() != 0 || write_param(old) < 0) {
		skip("limits hold for 4 KiB, 64 KiB and 1 MiB blocks",
		     "needs root and a writable " PARAM);
		return tap_done();
	}
	arena = kr.arena_size;
	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		size_t blocks = 0, bytes;
		int err = 0, again = 0, st;

		if (write_param(LIMIT) < 0) {
			ok(0, "set max_arenas_per_process to %d", LIMIT);
			break;
		}
		st = run_prog(dir, sizes[i], &blocks, &err, &again);
		write_param(old);
		bytes = blocks * sizes[i];
		ok(st == 0 && err == ENOMEM, "%zu-byte blocks under the preload, "
		   "max_arenas_per_process=%d: NULL with ENOMEM after %zu "
		   "blocks (errno %d, status %d)", sizes[i], LIMIT, blocks,
		   err, st);
		ok(bytes <= LIMIT * arena && bytes >= (LIMIT - 2) * arena / 2,
		   "... once %zu bytes were in use: within %d arenas of %zu "
		   "bytes, and more than half of %d", bytes, LIMIT, arena,
		   LIMIT - 2);
		ok(again, "... and malloc works again once they are freed");
	}
	return tap_done();
}
