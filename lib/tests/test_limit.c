// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_limit - the kernel's limits hold for the whole heap: with
 * max_arenas_per_process = N, a program under LD_PRELOAD=libkarena-malloc.so
 * that mallocs 4 KiB, 64 KiB or 1 MiB blocks in a loop gets NULL with
 * errno ENOMEM once N arenas' worth is in use, and mallocs again once it
 * has freed them; after 1 MiB blocks, whose freed grants large.c keeps
 * for a while, 64 KiB blocks still get as far as alone. Needs the module
 * and root (it lowers the parameter for the helper's run and restores
 * it); the VM suite runs it. */
#include <libgen.h>

#include "tap.h"
#include "init.h"

#define PARAM MAX_ARENAS_PARAM
#define LIMIT 8

/*
 * Run limit_prog SIZE [THEN] under the preload (no THEN if @then is 0);
 * fill *blocks, *err, *again and, with THEN, *then_blocks.
 */
static int run_prog(const char *dir, size_t size, size_t then,
		    size_t *blocks, int *err, int *again, size_t *then_blocks)
{
	char cmd[4096], line[256] = "";
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "LD_PRELOAD=%s/../libkarena-malloc.so "
		 "KARENA_BACKEND=kernel %s/limit_prog %zu 100000 %.0zu", dir,
		 dir, size, then);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	st = pclose(f);
	*then_blocks = 0;
	if (sscanf(line, "blocks=%zu errno=%d again=%d then=%zu", blocks, err,
		   again, then_blocks) != 3 + !!then) {
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
	size_t arena, i, blocks_64k = 0;
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
		size_t blocks = 0, bytes, then = sizes[i] == 1 << 20 ? 65536 : 0;
		size_t then_blocks;
		int err = 0, again = 0, st;

		if (write_param(LIMIT) < 0) {
			ok(0, "set max_arenas_per_process to %d", LIMIT);
			break;
		}
		st = run_prog(dir, sizes[i], then, &blocks, &err, &again,
			      &then_blocks);
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
		if (sizes[i] == 65536)
			blocks_64k = blocks;
		if (!then)
			continue;
		/*
		 * The freed block's grant is kept (large.c) until refused: then
		 * 64 KiB blocks get as far as alone, less what this process
		 * holds besides (stdout's buffer, printed by now: an arena)
		 * and an arena of slack. Kept, the grant would hold 4 of 8.
		 */
		ok(then_blocks * then + 2 * arena >= blocks_64k * then,
		   "... then %zu 64 KiB blocks, as many as alone (%zu) but "
		   "two arenas' worth: the kept grant went back", then_blocks,
		   blocks_64k);
	}
	return tap_done();
}
