/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * debug.h - KARENA_DEBUG=1: fill and poison bytes, trailers that catch
 * overruns, and the fatal report of a bad free (debug.c).
 */
#ifndef KARENA_DEBUG_H
#define KARENA_DEBUG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "types.h"

/* debug.c */
size_t debug_max_request(void);
void debug_on_alloc(void *b, size_t request, size_t block_size);
void debug_on_free(void *b);
size_t debug_usable_size(const void *b);
KR_COLD void kr_fatal(const void *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void kr_check_block_start(const void *b);
void *debug_malloc(struct kr_heap *h, size_t size);
bool debug_block_poisoned(const void *b, size_t size);

#endif /* KARENA_DEBUG_H */
