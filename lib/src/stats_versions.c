// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stats_versions.c - karena_stats() of libkarena.so, for each layout of
 * struct karena_stats (libkarena.map names the versions).
 *
 * 0.1.0's struct ended with 32 classes (16..512 bytes); 0.2's has 64
 * classes and fields after them: larger, and its tail elsewhere. A program
 * built against 0.1.0 passes a buffer of the old size, which the new
 * karena_stats() would overrun. That program's reference to karena_stats
 * carries no version (0.1.0 had none), and the dynamic linker binds such a
 * reference to the symbol of the library's first version node: here
 * karena_stats@KARENA_0.1, which fills the old layout. A program built
 * since references karena_stats@KARENA_0.2, the default.
 *
 * Only the shared library has versions: a static link binds to the header
 * it was compiled with, and libkarena-malloc.so must export unversioned
 * names to interpose on glibc's malloc (both get stats_api.c).
 */
#include <stddef.h>
#include <string.h>

#include <karena.h>

#include "config.h"
#include "stats.h"

#define CLASSES_0_1	32

/* 0.1.0's layout, field for field. */
struct karena_stats_0_1 {
	char backend[8];
	size_t arena_size, pool_size, pools_per_arena;
	size_t arenas_held, arenas_peak, arenas_allocated, arenas_released;
	size_t arenas_denied;
	size_t pools_used, pools_full, pools_empty;
	size_t pages_returned, blocks_in_use, bytes_in_use;
	size_t heaps, heaps_abandoned;
	struct karena_class_stats classes[CLASSES_0_1];
};

_Static_assert(offsetof(struct karena_stats_0_1, classes) ==
	       offsetof(struct karena_stats, classes),
	       "0.1.0's fields before the classes are 0.2's");

KR_API void kr_stats_0_1(struct karena_stats_0_1 *old);
KR_API void kr_stats_0_2(struct karena_stats *st);
__asm__(".symver kr_stats_0_1, karena_stats@KARENA_0.1");
__asm__(".symver kr_stats_0_2, karena_stats@@KARENA_0.2");

/*
 * The fields before the classes as now, and the first 32 classes, which
 * are 0.1.0's 16..512 bytes; the block totals are theirs, so that they
 * stay the sums over the classes (0.1.0 served nothing larger).
 */
KR_API void kr_stats_0_1(struct karena_stats_0_1 *old)
{
	struct karena_stats st;
	unsigned c;

	stats_snapshot(&st);
	memcpy(old, &st, offsetof(struct karena_stats_0_1, classes));
	memcpy(old->classes, st.classes, sizeof(old->classes));
	old->blocks_in_use = 0;
	old->bytes_in_use = 0;
	for (c = 0; c < CLASSES_0_1; c++) {
		old->blocks_in_use += old->classes[c].blocks_in_use;
		old->bytes_in_use += old->classes[c].blocks_in_use *
				     old->classes[c].size;
	}
}

KR_API void kr_stats_0_2(struct karena_stats *st)
{
	stats_snapshot(st);
}
