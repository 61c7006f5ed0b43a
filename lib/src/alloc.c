// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * alloc.c - allocation: malloc, calloc, realloc, memalign, usable_size,
 * shared by the public API (karena_*) and the malloc shim.
 *
 * The fast path is inline in fastpath.h, so that the shim's malloc is it
 * rather than a jump to kr_malloc. Everything else is here and out of
 * line: building the thread's heap, debug mode, taking a new pool, and
 * requests > 1 KiB: medium blocks in spans (span.c) up to
 * kr.medium_max, large blocks in grants of their own (large.c) above.
 * Nothing a program asks for goes to glibc; glibc's blocks (from before
 * the preload took effect, or allocated while a thread's heap is being
 * built or after it is gone) are freed, resized and measured by glibc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "backend.h"
#include "check.h"
#include "config.h"
#include "debug.h"
#include "fastpath.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "pool.h"
#include "registry.h"
#include "span.h"
#include "spare.h"
#include "types.h"

/* No heap in this thread yet (or none at all), debug mode, or size 0. */
void *kr_malloc_slow(size_t size)
{
	struct kr_heap *h = heap_get();

	if (!h)
		return __libc_malloc(size);	/* no heap in this thread */
	return kr_debug ? debug_malloc(h, size) :
			  kr_small_alloc(h, size_to_class(size));
}

/*
 * kr_malloc_big's way for size 0, a large block, a thread with no heap
 * yet (or none: being built, exiting; it gets a large block for a medium
 * request too, rare and never glibc's), and KARENA_DEBUG.
 */
KR_NOINLINE static void *malloc_big_slow(size_t size)
{
	struct kr_heap *h;

	if (!size)
		return kr_malloc_slow(0);
	h = heap_get();			/* initializes the library */
	if (size <= kr.medium_max && likely(h))
		return span_alloc(h, medium_class(size));
	return large_alloc(size, 0, false);
}

/*
 * Size 0, or over 1 KiB: a medium block from the thread's heap, else
 * a large one. The medium case first, with no stack frame (kr.medium_max
 * is 0 until init: a first call takes the slow way).
 */
void *kr_malloc_big(size_t size)
{
	struct kr_heap *h = kr_tls_heap;

	if (likely(size - 1 < kr.medium_max &&
		   (uintptr_t)h > kr_fast.heap_slow_max))
		return span_alloc(h, medium_class(size));
	return malloc_big_slow(size);
}

/* weak: libkarena-malloc.so's is the shim's malloc itself (malloc_shim.c) */
__attribute__((weak)) void *kr_malloc(size_t size)
{
	return malloc_fast(size);
}

/*
 * usedpools[c] has no pool with a block to give: collect remote frees,
 * else start a pool for @c (from the spare pools, else from the arenas)
 * with its first block.
 */
KR_NOINLINE static void *pool_for_class(struct kr_heap *h, unsigned c)
{
	struct kr_pool *p;

	if (atomic_load_explicit(&h->remote_free, memory_order_relaxed)) {
		heap_collect_remote(h);
		if (h->usedpools[c] != POOL_NONE)
			return kr_pool_refill(h, c);
	}
	if (unlikely(kr_debug) && !(++h->debug_tick & 255) &&
	    kr_check_heap(h, stderr))
		kr_fatal(h, "heap invariants broken (see above)");
	p = spare_take_pool(h);
	/* denied: give back the empty arenas every heap keeps, retry */
	if (!p && heap_release_all_empty())
		p = spare_take_pool(h);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	h->npools[c]++;
	return pool_start(h, p, c);
}

/*
 * @p heads usedpools[c] of @h and has no free block: put its next
 * untouched blocks on its free list; if it has none, it is full and leaves
 * the list (pool.h), and the next pool is looked at; with no pool left,
 * pool_for_class. Most calls find a full head and a next pool with a free
 * block (a heap of nearly full pools: churn's steady state), so this needs
 * no stack frame: every way out is a pop or a tail call.
 */
static inline void *refill_from(struct kr_heap *h, struct kr_pool *p,
				unsigned c)
{
	while (p != POOL_NONE) {
		if (p->freeblock)
			return pool_pop(p, p->freeblock);
		if (p->carve)
			return pool_extend_pop(p);
		pool_unlink_used(h, p);
		p->used |= POOL_OFF_LIST;
		p = h->usedpools[c];
	}
	return pool_for_class(h, c);
}

/* The head of usedpools[c] has no free block: a block from elsewhere. */
void *kr_pool_refill(struct kr_heap *h, unsigned c)
{
	return refill_from(h, h->usedpools[c], c);
}

/*
 * malloc's exit when @p, the thread's first pool of the class of @size,
 * has no free block. POOL_NONE: no pool of the class, or the thread has no
 * heap (kr_no_pools: none yet, being built, exiting), or KARENA_DEBUG,
 * which take kr_malloc_slow. Any other pool is the heap's own.
 */
void *kr_malloc_refill(size_t size, struct kr_pool *p)
{
	if (unlikely(p == POOL_NONE))
		return kr_malloc_slow(size);
	return refill_from(p->heap, p, p->szidx);
}

