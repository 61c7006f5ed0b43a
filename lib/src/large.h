/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * large.h - large blocks (over kr.medium_max), each in a grant of its own:
 * n arenas of the device on the kernel backend, an aligned mapping on
 * mmap, kept for a later request for KARENA_PURGE_MS after the free, then
 * given back (large.c).
 */
#ifndef KARENA_LARGE_H
#define KARENA_LARGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* large.c */
void *large_alloc(size_t size, size_t alignment, bool zero);
bool large_free(void *p);
/* aborts, naming @what, if @p is inside a kept grant: it was freed */
void large_check_not_freed(const void *p, const char *what);
bool large_keep_release(uint32_t now, uint32_t min_age_ms);
bool large_keep_drop(void);
void *large_resize(void *p, size_t size);
size_t large_usable_size(const void *p);
void large_atfork_prepare(void);
void large_atfork_parent(void);
void large_atfork_child(void);

#endif /* KARENA_LARGE_H */
