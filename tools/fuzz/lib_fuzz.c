// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lib_fuzz: libFuzzer target for libkarena.
 *
 * Each input is a program: every op is one byte of opcode followed by its
 * operands (a slot, a size class, alignment bits), read until the input
 * ends. It drives karena_malloc/calloc/realloc/free/aligned_alloc/
 * usable_size on 64 slots and checks, after every step, what a caller may
 * rely on:
 *
 *   - every block is filled with a pattern of its own (slot and generation)
 *     over its whole usable size; the pattern is verified on free, on
 *     realloc (the old prefix must survive the move) and at the end, so a
 *     block handed out twice, overlapping blocks or a stray write in the
 *     library shows as a changed byte;
 *   - calloc memory reads zero; calloc overflow fails with ENOMEM;
 *   - aligned_alloc honours the alignment, and fails with EINVAL for one
 *     that is not a power of two;
 *   - usable_size >= the request;
 *   - the library's own invariant walker (karena__check) passes every 32
 *     steps and at the end; once the input's blocks are all freed,
 *     karena_stats() counts no block in use;
 *   - sometimes a batch of blocks is freed by another thread (the remote
 *     free path).
 *
 * ASan and UBSan watch the library itself (its sources are compiled into
 * this binary with the same flags); libFuzzer's leak check sees the large
 * requests that go to the system allocator.
 *
 *   make -C tools/fuzz lib-fuzz
 *   tools/fuzz/lib_fuzz -max_total_time=30 [corpus dir]
 *
 * KARENA_BACKEND defaults to mmap here (set it to kernel inside the VM).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <karena.h>

int karena__check(FILE *out);	/* lib/src/check.c: every heap; for tests */

#define SLOTS	64

struct slot {
	unsigned char *p;
	size_t size;		/* requested */
	size_t usable;		/* bytes filled with the pattern */
	unsigned char pat;
};

static struct slot slots[SLOTS];
static unsigned gen;

struct input {
	const uint8_t *d;
	size_t n, i;
};

static unsigned byte(struct input *in)
{
	return in->i < in->n ? in->d[in->i++] : 0;
}

/* Sizes: mostly small (the pool classes, across the 1 KiB limit), some
 * medium, a few large (a grant or mapping each). */
static size_t size_of(struct input *in)
{
	unsigned k = byte(in), v = byte(in);

	switch (k & 7) {
	case 0: case 1: case 2: case 3:
		return v * 2 + (k >> 7);		/* 0 .. 511 */
	case 4:
		return 960 + v / 2;			/* around the limit */
	case 5:
		return (size_t)v * 16;			/* classes */
	case 6:
		return 512 + (size_t)v * 64;		/* up to 16 KiB */
	default:
		return (k & 0x80) ? ((size_t)1 << 20) + v : 4096 * (1 + (v & 31));
	}
}

static __attribute__((noreturn)) void die(const char *what, int slot, size_t off)
{
	fprintf(stderr, "lib_fuzz: %s (slot %d, byte %zu)\n", what, slot, off);
	karena_print_stats(stderr);
	abort();
}

static void fill(int s)
{
	struct slot *b = &slots[s];

	b->pat = (unsigned char)(s * 37 + ++gen * 11 + 1);
	b->usable = karena_usable_size(b->p);
	if (b->usable < b->size)
		die("usable_size is smaller than the request", s, b->usable);
	memset(b->p, b->pat, b->usable);
}

static void check(int s, size_t upto)
{
	struct slot *b = &slots[s];
	size_t i;

	if (upto > b->usable)
		upto = b->usable;
	for (i = 0; i < upto; i++)
		if (b->p[i] != b->pat)
			die("a block's contents changed", s, i);
}

static void release(int s)
{
	if (!slots[s].p)
		return;
	check(s, slots[s].usable);
	karena_free(slots[s].p);
	slots[s].p = NULL;
}

static void take(int s, void *p, size_t size)
{
	slots[s].p = p;
	slots[s].size = size;
	fill(s);
}

/* Free a batch of blocks on another thread (the cross-thread free path). */
struct batch {
	void *p[8];
	int n;
};

