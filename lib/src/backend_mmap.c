// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backend_mmap.c - arenas from anonymous mmap, for machines without the
 * module. Arena size: KARENA_ARENA_KB (power of two, 64 .. 4096), default
 * 256 KiB. Alignment by over-mapping and trimming, for arenas and for the
 * mappings of large blocks alike.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "backend.h"
#include "config.h"
#include "options.h"

static int mmap_init(size_t *arena_size)
{
	*arena_size = (size_t)kr_opt.arena_kb << 10;	/* options.c checked */
	return 0;
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* @len bytes aligned to @align (powers of two, multiples of a page). */
static void *map_aligned(size_t len, size_t align)
{
	uintptr_t p, a;

	/* Often the kernel hands out an aligned range by itself. */
	p = (uintptr_t)map(len);
	if (!p)
		goto fail;
	if (!(p & (align - 1)))
		return (void *)p;
	munmap((void *)p, len);

	if (len > SIZE_MAX - align)
		goto fail;
	p = (uintptr_t)map(len + align);
	if (!p)
		goto fail;
	a = (p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > p)
		munmap((void *)p, a - p);
	if (p + align > a)
		munmap((void *)(a + len), p + align - a);
	return (void *)a;
fail:
	errno = ENOMEM;
	return NULL;
}

static void *mmap_arena_alloc(size_t size)
{
	return map_aligned(size, size);
}

/* a large block's own mapping (large.c) */
static void *mmap_grant_alloc(size_t len, size_t alignment)
{
	return map_aligned(len, alignment);
}

static void mmap_arena_free(void *base, size_t size)
{
	munmap(base, size);
}

static long mmap_return_pages(void *addr, size_t len)
{
	if (madvise(addr, len, MADV_DONTNEED) < 0)
		return -1;
	return (long)(len >> OS_PAGE_SHIFT);
}

const struct kr_backend kr_backend_mmap = {
	.name = "mmap",
	.init = mmap_init,
	.arena_alloc = mmap_arena_alloc,
	.arena_free = mmap_arena_free,
	.return_pages = mmap_return_pages,
	.grant_alloc = mmap_grant_alloc,
	.grant_free = mmap_arena_free,
};
