/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h - the library's compile-time settings: the attributes the code is
 * written with, the tunables, and the small size classes.
 *
 * Every size here is a power of two so that the fast paths compute with
 * shifts and masks; the design they serve is in lib/README.md. What can be
 * changed at run time (the KARENA_* variables) is in options.h.
 */
#ifndef KARENA_CONFIG_H
#define KARENA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "karena.h"

#define KR_API		__attribute__((visibility("default")))
/* on data the fast paths read: a direct RIP-relative load, no indirection */
#define KR_HIDDEN	__attribute__((visibility("hidden")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define KR_NOINLINE	__attribute__((noinline))
#define KR_COLD		__attribute__((noinline, cold))

/* -------------------------------------------------------------------------
 * Tunables
 */
#define ALIGNMENT_SHIFT		4
#define ALIGNMENT		(1u << ALIGNMENT_SHIFT)	/* 16 */
#define SMALL_MAX		KARENA_SMALL_MAX		/* 1024 */
#define NUM_CLASSES		KARENA_NUM_CLASSES		/* 64 */
/* the kernel's page: the unit of mappings and of pages handed back */
#define OS_PAGE_SHIFT		12
#define OS_PAGE_SIZE		(1u << OS_PAGE_SHIFT)		/* 4 KiB */
/*
 * A pool: four pages, so that the classes up to 1 KiB waste at most a
 * sixteenth of a pool (lib/README.md, "Size classes") and hold 16 blocks
 * at least (pool.c says why); a span is a run of pools.
 */
#define POOL_SHIFT		14
#define POOL_SIZE		(1u << POOL_SHIFT)		/* 16 KiB */
#define POOL_MASK		((uintptr_t)POOL_SIZE - 1)
#define POOL_SLOT_SHIFT		8	/* sizeof(struct kr_pool): 256 */
#define POOL_MAP_WORDS		(POOL_SIZE / ALIGNMENT / 64)	/* 16 */
#define MIN_ARENA_SHIFT		16	/* 64 KiB */
#define MAX_ARENA_SHIFT		22	/* 4 MiB */
#define DEFAULT_ARENA_SHIFT	18	/* 256 KiB: the mmap backend */
#define MAX_POOLS		(1u << (MAX_ARENA_SHIFT - POOL_SHIFT)) /* 256 */
#define DEFAULT_KEEP_ARENAS	1	/* empty arenas kept per heap */
#define MAX_EMPTY_BYTES		((size_t)64 << 20) /* empty arenas waiting */
#define KEEP_POOLS		4	/* empty pools kept open per heap */
#define EXTEND_BYTES		OS_PAGE_SIZE /* a fresh pool's first free list */
#define SPARE_POOLS		8	/* empty pools a heap holds (spare.c) */
#define SPARE_BATCH		4	/* pools moved per lock (spare.c) */
#define DEFAULT_PURGE_MS	100	/* an empty pool's pages go back after */
#define ARENA_MAGIC		0x6b61u	/* "ka" */
#define SPAN_ARENA_MAGIC	0x6d6bu	/* "km": an arena of spans */
/* medium classes (span.c): 8 per power of two from 1152 B to 128 KiB */
#define MEDIUM_CLASSES		56
#define MEDIUM_LIMIT		((size_t)128 << 10)
#define SPAN_MAX_POOLS		8	/* 128 KiB: a span's largest size */
#define KEEP_SPANS		4	/* empty spans kept open per heap */
#define SPAN_CACHE_PAGES	256	/* empty spans' pools a heap holds */

/* Debug fill bytes, as CPython's debug hooks use them. */
#define CLEAN_BYTE		0xCD	/* fresh block, never written */
#define DEAD_BYTE		0xDD	/* freed block */
#define FORBIDDEN_BYTE		0xFD	/* slack after the requested size */

static inline unsigned size_to_class(size_t size)
{
	return size ? (unsigned)((size - 1) >> ALIGNMENT_SHIFT) : 0;
}

static inline size_t class_to_size(unsigned c)
{
	return (size_t)(c + 1) << ALIGNMENT_SHIFT;
}

#endif /* KARENA_CONFIG_H */
