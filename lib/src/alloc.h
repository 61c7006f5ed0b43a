/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * alloc.h - the allocation entry points that the API (karena_malloc...)
 * and the malloc shim share, their slow paths, and glibc's allocator,
 * which serves the pointers karena never made.
 *
 * kr_small_alloc is the small fast path after the class is known; the
 * whole of malloc's fast path is malloc_fast (fastpath.h).
 */
#ifndef KARENA_ALLOC_H
#define KARENA_ALLOC_H

#include <stddef.h>

#include "config.h"
#include "pool.h"
#include "types.h"

/* alloc.c: the entry points shared by the API and the malloc shim */
void *kr_malloc(size_t size);
void *kr_calloc(size_t nmemb, size_t size);
void *kr_realloc(void *ptr, size_t size);
void *kr_memalign(size_t alignment, size_t size);
size_t kr_usable_size(const void *ptr);
void *kr_pool_refill(struct kr_heap *h, unsigned c);
/* malloc's exits from malloc_fast (fastpath.h) */
KR_NOINLINE void *kr_malloc_slow(size_t size);
KR_NOINLINE void *kr_malloc_big(size_t size);
KR_NOINLINE void *kr_malloc_refill(size_t size, struct kr_pool *p);
/* glibc's allocator: the home of large requests and foreign pointers */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
size_t kr_libc_usable_size(void *p);
void *kr_libc_memalign(size_t alignment, size_t size);

/*
 * A block of class @c from @h, which the caller owns. @c is a size_t, as
 * malloc computes it, so that indexing with it needs no zero extension.
 */
static inline void *kr_small_alloc(struct kr_heap *h, size_t c)
{
	struct kr_pool *p = h->usedpools[c];
	void *b = p->freeblock;

	if (unlikely(!b))
		return kr_pool_refill(h, (unsigned)c);
	return pool_pop(p, b);
}

#endif /* KARENA_ALLOC_H */