void *kr_calloc(size_t nmemb, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	kr_ensure_init();
	if (total > kr.medium_max)
		return large_alloc(total, 0, true);
	p = kr_malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

/* The usable size of @ptr, a block of one of our arenas. */
static size_t arena_usable_size(const void *ptr)
{
	if (in_span_arena(ptr))
		return span_usable_size(ptr);
	if (kr_debug)
		return debug_usable_size(ptr);
	return pool_of(ptr)->size;
}

void *kr_realloc(void *ptr, size_t size)
{
	bool in_arena;
	size_t old;
	void *p;

	if (!ptr)
		return kr_malloc(size);
	in_arena = registry_contains(ptr);
	if (in_arena)
		old = arena_usable_size(ptr);
	else if (!(old = large_usable_size(ptr))) {
		large_check_not_freed(ptr, "realloc");
		return __libc_realloc(ptr, size);	/* glibc's block */
	}
	if (size == 0) {			/* as glibc: free, NULL */
		kr_free(ptr);
		return NULL;
	}
	/*
	 * Stay in place unless shrinking below 3/4 (CPython's rule): the
	 * block's class (or, large, its grant) holds @size already.
	 */
	if (!kr_debug && size <= old && 4 * size > 3 * old)
		return ptr;
	/* large to large: the mapping moved, not copied (mmap backend) */
	if (size > kr.medium_max && !in_arena && !kr_debug) {
		p = large_resize(ptr, size);
		if (p)
			return p;
	}
	p = kr_malloc(size);
	if (!p)
		return NULL;			/* ptr is untouched */
	memcpy(p, ptr, size < old ? size : old);
	kr_free(ptr);
	return p;
}

/* a symbol of libc.so.6 itself, never an interposer's (shim, ASan) */
static void *libc_sym(const char *name)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	return libc ? dlsym(libc, name) : NULL;
}

/*
 * glibc's memalign. Not __libc_memalign: sanitizers intercept that name,
 * and their blocks must not reach __libc_free.
 */
void *kr_libc_memalign(size_t alignment, size_t size)
{
	static void *(*fn)(size_t, size_t);

	if (!fn)
		fn = (void *(*)(size_t, size_t))libc_sym("memalign");
	return fn ? fn(alignment, size) : __libc_memalign(alignment, size);
}

/* The block size malloc(@size) gets: a small or medium class's. */
static size_t class_size_of(size_t size)
{
	if (size <= SMALL_MAX)
		return class_to_size(size_to_class(size));
	return medium_class_size(medium_class(size));
}

/*
 * @alignment: a power of two (callers check). Up to a page, a small or
 * medium class whose block size is a multiple of @alignment: its pools and
 * spans start on a page, so every block of it is aligned. Above a page
 * (or past the medium classes), a large block, aligned by its grant.
 * KARENA_DEBUG's 8-byte trailer is left room for in pools (up to 1 KiB).
 */
void *kr_memalign(size_t alignment, size_t size)
{
	size_t s, bs, trailer;

	if (alignment <= ALIGNMENT)
		return kr_malloc(size);
	kr_ensure_init();
	trailer = kr_debug ? 8 : 0;
	if (alignment <= POOL_SIZE && size <= kr.medium_max) {
		s = size > alignment ? size : alignment;
		for (s = (s + alignment - 1) & ~(alignment - 1);
		     s <= kr.medium_max;
		     s = (bs + alignment) & ~(alignment - 1)) {
			bs = class_size_of(s);
			if (bs % alignment)
				continue;
			if (bs <= SMALL_MAX && bs - trailer < size)
				continue;
			return kr_malloc(bs <= SMALL_MAX ? bs - trailer : bs);
		}
	}
	return large_alloc(size ? size : 1, alignment, false);
}

/*
 * glibc's malloc_usable_size, for glibc's blocks. Looked up in libc.so.6
 * itself: RTLD_NEXT could find the shim's own or a sanitizer's version.
 */
size_t kr_libc_usable_size(void *p)
{
	static size_t (*fn)(void *);

	if (!fn)
		fn = (size_t (*)(void *))libc_sym("malloc_usable_size");
	return fn ? fn(p) : 0;
}

size_t kr_usable_size(const void *ptr)
{
	size_t n;

	if (!ptr)
		return 0;
	if (registry_contains(ptr))
		return arena_usable_size(ptr);
	n = large_usable_size(ptr);
	return n ? n : kr_libc_usable_size((void *)ptr);
}

/* -------------------------------------------------------------------------
 * The public API
 */
KR_API void *karena_malloc(size_t size)
{
	return malloc_fast(size);
}

KR_API void *karena_calloc(size_t nmemb, size_t size)
{
	return kr_calloc(nmemb, size);
}

KR_API void *karena_realloc(void *ptr, size_t size)
{
	return kr_realloc(ptr, size);
}

KR_API void *karena_aligned_alloc(size_t alignment, size_t size)
{
	if (!alignment || (alignment & (alignment - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return kr_memalign(alignment, size);
}

KR_API size_t karena_usable_size(const void *ptr)
{
	return kr_usable_size(ptr);
}

KR_API const char *karena_backend(void)
{
	kr_ensure_init();
	return kr.backend->name;
}
