// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * heap.c - one heap per thread: creation, adoption, abandonment at thread
 * exit, and fork.
 *
 * A heap is found through a TLS pointer. Its owner touches it without a
 * lock; another thread freeing one of its blocks hands it over through
 * the heap's remote lists (remote.c). A thread's exit abandons its heap:
 * from then on kr.lock guards it, and the next new thread adopts it.
 * Heaps are mmapped and never destroyed.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"
#include "config.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "large.h"
#include "lock.h"
#include "options.h"
#include "pool.h"
#include "purge.h"
#include "registry.h"
#include "span.h"
#include "spare.h"
#include "types.h"

__thread struct kr_heap *kr_tls_heap __attribute__((tls_model("initial-exec")));
__thread struct kr_pool *const *kr_tls_pools
	__attribute__((tls_model("initial-exec"))) = kr_no_pools;

static pthread_key_t heap_key;
static bool heap_key_made;	/* false: no key left (PTHREAD_KEYS_MAX) */
static pthread_once_t heap_key_once = PTHREAD_ONCE_INIT;

static void heap_abandon(void *arg);

static void heap_key_create(void)
{
	heap_key_made = !pthread_key_create(&heap_key, heap_abandon);
	if (!heap_key_made)
		kr_say("karena: no pthread key left for the heaps' exit hook; "
		       "glibc serves this process's allocations.\n");
}

/*
 * Make the key whose destructor abandons an exiting thread's heap: at
 * load (init.c), before the program can have taken every key, and at
 * the latest when the first heap is made.
 */
void heap_key_init(void)
{
	pthread_once(&heap_key_once, heap_key_create);
}

/*
 * Release every empty arena of @h, kept or waiting. Takes h->lock, which
 * the caller does not hold. Returns how many went.
 */
unsigned heap_release_empty_arenas(struct kr_heap *h)
{
	unsigned n;

	kr_lock(&h->lock);
	n = arena_release_old(h, 0, 0, 0) + span_release_old(h, 0, 0, 0);
	kr_unlock(&h->lock);
	return n;
}

/*
 * The first heap of the list of all heaps, read under kr.lock; a walker may
 * then follow next_all without it, since those links never change once set.
 */
struct kr_heap *heap_list_head(void)
{
	struct kr_heap *h;

	pthread_mutex_lock(&kr.lock);
	h = kr.heaps;
	pthread_mutex_unlock(&kr.lock);
	return h;
}

/*
 * A backend denial: release the empty arenas of every heap (the lost heaps
 * of a fork child excepted), so that the retry may be granted. Takes each
 * heap's lock in turn, none held by the caller. Returns how many went.
 */
unsigned heap_release_all_empty(void)
{
	struct kr_heap *h;
	unsigned n = 0;

	for (h = heap_list_head(); h; h = h->next_all)
		if (!h->lost)
			n += heap_release_empty_arenas(h);
	return n;
}

/*
 * Keep the empty pool @p open on usedpools: it takes the slot of
 * heap->kept that was filled longest ago, whose pool, if it is still
 * empty, is retired (spare.c). So at most KEEP_POOLS empty pools stay open.
 */
void heap_keep_pool(struct kr_heap *h, struct kr_pool *p)
{
	struct kr_pool *old = h->kept[h->kept_next];

	h->kept[h->kept_next] = p;
	h->kept_next = (h->kept_next + 1) % KEEP_POOLS;
	p->kept = 1;
	p->used++;		/* its kept block: never empty on free */
	if (old) {
		old->kept = 0;
		old->used--;
		if (!pool_ref(old))
			spare_retire_pool(h, old);
	}
}

/* Close every kept pool and span: the empty ones are retired. */
void heap_flush_kept(struct kr_heap *h)
{
	unsigned i;

	span_flush_kept(h);
	for (i = 0; i < KEEP_POOLS; i++) {
		struct kr_pool *p = h->kept[i];

		h->kept[i] = NULL;
		if (p) {
			p->kept = 0;
			p->used--;
			if (!pool_ref(p))
				spare_retire_pool(h, p);
		}
	}
}

/*
 * Free @h's remote blocks, close its kept pools and give its spare pools
 * back. Its empty arenas wait for the purge thread, as an owned heap's
 * wait for their owner (purge_empty_arenas_kept: the next thread adopts
 * the heap and reuses them); with no purge thread, or KARENA_PURGE_MS=0,
 * they are released here.
 */
static void heap_empty_out(struct kr_heap *h)
{
	heap_collect_remote(h);
	heap_flush_kept(h);
	spare_flush(h);
	if (!kr.purge_ms || !kr.purge_thread)
		heap_release_empty_arenas(h);
}

/*
 * karena_trim()'s part of the calling thread's heap, which only its owner
 * may touch: its blocks freed by other threads, its kept pools and spans
 * and its spare pools go back to their arenas, the blocks it freed for
 * other heaps to their owners, and the pools that still hold blocks hand
 * back their free pages (pool_trim; a full pool has none). The trim then
 * hands back what is empty.
 */
