// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * malloc_shim.c - libkarena-malloc.so: the C allocator's names, for
 * LD_PRELOAD. Every request is karena's (small and medium blocks in arenas,
 * large ones in grants of their own), but for small ones made while a
 * thread's heap is being built or after it is gone, which glibc serves
 * through its __libc_* entry points (no dlsym, so no calloc recursion at
 * start-up). free() routes by address (registry, then the large blocks'
 * table), never by a flag: what karena never made goes back to glibc.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "fastpath.h"

#define SHIM __attribute__((visibility("default")))

static int bad_alignment(size_t a)
{
	return !a || (a & (a - 1));
}

SHIM void *malloc(size_t size)
{
	return malloc_fast(size);
}

SHIM void free(void *ptr)
{
	free_fast(ptr);
}

SHIM void cfree(void *ptr)
{
	kr_free(ptr);
}

SHIM void *calloc(size_t nmemb, size_t size)
{
	return kr_calloc(nmemb, size);
}

SHIM void *realloc(void *ptr, size_t size)
{
	return kr_realloc(ptr, size);
}

SHIM void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return kr_realloc(ptr, total);
}

SHIM int posix_memalign(void **out, size_t alignment, size_t size)
{
	void *p;

	if (bad_alignment(alignment) || alignment % sizeof(void *))
		return EINVAL;
	p = kr_memalign(alignment, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

SHIM void *aligned_alloc(size_t alignment, size_t size)
{
	if (bad_alignment(alignment)) {
		errno = EINVAL;
		return NULL;
	}
	return kr_memalign(alignment, size);
}

SHIM void *memalign(size_t alignment, size_t size)
{
	if (bad_alignment(alignment)) {
		errno = EINVAL;
		return NULL;
	}
	return kr_memalign(alignment, size);
}

SHIM void *valloc(size_t size)
{
	return kr_memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

SHIM void *pvalloc(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	return kr_memalign(page, (size + page - 1) & ~(page - 1));
}

SHIM size_t malloc_usable_size(void *ptr)
{
	return kr_usable_size(ptr);
}
