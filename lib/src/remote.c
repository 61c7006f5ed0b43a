// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * remote.c - blocks freed by a thread that does not own them.
 *
 * Each heap has two lists other threads push on: small blocks
 * (heap->remote_free) and medium ones (heap->remote_spans), Treiber
 * stacks linked through the blocks' first word. Only pushes are
 * concurrent, and the owner takes a whole stack with one exchange when a
 * free list runs dry (heap_collect_remote), so there is no ABA. The owner
 * takes each small block's live map bit as it collects it: a second free
 * of a block, from any thread, is caught there. A block of an abandoned
 * heap (its thread has exited, nobody adopted it yet) is freed at once
 * under kr.lock, which guards such a heap; a lost heap's (a fork child's
 * heap of another thread) is dropped.
 *
 * Batches. The two lists share one cache line per heap, which every
 * thread that frees the heap's blocks writes: with a push per block,
 * that line crossed between CPUs on almost every remote free, and the
 * owner's exchange waited for it too. A thread with a heap of its own
 * therefore gathers the small blocks it frees for other heaps in
 * batches kept in its heap (heap->batches: REMOTE_SLOTS slots, one
 * heap's batch each, found by a hash of the heap's address; a heap that
 * hashes to a slot held by another pushes that one), and pushes a batch
 * of REMOTE_BATCH blocks with one compare-and-swap. The chain is linked
 * while the freeing thread holds the blocks' lines anyway, and a batch
 * for an abandoned heap takes kr.lock once, not once per block. A
 * thread with no heap (one that only frees) keeps the same slots in a
 * holder of its own (freeonly.c). Medium blocks are not batched: up to
 * 128 KiB each, a batch of them would keep megabytes from their heap,
 * and batches capped at 32 KiB made xmalloc 7 % faster but mstress
 * 2.5 % slower (docs/benchmarks.md).
 *
 * What a batch costs: a block freed stays out of its owner's reach
 * until its batch is pushed: at most REMOTE_BATCH - 1 blocks a slot, so
 * at most (REMOTE_BATCH - 1) * REMOTE_SLOTS small blocks (480, of at
 * most 1 KiB) per thread. Batches are pushed when full, when their slot
 * is wanted for another heap, when the thread exits (heap_abandon, or
 * its holder's key destructor), before a fork (so that the child
 * inherits none) and by karena_stats (so that a thread sees its own
 * frees counted). A thread that frees other threads' blocks and then
 * sleeps keeps its partial batches until it wakes or exits; those
 * blocks keep their pools from emptying.
 *
 * A batch is checked when it is pushed: a block freed twice into one
 * batch makes its chain shorter or a cycle, which a walk of exactly
 * n - 1 links from its head to its tail detects (remote_batch_bad); the
 * duplicate is reported as a double free, as the owner reports one it
 * finds on collecting. The walk reads lines the freeing thread wrote a
 * moment before: 4-5 instructions a block.
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "debug.h"
#include "free.h"
#include "heap.h"
#include "init.h"
#include "pool.h"
#include "purge.h"
#include "span.h"
#include "types.h"

/*
 * Free the NULL-terminated chain @b of @h's blocks, medium ones (to their
 * spans) or small ones (to their pools, each live map bit taken), as the
 * heap's owner or under kr.lock.
 */
static inline void give_chain(struct kr_heap *h, bool medium, void *b)
{
	while (b) {
		void *next = *(void **)b;

		if (medium)
			span_free_local(h, b);
		else
			pool_give_checked(h, pool_of(b), b);
		b = next;
	}
}

/* Take every medium block other threads freed into @h and free it. */
KR_NOINLINE static void collect_remote_spans(struct kr_heap *h)
{
	give_chain(h, true, atomic_exchange_explicit(&h->remote_spans, NULL,
						     memory_order_acquire));
}

/* Take every block other threads freed into @h and free it locally. */
void heap_collect_remote(struct kr_heap *h)
{
	give_chain(h, false, atomic_exchange_explicit(&h->remote_free, NULL,
						      memory_order_acquire));
	if (atomic_load_explicit(&h->remote_spans, memory_order_relaxed))
		collect_remote_spans(h);
}