void heap_trim_own(void)
{
	struct kr_heap *h = kr_tls_heap;
	struct kr_pool *p;
	unsigned c;

	if (!heap_is_real(h))
		return;
	remote_batches_push_own();
	heap_collect_remote(h);
	heap_flush_kept(h);
	spare_flush(h);
	for (c = 0; c < NUM_CLASSES; c++)
		for (p = h->usedpools[c]; p && p != POOL_NONE; p = p->nextpool)
			pool_trim(p);
}

/* pthread key destructor: the thread is exiting. */
static void heap_abandon(void *arg)
{
	struct kr_heap *h = arg;

	kr_tls_heap = HEAP_DEAD;	/* later mallocs of this thread: glibc */
	kr_tls_pools = kr_no_pools;
	remote_batches_push(h->batches);	/* other heaps' blocks it freed */
	heap_empty_out(h);
	pthread_mutex_lock(&kr.lock);
	atomic_store_explicit(&h->abandoned, true, memory_order_release);
	h->next_abandoned = kr.abandoned;
	kr.abandoned = h;
	kr.nabandoned++;
	atomic_fetch_sub(&kr.nowned, 1);
	heap_empty_out(h);		/* pushes that raced the flag */
	pthread_mutex_unlock(&kr.lock);
	purge_owner_left();		/* empty pools left to purge */
}

static struct kr_heap *heap_new_or_adopt(void)
{
	struct kr_heap *h;
	unsigned c;

	pthread_mutex_lock(&kr.lock);
	h = kr.abandoned;
	if (h) {
		kr.abandoned = h->next_abandoned;
		kr.nabandoned--;
		h->next_abandoned = NULL;
		heap_collect_remote(h);
		atomic_store_explicit(&h->abandoned, false,
				      memory_order_release);
		atomic_fetch_add(&kr.nowned, 1);
		pthread_mutex_unlock(&kr.lock);
		return h;
	}
	pthread_mutex_unlock(&kr.lock);

	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	/* all zero: no arenas, not abandoned; and no pools */
	for (c = 0; c < NUM_CLASSES; c++)
		h->usedpools[c] = POOL_NONE;
	kr_lock_init(&h->lock);
	pthread_mutex_lock(&kr.lock);
	h->next_all = kr.heaps;
	kr.heaps = h;
	kr.nheaps++;
	atomic_fetch_add(&kr.nowned, 1);
	pthread_mutex_unlock(&kr.lock);
	return h;
}

/*
 * The calling thread's heap, built or adopted on first use. NULL means
 * "serve this request from glibc": the heap is being built (a nested
 * malloc from pthread internals), the thread is exiting, or no memory.
 */
struct kr_heap *heap_get_slow(void)
{
	struct kr_heap *h = kr_tls_heap;

	if (h == HEAP_BUSY || h == HEAP_DEAD)
		return NULL;
	kr_ensure_init();
	heap_key_init();
	if (!heap_key_made) {		/* no exit hook: no heap */
		kr_tls_heap = HEAP_DEAD;
		return NULL;
	}
	kr_tls_heap = HEAP_BUSY;
	h = heap_new_or_adopt();
	if (!h) {
		kr_tls_heap = NULL;
		return NULL;
	}
	pthread_setspecific(heap_key, h);
	kr_tls_heap = h;
	freeonly_push();		/* its frees before it had a heap */
	if (!kr_debug)			/* debug: every malloc is checked */
		kr_tls_pools = h->usedpools;
	return h;
}

/*
 * fork: hold kr.purge_lock and kr.lock across it. The child has one
 * thread: it keeps its own heap, a heap abandoned before the fork stays
 * abandoned (kr.lock guarded it) and can be adopted, and every other heap
 * is lost (lib/README.md, "Fork").
 */
void heap_atfork_prepare(void)
{
	remote_batches_push_own();	/* before kr.lock, which it may take */
	pthread_mutex_lock(&kr.purge_lock);	/* no purge pass under way */
	pthread_mutex_lock(&kr.lock);
	large_atfork_prepare();
	freeonly_atfork_prepare();
}

void heap_atfork_parent(void)
{
	freeonly_atfork_parent();
	large_atfork_parent();
	pthread_mutex_unlock(&kr.lock);
	pthread_mutex_unlock(&kr.purge_lock);
}

void heap_atfork_child(void)
{
	struct kr_heap *h, *self = kr_tls_heap;

	pthread_mutex_init(&kr.lock, NULL);
	freeonly_atfork_child();
	large_atfork_child();
	registry_atfork_child();
	purge_atfork_child();
	for (h = kr.heaps; h; h = h->next_all) {
		/*
		 * A heap's lock is held only by its owner inside an operation
		 * (a lost heap below), by a purge pass (excluded by prepare)
		 * or under kr.lock (held by prepare): free here.
		 */
		kr_lock_init(&h->lock);
		if (h == self || atomic_load(&h->abandoned))
			continue;
		/* its thread ran at the fork: maybe inside malloc or free */
		h->lost = true;
		atomic_store(&h->abandoned, true);
	}
	/* the forking thread is the only owner left, if it has a heap */
	atomic_store(&kr.nowned, heap_is_real(self) ? 1 : 0);
}