static void *remote_free(void *arg)
{
	struct batch *b = arg;
	int i;

	for (i = 0; i < b->n; i++)
		karena_free(b->p[i]);
	return NULL;
}

static void run_check(void)
{
	if (karena__check(stderr))
		die("karena__check found a broken invariant", -1, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("KARENA_BACKEND", "mmap", 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	struct karena_stats st;
	unsigned steps = 0;
	int s;

	while (in.i < in.n) {
		unsigned op = byte(&in);
		int s = byte(&in) % SLOTS;
		size_t sz;
		void *p;

		switch (op % 10) {
		case 0: case 1:			/* malloc */
			sz = size_of(&in);
			release(s);
			p = karena_malloc(sz);
			if (!p)
				die("malloc failed", s, sz);
			take(s, p, sz);
			break;
		case 2: {			/* calloc, sometimes overflowing */
			size_t n = 1 + byte(&in) % 16, m;

			sz = size_of(&in);
			m = sz / n;
			release(s);
			if (op & 0x80) {
				errno = 0;
				p = karena_calloc(SIZE_MAX / 2 + 1 + byte(&in), 2 + (op & 1));
				if (p || errno != ENOMEM)
					die("calloc overflow did not fail with ENOMEM", s, 0);
				break;
			}
			p = karena_calloc(n, m);
			if (!p)
				die("calloc failed", s, n * m);
			for (size_t i = 0; i < n * m; i++)
				if (((unsigned char *)p)[i])
					die("calloc memory is not zero", s, i);
			take(s, p, n * m);
			break;
		}
		case 3: {			/* realloc: the prefix survives */
			struct slot old = slots[s];
			size_t keep;

			sz = size_of(&in);
			if (!sz)
				sz = 1;		/* realloc(p, 0) frees: case 5 */
			p = karena_realloc(old.p, sz);
			if (!p)
				die("realloc failed", s, sz);
			slots[s].p = p;
			slots[s].size = sz;
			keep = old.p ? (old.usable < sz ? old.usable : sz) : 0;
			for (size_t i = 0; i < keep; i++)
				if (((unsigned char *)p)[i] != old.pat)
					die("realloc lost the block's contents", s, i);
			fill(s);
			break;
		}
		case 4:				/* free */
			release(s);
			break;
		case 5:				/* realloc(p, 0) frees */
			if (slots[s].p) {
				check(s, slots[s].usable);
				karena_realloc(slots[s].p, 0);
				slots[s].p = NULL;
			}
			break;
		case 6: {			/* aligned_alloc */
			unsigned a = byte(&in);
			size_t align = (size_t)1 << (a % 14);

			sz = size_of(&in);
			release(s);
			if (a & 0x80 && align > 2) {
				errno = 0;
				p = karena_aligned_alloc(align + 1 + (a & 1), sz);
				if (p || errno != EINVAL)
					die("aligned_alloc with a bad alignment did not fail with EINVAL",
					    s, align);
				break;
			}
			p = karena_aligned_alloc(align, sz);
			if (!p)
				die("aligned_alloc failed", s, sz);
			if ((uintptr_t)p & (align - 1))
				die("aligned_alloc: misaligned block", s, align);
			take(s, p, sz);
			break;
		}
		case 7:				/* touch: verify, refill */
			if (slots[s].p) {
				check(s, slots[s].usable);
				fill(s);
			}
			break;
		case 8: {			/* free a batch on another thread */
			struct batch b = { .n = 0 };
			pthread_t t;
			int i;

			for (i = 0; i < SLOTS && b.n < 8; i++) {
				int k = (s + i) % SLOTS;

				if (!slots[k].p)
					continue;
				check(k, slots[k].usable);
				b.p[b.n++] = slots[k].p;
				slots[k].p = NULL;
			}
			if (pthread_create(&t, NULL, remote_free, &b))
				remote_free(&b);
			else
				pthread_join(t, NULL);
			break;
		}
		default:
			run_check();
			break;
		}
		if (!(++steps & 31))
			run_check();
	}
	for (s = 0; s < SLOTS; s++)
		release(s);
	run_check();
	karena_stats(&st);
	if (st.blocks_in_use)
		die("blocks still in use after everything was freed", -1,
		    st.blocks_in_use);
	return 0;
}
