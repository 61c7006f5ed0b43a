/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * karena.h - the public API of libkarena.
 *
 * An allocator in the manner of CPython's obmalloc whose arenas come from
 * the karena kernel module (/dev/karena) or, without it, from anonymous
 * mmap. Requests of up to KARENA_SMALL_MAX bytes are small blocks in pools,
 * those up to KARENA_MEDIUM_MAX (with arenas of 256 KiB or more) medium
 * blocks in spans of pools, both in arenas; larger ones are large blocks,
 * each in a grant of its own (several arenas of the kernel, or a mapping).
 *
 *	#include <karena.h>		cc ... $(pkg-config --cflags --libs karena)
 *
 *	char *p = karena_malloc(100);
 *	if (!p)
 *		... errno == ENOMEM: out of memory or the kernel denied an arena
 *	karena_free(p);
 *
 * Every function is thread-safe. Failure returns NULL with errno ENOMEM
 * (EINVAL for a bad alignment); the library never aborts on a denial. It
 * aborts, naming the pointer, on a double free or a free of a pointer
 * inside a block. karena_free() also accepts pointers from the system
 * malloc.
 */
#ifndef KARENA_H
#define KARENA_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KARENA_SMALL_MAX	1024	/* largest request served by pools */
#define KARENA_NUM_CLASSES	64	/* size classes: 16, 32, ..., 1024 bytes */
#define KARENA_MEDIUM_MAX	131072	/* largest medium block (see above) */

void *karena_malloc(size_t size);
void *karena_calloc(size_t nmemb, size_t size);
void *karena_realloc(void *ptr, size_t size);
void karena_free(void *ptr);
size_t karena_usable_size(const void *ptr);
/* alignment: a power of two; size need not be a multiple of it */
void *karena_aligned_alloc(size_t alignment, size_t size);

/* "kernel" or "mmap": the backend in use (chosen at first use) */
const char *karena_backend(void);

/*
 * Hand back now what karena_free() left empty, as the purge would after
 * KARENA_PURGE_MS, and the empty arenas it would keep: 1 if something went
 * back to the kernel (or to mmap's backend), 0 if not (since 0.2).
 */
int karena_trim(void);

/**
 * struct karena_class_stats - one size class, summed over every thread
 * @size:	block size in bytes
 * @pools:	pools of this class (used or full)
 * @blocks_in_use: blocks handed out and not yet freed
 * @blocks_free: blocks in those pools not in use (free list + untouched)
 */
struct karena_class_stats {
	size_t size;
	size_t pools;
	size_t blocks_in_use;
	size_t blocks_free;
};

/**
 * struct karena_stats - a snapshot, filled by karena_stats()
 *
 * Counts from other threads are read without stopping them, so a snapshot
 * taken while they allocate is approximate; taken at rest it is exact.
 */
struct karena_stats {
	char backend[8];		/* "kernel" or "mmap" */
	size_t arena_size;		/* bytes per arena */
	size_t pool_size;		/* bytes per pool */
	size_t pools_per_arena;		/* pools that carry blocks */
	size_t arenas_held;		/* arenas granted and not released */
	size_t arenas_peak;		/* most held at once */
	size_t arenas_allocated;	/* grants over the process's life */
	size_t arenas_released;		/* handed back to the backend */
	size_t arenas_denied;		/* grants the backend refused */
	size_t pools_used;		/* some blocks in use, some free */
	size_t pools_full;		/* every block in use */
	size_t pools_empty;		/* initialized, no block in use */
	size_t pages_returned;		/* pages handed back by the purge */
	size_t blocks_in_use;		/* sum over classes */
	size_t bytes_in_use;		/* sum of block sizes in use */
	size_t heaps;			/* per-thread heaps ever created */
	size_t heaps_abandoned;		/* of those, waiting for adoption */
	struct karena_class_stats classes[KARENA_NUM_CLASSES];
	/* since 0.2: medium and large blocks; the fields above are small */
	size_t medium_max;		/* largest request served by spans */
	size_t arenas_spans;		/* of arenas_held, holding spans */
	size_t medium_spans;		/* spans (runs of pools, one class) */
	size_t medium_blocks_in_use;
	size_t medium_bytes_in_use;	/* sum of their block sizes */
	size_t large_blocks;		/* blocks with a grant of their own */
	size_t large_bytes;		/* bytes those grants hold */
	size_t total_bytes_in_use;	/* small + medium + large */
	size_t large_kept;		/* freed large blocks' grants kept */
	size_t large_kept_bytes;	/* for a while for reuse: their bytes */
};

void karena_stats(struct karena_stats *st);
/* print a table like CPython's sys._debugmallocstats() */
void karena_print_stats(FILE *out);

/*
 * Raw arenas: whole arenas from the backend (the kernel's /dev/karena or
 * anonymous mmap, chosen as for the heap), for another allocator's own use
 * (CPython's pymalloc through PyObject_SetArenaAllocator). The heap never
 * touches them. @size is a power of two from 64 KiB to 4 MiB.
 *
 * karena_arena_alloc: @size bytes reading as zero, page-aligned (aligned to
 *	@size, except from a module too old for per-file arena sizes, whose
 *	grant of n arenas is aligned to its own arena size); NULL with errno
 *	ENOMEM when the backend refuses it (a kernel limit: counted as a
 *	denial), EINVAL for a size the backend cannot grant, ENODEV for
 *	KARENA_BACKEND=kernel without the device. On the kernel each raw
 *	arena counts in the process's holder, under the same limits.
 * karena_arena_free: give back a whole arena that karena_arena_alloc(@size)
 *	returned; 0, or -1 with errno (EINVAL for a bad size).
 * karena_arena_prepare: set up the backend for @size now, so that a size
 *	the backend cannot grant fails here; 0, or -1 with errno as above.
 */
void *karena_arena_alloc(size_t size);
int karena_arena_free(void *p, size_t size);
int karena_arena_prepare(size_t size);

/**
 * struct karena_arena_stats - the raw arenas, filled by karena_arena_stats()
 */
struct karena_arena_stats {
	char backend[8];		/* "kernel" or "mmap" */
	size_t held;			/* raw arenas held now */
	size_t peak;			/* most held at once */
	size_t granted;			/* grants over the process's life */
	size_t released;		/* given back with karena_arena_free */
	size_t denied;			/* grants the backend refused (ENOMEM) */
	size_t bytes_held;		/* sum of the sizes held now */
};

void karena_arena_stats(struct karena_arena_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* KARENA_H */
