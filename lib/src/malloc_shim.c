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
#include <dlfcn.h>
#include <malloc.h>

#include "alloc.h"
#include "fastpath.h"
#include "free.h"

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

/*
 * The library's own calls (realloc, calloc, memalign...) run the code the
 * program's do: one copy of each fast path in the instruction cache.
 */
extern __typeof__(malloc) kr_malloc
	__attribute__((alias("malloc"), copy(malloc)));
extern __typeof__(free) kr_free __attribute__((alias("free"), copy(free)));

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

/*
 * memalign is glibc's, lenient: programs written against it may pass any
 * alignment. One up to 16 is malloc's (kr_memalign), one that is not a
 * power of two is rounded up to the next, and only one above SIZE_MAX / 2
 * + 1, which no power of two reaches, is EINVAL. aligned_alloc is strict,
 * as C17 asks and glibc's is since 2.38.
 */
SHIM void *memalign(size_t alignment, size_t size)
{
	if (alignment > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (bad_alignment(alignment) && alignment > ALIGNMENT)
		alignment = (size_t)1 << (64 - __builtin_clzll(alignment));
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

/*
 * The heap-inspection calls report karena's heap added to glibc's (which
 * still serves what karena does not): arena, the bytes karena holds from
 * its backend; uordblks, the bytes of its blocks in use; fordblks, the
 * rest of what it holds. glibc's own are found with dlsym(RTLD_NEXT),
 * called long after start-up.
 */
static void add_karena(struct mallinfo2 *mi)
{
	struct karena_stats st;
	size_t held;

	karena_stats(&st);
	held = st.arenas_held * st.arena_size;
	mi->arena += held;
	mi->uordblks += st.bytes_in_use;
	mi->fordblks += held > st.bytes_in_use ? held - st.bytes_in_use : 0;
}

SHIM struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 (*libc)(void) =
		(struct mallinfo2 (*)(void))dlsym(RTLD_NEXT, "mallinfo2");
	struct mallinfo2 mi = { 0 };

	if (libc)
		mi = libc();
	add_karena(&mi);
	return mi;
}

/* The old form: int fields, which wrap past 2 GiB as glibc's do. */
SHIM struct mallinfo mallinfo(void)
{
	struct mallinfo2 m = mallinfo2();
	struct mallinfo mi = {
		.arena = (int)m.arena, .ordblks = (int)m.ordblks,
		.smblks = (int)m.smblks, .hblks = (int)m.hblks,
		.hblkhd = (int)m.hblkhd, .usmblks = (int)m.usmblks,
		.fsmblks = (int)m.fsmblks, .uordblks = (int)m.uordblks,
		.fordblks = (int)m.fordblks, .keepcost = (int)m.keepcost,
	};

	return mi;
}

/*
 * karena's free memory back at once (karena_trim), then glibc's trim of
 * what it serves, which takes @pad. 1 if either handed something back.
 */
SHIM int malloc_trim(size_t pad)
{
	int (*libc)(size_t) = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
	int r = karena_trim();

	if (libc)
		r |= libc(pad);
	return r;
}

/* karena's table, then glibc's summary of what it serves, on stderr. */
SHIM void malloc_stats(void)
{
	void (*libc)(void) = (void (*)(void))dlsym(RTLD_NEXT, "malloc_stats");

	karena_print_stats(stderr);
	if (libc) {
		fprintf(stderr, "glibc, for what karena does not serve:\n");
		fflush(stderr);
		libc();
	}
}

