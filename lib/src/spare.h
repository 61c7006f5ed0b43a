/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spare.h - a heap's spare pools: empty pools its owner holds between its
 * size classes and its arenas, moved SPARE_BATCH at a time under the
 * heap's lock (spare.c says why).
 */
#ifndef KARENA_SPARE_H
#define KARENA_SPARE_H

#include <stdbool.h>

#include "types.h"

/* spare.c */
void spare_retire_pool(struct kr_heap *h, struct kr_pool *p);
struct kr_pool *spare_take_pool(struct kr_heap *h);
void spare_flush(struct kr_heap *h);
bool spare_holds(const struct kr_heap *h, const struct kr_pool *p);

#endif /* KARENA_SPARE_H */
