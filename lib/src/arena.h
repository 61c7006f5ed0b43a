/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arena.h - arenas: arena_size bytes aligned to arena_size, granted by
 * the backend, cut into pools, owned by one heap for life.
 *
 * arena.c grants and releases them, keeps a heap's usable_arenas sorted
 * fullest first (CPython's nfp2lasta) and hands out and takes back their
 * pools, under the heap's lock.
 */
#ifndef KARENA_ARENA_H
#define KARENA_ARENA_H

#include <stdint.h>

#include "init.h"
#include "types.h"

static inline struct kr_arena *arena_of(const void *p)
{
	return (struct kr_arena *)((uintptr_t)p & kr.arena_mask);
}

/* arena.c */
struct kr_arena *arena_grant(uintptr_t registry_tag);
void arena_ungrant(struct kr_arena *a);
struct kr_arena *arena_new(struct kr_heap *h);
void arena_release(struct kr_heap *h, struct kr_arena *a);
struct kr_pool *arena_take_pool(struct kr_heap *h);
void arena_give_pool(struct kr_heap *h, struct kr_arena *a, unsigned idx,
		     uint32_t now);
void arena_usable_unlink(struct kr_heap *h, struct kr_arena *a);
unsigned arena_release_old(struct kr_heap *h, uint32_t now,
			   uint32_t min_age_ms, unsigned keep);

#endif /* KARENA_ARENA_H */
