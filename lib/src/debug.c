// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * debug.c - KARENA_DEBUG=1: fill, poison, guard and diagnose.
 *
 * A debug block of class size S serving a request of n bytes (n <= S - 8):
 *
 *   +---------------------+----------------------+-----------------+
 *   | n bytes, 0xCD fresh |  0xFD up to S - 8    | trailer (8)     |
 *   +---------------------+----------------------+-----------------+
 *
 * trailer = n | (n ^ TRAILER_KEY) << 32: any write past the n bytes
 * changes a 0xFD byte or breaks the trailer's two halves. A freed block is
 * 0xDD throughout (but its first two words, the free-list link and the
 * key of free.c's double-free check), so the trailer
 * of a freed block reads DEAD_TRAILER: a second free is a double free.
 * Requests of 1017 to 1024 bytes are medium blocks, whose frees are always
 * checked exactly (span.c), and so are those over 1024.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "arena.h"
#include "config.h"
#include "debug.h"
#include "init.h"
#include "pool.h"
#include "span.h"
#include "types.h"

#define TRAILER		8
#define TRAILER_KEY	0xFDFD5A5Au
#define DEAD_TRAILER	0xDDDDDDDDDDDDDDDDull

KR_COLD void kr_fatal(const void *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "karena: fatal: %p: ", p);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		n = 0;
	abort();
}

size_t debug_max_request(void)
{
	return SMALL_MAX - TRAILER;
}

static uint64_t *trailer_of(void *b, size_t block_size)
{
	return (uint64_t *)((char *)b + block_size - TRAILER);
}

static bool trailer_ok(uint64_t t, size_t block_size)
{
	uint32_t n = (uint32_t)t;

	return (uint32_t)(t >> 32) == (n ^ TRAILER_KEY) &&
	       n <= block_size - TRAILER;
}

/*
 * @b must be the start of a block in use. Any other pointer into an arena
 * is reported (with its size class) and the process aborts.
 */
void kr_check_block_start(const void *b)
{
	struct kr_arena *a = arena_of(b);
	struct kr_pool *p = pool_of(b);
	unsigned idx = pool_index(a, p);
	size_t off = (uintptr_t)b & POOL_MASK;

	if (a->magic != ARENA_MAGIC)
		kr_fatal(b, "free of a pointer into a released or corrupt "
			 "arena %p", (void *)a);
	if (idx < kr.first_pool)
		kr_fatal(b, "free of a pointer into the header of arena %p "
			 "(not a block)", (void *)a);
	/* empty: with its arena, or a spare or kept pool (ref 0) */
	if (p->state != POOL_INUSE || !pool_ref(p))
		kr_fatal(b, "double free (or a wild pointer): the block's pool "
			 "%p is empty (it last served class %d)",
			 (void *)pool_base(p), p->purged || !p->size ||
			 p->szidx >= NUM_CLASSES ? -1 : (int)p->szidx);
	if (off % p->size)
		kr_fatal(b, "free of an interior pointer: %zu bytes into the "
			 "block at %p (class %u, %u-byte blocks)",
			 off % p->size, (const char *)b - off % p->size,
			 p->szidx, p->size);
	if ((const char *)b >= pool_untouched(p))
		kr_fatal(b, "free of a block never allocated (class %u, "
			 "%u-byte blocks)", p->szidx, p->size);
}

void *debug_malloc(struct kr_heap *h, size_t size)
{
	unsigned c;
	size_t bs, i;
	struct kr_pool *p;
	bool reused;
	unsigned char *b;

	if (size > debug_max_request())		/* 1017..1024: medium */
		return span_alloc(h, medium_class(size > SMALL_MAX ? size :
						  SMALL_MAX + 1));
	c = size_to_class(size + TRAILER);
	bs = class_to_size(c);
	/* the pool malloc takes from: the first with a free or untouched block
	 * (kr_pool_refill passes the full ones by) */
	for (p = h->usedpools[c]; p && p != POOL_NONE && !p->freeblock &&
	     !p->carve; p = p->nextpool)
		;
	reused = p && p->freeblock;
	b = kr_small_alloc(h, c);
	if (!b)
		return NULL;
	if (reused)	/* a freed block must still read 0xDD past its link */
		for (i = 2 * sizeof(void *); i < bs; i++)
			if (b[i] != DEAD_BYTE)
				kr_fatal(b, "write to a freed block (byte %zu "
					 "of %zu, class %u) before it was "
					 "reused", i, bs, c);
	memset(b, CLEAN_BYTE, size);
	memset(b + size, FORBIDDEN_BYTE, bs - TRAILER - size);
	*trailer_of(b, bs) = (uint64_t)size |
			     (uint64_t)((uint32_t)size ^ TRAILER_KEY) << 32;
	return b;
}

void debug_on_free(void *ptr)
{
	unsigned char *b = ptr;
	struct kr_pool *p;
	uint64_t t;
	size_t n, i;

	kr_check_block_start(b);
	p = pool_of(b);
	t = *trailer_of(b, p->size);
	if (t == DEAD_TRAILER)
		kr_fatal(b, "double free (class %u, %u-byte blocks)",
			 p->szidx, p->size);
	if (!trailer_ok(t, p->size))
		kr_fatal(b, "write past the end of a block: the trailer is "
			 "broken (class %u, %u-byte blocks)", p->szidx,
			 p->size);
	n = (uint32_t)t;
	for (i = n; i < (size_t)p->size - TRAILER; i++)
		if (b[i] != FORBIDDEN_BYTE)
			kr_fatal(b, "write past the end of a %zu-byte block: "
				 "byte %zu was changed (class %u, %u-byte "
				 "blocks)", n, i, p->szidx, p->size);
	memset(b, DEAD_BYTE, p->size);
}

size_t debug_usable_size(const void *b)
{
	struct kr_pool *p = pool_of(b);

	return (uint32_t)*trailer_of((void *)b, p->size);
}

/* for check.c: is freed block @b still fully poisoned past its link? */
bool debug_block_poisoned(const void *b, size_t size)
{
	const unsigned char *c = b;
	size_t i;

	for (i = 2 * sizeof(void *); i < size; i++)
		if (c[i] != DEAD_BYTE)
			return false;
	return true;
}