/*
 * @h's empty arenas, of pools and of spans: read under h->lock, under
 * which the purge thread releases them (kr.lock, then h->lock: the order
 * stats.c takes them in too).
 */
static unsigned empty_arenas(struct kr_heap *h)
{
	unsigned n;

	kr_lock(&h->lock);
	n = h->nempty_arenas + h->nempty_span_arenas;
	kr_unlock(&h->lock);
	return n;
}

/*
 * Free the NULL-terminated chain @first of blocks of @h, an abandoned
 * heap, under kr.lock, which guards it. Returns false if a thread adopted
 * @h meanwhile: nothing was freed, the caller pushes.
 */
KR_COLD static bool free_into_abandoned(struct kr_heap *h,
					_Atomic(void *) *list, void *first)
{
	unsigned empty_before;
	bool emptied;

	pthread_mutex_lock(&kr.lock);
	if (!atomic_load_explicit(&h->abandoned, memory_order_relaxed)) {
		pthread_mutex_unlock(&kr.lock);
		return false;
	}
	empty_before = empty_arenas(h);
	give_chain(h, list == &h->remote_spans, first);
	/* the purge thread may have released one meanwhile: then it runs */
	emptied = empty_arenas(h) > empty_before;
	pthread_mutex_unlock(&kr.lock);
	/*
	 * An arena emptied: no owner will hand it back, the purge thread
	 * will (kicked with no lock held; not from an exiting thread, whose
	 * heap_abandon kicks it)
	 */
	if (emptied && heap_is_real(kr_tls_heap))
		purge_kick();
	return true;
}

/*
 * Give the chain @first .. @last of checked blocks of @h, linked through
 * their first word, to @h from a thread that does not own it: pushed on
 * @list (h->remote_free, or, medium, h->remote_spans) with one CAS, or
 * freed at once if @h is abandoned.
 */
static void remote_push(struct kr_heap *h, _Atomic(void *) *list,
			void *first, void *last)
{
	void *head;

	if (unlikely(atomic_load_explicit(&h->abandoned,
					  memory_order_acquire))) {
		/* lost: set before the fork child had a second thread */
		if (h->lost)
			return;		/* the blocks are dropped */
		*(void **)last = NULL;
		if (free_into_abandoned(h, list, first))
			return;
	}
	head = atomic_load_explicit(list, memory_order_relaxed);
	do {
		*(void **)last = head;
	} while (!atomic_compare_exchange_weak_explicit(list, &head, first,
			memory_order_release, memory_order_relaxed));
}

/*
 * Is @rb's chain not the @n blocks it was given? A block freed twice into
 * it made a cycle that never reaches the tail, or reaches the tail early
 * (the tail freed again later). Returns the block freed twice, or NULL.
 */
static void *remote_batch_bad(const struct kr_remote_batch *rb)
{
	void *seen[REMOTE_BATCH];
	void *b = rb->head;
	unsigned k, i;

	for (k = 1; k < rb->n && b != rb->tail; k++)
		b = *(void **)b;
	if (k == rb->n && b == rb->tail)
		return NULL;
	/* name it: the first block the walk meets twice, or the early tail */
	b = rb->head;
	for (k = 0; k < rb->n; k++) {
		if (b == rb->tail)
			return b;
		for (i = 0; i < k; i++)
			if (seen[i] == b)
				return b;
		seen[k] = b;
		b = *(void **)b;
	}
	return rb->tail;
}

/* Push @rb's blocks to their heap, checked, and empty the slot. */
KR_NOINLINE static void remote_batch_push(struct kr_remote_batch *rb)
{
	void *twice;

	if (!rb->n)
		return;
	twice = remote_batch_bad(rb);
	if (unlikely(twice))
		free_suspect(twice);	/* handed out: reports a double free */
	remote_push(rb->heap, &rb->heap->remote_free, rb->head, rb->tail);
	rb->heap = NULL;
	rb->n = 0;
}

