// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stats.c - the snapshot behind karena_stats() (stats_api.c,
 * stats_versions.c), karena_print_stats() and KARENA_SHOW_STATS=1.
 *
 * Arena counts are process-wide atomics. Pool counts are summed over every
 * heap under kr.lock; the counters of heaps whose threads are running are
 * read without stopping them (approximate while they run). Blocks in use
 * and full pools are not counted on the fast path: they are the pools'
 * reference counts, summed here over each heap's arenas under its lock
 * (which keeps the arenas mapped; the owner may change a pool meanwhile,
 * so a running heap's count is approximate too).
 */
#include <string.h>

#include "backend.h"
#include "config.h"
#include "heap.h"
#include "init.h"
#include "lock.h"
#include "pool.h"
#include "span.h"
#include "stats.h"
#include "types.h"

/* Add the blocks in use in @h's pools to @st, per class, and its full pools. */
static void count_blocks(struct kr_heap *h, struct karena_stats *st)
{
	struct kr_arena *a;
	unsigned i;

	kr_lock(&h->lock);
	for (a = h->arenas; a; a = a->allnext) {
		for (i = kr.first_pool; i < a->nextpool; i++) {
			volatile struct kr_pool *p = pool_at(a, i);
			unsigned c, cap, ref;

			if (p->state != POOL_INUSE)
				continue;
			/* a pool being set up may read 0s, or half of it */
			c = p->szidx;
			cap = p->capacity;
			ref = ((unsigned)p->used & ~POOL_OFF_LIST) - p->kept;
			if (c >= NUM_CLASSES || ref > cap)
				continue;
			st->classes[c].blocks_in_use += ref;
			if (cap && ref == cap)
				st->pools_full++;
		}
	}
	kr_unlock(&h->lock);
}

void stats_snapshot(struct karena_stats *st)
{
	struct kr_heap *h;
	unsigned c;

	kr_ensure_init();
	memset(st, 0, sizeof(*st));
	strncpy(st->backend, kr.backend->name, sizeof(st->backend) - 1);
	st->arena_size = kr.arena_size;
	st->pool_size = POOL_SIZE;
	st->pools_per_arena = kr.npools - kr.first_pool;
	st->arenas_held = atomic_load(&kr.arenas_held);
	st->arenas_peak = atomic_load(&kr.arenas_peak);
	st->arenas_allocated = atomic_load(&kr.arenas_allocated);
	st->arenas_released = atomic_load(&kr.arenas_released);
	st->arenas_denied = atomic_load(&kr.arenas_denied);
	st->pages_returned = atomic_load(&kr.pages_returned);

	/*
	 * our own frees first, so that a thread sees its frees counted: the
	 * other heaps' blocks it has batched (remote.c), then ours that other
	 * threads freed
	 */
	remote_batches_push_own();
	if (heap_is_real(kr_tls_heap))
		heap_collect_remote(kr_tls_heap);
	pthread_mutex_lock(&kr.lock);
	st->heaps = kr.nheaps;
	st->heaps_abandoned = kr.nabandoned;
	for (h = kr.abandoned; h; h = h->next_abandoned)
		heap_collect_remote(h);
	for (h = kr.heaps; h; h = h->next_all) {
		st->pools_empty += *(volatile unsigned *)&h->npools_empty +
				   *(volatile unsigned *)&h->nspare;
		for (c = 0; c < NUM_CLASSES; c++) {
			size_t np = *(volatile size_t *)&h->npools[c];

			st->classes[c].pools += np;
			st->pools_used += np;
		}
		count_blocks(h, st);
		span_count(h, st);
	}
	pthread_mutex_unlock(&kr.lock);

	st->pools_used -= st->pools_full;
	for (c = 0; c < NUM_CLASSES; c++) {
		struct karena_class_stats *k = &st->classes[c];
		size_t cap = POOL_SIZE / class_to_size(c);

		k->size = class_to_size(c);
		k->blocks_free = k->pools * cap > k->blocks_in_use ?
				 k->pools * cap - k->blocks_in_use : 0;
		st->blocks_in_use += k->blocks_in_use;
		st->bytes_in_use += k->blocks_in_use * k->size;
	}
	st->medium_max = kr.medium_max;
	st->large_blocks = atomic_load(&kr.large_blocks);
	st->large_bytes = atomic_load(&kr.large_bytes);
	st->large_kept = atomic_load(&kr.large_kept);
	st->large_kept_bytes = atomic_load(&kr.large_kept_bytes);
	st->total_bytes_in_use = st->bytes_in_use + st->medium_bytes_in_use +
				 st->large_bytes;
}

KR_API void karena_print_stats(FILE *out)
{
	struct karena_stats st;
	size_t pools = 0, free_blocks = 0;
	unsigned c;

	stats_snapshot(&st);
	fprintf(out, "karena: backend %s, arena %zu KiB, %zu pools of %zu "
		"bytes per arena\n", st.backend, st.arena_size >> 10,
		st.pools_per_arena, st.pool_size);
	fprintf(out, "class   size   num pools   blocks in use  avail blocks\n"
		"-----   ----   ---------   -------------  ------------\n");
	for (c = 0; c < NUM_CLASSES; c++) {
		struct karena_class_stats *k = &st.classes[c];

		if (!k->pools)
			continue;
		fprintf(out, "%5u %6zu %11zu %15zu %13zu\n", c, k->size,
			k->pools, k->blocks_in_use, k->blocks_free);
		pools += k->pools;
		free_blocks += k->blocks_free;
	}
	fprintf(out, "\n"
		"# arenas held now         = %15zu\n"
		"# arenas peak             = %15zu\n"
		"# arenas allocated total  = %15zu\n"
		"# arenas released         = %15zu\n"
		"# arenas denied           = %15zu\n"
		"# pools used / full / empty = %7zu / %zu / %zu\n"
		"# blocks in use           = %15zu\n"
		"# bytes in use            = %15zu\n"
		"# free blocks in pools    = %15zu\n"
		"# pages returned (purge)  = %15zu (%zu calls)\n"
		"# heaps (abandoned)       = %15zu (%zu)\n"
		"# medium: arenas / spans  = %7zu / %zu (up to %zu bytes)\n"
		"# medium blocks / bytes   = %7zu / %zu\n"
		"# large blocks / bytes    = %7zu / %zu\n"
		"# large kept / bytes      = %7zu / %zu\n",
		st.arenas_held, st.arenas_peak, st.arenas_allocated,
		st.arenas_released, st.arenas_denied, st.pools_used,
		st.pools_full, st.pools_empty, st.blocks_in_use,
		st.bytes_in_use, free_blocks, st.pages_returned,
		atomic_load(&kr.return_calls), st.heaps,
		st.heaps_abandoned, st.arenas_spans, st.medium_spans,
		st.medium_max, st.medium_blocks_in_use, st.medium_bytes_in_use,
		st.large_blocks, st.large_bytes, st.large_kept,
		st.large_kept_bytes);
	(void)pools;
}

void stats_at_exit(void)
{
	karena_print_stats(stderr);
}
