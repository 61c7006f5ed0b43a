// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_limit - the kernel's limits hold for the whole heap: with
 * max_arenas_per_process = N, a program under LD_PRELOAD=libkarena-malloc.so
 * that mallocs 4 KiB, 64 KiB or 1 MiB blocks in a loop gets NULL with
 * errno ENOMEM once N arenas' worth is in use, and mallocs again once it
 * has freed them; after 1 MiB blocks, whose freed grants large.c keeps
 * for a while, 64 KiB blocks still get as far as alone. Real programs at
 * the limit fail as they fail with no memory left, and go on: python3
 * raises MemoryError and allocates again once it has let go, sqlite3
 * reports "out of memory" for the statement and runs the next one. Needs
 * the module and root (it lowers the parameter for the runs and restores
 * it); the VM suite runs it. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "init.h"

#define PARAM MAX_ARENAS_PARAM
#define LIMIT 8
#define LIMIT_PROGRAMS 64	/* room for python3's start */

/*
 * Run @cmd, a shell command line, with every program of it under the
 * preload on the kernel backend; its standard output in @out (@len bytes
 * at most, NUL included). Returns its wait status, or -1.
 */
static int run_preloaded(const char *dir, const char *cmd, char *out,
			 size_t len)
{
	char line[4096];
	size_t n;
	FILE *f;

	snprintf(line, sizeof(line), "export LD_PRELOAD=%s/../libkarena-"
		 "malloc.so KARENA_BACKEND=kernel; %s", dir, cmd);
	f = popen(line, "r");
	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	return pclose(f);
}

/*
 * Run limit_prog SIZE [THEN] under the preload (no THEN if @then is 0);
 * fill *blocks, *err, *again and, with THEN, *then_blocks.
 */
static int run_prog(const char *dir, size_t size, size_t then,
		    size_t *blocks, int *err, int *again, size_t *then_blocks)
{
	char cmd[4096], line[256];
	int st;

	snprintf(cmd, sizeof(cmd), "%s/limit_prog %zu 100000 %.0zu", dir,
		 size, then);
	st = run_preloaded(dir, cmd, line, sizeof(line));
	if (st < 0)
		return -1;
	*then_blocks = 0;
	if (sscanf(line, "blocks=%zu errno=%d again=%d then=%zu", blocks, err,
		   again, then_blocks) != 3 + !!then) {
		fprintf(stderr, "# %s: printed \"%s\", status %#x\n", cmd,
			line, st);
		return -1;
	}
	return st;
}

/*
 * python3 and sqlite3 with max_arenas_per_process at LIMIT_PROGRAMS: the
 * errors they give without memory, and what they do next
 */
static void real_programs(const char *dir, size_t arena)
{
	static const char py[] =
		"python3 -c 'out = []\n"
		"for size in (5000, 100000):\n"
		"    a = []\n"
		"    try:\n"
		"        while True:\n"
		"            a.append(bytearray(size))\n"
		"    except MemoryError:\n"
		"        out.append(len(a))\n"
		"    del a\n"
		"b = [bytearray(5000) for i in range(100)]\n"
		"print(\"MemoryError after\", out[0], out[1], \"again\", len(b))' "
		"2>&1";
	static const char sql[] =
		"printf \"CREATE TABLE t(x);\\n"
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
		"LIMIT 1000000) INSERT INTO t SELECT randomblob(500) FROM c;\\n"
		"SELECT 'after', count(*) FROM t;\\n\" | sqlite3 :memory: 2>&1";
	char out[4096];
	size_t small = 0, big = 0, again = 0, room = LIMIT_PROGRAMS * arena;
	int st;

	if (access("/usr/bin/python3", X_OK)) {
		skip("python3 at the limit", "python3 is not installed");
	} else {
		st = run_preloaded(dir, py, out, sizeof(out));
		sscanf(out, "MemoryError after %zu %zu again %zu", &small,
		       &big, &again);
		ok(st == 0 && small && big && again == 100 &&
		   small * 5000 <= room && big * 100000 <= room,
		   "python3 under the preload, max_arenas_per_process=%d: "
		   "MemoryError after %zu objects of 5000 bytes and %zu of "
		   "100000 (room for %zu bytes), then 100 objects again "
		   "(status %d)", LIMIT_PROGRAMS, small, big, room, st);
		if (st)
			fprintf(stderr, "# %.300s\n", out);
	}
	if (access("/usr/bin/sqlite3", X_OK)) {
		skip("sqlite3 at the limit", "sqlite3 is not installed");
		return;
	}
	st = run_preloaded(dir, sql, out, sizeof(out));
	ok(st != -1 && WIFEXITED(st) && strstr(out, "out of memory") &&
	   strstr(out, "after|0"),
	   "sqlite3 under the preload, max_arenas_per_process=%d: the insert "
	   "fails with \"out of memory\", the next statement runs (status "
	   "%d)", LIMIT_PROGRAMS, st);
	if (!strstr(out, "after|0"))
		fprintf(stderr, "# %.300s\n", out);
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
	if (write_param(LIMIT_PROGRAMS) < 0) {
		ok(0, "set max_arenas_per_process to %d", LIMIT_PROGRAMS);
		return tap_done();
	}
	real_programs(dir, arena);
	write_param(old);
	return tap_done();
}
