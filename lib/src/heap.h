/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * heap.h - a thread's heap: the TLS pointer the fast paths read, and
 * what heap.c does around it (a heap built or adopted, remote frees,
 * kept pools, a thread's exit, fork).
 */
#ifndef KARENA_HEAP_H
#define KARENA_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "types.h"

/* heap.c */
extern __thread struct kr_heap *kr_tls_heap
	__attribute__((tls_model("initial-exec")));
/*
 * The usedpools the malloc fast path reads: the heap's, or kr_no_pools
 * (pool.h) while the thread has none, and always under KARENA_DEBUG.
 */
extern __thread struct kr_pool *const *kr_tls_pools
	__attribute__((tls_model("initial-exec")));
#define HEAP_BUSY ((struct kr_heap *)1)	/* being built: use glibc */
#define HEAP_DEAD ((struct kr_heap *)2)	/* thread exiting: use glibc */

/* Is @h a heap, not NULL, HEAP_BUSY or HEAP_DEAD? */
static inline bool heap_is_real(const struct kr_heap *h)
{
	return (uintptr_t)h > (uintptr_t)HEAP_DEAD;
}

struct kr_heap *heap_get_slow(void);
static inline struct kr_heap *heap_get(void)
{
	struct kr_heap *h = kr_tls_heap;

	if (likely(heap_is_real(h)))
		return h;
	return heap_get_slow();
}

/* remote.c */
void heap_collect_remote(struct kr_heap *h);
void heap_remote_free(struct kr_heap *h, struct kr_pool *p, void *block);
void heap_remote_free_span(struct kr_heap *h, struct kr_span *s, void *block);
void remote_batches_push(struct kr_remote_batch *slots);
void remote_batches_push_own(void);

/* freeonly.c: the batches of a thread with no heap, in its holder */
extern __thread struct kr_freeonly *kr_tls_holder
	__attribute__((tls_model("initial-exec")));
#define FREEONLY_BUSY	((struct kr_freeonly *)1)	/* being set up */
#define FREEONLY_DEAD	((struct kr_freeonly *)2)	/* thread exiting */

/* Is @fo a holder, not NULL, FREEONLY_BUSY or FREEONLY_DEAD? */
static inline bool freeonly_is_holder(const struct kr_freeonly *fo)
{
	return (uintptr_t)fo > (uintptr_t)FREEONLY_DEAD;
}

struct kr_remote_batch *freeonly_attach(const struct kr_heap *self);
void freeonly_push(void);
unsigned freeonly_count(void);
void freeonly_forget_exit(void);
void freeonly_atfork_prepare(void);
void freeonly_atfork_parent(void);
void freeonly_atfork_child(void);

/* heap.c */
unsigned heap_release_empty_arenas(struct kr_heap *h);
void heap_keep_pool(struct kr_heap *h, struct kr_pool *p);
void heap_flush_kept(struct kr_heap *h);
void heap_trim_own(void);
struct kr_heap *heap_list_head(void);
unsigned heap_release_all_empty(void);
void heap_key_init(void);
void heap_atfork_prepare(void);
void heap_atfork_parent(void);
void heap_atfork_child(void);

#endif /* KARENA_HEAP_H */
