// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * purge.c - hand back the pages of pools that stay empty.
 *
 * An empty pool of an arena still in use keeps its page resident. Once it
 * has been empty for KARENA_PURGE_MS (default 100; 0 = never), its page
 * goes back through backend->return_pages (MADV_DONTNEED or
 * KARENA_IOC_RETURN_PAGES) and it is marked purged; its bookkeeping lives
 * in the arena header, which is never purged. The free list is LIFO, so
 * pools emptied and reused quickly are never purged: no thrash.
 *
 * The heap looks at most once per PURGE_MS/2, from its slow paths (a pool
 * emptied, a new pool needed), so an idle thread purges nothing.
 */
#include "internal.h"

void purge_now(struct kr_heap *h, uint32_t min_age_ms)
{
	uint32_t now = kr_now_ms();
	struct kr_arena *a;
	unsigned i;

	h->last_purge_ms = now;
	for (a = h->arenas; a && h->npurgeable; a = a->allnext) {
		for (i = a->freepools; i; i = a->meta[i].nextfree) {
			struct kr_pool_meta *m = &a->meta[i];
			long r;

			if (m->purged || (uint32_t)(now - m->empty_ms) <
					 min_age_ms)
				continue;
			r = kr.backend->return_pages(pool_at(a, i), POOL_SIZE);
			if (r < 0)
				continue;
			m->purged = 1;
			a->npurged++;
			h->npurgeable--;
			atomic_fetch_add(&kr.pages_returned, (size_t)r);
		}
	}
}

void purge_maybe(struct kr_heap *h)
{
	uint32_t now;

	if (!kr.purge_ms || !h->npurgeable)
		return;
	now = kr_now_ms();
	if ((uint32_t)(now - h->last_purge_ms) < kr.purge_ms / 2)
		return;
	purge_now(h, kr.purge_ms);
}

/* test hook: purge the calling thread's heap now */
KR_API void karena__purge(unsigned min_age_ms)
{
	struct kr_heap *h = heap_get();

	if (h) {
		heap_enter(h);
		purge_now(h, min_age_ms);
		heap_leave(h);
	}
}
