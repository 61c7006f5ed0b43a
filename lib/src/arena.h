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

#include "config.h"
#include "init.h"
#include "types.h"

/*
 * Where the pool table of the arena at @base starts: the table's colour.
 *
 * Arenas are aligned to their size, so a table at each one's base would
 * put the headers of every arena's pool i on the same few cache sets: with
 * 256 KiB arenas, the first lines of all headers (what free reads) on 16
 * of the 1024 sets of a 1 MiB 16-way L2, 256 lines for a heap of a
 * thousand pools (docs/benchmarks.md, "The pool table's colour").
 * The table (arena_size / 64 bytes) sits instead at a multiple of its own
 * size inside the pools it takes, chosen by the arena's number: with
 * 256 KiB arenas, at 0, 4, 8 or 12 KiB of pool 0, four times the sets.
 * pool_in() finds it with the mask it used anyway (kr.header_mask holds
 * kr.colour_mask). The arena header is the table's slot 0, which no pool
 * uses (pool 0 holds the table): one page of pool 0 is touched, and the
 * arena headers take the colours too.
 */
static inline uintptr_t table_offset(uintptr_t base)
{
	return (base >> (POOL_SHIFT - POOL_SLOT_SHIFT)) & kr.colour_mask;
}

/* The header of the arena at @base: slot 0 of its pool table. */
static inline struct kr_arena *arena_at(uintptr_t base)
{
	return (struct kr_arena *)(base + table_offset(base));
}

/* The header of the arena holding address @p. */
static inline struct kr_arena *arena_of(const void *p)
{
	return arena_at((uintptr_t)p & kr.arena_mask);
}

/* The first byte of arena @a: what the backend granted. */
static inline char *arena_base(const struct kr_arena *a)
{
	return (char *)((uintptr_t)a & kr.arena_mask);
}

/* arena.c */
struct kr_arena *arena_grant(uintptr_t registry_tag);
char *arena_forget(struct kr_arena *a);
void arena_ungrant(struct kr_arena *a);
struct kr_arena *arena_new(struct kr_heap *h);
void arena_release(struct kr_heap *h, struct kr_arena *a);
char *arena_take_empty(struct kr_heap *h);
struct kr_pool *arena_take_pool(struct kr_heap *h);
void arena_give_pool(struct kr_heap *h, struct kr_arena *a, unsigned idx,
		     uint32_t now);
void arena_usable_unlink(struct kr_heap *h, struct kr_arena *a);
unsigned arena_release_old(struct kr_heap *h, uint32_t now,
			   uint32_t min_age_ms, unsigned keep);

#endif /* KARENA_ARENA_H */