/*
 * Push every batch of @slots, the calling thread's heap's or holder's
 * (its exit, a fork, karena_stats), or a gone thread's holder's.
 */
void remote_batches_push(struct kr_remote_batch *slots)
{
	unsigned i;

	for (i = 0; i < REMOTE_SLOTS; i++)
		remote_batch_push(&slots[i]);
}

/*
 * Push the calling thread's batches, its heap's and its holder's (a
 * fork, so that the child inherits none; karena_stats, so that a thread
 * sees its own frees counted). May take kr.lock.
 */
void remote_batches_push_own(void)
{
	if (heap_is_real(kr_tls_heap))
		remote_batches_push(kr_tls_heap->batches);
	freeonly_push();
}

/* The slot of @slots for @h's batch: a multiplicative hash of its page. */
static inline struct kr_remote_batch *
remote_batch_of(struct kr_remote_batch *slots, const struct kr_heap *h)
{
	uint64_t k = (uint64_t)((uintptr_t)h >> 12) * 0x9e3779b97f4a7c15ull;

	return &slots[k >> (64 - REMOTE_SLOT_BITS)];
}

/* @rb, the slot of @h, holds another heap's batch or none: start @h's. */
KR_NOINLINE static void remote_batch_start(struct kr_remote_batch *rb,
					   struct kr_heap *h, void *b)
{
	remote_batch_push(rb);
	*(void **)b = NULL;
	rb->heap = h;
	rb->head = b;
	rb->tail = b;
	rb->n = 1;
}

/* Link @b, of @h, into @h's batch among @slots, the caller's. */
static inline void remote_batch_add(struct kr_remote_batch *slots,
				    struct kr_heap *h, void *b)
{
	struct kr_remote_batch *rb = remote_batch_of(slots, h);

	if (unlikely(rb->heap != h)) {
		remote_batch_start(rb, h, b);
		return;
	}
	*(void **)b = rb->head;
	rb->head = b;
	if (unlikely(++rb->n == REMOTE_BATCH))
		remote_batch_push(rb);
}

/*
 * remote_free_heapless() from a thread with no holder yet: one set up
 * (freeonly.c), or, its heap being built or the thread exiting, @b
 * pushed alone.
 */
KR_COLD static void remote_free_unheld(struct kr_heap *h, void *b)
{
	struct kr_remote_batch *slots = freeonly_attach(kr_tls_heap);

	if (!slots)
		remote_push(h, &h->remote_free, b, b);
	else
		remote_batch_add(slots, h, b);
}

/* heap_remote_free() from a thread with no heap: into its holder. */
KR_NOINLINE static void remote_free_heapless(struct kr_heap *h, void *b)
{
	struct kr_freeonly *fo = kr_tls_holder;

	if (unlikely(!freeonly_is_holder(fo)))
		remote_free_unheld(h, b);
	else
		remote_batch_add(fo->batches, h, b);
}

/*
 * Free @b of pool @p, of @h, not the caller's: checked against the live
 * map, which only the owner changes (it takes the bit when it collects
 * the block), then linked into the caller's batch for @h. Every call
 * from here is a tail call (free_suspect does not return), so that the
 * path of a thread with a heap saves no register.
 */
void heap_remote_free(struct kr_heap *h, struct kr_pool *p, void *b)
{
	struct kr_heap *self = kr_tls_heap;

	if (unlikely(!map_live(p, (uintptr_t)b)))
		free_suspect(b);
	if (unlikely(!heap_is_real(self)))
		remote_free_heapless(h, b);
	else
		remote_batch_add(self->batches, h, b);
}

/* Free medium block @b of span @s, of @h, not the caller's. */
void heap_remote_free_span(struct kr_heap *h, struct kr_span *s, void *b)
{
	*block_key(b) = (uintptr_t)s;	/* span.c's "freed" key */
	remote_push(h, &h->remote_spans, b, b);
}
