/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * purge.h - handing back what has been empty for KARENA_PURGE_MS: pools'
 * pages and whole arenas, by the owner on its slow paths or by the purge
 * thread for an owner gone idle (purge.c).
 */
#ifndef KARENA_PURGE_H
#define KARENA_PURGE_H

#include <stdbool.h>
#include <stdint.h>

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

#endif /* KARENA_PURGE_H */
