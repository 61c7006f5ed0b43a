/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * free.h - free's entry point and its exits, and the table of block
 * starts that free's bad-free check reads (free.c states the checks).
 */
#ifndef KARENA_FREE_H
#define KARENA_FREE_H

#include <stdint.h>

#include "config.h"
#include "types.h"

/* free.c */
void kr_free(void *ptr);
KR_NOINLINE void free_suspect(void *b);
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p);
/* free's exit from free_fast on a registry slot miss (fastpath.h) */
KR_NOINLINE void free_slot_miss(void *ptr);

/*
 * The bad-free checks of a normal build (the design: free.c).
 * kr_block_starts[c]: bit o CLEAR iff byte offset o of a pool of class c
 * is the start of one of its blocks, set everywhere else (built at init):
 * inverted, so that free's two tests end in one branch (block_suspect).
 */
extern uint8_t kr_block_starts[NUM_CLASSES][POOL_SIZE / 8] KR_HIDDEN;
/* every bit set: the string of a pool that never carried a block */
extern uint8_t kr_no_block_starts[POOL_SIZE / 8] KR_HIDDEN;
void block_starts_init(void);

#endif /* KARENA_FREE_H */
