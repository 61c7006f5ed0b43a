/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * purge.h - handing back what has been empty for KARENA_PURGE_MS: pools'
 * pages and whole arenas, by the owner on its slow paths or by the purge
 * thread for an owner gone idle (purge.c).
 */
#ifndef KARENA_PURGE_H
#define KARENA_PURGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "init.h"
#include "types.h"

/* purge.c */
enum { PURGER_NONE, PURGER_ACTIVE, PURGER_IDLE };
void purge_maybe(struct kr_heap *h);
void purge_maybe_at(struct kr_heap *h, uint32_t now);
void purge_now(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
bool purge_heap(struct kr_heap *h, uint32_t now, uint32_t min_age_ms);
bool heap_has_pending(const struct kr_heap *h);
void purge_kick(void);
void purge_owner_left(void);
void purge_atfork_child(void);
void purge_pass_all(uint32_t min_age_ms);

/*
 * How many empty arenas (of pools, and of spans) @h may hold before one
 * that empties is released at once: up to max_empty_arenas while someone
 * will release them after KARENA_PURGE_MS, its owner or the purge thread.
 * An abandoned heap's wait too, with a purge thread: a thread that starts
 * adopts the heap and reuses them (threads that come and go, as mstress's:
 * releasing them at once granted 766 arenas for a peak of 295, and ran
 * 1.4x slower). Without one, or with KARENA_PURGE_MS=0, keep_arenas.
 */
static inline unsigned purge_empty_arenas_kept(struct kr_heap *h)
{
	if (!kr.purge_ms || (!kr.purge_thread &&
			     atomic_load_explicit(&h->abandoned,
						  memory_order_relaxed)))
		return kr.keep_arenas;
	return kr.max_empty_arenas;
}

#endif /* KARENA_PURGE_H */
