/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * free.h - free's entry point and its exits (free.c states the bad-free
 * check).
 */
#ifndef KARENA_FREE_H
#define KARENA_FREE_H

#include <stdint.h>

#include "config.h"
#include "types.h"

/* free.c */
void kr_free(void *ptr);
KR_NOINLINE __attribute__((noreturn)) void free_suspect(void *b);
void kr_free_emptied(struct kr_heap *h, struct kr_pool *p);
/* free's exit from free_fast on a registry slot miss (fastpath.h) */
KR_NOINLINE void free_slot_miss(void *ptr);

#endif /* KARENA_FREE_H */
