// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_debug - KARENA_DEBUG=1: fill bytes, and each misuse is diagnosed
 * (address, size class) and aborts. Each misuse runs in a child: this
 * program re-executes itself as `test_debug MODE` with KARENA_DEBUG=1.
 * The fill bytes are checked in this process when KARENA_DEBUG=1 is set,
 * else in a child re-executed with it (`test_debug fill`): never skipped. */
#include <pthread.h>

#include "tap.h"
#include "arena.h"
#include "config.h"
#include "init.h"
#include "pool.h"
#include "types.h"

static int misuse_mode(const char *mode);

/* Another thread frees @arg twice (double-free-remote). */
static void *free_twice(void *arg)
{
	karena_free(arg);
	karena_free(arg);
	return NULL;
}

/*
 * A thread with a heap of its own frees the blocks of @arg, a
 * NULL-terminated list in which one block comes twice, into its batch
 * (double-free-batched*): caught when its exit pushes the batch.
 */
static void *free_list(void *arg)
{
	void **v = arg;

	karena_free(karena_malloc(40));
	while (*v)
		karena_free(*v++);
	return NULL;
}

/* The fill bytes of KARENA_DEBUG=1: a bit per failed check, 0 if all hold. */
static int fill_checks(void)
{
	unsigned char *p;
	size_t i;
	int bad = 0, good;

	if (!kr_debug)
		return 7;
	p = karena_malloc(100);
	good = karena_usable_size(p) == 100;
	for (i = 0; i < 100; i++)
		good &= p[i] == CLEAN_BYTE;
	bad |= good ? 0 : 1;
	karena_free(p);
	good = 1;
	for (i = 16; i < 112; i++)	/* past the link and free.c's key */
		good &= p[i] == DEAD_BYTE;
	bad |= good ? 0 : 2;
	bad |= karena__check(stderr) ? 4 : 0;
	return bad;
}

static int misuse(const char *mode)
{
	if (!strcmp(mode, "fill"))
		return fill_checks();
	return misuse_mode(mode);
}

static int misuse_mode(const char *mode)
{
	unsigned char *p, *q = NULL;
	unsigned i;

	p = karena_malloc(40);
	if (!strcmp(mode, "double-free")) {
		karena_free(p);
		karena_free(p);
	} else if (!strcmp(mode, "double-free-inuse")) {
		q = karena_malloc(40);	/* keeps the pool in use */
		karena_free(p);
		karena_free(p);
		(void)q;
	} else if (!strcmp(mode, "overrun")) {
		p[40] = 1;
		karena_free(p);
	} else if (!strcmp(mode, "overrun-trailer")) {
		q = karena_malloc(40);	/* 48-byte request class: 40+8 */
		memset(q, 7, 48);
		karena_free(q);
	} else if (!strcmp(mode, "double-free-remote")) {
		struct karena_stats st;
		pthread_t t;

		q = karena_malloc(40);	/* keeps the pool in use */
		pthread_create(&t, NULL, free_twice, p);
		pthread_join(t, NULL);
		karena_stats(&st);	/* collects the remote frees */
		(void)q;
	} else if (!strncmp(mode, "double-free-batched", 19)) {
		void *r = karena_malloc(40), *s = karena_malloc(40);
		void *again[] = { p, r, p, NULL }, *cycle[] = { r, p, s, p, NULL };
		pthread_t t;

		pthread_create(&t, NULL, free_list,
			       strcmp(mode, "double-free-batched-cycle") ?
			       again : cycle);
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "interior")) {
		karena_free(p + 16);
	} else if (!strcmp(mode, "interior-nodebug")) {
		karena_free(p + 8);
	} else if (!strcmp(mode, "interior-aligned")) {
		q = karena_malloc(40);	/* keeps the pool in use */
		karena_free(p + 16);	/* 16-aligned, inside a 48-byte block */
		(void)q;
	} else if (!strcmp(mode, "double-free-later")) {
		q = karena_malloc(40);
		karena_free(p);
		karena_free(q);		/* p is no longer the list's head */
		karena_free(p);
	} else if (!strcmp(mode, "pool-table")) {
		/* a 16-aligned address in the arena's pool table */
		karena_free((char *)arena_of(p) + 3 * sizeof(struct kr_pool));
	} else if (!strcmp(mode, "table-slot-0")) {
		/* inside slot 0 of a table away from its arena's base */
		for (i = 0; kr.colour_mask && i < 4000; i++) {
			q = karena_malloc(1000);	/* kept: new arenas */
			if (q && table_offset((uintptr_t)q & kr.arena_mask))
				break;
		}
		if (kr.colour_mask && i == 4000)
			return 3;		/* no coloured arena came */
		karena_free((char *)arena_of(q ? q : p) + 64);
	} else if (!strcmp(mode, "untouched-pool")) {
		/* a block start of a pool of the arena that never carried one */
		karena_free(arena_base(arena_of(p)) + (kr.npools - 1) * POOL_SIZE);
	} else if (!strcmp(mode, "never-allocated")) {
		karena_free(p + 10 * 48);	/* past carve in a fresh pool */
	} else if (!strcmp(mode, "use-after-free")) {
		q = karena_malloc(40);
		karena_free(p);
		p[20] = 0;
		karena_malloc(40);	/* reuses p: the write is seen */
		(void)q;
	} else if (!strcmp(mode, "use-after-free-behind")) {
		struct kr_pool *a = pool_of(p);
		unsigned i;

		while (pool_ref(a) < a->capacity)
			karena_malloc(40);	/* p's pool is full */
		q = karena_malloc(40);	/* it leaves usedpools; a new head */
		karena_free(p);		/* p's pool rejoins, behind it */
		p[20] = 0;
		for (i = 1; i < pool_of(q)->capacity; i++)
			karena_malloc(40);	/* the head runs dry */
		karena_malloc(40);	/* passes it by and reuses p */
	}
	return 0;	/* not reached when the misuse is caught */
}

/* @mode aborts with @needle and @also (the size class, if "class") */
static void expect_also(const char *self, const char *mode, const char *debug,
			const char *needle, const char *also)
{
	ok(aborts_with(self, mode, debug, needle, also),
	   "%s is diagnosed (\"%s\") and aborts", mode, needle);
}

static void expect(const char *self, const char *mode, const char *debug,
		   const char *needle)
{
	expect_also(self, mode, debug, needle, "class");
}

int main(int argc, char **argv)
{
	int good;

	if (argc > 1)
		return misuse(argv[1]);

	expect(argv[0], "double-free", "KARENA_DEBUG=1", "double free");
	expect(argv[0], "double-free-inuse", "KARENA_DEBUG=1", "double free");
	expect(argv[0], "overrun", "KARENA_DEBUG=1", "write past the end");
	expect(argv[0], "overrun-trailer", "KARENA_DEBUG=1", "write past the end");
	expect(argv[0], "interior", "KARENA_DEBUG=1", "interior pointer");
	expect(argv[0], "interior-nodebug", "KARENA_DEBUG=0", "interior pointer");
	/* caught in a normal build too (free.c), at a few instructions */
	expect(argv[0], "double-free", "KARENA_DEBUG=0", "double free");
	expect(argv[0], "double-free-inuse", "KARENA_DEBUG=0", "double free");
	expect(argv[0], "double-free-later", "KARENA_DEBUG=0", "double free");
	/* both frees from another thread: caught when the owner collects */
	expect(argv[0], "double-free-remote", "KARENA_DEBUG=0", "double free");
	/* ... by a thread with a heap: caught when its batch is pushed */
	expect(argv[0], "double-free-batched", "KARENA_DEBUG=0", "double free");
	expect(argv[0], "double-free-batched-cycle", "KARENA_DEBUG=0",
	       "double free");
	expect(argv[0], "interior-aligned", "KARENA_DEBUG=0",
	       "interior pointer");
	{
		/* live blocks whose words look like a free block's */
		void **b = karena_malloc(40), **c = karena_malloc(40);

		b[0] = c;
		b[1] = pool_map(pool_of(b));
		karena_free(b);
		c[0] = c[1] = c;
		karena_free(c);
		b = karena_malloc(40);
		ok(b != NULL && invariants(), "a block whose data looks freed "
		   "is freed once, without complaint");
		karena_free(b);
	}
	expect(argv[0], "use-after-free", "KARENA_DEBUG=1", "write to a freed block");
	expect(argv[0], "use-after-free-behind", "KARENA_DEBUG=1",
	       "write to a freed block");
	expect_also(argv[0], "pool-table", "KARENA_DEBUG=1",
		    "into the header of arena", "not a block");
	/* a normal build too (the arena header reads as a pool with no
	 * block to free: types.h) */
	expect_also(argv[0], "pool-table", "KARENA_DEBUG=0",
		    "into the header of arena", "not a block");
	expect_also(argv[0], "table-slot-0", "KARENA_DEBUG=0",
		    "into the header of arena", "not a block");
	/* a normal build too: not a crash on an untouched pool's header */
	expect_also(argv[0], "untouched-pool", "KARENA_DEBUG=0",
		    "wild pointer", "is empty");
	expect_also(argv[0], "untouched-pool", "KARENA_DEBUG=1",
		    "wild pointer", "is empty");
	expect(argv[0], "never-allocated", "KARENA_DEBUG=1",
	       "never allocated");

	if (!kr_debug) {
		/* this run has no KARENA_DEBUG: check in a child that has */
		const char *env[] = { "KARENA_DEBUG=1", NULL };
		char err[4096];
		int st = run_self(argv[0], "fill", env, err, sizeof(err));

		good = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
		if (good)
			fprintf(stderr, "# child status %#x, stderr: %s\n", st,
				err);
		ok(good != 255 && !(good & 1),
		   "debug: fresh blocks read 0xCD, usable size is the request");
		ok(good != 255 && !(good & 2), "debug: freed blocks read 0xDD");
		ok(good != 255 && !(good & 4),
		   "debug: invariants, poison included");
		return tap_done();
	}
	good = fill_checks();
	ok(!(good & 1), "debug: fresh blocks read 0xCD, usable size is the request");
	ok(!(good & 2), "debug: freed blocks read 0xDD");
	ok(!(good & 4), "debug: invariants, poison included");
	return tap_done();
}
